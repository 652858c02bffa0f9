// bind_optim.cpp — bindings of the optim kernels (not written yet).
#include "bind_util.h"

namespace pyengine::bind {

void bind_optim(py::module_& m) { (void)m; }

}  // namespace pyengine::bind
