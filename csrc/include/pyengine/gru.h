// pyengine/gru.h — GRU cell and whole-sequence GRU (one layer, one direction), PyTorch's layout.
//
// Legend: T time steps, N batch, I input features, H hidden size; G = 3H gate rows in the order
// r (reset), z (update), n (new), as in torch.nn.GRU.
//   x (N, I) for the cell, (T, N, I) for the sequence; h (N, H); w_ih (G, I); w_hh (G, H);
//   b_ih, b_hh (G,) or null (null means zero).
//
// Cell equations (σ = logistic sigmoid); b_hn stays inside the reset product (PyTorch's form,
// ONNX's linear_before_reset = 1):
//   gi = x·w_ihᵀ + b_ih      gh = h·w_hhᵀ + b_hh                       (N, G) each, blocks r z n
//   r = σ(gi_r + gh_r)   z = σ(gi_z + gh_z)   n = tanh(gi_n + r⊙gh_n)
//   h_next = (1 − z)⊙n + z⊙h
//
// What forward keeps for backward ("saved", the same in every implementation):
//   cell:     gates (N, 4H) = [r z n gh_n] (the gates after their nonlinearity, and gh_n)
//   sequence: gates (T, N, 4H) per step as for the cell, and hs (T, N, H) = h_1..h_T (the output y)
//
// Backward, per step, given dh = ∂L/∂h_next:
//   da_n = dh⊙(1−z)⊙(1−n²)   da_z = dh⊙(h−n)⊙z(1−z)   da_r = da_n⊙gh_n⊙r(1−r)
//   dgi = [da_r da_z da_n] = ∂L/∂gi      dgh = [da_r da_z r⊙da_n] = ∂L/∂gh
//   ∂L/∂h = dh⊙z + dgh·w_hh   ∂L/∂x = dgi·w_ih   ∂L/∂w_ih = dgiᵀ·x   ∂L/∂w_hh = dghᵀ·h
//   ∂L/∂b_ih = Σ_n dgi   ∂L/∂b_hh = Σ_n dgh   (the two differ in the n block)
//
// Sequence algorithm. Forward: one GEMM projects every step's input, GI = X(T·N, I)·w_ihᵀ, straight
// into the first 3H columns of the gates array (row stride 4H); then per step one recurrent GEMM
// GH = h_{t−1}·w_hhᵀ into a workspace and one fused pass (both biases, the three nonlinearities,
// the reset product and h), which overwrites the step's gates row with [r z n gh_n]. Backward runs
// the steps in reverse: one fused pass turns dh_t = grad_y_t + the recurrent dh into dgi_t, dgh_t and
// dh⊙z, one GEMM adds dgh_t·w_hh to that; afterwards one GEMM each gives grad_x = dGI·w_ih,
// grad_w_ih = dGIᵀ·X and grad_w_hh = dGHᵀ·[h_0; h_1..h_{T−1}] over all steps, and column sums give
// the biases. Every output is written, none accumulated. For float the per-step GEMMs and gate
// passes run in csrc/cpu/isa/gru_isa.cpp: the batch rows are split between the threads for the
// whole sequence (no barrier between steps), w_hh is packed once per call, and the gate pass is
// vectorised. double runs pyengine::cpu::gemm per step and libm's exp/tanh (the gradient-check
// path). The sequence kernels need T ≥ 1. gru_inference_forward runs the same forward keeping only
// one step's gates (the saved array is not produced).
#pragma once
#include "pyengine/common.h"
#include "pyengine/isa_dispatch.h"

// The contract (csrc/bindings/bind_gru.cpp, both devices): pyengine/recurrent.h with K = 3 gate
// blocks; `saved` is the forward's tuple: (gates (N, 4H),) for the cell, (gates (T, N, 4H),
// hs (T, N, H)) for the sequence.
#include "pyengine/recurrent.h"

namespace pyengine::cpu {

// h_next (N, H); gates (N, 4H) (saved). b_ih / b_hh may be null.
template <typename T>
void gru_cell_forward(index_t N, index_t I, index_t H, const T* x, const T* h, const T* w_ih, const T* w_hh,
                      const T* b_ih, const T* b_hh, T* h_next, T* gates);

// grad_x (N, I), grad_h (N, H), grad_w_ih (G, I), grad_w_hh (G, H), grad_b_ih, grad_b_hh (G,).
template <typename T>
void gru_cell_backward(index_t N, index_t I, index_t H, const T* grad_h_next, const T* x, const T* h,
                       const T* w_ih, const T* w_hh, const T* gates, T* grad_x, T* grad_h, T* grad_w_ih,
                       T* grad_w_hh, T* grad_b_ih, T* grad_b_hh);

// y = hs (T, N, H), h_T (N, H), gates (T, N, 4H); gates null: the inference forward (nothing saved). T ≥ 1.
template <typename T>
void gru_forward(index_t T_, index_t N, index_t I, index_t H, const T* x, const T* h0, const T* w_ih,
                 const T* w_hh, const T* b_ih, const T* b_hh, T* y, T* h_T, T* gates);

// grad_h_T may be null. grad_x (T, N, I), grad_h0 (N, H), grad_w_ih (G, I), grad_w_hh (G, H),
// grad_b_ih, grad_b_hh (G,).
template <typename T>
void gru_backward(index_t T_, index_t N, index_t I, index_t H, const T* grad_y, const T* grad_h_T, const T* x,
                  const T* h0, const T* w_ih, const T* w_hh, const T* gates, const T* hs, T* grad_x, T* grad_h0,
                  T* grad_w_ih, T* grad_w_hh, T* grad_b_ih, T* grad_b_hh);

// ---- the per-ISA kernels (csrc/cpu/isa/gru_isa.cpp registers one copy per instruction set)
// rows × H: gi (row stride ldg: the input projection in, [r z n gh_n] out), gh (row stride 3H,
// h·w_hhᵀ without bias), h_prev and h_next (row stride H).
PE_ISA_KERNEL(gru_gates_forward_f32, void(index_t rows, index_t H, float* gates, index_t ldg, const float* gh,
              const float* b_ih, const float* b_hh, const float* h_prev, float* h_next));
// dh = dh_a + dh_b (dh_b nullable); writes dgi, dgh (row stride 3H) and dh_prev = dh⊙z (row stride H;
// it may alias dh_b).
PE_ISA_KERNEL(gru_gates_backward_f32, void(index_t rows, index_t H, const float* gates, const float* h_prev,
              const float* dh_a, const float* dh_b, float* dgi, float* dgh, float* dh_prev));
// The float recurrences (after the input projection). Forward: gates holds per step N rows of
// stride ldg with the projection x·w_ihᵀ (no bias) in their first 3H columns; with ldg = 4H each row
// receives [r z n gh_n] (saved), with ldg = 3H nothing is kept (the inference forward); y (T, N, H)
// written. Backward: dgi, dgh (T, N, 3H) and grad_h0 written, grad_h_T nullable, dh_ws N·H floats.
// packed, apack, gh: the sizes gru_recurrence_sizes gives.
PE_ISA_KERNEL(gru_recurrence_forward_f32, void(index_t T, index_t N, index_t H, const float* h0, const float* w_hh,
              const float* b_ih, const float* b_hh, float* gates, index_t ldg, float* y, float* packed,
              float* apack, float* gh, int threads));
PE_ISA_KERNEL(gru_recurrence_backward_f32, void(index_t T, index_t N, index_t H, const float* h0, const float* w_hh,
              const float* gates, const float* hs, const float* grad_y, const float* grad_h_T, float* dgi,
              float* dgh, float* grad_h0, float* dh_ws, float* packed, float* apack, int threads));
// Workspace sizes, in floats: [0] packed w_hh, [1] the packed rows (all threads), [2] gh (N·3H).
PE_ISA_KERNEL(gru_recurrence_sizes, void(index_t N, index_t H, int threads, index_t* sizes));

}  // namespace pyengine::cpu
