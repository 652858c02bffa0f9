// pyengine/optim.h — fused, in-place optimizer updates: one pass over (param, grad, state...) per
// step, no temporaries. The formulas are PyTorch's (torch.optim, single-tensor path), element-wise
// over n = numel(param); every array is dense with n elements. `g` below is the gradient after
// maximize (negated) and L2 weight decay (g + weight_decay·p) unless stated otherwise.
//
// sgd_step     buf  ← first_step ? g : momentum·buf + (1 − dampening)·g       (when momentum ≠ 0)
//              d    ← nesterov ? g + momentum·buf : buf                         (d = g without momentum)
//              p    ← p − lr·d                                 written: p, buf (buf may be null)
//
// adam_step    p    ← p·(1 − lr·weight_decay)       decoupled (AdamW; g then has no decay term)
//              m    ← m + (1 − beta1)·(g − m)
//              v    ← beta2·v + (1 − beta2)·g²
//              vmax ← max(vmax, v)                                              (amsgrad)
//              p    ← p − lr/(1 − beta1^step) · m / (sqrt(amsgrad ? vmax : v)/sqrt(1 − beta2^step) + eps)
//                                                              written: p, m, v, vmax (vmax may be null)
//
// rmsprop_step v    ← alpha·v + (1 − alpha)·g²
//              ga   ← ga + (1 − alpha)·(g − ga)                                (centered)
//              a    ← sqrt(v − ga²) (centered) or sqrt(v), then + eps
//              buf  ← momentum·buf + g/a;  p ← p − lr·buf                      (momentum > 0)
//              p    ← p − lr·g/a                                               (otherwise)
//                                                              written: p, v, ga, buf (ga, buf may be null)
//
// adagrad_step s    ← s + g²;   p ← p − lr/(1 + (step − 1)·lr_decay) · g/(sqrt(s) + eps)
//                                                              written: p, s
//
// The arithmetic runs in T (float32 on the fast path) with the scalar coefficients computed in
// double and rounded once, as PyTorch does; large arrays are split across threads (pyengine/parallel.h).
#pragma once
#include "pyengine/common.h"

namespace pyengine::cpu {

template <typename T>
void sgd_step(index_t n, T* p, const T* grad, T* momentum_buf, double lr, double momentum, double dampening,
              double weight_decay, bool nesterov, bool maximize, bool first_step);

template <typename T>
void adam_step(index_t n, T* p, const T* grad, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq, index_t step,
               double lr, double beta1, double beta2, double eps, double weight_decay, bool decoupled_weight_decay,
               bool maximize);

template <typename T>
void rmsprop_step(index_t n, T* p, const T* grad, T* square_avg, T* momentum_buf, T* grad_avg, double lr,
                  double alpha, double eps, double weight_decay, double momentum, bool maximize);

template <typename T>
void adagrad_step(index_t n, T* p, const T* grad, T* state_sum, index_t step, double lr, double lr_decay,
                  double weight_decay, double eps, bool maximize);

}  // namespace pyengine::cpu
