// pyengine/group_norm.h — group normalisation (PyTorch's native_group_norm), forward and backward;
// instance normalisation is the case G = C.
//
// x (N, C, *S) is viewed as (N, G, C/G, S) with S = prod(*S) (1 for a 2-D x); each of the N·G groups
// holds M = (C/G)·S contiguous values. weight and bias have C values (null: 1 and 0). Per group:
//   mean = Σ x / M,   var = Σ (x − mean)² / M   (biased, as PyTorch)
//   rstd = 1/√(var + eps),   x̂ = (x − mean)·rstd,   y[n, c, s] = x̂·weight_c + bias_c
// mean and rstd (N, G) are written besides y; the backward takes them back. With g = grad_output,
// gw = g·weight_c, and means over each group's M values:
//   grad_input = rstd·(gw − mean(gw) − x̂·mean(gw·x̂))
//   grad_weight_c = Σ_n Σ_s g·x̂,   grad_bias_c = Σ_n Σ_s g
// (every product taken element by element, as the reference does, so an Inf or NaN in weight or
// rstd spreads exactly as it does there).
// Every output is written, never accumulated; a null output pointer is not computed.
//
// Algorithm, CPU (csrc/cpu/isa/group_norm_isa.cpp, one copy per ISA): groups over threads
// (parallel_for). A group's sums run on vectors of T over chunks whose sums are added in double; the
// mean is x₀ + Σ(x − x₀)/M and the variance Σ(x − hi)² corrected by M·lo² (hi the mean rounded to
// T), as layer_norm does; then one pass per channel writes ((x − hi) − lo)·(rstd·w_c) + b_c. The
// backward does one group per task: a pass for Σ g, Σ g·x̂ (per channel, kept in a workspace of 2·N·C
// doubles), Σ gw and Σ gw·x̂ (per group), and a pass writing grad_input; grad_weight and grad_bias then sum
// the per-(n, c) terms over n in order (the same bits for any thread count).
// CUDA (csrc/cuda/group_norm.cu): one block per group, double block reductions (mean, then the
// centred squares; the backward's sums per channel), a grid-stride pass writing y or
// grad_input, and one thread per channel summing grad_weight and grad_bias over n in order.
#pragma once
#include "pyengine/common.h"
#include "pyengine/isa_dispatch.h"

namespace pyengine {
struct GroupNormDims {
  index_t N, C, G, S;   // x (N, C, S); G groups of C/G channels
};
}  // namespace pyengine

#if !defined(PYENGINE_ISA) && !defined(__CUDACC__)
#include <cmath>

#include "pyengine/check.h"

// The contract (csrc/bindings/bind_group_norm.cpp, both devices), with the reference's messages.
// forward: x float of rank >= 2 with C >= 1 (N and the spatial sizes may be 0); num_groups >= 1
// dividing C; weight and bias None or (C,) of x's dtype; eps finite and >= 0.
// backward: grad_output of x's shape and dtype; mean and rstd (N, num_groups) of x's dtype; weight
// None or (C,).
namespace pyengine::contract {

inline GroupNormDims group_norm_dims(const char* fn, const Array& x, index_t G) {
  if (x.ndim() < 2) value_error(fn, ": x must have shape (N, C, *), got ", shape_str(x.shape));
  checked_numel(fn, "x shape", x.shape);
  const index_t C = x.shape[1];
  if (C < 1) value_error(fn, ": x must have at least one channel, got shape ", shape_str(x.shape));
  if (C % G != 0) value_error(fn, ": num_groups (", G, ") must divide the number of channels (", C, ")");
  index_t S = 1;
  for (size_t i = 2; i < x.shape.size(); ++i) S *= x.shape[i];
  return {x.shape[0], C, G, S};
}

inline void group_norm_affine(const char* fn, const Array& v, const Array& x, index_t C) {
  if (!v.present) return;
  float_array(fn, v);
  same_dtype(fn, x, v);
  shape_is(fn, v, {C});
}

inline double group_norm_eps(const char* fn, double eps) {
  if (!(eps >= 0.0) || eps == INFINITY) value_error(fn, ": eps must be a finite number >= 0.0, got ", eps);
  return eps;
}

inline void group_norm_stat(const char* fn, const Array& s, const Array& x, const GroupNormDims& d) {
  float_array(fn, s);
  same_dtype(fn, x, s);
  shape_is(fn, s, {d.N, d.G});
}

}  // namespace pyengine::contract
#endif

#if !defined(__CUDACC__)
namespace pyengine::cpu {

// ---- the per-ISA kernels (csrc/cpu/isa/group_norm_isa.cpp): forward(d, x, weight, bias, eps, y,
// mean, rstd); backward(d, grad_output, x, mean, rstd, weight, grad_input, grad_weight, grad_bias) —
// weight, bias and each gradient may be null.
PE_ISA_KERNEL(group_norm_forward_f32, void(const GroupNormDims&, const float*, const float*, const float*, double,
              float*, float*, float*));
PE_ISA_KERNEL(group_norm_forward_f64, void(const GroupNormDims&, const double*, const double*, const double*, double,
              double*, double*, double*));
PE_ISA_KERNEL(group_norm_backward_f32, void(const GroupNormDims&, const float*, const float*, const float*,
              const float*, const float*, float*, float*, float*));
PE_ISA_KERNEL(group_norm_backward_f64, void(const GroupNormDims&, const double*, const double*, const double*,
              const double*, const double*, double*, double*, double*));

#if !defined(PYENGINE_ISA)
// The typed entry points the binding calls: the active instruction set's copy.
template <typename T>
void group_norm_forward(const GroupNormDims& d, const T* x, const T* w, const T* b, double eps, T* y, T* mean,
                        T* rstd) {
  if constexpr (sizeof(T) == 4) group_norm_forward_f32(d, x, w, b, eps, y, mean, rstd);
  else group_norm_forward_f64(d, x, w, b, eps, y, mean, rstd);
}
template <typename T>
void group_norm_backward(const GroupNormDims& d, const T* g, const T* x, const T* mean, const T* rstd, const T* w,
                         T* grad_input, T* grad_weight, T* grad_bias) {
  if constexpr (sizeof(T) == 4) group_norm_backward_f32(d, g, x, mean, rstd, w, grad_input, grad_weight, grad_bias);
  else group_norm_backward_f64(d, g, x, mean, rstd, w, grad_input, grad_weight, grad_bias);
}
#endif

}  // namespace pyengine::cpu
#endif

// The CUDA launchers (csrc/cuda/group_norm.cu), on the caller's stream. `partial` is a caller
// workspace of 2·N·C doubles (Σ g and Σ g·x̂ per (n, c)).
namespace pyengine::cuda {
template <typename T>
void group_norm_forward(const GroupNormDims& d, const T* x, const T* w, const T* b, double eps, T* y, T* mean,
                        T* rstd, cudaStream_t stream);
template <typename T>
void group_norm_backward(const GroupNormDims& d, const T* g, const T* x, const T* mean, const T* rstd, const T* w,
                         T* grad_input, T* grad_weight, T* grad_bias, double* partial, cudaStream_t stream);
}  // namespace pyengine::cuda
