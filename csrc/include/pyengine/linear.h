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
