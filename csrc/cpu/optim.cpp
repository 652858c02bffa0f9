// optim.cpp — the fused optimizer updates of pyengine/optim.h: one loop over the elements that reads
// param, grad and the state buffers once and writes them once. Each step mirrors the order of
// PyTorch's single-tensor operations (e.g. lerp's two-sided formula, sqrt(v)/sqrt(bc2) + eps) so
// float32 results track torch.optim to rounding. Small arrays run on one thread: a parallel region
// costs more than updating a few thousand floats.
#include "pyengine/optim.h"
#include "pyengine/parallel.h"

#include <cmath>

namespace pyengine::cpu {
namespace {

constexpr index_t kParallelMin = 1 << 15;

// torch.lerp(self, end, w): self + w·(end − self) for w < 0.5, else end − (end − self)·(1 − w).
template <typename T>
inline T lerp(T self, T end, T w) {
  return w < T(0.5) ? self + w * (end - self) : end - (end - self) * (T(1) - w);
}

// The gradient as the update sees it: negated for maximize, plus L2 weight decay.
template <typename T>
inline T effective_grad(T g, T p, bool maximize, T wd) {
  if (maximize) g = -g;
  if (wd != T(0)) g = g + wd * p;
  return g;
}

}  // namespace

template <typename T>
void sgd_step(index_t n, T* p, const T* grad, T* buf, double lr, double momentum, double dampening,
              double weight_decay, bool nesterov, bool maximize, bool first_step) {
  const T lr_t = static_cast<T>(lr), mom = static_cast<T>(momentum), damp1 = static_cast<T>(1.0 - dampening);
  const T wd = static_cast<T>(weight_decay);
  const bool use_buf = momentum != 0.0 && buf != nullptr;
  parallel_for(n, n >= kParallelMin ? get_num_threads() : 1, [&](index_t i) {
    T g = effective_grad(grad[i], p[i], maximize, wd);
    T d = g;
    if (use_buf) {
      T b = first_step ? g : buf[i] * mom + damp1 * g;
      buf[i] = b;
      d = nesterov ? g + mom * b : b;
    }
    p[i] = p[i] + (-lr_t) * d;
  });
}

template <typename T>
void adam_step(index_t n, T* p, const T* grad, T* m, T* v, T* vmax, index_t step, double lr, double beta1,
               double beta2, double eps, double weight_decay, bool decoupled, bool maximize) {
  const double bc1 = 1.0 - std::pow(beta1, static_cast<double>(step));
  const double bc2 = 1.0 - std::pow(beta2, static_cast<double>(step));
  const T neg_step_size = static_cast<T>(-(lr / bc1));
  const T bc2_sqrt = static_cast<T>(std::sqrt(bc2));
  const T w1 = static_cast<T>(1.0 - beta1), b2 = static_cast<T>(beta2), w2 = static_cast<T>(1.0 - beta2);
  const T eps_t = static_cast<T>(eps);
  const T decay = static_cast<T>(1.0 - lr * weight_decay);
  const T wd = decoupled ? T(0) : static_cast<T>(weight_decay);
  const bool do_decay = decoupled && weight_decay != 0.0;
  parallel_for(n, n >= kParallelMin ? get_num_threads() : 1, [&](index_t i) {
    T pi = p[i];
    if (do_decay) pi = pi * decay;
    const T g = effective_grad(grad[i], pi, maximize, wd);
    const T mi = lerp(m[i], g, w1);
    const T vi = v[i] * b2 + w2 * (g * g);
    m[i] = mi;
    v[i] = vi;
    T vd = vi;
    if (vmax != nullptr) {
      vd = vmax[i] > vi ? vmax[i] : vi;
      vmax[i] = vd;
    }
    const T denom = std::sqrt(vd) / bc2_sqrt + eps_t;
    p[i] = pi + neg_step_size * (mi / denom);
  });
}

template <typename T>
void rmsprop_step(index_t n, T* p, const T* grad, T* v, T* buf, T* ga, double lr, double alpha, double eps,
                  double weight_decay, double momentum, bool maximize) {
  const T a = static_cast<T>(alpha), w = static_cast<T>(1.0 - alpha), eps_t = static_cast<T>(eps);
  const T lr_t = static_cast<T>(lr), mom = static_cast<T>(momentum), wd = static_cast<T>(weight_decay);
  const bool use_buf = momentum > 0.0 && buf != nullptr;
  parallel_for(n, n >= kParallelMin ? get_num_threads() : 1, [&](index_t i) {
    const T g = effective_grad(grad[i], p[i], maximize, wd);
    const T vi = v[i] * a + w * (g * g);
    v[i] = vi;
    T avg;
    if (ga != nullptr) {
      const T gai = lerp(ga[i], g, w);
      ga[i] = gai;
      avg = std::sqrt(vi + T(-1) * (gai * gai));
    } else {
      avg = std::sqrt(vi);
    }
    avg = avg + eps_t;
    if (use_buf) {
      const T b = buf[i] * mom + g / avg;
      buf[i] = b;
      p[i] = p[i] + (-lr_t) * b;
    } else {
      p[i] = p[i] + (-lr_t) * (g / avg);
    }
  });
}

template <typename T>
void adagrad_step(index_t n, T* p, const T* grad, T* s, index_t step, double lr, double lr_decay,
                  double weight_decay, double eps, bool maximize) {
  const T neg_clr = static_cast<T>(-(lr / (1.0 + static_cast<double>(step - 1) * lr_decay)));
  const T eps_t = static_cast<T>(eps), wd = static_cast<T>(weight_decay);
  parallel_for(n, n >= kParallelMin ? get_num_threads() : 1, [&](index_t i) {
    const T g = effective_grad(grad[i], p[i], maximize, wd);
    const T si = s[i] + g * g;
    s[i] = si;
    p[i] = p[i] + neg_clr * (g / (std::sqrt(si) + eps_t));
  });
}

#define PE_OPTIM_INSTANTIATE(T)                                                                              \
  template void sgd_step<T>(index_t, T*, const T*, T*, double, double, double, double, bool, bool, bool);  \
  template void adam_step<T>(index_t, T*, const T*, T*, T*, T*, index_t, double, double, double, double,    \
                             double, bool, bool);                                                           \
  template void rmsprop_step<T>(index_t, T*, const T*, T*, T*, T*, double, double, double, double, double,  \
                                bool);                                                                      \
  template void adagrad_step<T>(index_t, T*, const T*, T*, index_t, double, double, double, double, bool);

PE_OPTIM_INSTANTIATE(float)
PE_OPTIM_INSTANTIATE(double)
#undef PE_OPTIM_INSTANTIATE

}  // namespace pyengine::cpu
