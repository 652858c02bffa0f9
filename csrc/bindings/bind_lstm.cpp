// bind_lstm.cpp — bindings of the lstm kernels (not written yet).
#include "bind_util.h"

namespace pyengine::bind {

void bind_lstm(py::module_& m) { (void)m; }

}  // namespace pyengine::bind
