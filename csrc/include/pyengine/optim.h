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
// double and rounded once, as PyTorch does; large arrays are split across OpenMP threads.
#pragma once
#include "pyengine/common.h"

#if !defined(PYENGINE_ISA) && !defined(__CUDACC__)
#include "pyengine/check.h"

// The contract (csrc/bindings/bind_optim.cpp, both devices): param, grad and every state buffer of
// one float dtype and param's shape; param and the buffers C-contiguous and writeable (they are
// updated in place: a copy would silently drop the update), grad any layout. Hyper-parameters
// finite, in their documented ranges (checked as they are read).
namespace pyengine::contract {

// `written`: param and the state buffers, each with whether it is C-contiguous where it is.
inline void optim_arrays(const char* fn, const Array& param, const Array& grad,
                         const std::vector<std::pair<const Array*, bool>>& written) {
  float_array(fn, param);
  float_array(fn, grad);
  same_dtype(fn, param, grad);
  shape_is(fn, grad, param.shape);
  for (auto [a, is_contiguous] : written) {
    if (!a->present) continue;
    float_array(fn, *a);
    same_dtype(fn, param, *a);
    shape_is(fn, *a, param.shape);
    if (!is_contiguous) value_error(fn, ": ", a->name, " must be C-contiguous: it is updated in place");
    writeable(fn, *a, "but the update writes into it");
  }
}

// A hyper-parameter already read as a real: finite, >= minimum, <= maximum (< with open_max).
inline double optim_hyper(const char* fn, const char* name, double v, bool has_min = true, double minimum = 0.0,
                          bool has_max = false, double maximum = 0.0, bool open_max = false) {
  if (!std::isfinite(v)) value_error(fn, ": ", name, " must be finite, got ", v);
  if (has_min && v < minimum) value_error(fn, ": ", name, " must be >= ", minimum, ", got ", v);
  if (has_max && (open_max ? v >= maximum : v > maximum))
    value_error(fn, ": ", name, " must be ", open_max ? "< " : "<= ", maximum, ", got ", v);
  return v;
}

}  // namespace pyengine::contract
#endif

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
