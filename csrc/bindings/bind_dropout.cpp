// bind_dropout.cpp — bindings of the dropout kernels (not written yet).
#include "bind_util.h"

namespace pyengine::bind {

void bind_dropout(py::module_& m) { (void)m; }

}  // namespace pyengine::bind
