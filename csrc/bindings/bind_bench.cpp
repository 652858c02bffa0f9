// bind_bench.cpp — bindings of the bench kernels (not written yet).
#include "bind_util.h"

namespace pyengine::bind {

void bind_bench(py::module_& m) { (void)m; }

}  // namespace pyengine::bind
