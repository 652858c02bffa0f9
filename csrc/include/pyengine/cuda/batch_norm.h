// pyengine/cuda/batch_norm.h — batch normalisation over (N, C, L) (L = H·W, or 1 for (N, C) input).
//
// forward, training: per channel c over the M = N·L values: mean, biased variance var;
//   save_mean = mean, save_invstd = 1/sqrt(var + eps); y = (x − mean)·invstd·w + b;
//   running_mean ← (1 − momentum)·running_mean + momentum·mean,
//   running_var  ← (1 − momentum)·running_var + momentum·var·M/(M − 1)   (in place, when non-null);
//   an empty batch (M = 0) gives save_mean = save_invstd = 0 and leaves the running statistics alone.
// forward, eval: mean = running_mean, invstd = 1/sqrt(running_var + eps), the same y; save_mean and
//   save_invstd receive them.
// backward, training: x̂ = (x − mean)·invstd, Σg and Σg·x̂ per channel;
//   grad_weight = Σg·x̂, grad_bias = Σg, grad_input = w·invstd/M·(M·g − Σg − x̂·Σg·x̂);
// backward, eval: grad_input = g·w·invstd (grad_weight and grad_bias as above).
// w and b are optional (null means 1 and 0); any grad pointer may be null (not computed).
// One block per channel for the statistics (grid-stride over channels), elementwise kernels for y
// and grad_input.
#pragma once
#include "pyengine/common.h"

namespace pyengine::cuda {

template <typename T>
void batch_norm_forward(index_t N, index_t C, index_t L, const T* x, const T* w, const T* b, T* running_mean,
                        T* running_var, bool training, double momentum, double eps, T* y, T* save_mean,
                        T* save_invstd, cudaStream_t stream);

// `sums` is a caller workspace of 2·C elements (Σg and Σg·x̂); grad_weight/grad_bias may be null.
template <typename T>
void batch_norm_backward(index_t N, index_t C, index_t L, const T* grad_output, const T* x, const T* w,
                         const T* save_mean, const T* save_invstd, bool training, T* grad_input, T* grad_weight,
                         T* grad_bias, T* sums, cudaStream_t stream);

}  // namespace pyengine::cuda
