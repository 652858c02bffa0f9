// bind_runtime.cpp — version, instruction set, threads.
#include <cstdlib>
#include <string>

#include "bind_util.h"
#include "pyengine/parallel.h"

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
  // The thread pool of pyengine/parallel.h: counters and the spin time, for bench/threads_busy.py.
  m.def("parallel_stats", [] {
    const cpu::ParallelStats s = cpu::parallel_stats();
    py::dict d;
    d["calls"] = s.calls;
    d["inline_calls"] = s.inline_calls;
    d["caller_chunks"] = s.caller_chunks;
    d["worker_chunks"] = s.worker_chunks;
    d["caller_sleeps"] = s.caller_sleeps;
    return d;
  }, "Counters of the CPU thread pool since the last parallel_reset_stats().");
  m.def("parallel_reset_stats", &cpu::parallel_reset_stats);
  m.def("parallel_spin_us", &cpu::parallel_spin_us,
        "Microseconds an idle pool thread spins before it sleeps (PYENGINE_SPIN_US, default 50).");
  m.def("parallel_set_spin_us", [](int us) {
    if (us < 0) value_error(cat("parallel_set_spin_us: us must be >= 0, got ", us));
    cpu::parallel_set_spin_us(us);
  }, py::arg("us"));

  // PYENGINE_CPU_ISA overrides CPUID's choice at import (for tests and benchmarks).
  if (const char* env = std::getenv("PYENGINE_CPU_ISA"); env && *env) {
    Isa isa = parse_isa(env);
    if (!cpu::isa_supported(isa))
      value_error(cat("PYENGINE_CPU_ISA=", env, " is not supported on this CPU or build"));
    cpu::set_active_isa(isa);
  }
}

}  // namespace pyengine::bind
