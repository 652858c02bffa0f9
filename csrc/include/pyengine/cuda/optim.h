// pyengine/cuda/optim.h — fused, in-place optimizer updates on the GPU: one grid-stride pass over
// (param, grad, state...) per step, with PyTorch's formulas exactly as in pyengine/optim.h (the CPU
// header); every array is dense with n elements. g is the gradient after maximize (negated) and L2
// weight decay (g + weight_decay·p) unless decoupled (AdamW: p·(1 − lr·weight_decay) first).
//
// sgd_step     buf ← first_step ? g : momentum·buf + (1 − dampening)·g   (momentum ≠ 0, buf non-null)
//              p   ← p − lr·(nesterov ? g + momentum·buf : buf)           (p − lr·g without momentum)
// adam_step    m ← m + (1 − β1)(g − m); v ← β2·v + (1 − β2)g²; vmax ← max(vmax, v) (when non-null)
//              p ← p − lr/(1 − β1^step) · m / (sqrt(vmax or v)/sqrt(1 − β2^step) + eps)
// rmsprop_step v ← α·v + (1 − α)g²; ga ← ga + (1 − α)(g − ga) (centered, ga non-null);
//              a = sqrt(v − ga²) or sqrt(v), + eps; buf ← momentum·buf + g/a, p ← p − lr·buf (momentum > 0)
//              else p ← p − lr·g/a
// adagrad_step s ← s + g²; p ← p − lr/(1 + (step − 1)·lr_decay) · g/(sqrt(s) + eps)
// Scalar coefficients are computed in double on the host and rounded once to T.
#pragma once
#include "pyengine/common.h"

namespace pyengine::cuda {

template <typename T>
void sgd_step(index_t n, T* p, const T* grad, T* momentum_buf, double lr, double momentum, double dampening,
              double weight_decay, bool nesterov, bool maximize, bool first_step, cudaStream_t stream);

template <typename T>
void adam_step(index_t n, T* p, const T* grad, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq, index_t step, double lr,
               double beta1, double beta2, double eps, double weight_decay, bool decoupled_weight_decay,
               bool maximize, cudaStream_t stream);

template <typename T>
void rmsprop_step(index_t n, T* p, const T* grad, T* square_avg, T* momentum_buf, T* grad_avg, double lr, double alpha,
                  double eps, double weight_decay, double momentum, bool maximize, cudaStream_t stream);

template <typename T>
void adagrad_step(index_t n, T* p, const T* grad, T* state_sum, index_t step, double lr, double lr_decay,
                  double weight_decay, double eps, bool maximize, cudaStream_t stream);

}  // namespace pyengine::cuda
