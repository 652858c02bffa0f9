// bind_pool.cpp — bindings of the pool kernels (not written yet).
#include "bind_util.h"

namespace pyengine::bind {

void bind_pool(py::module_& m) { (void)m; }

}  // namespace pyengine::bind
