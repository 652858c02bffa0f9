// pyengine/cuda/lstm.h — the fused LSTM gate kernels; the matrix products around them are gemm.h
// calls made by pyengine/kernels/cuda/lstm.py (one GEMM for the input projection of all steps, one
// recurrent GEMM per step).
//
// Shapes: gates (N, 4H) in PyTorch order i, f, g, o; c, c_next, h_next (N, H).
// lstm_gates_forward: from the pre-activations z = x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh,
//   i = σ(z_i), f = σ(z_f), g = tanh(z_g), o = σ(z_o); c_next = f·c + i·g; h_next = o·tanh(c_next).
//   act (N, 4H) receives [i, f, g, o] (it may be the z buffer itself); c_next and h_next written.
// lstm_gates_backward: with gh = grad_h + grad_h2 (grad_h2 nullable) and
//   gc = grad_c (nullable: 0) + gh·o·(1 − tanh²(c_next)):
//   dz_i = gc·g·i(1−i), dz_f = gc·c·f(1−f), dz_g = gc·i(1−g²), dz_o = gh·tanh(c_next)·o(1−o);
//   grad_c_prev = gc·f. dz (N, 4H) and grad_c_prev written.
#pragma once
#include <cuda_runtime.h>

#include "pyengine/common.h"

namespace pyengine::cuda {

template <typename T>
void lstm_gates_forward(index_t N, index_t H, const T* z, const T* c, T* act, T* c_next, T* h_next,
                        cudaStream_t stream);
template <typename T>
void lstm_gates_backward(index_t N, index_t H, const T* grad_h, const T* grad_h2, const T* grad_c, const T* act,
                         const T* c, const T* c_next, T* dz, T* grad_c_prev, cudaStream_t stream);

}  // namespace pyengine::cuda
