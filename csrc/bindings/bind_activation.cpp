// bind_activation.cpp — bindings of the activation kernels (not written yet).
#include "bind_util.h"

namespace pyengine::bind {

void bind_activation(py::module_& m) { (void)m; }

}  // namespace pyengine::bind
