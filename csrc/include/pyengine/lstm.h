// pyengine/lstm.h — LSTM cell and whole-sequence LSTM (one layer, one direction), PyTorch's layout.
//
// Legend: T time steps, N batch, I input features, H hidden size; G = 4H gate rows in the order
// i (input), f (forget), g (cell candidate), o (output), as in torch.nn.LSTM.
//   x (N, I) for the cell, (T, N, I) for the sequence; h, c (N, H); w_ih (G, I); w_hh (G, H);
//   b_ih, b_hh (G,) or null (null means zero).
//
// Cell equations (σ = logistic sigmoid):
//   a      = x·w_ihᵀ + h·w_hhᵀ + b_ih + b_hh                      (N, G), split into a_i a_f a_g a_o
//   i = σ(a_i)   f = σ(a_f)   g = tanh(a_g)   o = σ(a_o)
//   c_next = f⊙c + i⊙g        h_next = o⊙tanh(c_next)
//
// What forward keeps for backward ("saved", the same in every implementation):
//   cell:     gates (N, G) = [i f g o] after their nonlinearity, and c_next (N, H)
//   sequence: gates (T, N, G), cs (T, N, H) = c_1..c_T, hs (T, N, H) = h_1..h_T (the output y)
//
// Backward, per step, given dh = ∂L/∂h_next and dc = ∂L/∂c_next (zero when absent):
//   dc' = dc + dh⊙o⊙(1 − tanh²c_next)
//   d a_i = dc'⊙g⊙i(1−i)   d a_f = dc'⊙c⊙f(1−f)   d a_g = dc'⊙i⊙(1−g²)   d a_o = dh⊙tanh c_next⊙o(1−o)
//   ∂L/∂c = dc'⊙f   ∂L/∂h = da·w_hh   ∂L/∂x = da·w_ih
//   ∂L/∂w_ih = daᵀ·x   ∂L/∂w_hh = daᵀ·h   ∂L/∂b_ih = ∂L/∂b_hh = Σ_n da
//
// Sequence algorithm. Forward: one GEMM projects every step's input, A = X(T·N, I)·w_ihᵀ, into the
// gates array; then per step one recurrent GEMM A_t += h_{t−1}·w_hhᵀ and one fused pass (bias,
// nonlinearities, cell update, tanh c, h). Backward runs the steps in reverse: one fused pass turns
// (dh_t = grad_y_t + recurrent dh, dc) into dA_t and the next dc, one GEMM gives the recurrent
// dh = dA_t·w_hh; afterwards one GEMM each gives grad_x = dA·w_ih, grad_w_ih = dAᵀ·X and
// grad_w_hh = dAᵀ·[h_0; h_1..h_{T−1}] over all steps, and a column sum gives the biases.
// Every output is written, none accumulated. For float the per-step GEMMs and gate passes run in
// csrc/cpu/isa/lstm_isa.cpp: the batch rows are split between the threads for the whole sequence
// (no barrier between steps), w_hh is packed once per call (for the forward with its columns grouped
// by hidden unit, so each group's h_{t−1}·w_hhᵀ lands in an L1 buffer and the gate pass adds the
// projection from the gates array as it writes the activated gates), and the gate pass is vectorised with
// exp/tanh accurate to ~1e-7. double runs pyengine::cpu::gemm per step and libm's exp/tanh
// (the gradient-check path). The sequence kernels need T ≥ 1.
// Sparse x (one-hot characters or categories: at most one entry in 16 non-zero, csrc/cpu/lstm.cpp):
// the training forward's projection adds the rows of w_ihᵀ each x row picks, and the backward's
// grad_w_ih adds each dA row into the rows of grad_w_ihᵀ its x row picks, instead of two dense GEMMs
// over mostly zeros; a non-finite w_ih (forward) or dA (backward) keeps the GEMM, whose 0·inf = NaN
// the skipped products would lose.
#pragma once
#include "pyengine/common.h"
#include "pyengine/isa_dispatch.h"

// The contract (csrc/bindings/bind_lstm.cpp, both devices): pyengine/recurrent.h with K = 4 gate
// blocks; `saved` is the forward's tuple: (gates (N, 4H), c_next (N, H)) for the cell,
// (gates (T, N, 4H), cs, hs (T, N, H)) for the sequence.
#include "pyengine/recurrent.h"

namespace pyengine::cpu {

// h_next, c_next (N, H); gates (N, G) (saved). b_ih / b_hh may be null.
template <typename T>
void lstm_cell_forward(index_t N, index_t I, index_t H, const T* x, const T* h, const T* c, const T* w_ih,
                       const T* w_hh, const T* b_ih, const T* b_hh, T* h_next, T* c_next, T* gates);

// grad_c_next may be null. grad_x (N, I), grad_h, grad_c (N, H), grad_w_ih (G, I), grad_w_hh (G, H),
// grad_b (G,) (the gradient of b_ih and of b_hh alike).
template <typename T>
void lstm_cell_backward(index_t N, index_t I, index_t H, const T* grad_h_next, const T* grad_c_next,
                        const T* x, const T* h, const T* c, const T* w_ih, const T* w_hh, const T* gates,
                        const T* c_next, T* grad_x, T* grad_h, T* grad_c, T* grad_w_ih, T* grad_w_hh,
                        T* grad_b);

// y = hs (T, N, H), h_T, c_T (N, H), gates (T, N, G), cs (T, N, H). T ≥ 1.
template <typename T>
void lstm_forward(index_t T_, index_t N, index_t I, index_t H, const T* x, const T* h0, const T* c0,
                  const T* w_ih, const T* w_hh, const T* b_ih, const T* b_hh, T* y, T* h_T, T* c_T,
                  T* gates, T* cs);

// Inference: the same y, h_T, c_T with nothing kept for a backward. For float, per step one GEMM of
// [x_t | h_{t−1}] (K = I + H) against [w_ih | w_hh]ᵀ, packed once per call with its columns grouped
// by hidden unit, so each group's pre-activations go straight from a small L1 buffer through the
// gate pass and only h and c are written (csrc/cpu/isa/lstm_isa.cpp; rows split between the threads
// as in the training recurrence). double runs lstm_forward with the saved arrays in the calling
// thread's workspace arena (pyengine/workspace.h). T ≥ 1.
template <typename T>
void lstm_forward_inference(index_t T_, index_t N, index_t I, index_t H, const T* x, const T* h0, const T* c0,
                            const T* w_ih, const T* w_hh, const T* b_ih, const T* b_hh, T* y, T* h_T, T* c_T);

// grad_h_T / grad_c_T may be null. grad_x (T, N, I), grad_h0, grad_c0 (N, H), grad_w_ih (G, I),
// grad_w_hh (G, H), grad_b (G,); grad_x, grad_w_ih, grad_w_hh and grad_b may be null (not needed:
// their GEMM or sum is skipped).
template <typename T>
void lstm_backward(index_t T_, index_t N, index_t I, index_t H, const T* grad_y, const T* grad_h_T,
                   const T* grad_c_T, const T* x, const T* h0, const T* c0, const T* w_ih, const T* w_hh,
                   const T* gates, const T* cs, const T* hs, T* grad_x, T* grad_h0, T* grad_c0,
                   T* grad_w_ih, T* grad_w_hh, T* grad_b);

// ---- the per-ISA kernels (csrc/cpu/isa/lstm_isa.cpp registers one copy per instruction set)
PE_ISA_KERNEL(lstm_gates_forward_f32, void(index_t, index_t, float*, const float*, const float*, const float*, float*,
              float*));
PE_ISA_KERNEL(lstm_gates_backward_f32, void(index_t, index_t, const float*, const float*, const float*, const float*,
              const float*, const float*, float*, float*));
PE_ISA_KERNEL(lstm_recurrence_forward_f32, void(index_t, index_t, index_t, const float*, const float*, const float*,
              const float*, const float*, float*, float*, float*, float*, float*, int));
PE_ISA_KERNEL(lstm_recurrence_backward_f32, void(index_t, index_t, index_t, const float*, const float*, const float*,
              const float*, const float*, const float*, const float*, float*, float*, float*, float*, float*, float*,
              float*, float*, float*, int));
PE_ISA_KERNEL(lstm_recurrence_packed_size, index_t(index_t));
PE_ISA_KERNEL(lstm_recurrence_apack_size, index_t(index_t, index_t, int));
PE_ISA_KERNEL(lstm_inference_sizes, void(index_t, index_t, index_t, int, index_t*));
PE_ISA_KERNEL(lstm_inference_forward_f32, void(index_t, index_t, index_t, index_t, const float*, const float*,
              const float*, const float*, const float*, const float*, const float*, float*, float*, float*, float*,
              float*, int));

}  // namespace pyengine::cpu
