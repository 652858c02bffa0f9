// bind_conv.cpp — bindings of the conv kernels (not written yet).
#include "bind_util.h"

namespace pyengine::bind {

void bind_conv(py::module_& m) { (void)m; }

}  // namespace pyengine::bind
