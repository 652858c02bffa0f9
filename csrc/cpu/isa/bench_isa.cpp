// bench_isa.cpp — the two machine-limit probes of the benchmark suite, compiled once per ISA.
//
// fma_peak_loop: every thread runs `iters` rounds of kAcc independent vector multiply-adds on
// registers (acc = acc·x + y). kAcc chains cover the FMA latency times the FMA ports, so the loop
// runs at the core's FMA throughput: the measured peak that "fraction of peak" divides by.
// copy_floats: a parallel copy, each thread one contiguous slice (read + write bandwidth).
#include "isa.h"
#include "pyengine/bench.h"

namespace pyengine::cpu::PYENGINE_ISA {
namespace {
// 16 of 32 zmm registers (> latency 4 × 2 ports on every AVX-512 core), else 12 of 16.
constexpr int kAcc = kVecRegisters == 32 ? 16 : 12;
typedef vec_t<float> vfloat;
constexpr int kLanes = lanes<float>;
}  // namespace

// Floating-point operations one thread does per round (a multiply-add counts as two).
index_t fma_flops_per_round() { return static_cast<index_t>(kAcc) * kLanes * 2; }

// Returns a checksum of the accumulators so that the compiler keeps the loop.
double fma_peak_loop(int threads, index_t iters) {
  double total = 0.0;
#pragma omp parallel num_threads(threads) reduction(+ : total)
  {
    vfloat acc[kAcc];
    vfloat x = vfloat{} + 0.999999f, y = vfloat{} + 1e-7f;
    // Opaque to the optimiser, so it cannot fold the rounds into fewer operations.
    __asm__ volatile("" : "+x"(x), "+x"(y));
#pragma GCC unroll 16
    for (int i = 0; i < kAcc; ++i) acc[i] = vfloat{} + static_cast<float>(i) * 1e-3f;
    for (index_t it = 0; it < iters; ++it) {
#pragma GCC unroll 16
      for (int i = 0; i < kAcc; ++i) acc[i] = acc[i] * x + y;
    }
    vfloat sum = acc[0];
    for (int i = 1; i < kAcc; ++i) sum += acc[i];
    float s = 0.0f;
    for (int l = 0; l < kLanes; ++l) s += sum[l];
    total += s;
  }
  return total;
}

void copy_floats(float* dst, const float* src, index_t n, int threads) {
#pragma omp parallel num_threads(threads)
  {
    int t = 0, nt = 1;
#ifdef PYENGINE_OPENMP
    t = omp_get_thread_num();
    nt = omp_get_num_threads();
#endif
    // Slices aligned to 16 floats (one cache line) so threads never share a line.
    const index_t per = ((n + nt - 1) / nt + 15) / 16 * 16;
    const index_t lo = per * t < n ? per * t : n;
    const index_t hi = lo + per < n ? lo + per : n;
    if (hi > lo) std::memcpy(dst + lo, src + lo, static_cast<size_t>(hi - lo) * sizeof(float));
  }
}

PE_ISA_REGISTER(fma_peak_loop, fma_peak_loop)
PE_ISA_REGISTER(fma_flops_per_round, fma_flops_per_round)
PE_ISA_REGISTER(copy_floats, copy_floats)

}  // namespace pyengine::cpu::PYENGINE_ISA
