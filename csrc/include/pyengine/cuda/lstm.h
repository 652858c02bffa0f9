// pyengine/cuda/lstm.h — the LSTM cell and sequence on the GPU: the fused gate kernels, and the host
// launchers that put them between the tiled GEMMs of gemm.h (the CUDA twins of pyengine::cpu's
// lstm_cell_* and lstm_*; shapes and `saved` as in pyengine/lstm.h).
//
// Sequence forward: one GEMM projects every step's input (x as (T·N, I) times W_ihᵀ, plus b_ih) into
// the gates buffer; each step then adds h_{t−1}·W_hhᵀ + b_hh into its slice (GEMM with beta = 1) and
// runs the gate kernel. Backward runs the gate-backward kernel and one recurrent GEMM per step, then
// GEMMs over all steps at once (grad_x, grad_w_ih, grad_w_hh as h_0's step plus the others') and one
// column sum (the biases).
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
#include "pyengine/common.h"

namespace pyengine::cuda {

template <typename T>
void lstm_gates_forward(index_t N, index_t H, const T* z, const T* c, T* act, T* c_next, T* h_next,
                        cudaStream_t stream);
template <typename T>
void lstm_gates_backward(index_t N, index_t H, const T* grad_h, const T* grad_h2, const T* grad_c, const T* act,
                         const T* c, const T* c_next, T* dz, T* grad_c_prev, cudaStream_t stream);

// b_ih/b_hh may be null. gates (N, 4H) receives the activated gates.
template <typename T>
void lstm_cell_forward(index_t N, index_t I, index_t H, const T* x, const T* h, const T* c, const T* w_ih,
                       const T* w_hh, const T* b_ih, const T* b_hh, T* h_next, T* c_next, T* gates, bool tf32,
                       cudaStream_t stream);
// grad_c_next may be null; dz: a workspace of N·4H elements.
template <typename T>
void lstm_cell_backward(index_t N, index_t I, index_t H, const T* grad_h_next, const T* grad_c_next, const T* x,
                        const T* h, const T* c, const T* w_ih, const T* w_hh, const T* gates, const T* c_next,
                        T* grad_x, T* grad_h, T* grad_c, T* grad_w_ih, T* grad_w_hh, T* grad_b, T* dz, bool tf32,
                        cudaStream_t stream);
template <typename T>
void lstm_forward(index_t T_, index_t N, index_t I, index_t H, const T* x, const T* h0, const T* c0, const T* w_ih,
                  const T* w_hh, const T* b_ih, const T* b_hh, T* y, T* h_T, T* c_T, T* gates, T* cs, bool tf32,
                  cudaStream_t stream);
// grad_h_T/grad_c_T may be null; workspace: lstm_backward_workspace(T_, N, H) elements.
index_t lstm_backward_workspace(index_t T_, index_t N, index_t H);
template <typename T>
void lstm_backward(index_t T_, index_t N, index_t I, index_t H, const T* grad_y, const T* grad_h_T, const T* grad_c_T,
                   const T* x, const T* h0, const T* c0, const T* w_ih, const T* w_hh, const T* gates, const T* cs,
                   const T* hs, T* grad_x, T* grad_h0, T* grad_c0, T* grad_w_ih, T* grad_w_hh, T* grad_b, T* workspace,
                   bool tf32, cudaStream_t stream);

}  // namespace pyengine::cuda
