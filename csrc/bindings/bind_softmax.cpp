// bind_softmax.cpp — bindings of the softmax kernels (not written yet).
#include "bind_util.h"

namespace pyengine::bind {

void bind_softmax(py::module_& m) { (void)m; }

}  // namespace pyengine::bind
