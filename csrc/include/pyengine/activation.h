// pyengine/activation.h — element-wise activations, forward and backward, over n elements of an
// array of any shape (dense, row-major; the shape does not matter to an element-wise op).
//
//   relu        y = x (x > 0), 0 (x < 0)                 dx = g (x > 0), 0 (x ≤ 0)
//   leaky_relu  y = x (x > 0), s·x (x ≤ 0)               dx = g (x > 0), s·g (x ≤ 0)
//   elu         y = x (x > 0), α·(eˣ − 1) (x ≤ 0)        dx = g (x > 0), α·eˣ·g (x ≤ 0)
//   sigmoid     y = 1 / (1 + e⁻ˣ)                        dx = g·y·(1 − y)   from the OUTPUT y
//   tanh        y = tanh x                               dx = g·(1 − y²)    from the OUTPUT y
// and, each backward from the input x (Φ the normal CDF, φ its density, σ the sigmoid,
// sp(x) = log(1 + eˣ) = max(x, 0) + log1p(e^−|x|)):
//   gelu         y = x·Φ(x)                             dx = g·(Φ(x) + x·φ(x))
//   gelu_tanh    y = ½x(1 + tanh u), u = √(2/π)(x + 0.044715x³)
//                                                        dx = g·(½(1 + t) + ½x(1 − t²)·√(2/π)(1 + 0.134145x²))
//   silu         y = x·σ(x)                             dx = g·σ(x)(1 + x(1 − σ(x)))
//   relu6        y = min(max(x, 0), 6)                  dx = 0 for x ≤ 0 or x ≥ 6, else g (NaN: g)
//   hardswish    y = x·relu6(x + 3)/6                   dx = 0 (x ≤ −3), g·(x/3 + ½) (x < 3), g
//   hardsigmoid  y = relu6(x + 3)/6                     dx = g/6 for −3 < x < 3, else 0
//   softplus     y = x if βx > threshold else sp(βx)/β  dx = g if βx > threshold else g·σ(βx)
//   mish         y = x·tanh(sp(x))                      dx = g·(t + x(1 − t²)σ(x)), t = tanh(sp(x))
//   logsigmoid   y = −sp(−x)                            dx = g·σ(−x)
// (β = param, threshold = param2 for softplus.)
//
// x, y, g (grad_output) and dx (grad_input) have n elements; outputs are written, never
// accumulated, and may alias an input (in place). The branch conditions follow PyTorch, so NaN
// propagates (relu(NaN) = NaN) and the derivative at the kink x = 0 is the left one.
//
// Algorithm (csrc/cpu/isa/activation_isa.cpp, one copy per ISA): one vectorised pass over the
// array in chunks, chunks split over threads (pyengine/parallel.h) when n is large. eˣ is computed on vectors
// (csrc/cpu/isa/isa.h). Stable forms: sigmoid from e^−|x| (never overflows: 1/(1+e) for
// x ≥ 0, e/(1+e) below), tanh from m = expm1(−2|x|) as −m/(m + 2) with the sign of x, elu with
// expm1 (no cancellation near 0), mish's tanh(softplus(x)) as n/(n + 2) with n = eˣ(eˣ + 2) (one exp,
// no log), softplus and logsigmoid with log1p, gelu with erf. float is the fast path; double runs
// the same code. exp, expm1, log1p, tanh and erf are vector functions of csrc/cpu/isa/isa.h (a few
// ulps over the whole range, denormals included); only double's erf is the C library's, per lane.
#pragma once
#include "pyengine/common.h"
#include "pyengine/isa_dispatch.h"

#if !defined(PYENGINE_ISA) && !defined(__CUDACC__)
#include "pyengine/check.h"

// The contract (checked by csrc/bindings/bind_activation.cpp for both devices): forward takes a
// float array x of any shape; backward takes grad_output and the forward's x (relu, leaky_relu,
// elu) or output (sigmoid, tanh), which must agree in dtype and shape. Returns the dtype.
namespace pyengine::contract {

inline DType activation_forward(const char* fn, const Array& x) { return float_array(fn, x); }

inline DType activation_backward(const char* fn, const Array& grad_output, const Array& ref) {
  float_array(fn, ref);
  float_array(fn, grad_output);
  same_dtype(fn, ref, grad_output);
  if (grad_output.shape != ref.shape)
    value_error(fn, ": grad_output must have the shape of ", ref.name, " ", shape_str(ref.shape), ", got ",
                shape_str(grad_output.shape));
  return ref.dtype;
}

}  // namespace pyengine::contract
#endif

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

// ---- the per-ISA kernels (csrc/cpu/isa/activation_isa.cpp registers one copy per instruction set)

enum class ActOp : int {
  relu_forward, relu_backward, leaky_relu_forward, leaky_relu_backward, elu_forward, elu_backward,
  sigmoid_forward, sigmoid_backward, tanh_forward, tanh_backward,
  gelu_forward, gelu_backward, gelu_tanh_forward, gelu_tanh_backward, silu_forward, silu_backward,
  relu6_forward, relu6_backward, hardswish_forward, hardswish_backward, hardsigmoid_forward, hardsigmoid_backward,
  softplus_forward, softplus_backward, mish_forward, mish_backward, logsigmoid_forward, logsigmoid_backward
};

// out (n) = op(a, b, param, param2): a is x or grad_output, b null (forward) or x / output (backward).
PE_ISA_KERNEL(activation_f32, void(int op, index_t n, const float* a, const float* b, float param, float param2,
                                   float* out));
PE_ISA_KERNEL(activation_f64, void(int op, index_t n, const double* a, const double* b, double param, double param2,
                                   double* out));

// The vector functions of csrc/cpu/isa/isa.h on their own (out = f(x), n elements), for their
// accuracy test (tests/kernels/test_vector_math.py through pyengine._C._vector_math).
enum class VecFn : int { exp, expm1, log1p, tanh, erf };
PE_ISA_KERNEL(vector_math_f32, void(int fn, index_t n, const float* x, float* out));
PE_ISA_KERNEL(vector_math_f64, void(int fn, index_t n, const double* x, double* out));

#if !defined(PYENGINE_ISA)
// Any op of the table above, for the activations without a named entry point (gelu .. logsigmoid).
template <typename T>
void activation(ActOp op, index_t n, const T* a, const T* b, T param, T param2, T* out) {
  if constexpr (sizeof(T) == 4) activation_f32(static_cast<int>(op), n, a, b, param, param2, out);
  else activation_f64(static_cast<int>(op), n, a, b, param, param2, out);
}
#endif

}  // namespace pyengine::cpu
