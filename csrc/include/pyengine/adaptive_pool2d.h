// pyengine/adaptive_pool2d.h — 2-D adaptive max pooling (PyTorch's adaptive_max_pool2d): the
// output size is given, the windows ("bins") follow from it, and they need not divide the input.
//
// Shapes: x (N, C, H, W) → y (N, C, OH, OW) and indices (N, C, OH, OW) int64; the P = N·C planes
// are independent. Output cell (i, j) covers the bin
//   rows    [floor(i·H/OH), ceil((i+1)·H/OH))      columns [floor(j·W/OW), ceil((j+1)·W/OW))
// (adaptive_bin below); neighbouring bins overlap when the sizes do not divide.
//   y[p, i, j] = max of x[p] over the bin, scanned row by row; a value replaces the running maximum
//                when it is greater or NaN, so ties keep the FIRST maximum and the LAST NaN wins
//                (ATen's rule; the reference pyengine/reference/adaptive_pool2d.py scans the same way).
//   indices[p, i, j] = h·W + w of that element in its plane.
// backward: grad_x[p].flat[indices[p, i, j]] += grad_y[p, i, j] over every cell (grad_x written,
// zero where no index points; an input can be the maximum of up to four overlapping cells).
// The contract requires every index inside the bin of its cell (what the forward returns); the
// kernels count the others, skip them, and the binding raises.
//
// Algorithm, CPU (csrc/cpu/isa/adaptive_pool2d_isa.cpp, one copy per ISA): planes over threads
// (parallel_for_ranges, one workspace per chunk). Per output row i, a vector pass down the bin's
// rows keeps, for every input column, the running maximum and the row it came from (the scan rule
// above, column by column); then each cell combines the columns of its bin: with no NaN the
// greatest value, the smallest row among equals, then the smallest column — the first maximum in
// row-major order; with a NaN, the NaN with the greatest row, then column — the last one.
// Backward: each plane scatters into its zeroed plane on one thread (no atomics; the same bits for
// any thread count).
// CUDA (csrc/cuda/adaptive_pool2d.cu): forward one thread per output cell (the scan); backward one
// thread per input element, which gathers the cells whose bins hold it — a contiguous range of at
// most two rows and two columns of cells — and adds those whose index is its position: no atomics,
// deterministic. A check kernel counts the indices outside their bins first.
#pragma once
#include <cstdint>

#include "pyengine/common.h"
#include "pyengine/isa_dispatch.h"

#if defined(__CUDACC__)
#define PE_ADAPTIVE_HD __host__ __device__ __forceinline__
#else
#define PE_ADAPTIVE_HD inline
#endif

namespace pyengine {

struct AdaptivePool2dDims {
  index_t P, H, W, OH, OW;   // P = N·C planes
};

// [lo, hi) of output o's bin along an axis of n inputs and m outputs.
PE_ADAPTIVE_HD void adaptive_bin(index_t n, index_t m, index_t o, index_t& lo, index_t& hi) {
  lo = (o * n) / m;
  hi = ((o + 1) * n + m - 1) / m;
}

}  // namespace pyengine

#if !defined(PYENGINE_ISA) && !defined(__CUDACC__)
#include "pyengine/check.h"
#include "pyengine/pool2d.h"

// The contract (csrc/bindings/bind_adaptive_pool2d.cpp, both devices), with the reference's messages.
// forward: x a 4-D float array with C, H, W >= 1 (the batch may be empty); output_size an int or a
// pair of ints >= 1; the output's element count fits 64 bits.
// backward: grad_output a 4-D float array, indices int64 of its shape, input_shape four ints with
// C, H, W >= 1 and grad_output's N and C.
namespace pyengine::contract {

inline AdaptivePool2dDims adaptive_max_pool2d_forward(const char* fn, const Array& x, index_t OH, index_t OW) {
  pool2d_planes(fn, "x", x.shape);
  checked_numel(fn, "output shape", {x.shape[0], x.shape[1], OH, OW});
  return {x.shape[0] * x.shape[1], x.shape[2], x.shape[3], OH, OW};
}

inline AdaptivePool2dDims adaptive_max_pool2d_backward(const char* fn, const Array& g, const Array& indices,
                                                       const std::vector<index_t>& in_shape) {
  exact_dtype(fn, indices, DType::i64, "");
  shape_is(fn, indices, g.shape);
  pool2d_planes(fn, "input_shape", in_shape);
  if (in_shape[0] != g.dim(0) || in_shape[1] != g.dim(1))
    value_error(fn, ": input_shape ", shape_str(in_shape), " has batch and channels ",
                shape_str({in_shape[0], in_shape[1]}), " but grad_output has ", shape_str({g.dim(0), g.dim(1)}));
  if (g.dim(2) < 1 || g.dim(3) < 1)
    value_error(fn, ": grad_output must have height and width >= 1, got shape ", shape_str(g.shape));
  return {in_shape[0] * in_shape[1], in_shape[2], in_shape[3], g.dim(2), g.dim(3)};
}

[[noreturn]] inline void adaptive_pool2d_bad_indices(const char* fn, index_t bad) {
  value_error(fn, ": indices must lie in the bin of their output cell (flat positions h*W + w, as the forward "
              "returns them), got ", bad, " outside");
}

}  // namespace pyengine::contract
#endif

#if !defined(__CUDACC__)
namespace pyengine::cpu {

// ---- the per-ISA kernels (csrc/cpu/isa/adaptive_pool2d_isa.cpp). The backward returns the number
// of indices outside their bins (skipped).
PE_ISA_KERNEL(adaptive_max_pool2d_forward_f32, void(const AdaptivePool2dDims&, const float*, float*, std::int64_t*));
PE_ISA_KERNEL(adaptive_max_pool2d_forward_f64, void(const AdaptivePool2dDims&, const double*, double*, std::int64_t*));
PE_ISA_KERNEL(adaptive_max_pool2d_backward_f32,
              index_t(const AdaptivePool2dDims&, const float*, const std::int64_t*, float*));
PE_ISA_KERNEL(adaptive_max_pool2d_backward_f64,
              index_t(const AdaptivePool2dDims&, const double*, const std::int64_t*, double*));

#if !defined(PYENGINE_ISA)
// The typed entry points the binding calls (csrc/cpu/adaptive_pool2d.cpp).
template <typename T>
void adaptive_max_pool2d_forward(const AdaptivePool2dDims& d, const T* x, T* y, std::int64_t* indices);
template <typename T>
index_t adaptive_max_pool2d_backward(const AdaptivePool2dDims& d, const T* grad_y, const std::int64_t* indices,
                                     T* grad_x);
#endif

}  // namespace pyengine::cpu
#endif

// The CUDA launchers (csrc/cuda/adaptive_pool2d.cu), on the caller's stream.
// adaptive_max_pool2d_bad_indices counts the indices outside their cells' bins into scratch (one
// device word) and waits for the answer; the backward then gathers.
namespace pyengine::cuda {
template <typename T>
void adaptive_max_pool2d_forward(const AdaptivePool2dDims& d, const T* x, T* y, std::int64_t* indices,
                                 cudaStream_t stream);
index_t adaptive_max_pool2d_bad_indices(const AdaptivePool2dDims& d, const std::int64_t* indices,
                                        unsigned long long* scratch, cudaStream_t stream);
template <typename T>
void adaptive_max_pool2d_backward(const AdaptivePool2dDims& d, const T* grad_y, const std::int64_t* indices,
                                  T* grad_x, cudaStream_t stream);
}  // namespace pyengine::cuda
