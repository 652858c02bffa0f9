// pyengine/softmax.h — softmax and log-softmax over one axis, and cross-entropy from logits.
//
// Softmax family: an array of any rank viewed as (OUTER, D, INNER), the axis of length D in the
// middle (OUTER = product of the sizes before the axis, INNER after it); element (o, d, i) is at
// (o·D + d)·INNER + i. Over d, for each (o, i):
//   softmax          y_d = exp(x_d − m) / Σ_k exp(x_k − m),  m = max_k x_k   (log-sum-exp shift)
//   log_softmax      y_d = x_d − m − log Σ_k exp(x_k − m)
//   softmax_backward      dx_d = y_d · (g_d − Σ_k g_k·y_k)        from the OUTPUT y
//   log_softmax_backward  dx_d = g_d − exp(y_d) · Σ_k g_k        from the OUTPUT y
// The shift by the maximum keeps every exponent ≤ 0, so logits of ±1e4 neither overflow nor
// lose the result (the sum is ≥ 1). Outputs are written, never accumulated.
//
// Cross-entropy from logits (N, C) and class indices target (N,), 0 ≤ target_n < C (checked by
// the caller):
//   loss_n = log Σ_c exp(logits_nc) − logits_n,target_n              (log-softmax + NLL)
//   out    = loss (N,) for Reduction::none; Σ_n loss_n for sum; Σ_n loss_n / N for mean (NaN at N = 0)
//   grad_logits_nc = w_n · (softmax(logits_n)_c − [c == target_n]),
//            w_n = grad_output[n] (none), grad_output[0] (sum), grad_output[0] / N (mean)
// The sum over N is taken in double in a fixed order (same result for any thread count).
//
// Algorithm (csrc/cpu/isa/softmax_isa.cpp, one copy per ISA): INNER = 1 (the last axis) works on
// contiguous rows with vector max / exp-sum / scale passes; INNER > 1 works on slabs of one
// vector width along INNER, so each pass is still a contiguous vector load per d. Rows or slabs
// are split over OpenMP threads when the array is large. float is the fast path; double runs the
// same code.
#pragma once
#include <cstdint>

#include "pyengine/common.h"
#include "pyengine/isa_dispatch.h"

namespace pyengine {
enum class Reduction : int { none = 0, mean = 1, sum = 2 };
}

#if !defined(PYENGINE_ISA) && !defined(__CUDACC__)
#include "pyengine/check.h"

// The contract (csrc/bindings/bind_softmax.cpp, both devices). softmax family: x of any rank,
// `axis` in [-rank, rank − 1] (a 0-d array counts as rank 1); backward takes grad_output and the
// forward's output, same dtype and shape. cross-entropy: logits (N, C) float, target (N,) int64
// with every value in [0, C), reduction 'none' | 'mean' | 'sum'; grad_output has the loss's shape,
// (N,) for 'none' and () otherwise.
namespace pyengine::contract {

struct AxisView { index_t outer = 1, dim = 1, inner = 1; };

inline AxisView softmax_axis(const char* fn, const Array& x, index_t axis) {
  const index_t ndim = x.ndim(), rank = ndim == 0 ? 1 : ndim;
  if (axis < -rank || axis >= rank)
    value_error(fn, ": axis ", axis, " is out of range for a ", ndim, "-D array (expected ", -rank, " <= axis <= ",
                rank - 1, ")");
  AxisView v;
  if (ndim == 0) return v;
  if (axis < 0) axis += ndim;
  for (index_t i = 0; i < ndim; ++i) {
    const index_t s = x.dim(static_cast<int>(i));
    if (i < axis) v.outer *= s;
    else if (i == axis) v.dim = s;
    else v.inner *= s;
  }
  return v;
}

inline AxisView softmax_forward(const char* fn, const Array& x, index_t axis) {
  float_array(fn, x);
  return softmax_axis(fn, x, axis);
}

inline AxisView softmax_backward(const char* fn, const Array& grad_output, const Array& output, index_t axis) {
  float_array(fn, output);
  float_array(fn, grad_output);
  same_dtype(fn, output, grad_output);
  if (grad_output.shape != output.shape)
    value_error(fn, ": grad_output must have the shape of output ", shape_str(output.shape), ", got ",
                shape_str(grad_output.shape));
  return softmax_axis(fn, output, axis);
}

// logits and target (the reduction is read after them, as in the reference); returns (N, C).
inline std::pair<index_t, index_t> cross_entropy_arrays(const char* fn, const Array& logits, const Array& target) {
  float_array(fn, logits, 2);
  if (target.dtype != DType::i64) type_error(fn, ": target must be int64 class indices, got ", target.dtype_name);
  const index_t N = logits.dim(0), C = logits.dim(1);
  if (target.ndim() != 1 || target.dim(0) != N)
    value_error(fn, ": target must have shape (", N, ",) to match logits ", shape_str(logits.shape), ", got ",
                shape_str(target.shape));
  return {N, C};
}

[[noreturn]] inline void target_out_of_range(const char* fn, index_t i, std::int64_t v, index_t C) {
  value_error(fn, ": target[", i, "] = ", v, " is out of range for ", C, " classes (expected 0 <= target < ", C, ")");
}

// Every target value a class index (host memory).
inline void cross_entropy_targets(const char* fn, const std::int64_t* t, index_t N, index_t C) {
  for (index_t n = 0; n < N; ++n)
    if (t[n] < 0 || t[n] >= C) target_out_of_range(fn, n, t[n], C);
}

inline const char* reduction_str(Reduction r) {
  return r == Reduction::none ? "none" : r == Reduction::mean ? "mean" : "sum";
}

inline void cross_entropy_grad(const char* fn, const Array& grad_output, const Array& logits, Reduction r) {
  float_array(fn, grad_output);
  same_dtype(fn, logits, grad_output);
  const std::vector<index_t> want = r == Reduction::none ? std::vector<index_t>{logits.dim(0)} : std::vector<index_t>{};
  if (grad_output.shape != want)
    value_error(fn, ": grad_output must have shape ", shape_str(want), " for reduction '", reduction_str(r), "', got ",
                shape_str(grad_output.shape));
}

}  // namespace pyengine::contract
#endif

namespace pyengine::cpu {

template <typename T>
void softmax_forward(index_t outer, index_t dim, index_t inner, const T* x, T* y);
template <typename T>
void softmax_backward(index_t outer, index_t dim, index_t inner, const T* grad_output, const T* output,
                      T* grad_input);
template <typename T>
void log_softmax_forward(index_t outer, index_t dim, index_t inner, const T* x, T* y);
template <typename T>
void log_softmax_backward(index_t outer, index_t dim, index_t inner, const T* grad_output, const T* output,
                          T* grad_input);

// out has N elements for Reduction::none, one otherwise.
template <typename T>
void cross_entropy_forward(index_t N, index_t C, const T* logits, const std::int64_t* target, Reduction reduction,
                           T* out);
// grad_output has N elements for Reduction::none, one otherwise; grad_logits (N, C) is written.
template <typename T>
void cross_entropy_backward(index_t N, index_t C, const T* grad_output, const T* logits,
                            const std::int64_t* target, Reduction reduction, T* grad_logits);

// Operation codes of the per-ISA entry points softmax_f32/softmax_f64 (internal).
enum class SoftmaxOp : int { softmax, log_softmax };

// ---- the per-ISA kernels (csrc/cpu/isa/softmax_isa.cpp registers one copy per instruction set)
PE_ISA_KERNEL(softmax_f32, void(int, bool, index_t, index_t, index_t, const float*, const float*, float*));
PE_ISA_KERNEL(softmax_f64, void(int, bool, index_t, index_t, index_t, const double*, const double*, double*));

}  // namespace pyengine::cpu
