// pyengine/bench.h — the machine-limit probes the benchmark suite divides by (bench/, through
// csrc/bindings/bind_bench.cpp), compiled once per instruction set (csrc/cpu/isa/bench_isa.cpp).
//
//   fma_peak_loop(threads, iters)   `threads` threads each run iters rounds of independent FMA
//                                   chains on registers; returns a checksum (keeps the work alive)
//   fma_flops_per_round()           flops of one round of one thread (2 per multiply-add per lane)
//   copy_floats(dst, src, n, threads)  dst[0:n] = src[0:n] with `threads` threads (bandwidth)
#pragma once
#include "pyengine/common.h"
#include "pyengine/isa_dispatch.h"

namespace pyengine::cpu {

PE_ISA_KERNEL(fma_peak_loop, double(int threads, index_t iters));
PE_ISA_KERNEL(fma_flops_per_round, index_t());
PE_ISA_KERNEL(copy_floats, void(float* dst, const float* src, index_t n, int threads));

}  // namespace pyengine::cpu
