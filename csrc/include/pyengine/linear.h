// pyengine/linear.h — fully connected layer, row-major, through pyengine::cpu::gemm.
//
// Legend: N rows (batch, or every leading dimension flattened), I input features, O outputs.
//   x (N, I), weight (O, I), bias (O,) or null, y / grad_output (N, O)
//
//   forward           y[N,O]           = x · weightᵀ + bias               (written)
//   backward input    grad_input[N,I]  = grad_output · weight             (written)
//   backward weight   grad_weight[O,I] = grad_outputᵀ · x                 (written)
//   backward bias     grad_bias[O]     = Σ_n grad_output[n, :]            (written)
//
// Each is one GEMM; the forward adds the bias in the GEMM's epilogue (gemm_ex).
#pragma once
#include "pyengine/common.h"

#if !defined(PYENGINE_ISA) && !defined(__CUDACC__)
#include "pyengine/check.h"

// The contract (csrc/bindings/bind_linear.cpp, both devices): x (*, I) with at least one axis,
// weight (O, I), bias (O,) or None, grad_output (*, O), all of one float dtype.
namespace pyengine::contract {

struct LinearDims { index_t N, I, O; std::vector<index_t> out_shape; };

inline LinearDims linear(const char* fn, const Array& x, const Array& weight, const Array& bias) {
  float_array(fn, x);
  if (x.ndim() < 1) value_error(fn, ": x must have at least 1 dimension (*, I), got a 0-D array");
  float_array(fn, weight, 2);
  same_dtype(fn, x, weight);
  const index_t O = weight.dim(0), I = weight.dim(1);
  if (x.dim(-1) != I) value_error(fn, ": weight expects ", I, " input features, x has ", x.dim(-1));
  if (bias.present) {
    float_array(fn, bias, 1);
    same_dtype(fn, x, bias);
    shape_is(fn, bias, {O});
  }
  LinearDims d{1, I, O, std::vector<index_t>(x.shape.begin(), x.shape.end() - 1)};
  d.out_shape.push_back(O);
  checked_numel(fn, "output shape", d.out_shape);
  for (int i = 0; i + 1 < x.ndim(); ++i) d.N *= x.dim(i);
  return d;
}

inline LinearDims linear_backward(const char* fn, const Array& grad_output, const Array& x, const Array& weight) {
  LinearDims d = linear(fn, x, weight, Array{});
  float_array(fn, grad_output);
  same_dtype(fn, x, grad_output);
  shape_is(fn, grad_output, d.out_shape);
  return d;
}

}  // namespace pyengine::contract
#endif

namespace pyengine::cpu {

template <typename T>
void linear_forward(index_t N, index_t I, index_t O, const T* x, const T* weight, const T* bias, T* y);

template <typename T>
void linear_backward_input(index_t N, index_t I, index_t O, const T* grad_output, const T* weight,
                           T* grad_input);

template <typename T>
void linear_backward_weight(index_t N, index_t I, index_t O, const T* grad_output, const T* x,
                            T* grad_weight);

template <typename T>
void linear_backward_bias(index_t N, index_t O, const T* grad_output, T* grad_bias);

}  // namespace pyengine::cpu
