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
// are split over threads (pyengine/parallel.h) when the array is large. float is the fast path; double runs the
// same code.
#pragma once
#include <cstdint>

#include "pyengine/common.h"

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

enum class Reduction : int { none = 0, mean = 1, sum = 2 };

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

}  // namespace pyengine::cpu
