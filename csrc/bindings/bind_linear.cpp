// bind_linear.cpp — bindings of the linear kernels (not written yet).
#include "bind_util.h"

namespace pyengine::bind {

void bind_linear(py::module_& m) { (void)m; }

}  // namespace pyengine::bind
