// bind_runtime.cpp — version, instruction set, threads.
#include <cstdlib>
#include <string>

#include "bind_util.h"

#ifndef PYENGINE_VERSION
#define PYENGINE_VERSION "dev"
#endif

namespace pyengine::bind {
namespace {

Isa parse_isa(const std::string& name) {
  if (name == "avx512") return Isa::avx512;
  if (name == "avx2") return Isa::avx2;
  if (name == "generic") return Isa::generic;
  value_error(cat("set_cpu_isa: isa must be one of 'avx512', 'avx2', 'generic', got '", name, "'"));
}

}  // namespace

void bind_runtime(py::module_& m) {
  m.attr("__version__") = PYENGINE_VERSION;
  m.def("cpu_isa", [] { return std::string(cpu::isa_name(cpu::active_isa())); },
        "The instruction set whose kernels run now: 'avx512', 'avx2' or 'generic'.");
  m.def("best_cpu_isa", [] { return std::string(cpu::isa_name(cpu::best_isa())); });
  m.def("supported_cpu_isas", [] {
    py::list out;
    for (Isa isa : {Isa::avx512, Isa::avx2, Isa::generic})
      if (cpu::isa_supported(isa)) out.append(cpu::isa_name(isa));
    return out;
  }, "Instruction sets built into this module that this CPU supports, best first.");
  m.def("set_cpu_isa", [](const std::string& name) {
    Isa isa = parse_isa(name);
    if (!cpu::isa_supported(isa))
      value_error(cat("set_cpu_isa: '", name, "' is not supported on this CPU or build; supported: ",
                      std::string(py::str(py::module_::import("pyengine._C").attr("supported_cpu_isas")()))));
    cpu::set_active_isa(isa);
  }, py::arg("isa"));
  m.def("get_num_threads", &cpu::get_num_threads);
  m.def("set_num_threads", [](int n) {
    if (n < 1) value_error(cat("set_num_threads: n must be >= 1, got ", n));
    cpu::set_num_threads(n);
  }, py::arg("n"));
  m.def("openmp_enabled", &cpu::openmp_enabled);

  // PYENGINE_CPU_ISA overrides CPUID's choice at import (for tests and benchmarks).
  if (const char* env = std::getenv("PYENGINE_CPU_ISA"); env && *env) {
    Isa isa = parse_isa(env);
    if (!cpu::isa_supported(isa))
      value_error(cat("PYENGINE_CPU_ISA=", env, " is not supported on this CPU or build"));
    cpu::set_active_isa(isa);
  }
}

}  // namespace pyengine::bind
