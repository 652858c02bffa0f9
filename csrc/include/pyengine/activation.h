// pyengine/activation.h — element-wise activations, forward and backward, over n elements of an
// array of any shape (dense, row-major; the shape does not matter to an element-wise op).
//
//   relu        y = x (x > 0), 0 (x < 0)                 dx = g (x > 0), 0 (x ≤ 0)
//   leaky_relu  y = x (x > 0), s·x (x ≤ 0)               dx = g (x > 0), s·g (x ≤ 0)
//   elu         y = x (x > 0), α·(eˣ − 1) (x ≤ 0)        dx = g (x > 0), α·eˣ·g (x ≤ 0)
//   sigmoid     y = 1 / (1 + e⁻ˣ)                        dx = g·y·(1 − y)   from the OUTPUT y
//   tanh        y = tanh x                               dx = g·(1 − y²)    from the OUTPUT y
//
// x, y, g (grad_output) and dx (grad_input) have n elements; outputs are written, never
// accumulated, and may alias an input (in place). The branch conditions follow PyTorch, so NaN
// propagates (relu(NaN) = NaN) and the derivative at the kink x = 0 is the left one.
//
// Algorithm (csrc/cpu/isa/activation_isa.cpp, one copy per ISA): one vectorised pass over the
// array in chunks, chunks split over threads (pyengine/parallel.h) when n is large. eˣ is computed on vectors
// (csrc/cpu/isa/vec_math.h). Stable forms: sigmoid from e^−|x| (never overflows: 1/(1+e) for
// x ≥ 0, e/(1+e) below), tanh from m = expm1(−2|x|) as −m/(m + 2) with the sign of x, elu with
// expm1 (no cancellation near 0). float is the fast path; double runs the same code.
#pragma once
#include "pyengine/common.h"

namespace pyengine::cpu {

template <typename T> void relu_forward(index_t n, const T* x, T* y);
template <typename T> void relu_backward(index_t n, const T* grad_output, const T* x, T* grad_input);
template <typename T> void leaky_relu_forward(index_t n, const T* x, T negative_slope, T* y);
template <typename T>
void leaky_relu_backward(index_t n, const T* grad_output, const T* x, T negative_slope, T* grad_input);
template <typename T> void elu_forward(index_t n, const T* x, T alpha, T* y);
template <typename T> void elu_backward(index_t n, const T* grad_output, const T* x, T alpha, T* grad_input);
template <typename T> void sigmoid_forward(index_t n, const T* x, T* y);
template <typename T> void sigmoid_backward(index_t n, const T* grad_output, const T* output, T* grad_input);
template <typename T> void tanh_forward(index_t n, const T* x, T* y);
template <typename T> void tanh_backward(index_t n, const T* grad_output, const T* output, T* grad_input);

// The operation codes of the per-ISA entry points activation_f32/activation_f64 (internal).
enum class ActOp : int {
  relu_forward, relu_backward, leaky_relu_forward, leaky_relu_backward, elu_forward, elu_backward,
  sigmoid_forward, sigmoid_backward, tanh_forward, tanh_backward
};

}  // namespace pyengine::cpu
