// pyengine/batch_norm.h — batch normalisation over x (N, C, HW) (HW = 1 for 2-D (N, C) input).
//
// Per channel c over M = N·HW values:
//   training: mean = Σx/M, var = Σ(x − mean)²/M (biased, normalises);
//             running_mean ← (1−momentum)·running_mean + momentum·mean,
//             running_var  ← (1−momentum)·running_var  + momentum·var·M/(M−1)   (updated in place)
//   eval:     mean = running_mean, var = running_var
//   invstd = 1/√(var + eps);  y = (x − mean)·invstd·weight + bias  (weight = 1, bias = 0 when null)
//   save_mean, save_invstd (C) written. M = 0 (empty batch): save_mean = save_invstd = 0, running
//   statistics left alone. Training with M = 1 is rejected by the binding.
// backward, x̂ = (x − mean)·invstd:
//   grad_bias = Σg, grad_weight = Σg·x̂  (written when non-null)
//   grad_input = weight·invstd·(g − grad_bias/M − x̂·grad_weight/M) (training) or weight·invstd·g (eval)
//
// Algorithm: parallel over channels (blocks of channels when HW = 1, where a channel is strided);
// one pass per statistic (Σx, then Σ(x − mean)² — two passes are exact where Σx² − M·mean² cancels),
// then one pass writing y. Sums are accumulated in double. No allocation besides the outputs.
#pragma once
#include "pyengine/common.h"

namespace pyengine::cpu {

template <typename T>
void batch_norm_forward(index_t N, index_t C, index_t HW, const T* x, const T* weight, const T* bias,
                        T* running_mean, T* running_var, bool training, double momentum, double eps, T* y,
                        T* save_mean, T* save_invstd);

template <typename T>
void batch_norm_backward(index_t N, index_t C, index_t HW, const T* grad_output, const T* x, const T* weight,
                         const T* save_mean, const T* save_invstd, bool training, T* grad_input, T* grad_weight,
                         T* grad_bias);

}  // namespace pyengine::cpu
