// pyengine/cuda/gru.h — the GRU cell and sequence on the GPU: the fused gate kernels, and the host
// launchers that put them between the tiled GEMMs of gemm.h (the CUDA twins of pyengine::cpu's
// gru_cell_* and gru_*; shapes, equations and `saved` as in pyengine/gru.h).
//
// Sequence forward: one GEMM projects every step's input (x as (T·N, I) times W_ihᵀ, plus b_ih) into
// a workspace GI (T, N, 3H); each step computes GH = h_{t−1}·W_hhᵀ + b_hh (N, 3H) with one GEMM and
// runs the gate kernel, which writes h_t and, when the gates are kept, the row [r z n gh_n]. Backward
// runs per step the gate-backward kernel (dgi_t, dgh_t and dh·z into the running dh) and one GEMM
// adding dgh_t·W_hh to the running dh, then GEMMs over all steps at once (grad_x, grad_w_ih,
// grad_w_hh as h_0's step plus the others') and two column sums (the biases).
//
// gru_gates_forward: gi, gh (N, 3H) with their biases; h_prev, h_next (N, H); gates (N, 4H) or null.
// gru_gates_backward: dh = dh_a + dh_b (dh_b nullable); dgi, dgh (N, 3H) and dh_prev = dh·z (N, H)
//   written (dh_prev may alias dh_b: each element is read before it is written, by one thread).
#pragma once
#include "pyengine/common.h"

namespace pyengine::cuda {

template <typename T>
void gru_gates_forward(index_t N, index_t H, const T* gi, const T* gh, const T* h_prev, T* h_next, T* gates,
                       cudaStream_t stream);
template <typename T>
void gru_gates_backward(index_t N, index_t H, const T* gates, const T* h_prev, const T* dh_a, const T* dh_b, T* dgi,
                        T* dgh, T* dh_prev, cudaStream_t stream);

// Workspaces, in elements of T.
index_t gru_cell_workspace(index_t N, index_t H);                  // 2·N·3H (gi, gh)
index_t gru_forward_workspace(index_t T_, index_t N, index_t H);   // T·N·3H + N·3H (GI, GH)
index_t gru_backward_workspace(index_t T_, index_t N, index_t H);  // 2·T·N·3H + N·H (dGI, dGH, dh)

// b_ih/b_hh may be null. gates (N, 4H) receives [r z n gh_n].
template <typename T>
void gru_cell_forward(index_t N, index_t I, index_t H, const T* x, const T* h, const T* w_ih, const T* w_hh,
                      const T* b_ih, const T* b_hh, T* h_next, T* gates, T* workspace, bool tf32,
                      cudaStream_t stream);
// workspace: 2·N·3H elements.
template <typename T>
void gru_cell_backward(index_t N, index_t I, index_t H, const T* grad_h_next, const T* x, const T* h,
                       const T* w_ih, const T* w_hh, const T* gates, T* grad_x, T* grad_h, T* grad_w_ih,
                       T* grad_w_hh, T* grad_b_ih, T* grad_b_hh, T* workspace, bool tf32, cudaStream_t stream);
// gates (T, N, 4H) written when keep (else it may be null: the inference forward).
template <typename T>
void gru_forward(index_t T_, index_t N, index_t I, index_t H, const T* x, const T* h0, const T* w_ih, const T* w_hh,
                 const T* b_ih, const T* b_hh, T* y, T* h_T, T* gates, bool keep, T* workspace, bool tf32,
                 cudaStream_t stream);
// grad_h_T may be null.
template <typename T>
void gru_backward(index_t T_, index_t N, index_t I, index_t H, const T* grad_y, const T* grad_h_T, const T* x,
                  const T* h0, const T* w_ih, const T* w_hh, const T* gates, const T* hs, T* grad_x, T* grad_h0,
                  T* grad_w_ih, T* grad_w_hh, T* grad_b_ih, T* grad_b_hh, T* workspace, bool tf32,
                  cudaStream_t stream);

}  // namespace pyengine::cuda
