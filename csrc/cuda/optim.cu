// optim.cu — the fused optimizer updates of pyengine/cuda/optim.h: one thread per element (grid-stride),
// every state value read once and written once, coefficients precomputed on the host.
#include <cmath>

#include "pyengine/cuda/common.cuh"
#include "pyengine/cuda/optim.h"

namespace pyengine::cuda {
namespace {

template <typename T>
__device__ __forceinline__ T effective_grad(T g, T p, bool maximize, T wd) {
  g = maximize ? -g : g;
  return wd != T(0) ? g + wd * p : g;
}

template <typename T>
__global__ void sgd_step_kernel(index_t n, T* __restrict__ p, const T* __restrict__ grad, T* __restrict__ buf, T lr,
                                T momentum, T one_minus_damp, T wd, bool nesterov, bool maximize, bool first_step) {
  PE_GRID_STRIDE(i, n) {
    const T g = effective_grad(grad[i], p[i], maximize, wd);
    T d = g;
    if (buf != nullptr) {
      const T b = first_step ? g : momentum * buf[i] + one_minus_damp * g;
      buf[i] = b;
      d = nesterov ? g + momentum * b : b;
    }
    p[i] = p[i] - lr * d;
  }
}

template <typename T>
__global__ void adam_step_kernel(index_t n, T* __restrict__ p, const T* __restrict__ grad, T* __restrict__ m,
                                 T* __restrict__ v, T* __restrict__ vmax, T decay, T wd, T one_minus_b1, T b2,
                                 T one_minus_b2, T step_size, T inv_sqrt_bc2, T eps, bool maximize) {
  PE_GRID_STRIDE(i, n) {
    const T pi = p[i] * decay;
    const T g = effective_grad(grad[i], pi, maximize, wd);
    const T mi = m[i] + one_minus_b1 * (g - m[i]);
    T vi = b2 * v[i] + one_minus_b2 * g * g;
    m[i] = mi;
    v[i] = vi;
    if (vmax != nullptr) {
      vi = vmax[i] > vi ? vmax[i] : vi;
      vmax[i] = vi;
    }
    p[i] = pi - step_size * mi / (sqrt(vi) * inv_sqrt_bc2 + eps);
  }
}

template <typename T>
__global__ void rmsprop_step_kernel(index_t n, T* __restrict__ p, const T* __restrict__ grad, T* __restrict__ v,
                                    T* __restrict__ buf, T* __restrict__ ga, T lr, T alpha, T one_minus_alpha, T eps,
                                    T wd, T momentum, bool maximize) {
  PE_GRID_STRIDE(i, n) {
    const T g = effective_grad(grad[i], p[i], maximize, wd);
    const T vi = alpha * v[i] + one_minus_alpha * g * g;
    v[i] = vi;
    T avg;
    if (ga != nullptr) {
      const T gai = ga[i] + one_minus_alpha * (g - ga[i]);
      ga[i] = gai;
      avg = sqrt(vi - gai * gai) + eps;
    } else {
      avg = sqrt(vi) + eps;
    }
    if (buf != nullptr) {
      const T b = momentum * buf[i] + g / avg;
      buf[i] = b;
      p[i] = p[i] - lr * b;
    } else {
      p[i] = p[i] - lr * g / avg;
    }
  }
}

template <typename T>
__global__ void adagrad_step_kernel(index_t n, T* __restrict__ p, const T* __restrict__ grad, T* __restrict__ s, T clr,
                                    T wd, T eps, bool maximize) {
  PE_GRID_STRIDE(i, n) {
    const T g = effective_grad(grad[i], p[i], maximize, wd);
    const T si = s[i] + g * g;
    s[i] = si;
    p[i] = p[i] - clr * g / (sqrt(si) + eps);
  }
}

}  // namespace

template <typename T>
void sgd_step(index_t n, T* p, const T* grad, T* buf, double lr, double momentum, double dampening,
              double weight_decay, bool nesterov, bool maximize, bool first_step, cudaStream_t stream) {
  if (n == 0) return;
  sgd_step_kernel<T><<<grid_for(n), kThreads, 0, stream>>>(
      n, p, grad, momentum != 0.0 ? buf : nullptr, static_cast<T>(lr), static_cast<T>(momentum),
      static_cast<T>(1.0 - dampening), static_cast<T>(weight_decay), nesterov, maximize, first_step);
  check_launch("sgd_step_kernel");
}

template <typename T>
void adam_step(index_t n, T* p, const T* grad, T* m, T* v, T* vmax, index_t step, double lr, double beta1,
               double beta2, double eps, double weight_decay, bool decoupled, bool maximize, cudaStream_t stream) {
  if (n == 0) return;
  const double bc1 = 1.0 - std::pow(beta1, static_cast<double>(step));
  const double bc2 = 1.0 - std::pow(beta2, static_cast<double>(step));
  adam_step_kernel<T><<<grid_for(n), kThreads, 0, stream>>>(
      n, p, grad, m, v, vmax, static_cast<T>(decoupled ? 1.0 - lr * weight_decay : 1.0),
      static_cast<T>(decoupled ? 0.0 : weight_decay), static_cast<T>(1.0 - beta1), static_cast<T>(beta2),
      static_cast<T>(1.0 - beta2), static_cast<T>(lr / bc1), static_cast<T>(1.0 / std::sqrt(bc2)),
      static_cast<T>(eps), maximize);
  check_launch("adam_step_kernel");
}

template <typename T>
void rmsprop_step(index_t n, T* p, const T* grad, T* v, T* buf, T* ga, double lr, double alpha, double eps,
                  double weight_decay, double momentum, bool maximize, cudaStream_t stream) {
  if (n == 0) return;
  rmsprop_step_kernel<T><<<grid_for(n), kThreads, 0, stream>>>(
      n, p, grad, v, momentum > 0.0 ? buf : nullptr, ga, static_cast<T>(lr), static_cast<T>(alpha),
      static_cast<T>(1.0 - alpha), static_cast<T>(eps), static_cast<T>(weight_decay), static_cast<T>(momentum),
      maximize);
  check_launch("rmsprop_step_kernel");
}

template <typename T>
void adagrad_step(index_t n, T* p, const T* grad, T* s, index_t step, double lr, double lr_decay, double weight_decay,
                  double eps, bool maximize, cudaStream_t stream) {
  if (n == 0) return;
  const double clr = lr / (1.0 + static_cast<double>(step - 1) * lr_decay);
  adagrad_step_kernel<T><<<grid_for(n), kThreads, 0, stream>>>(n, p, grad, s, static_cast<T>(clr),
                                                               static_cast<T>(weight_decay), static_cast<T>(eps),
                                                               maximize);
  check_launch("adagrad_step_kernel");
}

#define PE_INST(T)                                                                                               \
  template void sgd_step<T>(index_t, T*, const T*, T*, double, double, double, double, bool, bool, bool,          \
                            cudaStream_t);                                                                       \
  template void adam_step<T>(index_t, T*, const T*, T*, T*, T*, index_t, double, double, double, double, double,  \
                             bool, bool, cudaStream_t);                                                          \
  template void rmsprop_step<T>(index_t, T*, const T*, T*, T*, T*, double, double, double, double, double, bool,  \
                                cudaStream_t);                                                                   \
  template void adagrad_step<T>(index_t, T*, const T*, T*, index_t, double, double, double, double, bool,         \
                                cudaStream_t);
PE_INST(float)
PE_INST(double)
#undef PE_INST

}  // namespace pyengine::cuda
