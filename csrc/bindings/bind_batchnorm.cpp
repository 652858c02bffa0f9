// bind_batchnorm.cpp — bindings of the batchnorm kernels (not written yet).
#include "bind_util.h"

namespace pyengine::bind {

void bind_batchnorm(py::module_& m) { (void)m; }

}  // namespace pyengine::bind
