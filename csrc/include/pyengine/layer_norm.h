// pyengine/layer_norm.h — layer normalisation over the last dimensions of x, forward and backward.
//
// x (..., *normalized_shape) is viewed as (M, D): M rows (the product of the leading sizes, 0 for an
// empty batch) of D = prod(normalized_shape) contiguous values. weight and bias have
// normalized_shape's D values (null: 1 and 0). Per row m, over its D values:
//   mean_m = Σ_d x_md / D,   var_m = Σ_d (x_md − mean_m)² / D   (biased, as PyTorch)
//   rstd_m = 1/√(var_m + eps),   x̂_md = (x_md − mean_m)·rstd_m,   y_md = x̂_md·weight_d + bias_d
// mean and rstd (M) are written besides y; the backward takes them back. With g = grad_output:
//   grad_bias_d   = Σ_m g_md                 grad_weight_d = Σ_m g_md·x̂_md
//   grad_input_md = rstd_m·(gw_md − Σ_d gw_md / D − x̂_md·Σ_d gw_md·x̂_md / D),  gw = g·weight
// Every output is written, never accumulated; a null output pointer is not computed.
//
// Algorithm, CPU (csrc/cpu/isa/layer_norm_isa.cpp, one copy per ISA; float is the fast path and
// double runs the same code): rows in parallel; each row sums x − x₀, then (x − hi)² with hi the mean
// rounded to T (the deviations are exact near the mean, as in batch_norm_isa.cpp), on two vectors
// of T at a time in chunks whose sums are added in double; then one pass writes y. The column sums
// of the backward go to a fixed number of row blocks (independent of the thread count, so the
// result is too), each accumulating in double, added in block order.
// CUDA (csrc/cuda/layer_norm.cu): one block per row for the statistics, y and grad_input (double
// accumulation); for grad_weight and grad_bias, one thread per column and block of rows, then a
// pass adding the blocks' sums in order.
#pragma once
#include "pyengine/common.h"
#include "pyengine/isa_dispatch.h"

namespace pyengine {
// The (M, D) view of one layer normalisation: M rows (mean and rstd have x's leading shape) of D values.
struct LayerNormDims {
  index_t M, D;
};
// The backward's column sums (grad_weight, grad_bias) are taken over at most this many blocks of
// rows, each summed on its own and then added in block order: parallel, and the same bits for
// any thread count.
constexpr index_t kLayerNormColumnBlocks = 16;
}  // namespace pyengine

#if !defined(PYENGINE_ISA) && !defined(__CUDACC__)
#include <algorithm>
#include <cmath>

#include "pyengine/check.h"

// The contract (csrc/bindings/bind_layer_norm.cpp, both devices). forward: x float with at least
// as many dimensions as normalized_shape, ending in it; normalized_shape a non-empty sequence of
// sizes >= 1 (or one int); weight and bias None or of normalized_shape and x's dtype; eps finite
// and >= 0. backward: grad_output of x's shape and dtype; mean and rstd of x's dtype and of one
// shape, a proper prefix of x's (what remains is the normalized shape), weight None or of that
// normalized shape.
namespace pyengine::contract {

inline LayerNormDims layer_norm_split(const char* fn, const Array& x, size_t leading) {
  checked_numel(fn, "x shape", x.shape);
  LayerNormDims d{1, 1};
  for (size_t i = 0; i < x.shape.size(); ++i) (i < leading ? d.M : d.D) *= x.shape[i];
  return d;
}

// x (float, checked first) ends in normalized_shape.
inline LayerNormDims layer_norm_forward(const char* fn, const Array& x, const std::vector<index_t>& normalized) {
  const size_t k = normalized.size();
  bool ends = x.shape.size() >= k;
  for (size_t i = 0; ends && i < k; ++i) ends = x.shape[x.shape.size() - k + i] == normalized[i];
  if (!ends) {
    std::string want = "(*";
    for (index_t s : normalized) want += cat(", ", s);
    value_error(fn, ": x must have shape ", want, ") ending in normalized_shape ", shape_str(normalized), ", got ",
                shape_str(x.shape));
  }
  return layer_norm_split(fn, x, x.shape.size() - k);
}

// normalized_shape's sizes once read: at least one, each >= 1.
inline void layer_norm_normalized(const char* fn, const std::vector<index_t>& normalized) {
  if (normalized.empty()) value_error(fn, ": normalized_shape must not be empty");
  for (index_t s : normalized)
    if (s < 1) value_error(fn, ": normalized_shape must hold sizes >= 1, got ", shape_str(normalized));
}

// weight or bias: None, or x's dtype with the normalized shape.
inline void layer_norm_affine(const char* fn, const Array& v, const Array& x, const std::vector<index_t>& normalized) {
  if (!v.present) return;
  float_array(fn, v);
  same_dtype(fn, x, v);
  shape_is(fn, v, normalized);
}

inline double layer_norm_eps(const char* fn, double eps) {
  if (!(eps >= 0.0) || eps == INFINITY) value_error(fn, ": eps must be a finite number >= 0.0, got ", eps);
  return eps;
}

// The backward's statistics: mean of a shape that is a proper prefix of x's (what follows it is the
// normalized shape), rstd of mean's shape; both of x's dtype. layer_norm_rstd returns the
// normalized shape.
inline void layer_norm_mean(const char* fn, const Array& x, const Array& mean) {
  float_array(fn, mean);
  same_dtype(fn, x, mean);
  const size_t p = mean.shape.size();
  if (p >= x.shape.size() || !std::equal(mean.shape.begin(), mean.shape.end(), x.shape.begin()))
    value_error(fn, ": mean must have the shape of x's leading (not normalized) dimensions, a proper prefix of ",
                shape_str(x.shape), ", got ", shape_str(mean.shape));
}

inline std::vector<index_t> layer_norm_rstd(const char* fn, const Array& x, const Array& mean, const Array& rstd) {
  float_array(fn, rstd);
  same_dtype(fn, x, rstd);
  shape_is(fn, rstd, mean.shape);
  return std::vector<index_t>(x.shape.begin() + static_cast<std::ptrdiff_t>(mean.shape.size()), x.shape.end());
}

}  // namespace pyengine::contract
#endif

#if !defined(__CUDACC__)
namespace pyengine::cpu {

// ---- the per-ISA kernels (csrc/cpu/isa/layer_norm_isa.cpp registers one copy per instruction set)
// forward(M, D, x, weight, bias, eps, y, mean, rstd); backward(M, D, grad_output, x, mean, rstd,
// weight, grad_input, grad_weight, grad_bias) — weight, bias and each gradient may be null.
PE_ISA_KERNEL(layer_norm_forward_f32, void(index_t, index_t, const float*, const float*, const float*, double, float*,
              float*, float*));
PE_ISA_KERNEL(layer_norm_forward_f64, void(index_t, index_t, const double*, const double*, const double*, double,
              double*, double*, double*));
PE_ISA_KERNEL(layer_norm_backward_f32, void(index_t, index_t, const float*, const float*, const float*, const float*,
              const float*, float*, float*, float*));
PE_ISA_KERNEL(layer_norm_backward_f64, void(index_t, index_t, const double*, const double*, const double*,
              const double*, const double*, double*, double*, double*));

#if !defined(PYENGINE_ISA)
// The typed entry points the binding calls: the active instruction set's copy.
template <typename T>
void layer_norm_forward(index_t M, index_t D, const T* x, const T* w, const T* b, double eps, T* y, T* mean, T* rstd) {
  if constexpr (sizeof(T) == 4) layer_norm_forward_f32(M, D, x, w, b, eps, y, mean, rstd);
  else layer_norm_forward_f64(M, D, x, w, b, eps, y, mean, rstd);
}
template <typename T>
void layer_norm_backward(index_t M, index_t D, const T* g, const T* x, const T* mean, const T* rstd, const T* w,
                         T* grad_input, T* grad_weight, T* grad_bias) {
  if constexpr (sizeof(T) == 4) layer_norm_backward_f32(M, D, g, x, mean, rstd, w, grad_input, grad_weight, grad_bias);
  else layer_norm_backward_f64(M, D, g, x, mean, rstd, w, grad_input, grad_weight, grad_bias);
}
#endif

}  // namespace pyengine::cpu
#endif

// The CUDA launchers (csrc/cuda/layer_norm.cu), on the caller's stream. `partial` is a caller
// workspace of 2·kLayerNormColumnBlocks·D doubles for the column sums (null when neither
// grad_weight nor grad_bias is wanted): block j sums rows [j·M/B, (j+1)·M/B) of each column.
namespace pyengine::cuda {
template <typename T>
void layer_norm_forward(index_t M, index_t D, const T* x, const T* w, const T* b, double eps, T* y, T* mean, T* rstd,
                        cudaStream_t stream);
template <typename T>
void layer_norm_backward(index_t M, index_t D, const T* g, const T* x, const T* mean, const T* rstd, const T* w,
                         T* grad_input, T* grad_weight, T* grad_bias, double* partial, cudaStream_t stream);
}  // namespace pyengine::cuda
