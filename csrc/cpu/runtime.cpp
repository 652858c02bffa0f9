// runtime.cpp — instruction-set choice (CPUID, PYENGINE_CPU_ISA) and the thread count (the pool itself: parallel.cpp).
#include <atomic>
#include <cstdlib>
#include <cstring>
#ifdef PYENGINE_OPENMP
#include <omp.h>
#endif
#include "pyengine/common.h"

namespace pyengine::cpu {
namespace {
std::atomic<int> g_active{-1};
// The thread count is process-wide (not OpenMP's per-thread ICV) so that kernels called from any
// Python thread use what set_num_threads chose. Kernels pass it to parallel_for.
std::atomic<int> g_threads{0};
}

bool isa_supported(Isa isa) {
  switch (isa) {
    case Isa::generic: return true;
#if defined(PYENGINE_HAVE_AVX2) && (defined(__x86_64__) || defined(_M_X64))
    case Isa::avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
#if defined(PYENGINE_HAVE_AVX512) && (defined(__x86_64__) || defined(_M_X64))
    case Isa::avx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("fma");
#endif
    default: return false;
  }
}

Isa best_isa() {
  if (isa_supported(Isa::avx512)) return Isa::avx512;
  if (isa_supported(Isa::avx2)) return Isa::avx2;
  return Isa::generic;
}

Isa active_isa() {
  int v = g_active.load(std::memory_order_relaxed);
  if (v < 0) {
    v = static_cast<int>(best_isa());
    g_active.store(v, std::memory_order_relaxed);
  }
  return static_cast<Isa>(v);
}

void set_active_isa(Isa isa) { g_active.store(static_cast<int>(isa), std::memory_order_relaxed); }

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx512: return "avx512";
    case Isa::avx2: return "avx2";
    default: return "generic";
  }
}

int get_num_threads() {
#ifdef PYENGINE_OPENMP
  int n = g_threads.load(std::memory_order_relaxed);
  if (n <= 0) {
    n = omp_get_max_threads();  // honours OMP_NUM_THREADS
    g_threads.store(n, std::memory_order_relaxed);
  }
  return n;
#else
  return 1;
#endif
}

void set_num_threads(int n) {
#ifdef PYENGINE_OPENMP
  g_threads.store(n, std::memory_order_relaxed);
  omp_set_num_threads(n);
#else
  (void)n;
#endif
}

bool openmp_enabled() {
#ifdef PYENGINE_OPENMP
  return true;
#else
  return false;
#endif
}

}  // namespace pyengine::cpu
