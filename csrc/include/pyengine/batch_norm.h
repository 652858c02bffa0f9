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
#include "pyengine/isa_dispatch.h"

#if !defined(PYENGINE_ISA) && !defined(__CUDACC__)
#include "pyengine/check.h"

// The contract (csrc/bindings/bind_batch_norm.cpp, both devices): x (N, C) or (N, C, H, W);
// weight, bias, running_mean, running_var, save_mean, save_invstd (C,) of x's dtype; the running
// statistics both given or both None, writeable (updated in place), required in eval; training
// needs more than one value per channel; momentum and eps finite and >= 0.
namespace pyengine::contract {

struct BatchNormDims { index_t N, C, HW, M; };

inline BatchNormDims batch_norm_x(const char* fn, const Array& x) {
  float_array(fn, x, 2, 4);
  checked_numel(fn, "x shape", x.shape);
  BatchNormDims d{x.dim(0), x.dim(1), x.ndim() == 4 ? x.dim(2) * x.dim(3) : 1, 0};
  d.M = d.N * d.HW;
  return d;
}

inline void batch_norm_vector(const char* fn, const Array& v, const Array& x, index_t C) {
  if (!v.present) return;
  float_array(fn, v, 1);
  same_dtype(fn, x, v);
  if (v.dim(0) != C) value_error(fn, ": ", v.name, " expects ", v.dim(0), " channels, x has ", C);
}

inline double batch_norm_real(const char* fn, const char* name, double v) {
  if (!(v >= 0.0) || v == INFINITY) value_error(fn, ": ", name, " must be a finite number >= 0.0, got ", v);
  return v;
}

inline void batch_norm_forward(const char* fn, const Array& x, const BatchNormDims& d, const Array& running_mean,
                               const Array& running_var, bool training) {
  if (running_mean.present != running_var.present)
    value_error(fn, ": running_mean and running_var must both be arrays or both be None");
  writeable(fn, running_mean, "but is updated in place");
  writeable(fn, running_var, "but is updated in place");
  if (training && d.M == 1)
    value_error(fn, ": training needs more than 1 value per channel, got x of shape ", shape_str(x.shape));
  if (!training && !running_mean.present)
    value_error(fn, ": running_mean and running_var are required when training is False");
}

}  // namespace pyengine::contract
#endif

namespace pyengine::cpu {

template <typename T>
void batch_norm_forward(index_t N, index_t C, index_t HW, const T* x, const T* weight, const T* bias,
                        T* running_mean, T* running_var, bool training, double momentum, double eps, T* y,
                        T* save_mean, T* save_invstd);

template <typename T>
void batch_norm_backward(index_t N, index_t C, index_t HW, const T* grad_output, const T* x, const T* weight,
                         const T* save_mean, const T* save_invstd, bool training, T* grad_input, T* grad_weight,
                         T* grad_bias);

// ---- the per-ISA kernels (csrc/cpu/isa/batch_norm_isa.cpp registers one copy per instruction set)
PE_ISA_KERNEL(bn_forward_f32, void(index_t, index_t, index_t, const float*, const float*, const float*, float*, float*,
              bool, double, double, float*, float*, float*));
PE_ISA_KERNEL(bn_forward_f64, void(index_t, index_t, index_t, const double*, const double*, const double*, double*,
              double*, bool, double, double, double*, double*, double*));
PE_ISA_KERNEL(bn_backward_f32, void(index_t, index_t, index_t, const float*, const float*, const float*, const float*,
              const float*, bool, float*, float*, float*));
PE_ISA_KERNEL(bn_backward_f64, void(index_t, index_t, index_t, const double*, const double*, const double*,
              const double*, const double*, bool, double*, double*, double*));

}  // namespace pyengine::cpu
