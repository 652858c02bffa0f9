// elementwise.cu — activations, dropout and the per-channel sum of pyengine/cuda/elementwise.h.
// Elementwise kernels are grid-stride loops with 64-bit indices; math is done in T (float stays
// float: expf/tanhf through the overloads of <cmath> device functions).
#include <cstdint>

#include "pyengine/cuda/common.cuh"
#include "pyengine/cuda/dropout_rng.h"
#include "pyengine/cuda/elementwise.h"

namespace pyengine::cuda {
namespace {

template <typename T>
__device__ __forceinline__ T act_fwd(Act op, T x, T param) {
  switch (op) {
    case Act::relu: return x > T(0) ? x : T(0);
    case Act::leaky_relu: return x > T(0) ? x : param * x;
    case Act::elu: return x > T(0) ? x : param * (exp(x) - T(1));
    case Act::sigmoid: return T(1) / (T(1) + exp(-x));
    case Act::tanh: return tanh(x);
  }
  return x;
}

// `v` is x for relu/leaky_relu/elu, the output y for sigmoid/tanh.
template <typename T>
__device__ __forceinline__ T act_bwd(Act op, T g, T v, T param) {
  switch (op) {
    case Act::relu: return v > T(0) ? g : T(0);
    case Act::leaky_relu: return v > T(0) ? g : g * param;
    case Act::elu: return v > T(0) ? g : g * param * exp(v);
    case Act::sigmoid: return g * v * (T(1) - v);
    case Act::tanh: return g * (T(1) - v * v);
  }
  return g;
}

template <typename T>
__global__ void activation_forward_kernel(Act op, index_t n, const T* __restrict__ x, T* __restrict__ y,
                                          T param) {
  PE_GRID_STRIDE(i, n) y[i] = act_fwd(op, x[i], param);
}

template <typename T>
__global__ void activation_backward_kernel(Act op, index_t n, const T* __restrict__ g, const T* __restrict__ v,
                                           T* __restrict__ dx, T param) {
  PE_GRID_STRIDE(i, n) dx[i] = act_bwd(op, g[i], v[i], param);
}

template <typename T>
__global__ void dropout_forward_kernel(index_t n, const T* __restrict__ x, T* __restrict__ y,
                                       std::uint8_t* __restrict__ mask, std::uint64_t key, std::uint64_t threshold,
                                       T scale) {
  PE_GRID_STRIDE(i, n) {
    const bool keep = dropout_keep(key, static_cast<std::uint64_t>(i), threshold);
    mask[i] = keep ? 1 : 0;
    y[i] = keep ? x[i] * scale : T(0);
  }
}

template <typename T>
__global__ void dropout_backward_kernel(index_t n, const T* __restrict__ g, const std::uint8_t* __restrict__ mask,
                                        T* __restrict__ dx, T scale) {
  PE_GRID_STRIDE(i, n) dx[i] = mask[i] ? g[i] * scale : T(0);
}

// One block per channel (grid-stride over channels); threads stride over the A·B elements of it.
template <typename T>
__global__ void channel_sum_kernel(index_t A, index_t C, index_t B, const T* __restrict__ x, T* __restrict__ out,
                                   T scale) {
  __shared__ T scratch[32];
  const index_t per = A * B;
  for (index_t c = blockIdx.x; c < C; c += gridDim.x) {
    T s = T(0);
    for (index_t j = threadIdx.x; j < per; j += blockDim.x) {
      const index_t a = j / B, b = j - a * B;
      s += x[(a * C + c) * B + b];
    }
    s = block_sum(s, scratch);
    if (threadIdx.x == 0) out[c] = s * scale;
  }
}

}  // namespace

template <typename T>
void activation_forward(Act op, index_t n, const T* x, T* y, double param, cudaStream_t stream) {
  if (n == 0) return;
  activation_forward_kernel<T><<<grid_for(n), kThreads, 0, stream>>>(op, n, x, y, static_cast<T>(param));
  check_launch("activation_forward_kernel");
}

template <typename T>
void activation_backward(Act op, index_t n, const T* g, const T* in, T* dx, double param, cudaStream_t stream) {
  if (n == 0) return;
  activation_backward_kernel<T><<<grid_for(n), kThreads, 0, stream>>>(op, n, g, in, dx, static_cast<T>(param));
  check_launch("activation_backward_kernel");
}

template <typename T>
void dropout_forward(index_t n, const T* x, T* y, std::uint8_t* mask, double p, std::uint64_t seed,
                     cudaStream_t stream) {
  if (n == 0) return;
  const T scale = p < 1.0 ? static_cast<T>(1.0 / (1.0 - p)) : T(0);
  dropout_forward_kernel<T><<<grid_for(n), kThreads, 0, stream>>>(n, x, y, mask, dropout_key(seed),
                                                                   dropout_threshold(p), scale);
  check_launch("dropout_forward_kernel");
}

template <typename T>
void dropout_backward(index_t n, const T* g, const std::uint8_t* mask, T* dx, double p, cudaStream_t stream) {
  if (n == 0) return;
  const T scale = p < 1.0 ? static_cast<T>(1.0 / (1.0 - p)) : T(0);
  dropout_backward_kernel<T><<<grid_for(n), kThreads, 0, stream>>>(n, g, mask, dx, scale);
  check_launch("dropout_backward_kernel");
}

template <typename T>
void channel_sum(index_t A, index_t C, index_t B, const T* x, T* out, double scale, cudaStream_t stream) {
  if (C == 0) return;
  const unsigned blocks = static_cast<unsigned>(C < 65535 * 8 ? C : 65535 * 8);
  channel_sum_kernel<T><<<blocks, kThreads, 0, stream>>>(A, C, B, x, out, static_cast<T>(scale));
  check_launch("channel_sum_kernel");
}

#define PE_INST(T)                                                                                         \
  template void activation_forward<T>(Act, index_t, const T*, T*, double, cudaStream_t);                   \
  template void activation_backward<T>(Act, index_t, const T*, const T*, T*, double, cudaStream_t);        \
  template void dropout_forward<T>(index_t, const T*, T*, std::uint8_t*, double, std::uint64_t,            \
                                   cudaStream_t);                                                          \
  template void dropout_backward<T>(index_t, const T*, const std::uint8_t*, T*, double, cudaStream_t);     \
  template void channel_sum<T>(index_t, index_t, index_t, const T*, T*, double, cudaStream_t);
PE_INST(float)
PE_INST(double)
#undef PE_INST

}  // namespace pyengine::cuda
