// module.cpp — pyengine._C: the CPU kernels. Each op family binds itself (bind_<family>.cpp,
// registered with PE_BIND_FAMILY); the runtime switches and the benchmark probes are bound here.
#include "bind.h"

namespace pyengine::bind {
void bind_runtime(py::module_& m);  // bind_runtime.cpp: version, instruction set, threads
void bind_bench(py::module_& m);    // bind_bench.cpp: peak and bandwidth probes for bench/
}  // namespace pyengine::bind

PYBIND11_MODULE(_C, m) {
  m.doc() = "pyengine CPU kernels (C++, OpenMP, AVX-512/AVX2 chosen at run time)";
  pyengine::bind::bind_runtime(m);
  pyengine::bind::bind_bench(m);
  pyengine::bind::bind_all(m);
}
