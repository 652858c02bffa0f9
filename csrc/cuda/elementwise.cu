// elementwise.cu — activations, dropout and the per-channel sum of pyengine/cuda/elementwise.h.
// Elementwise kernels are grid-stride loops with 64-bit indices; math is done in T (float stays
// float: expf/tanhf through the overloads of <cmath> device functions).
#include <cstdint>

#include "pyengine/cuda/common.cuh"
#include "pyengine/cuda/dropout_rng.h"
#include "pyengine/cuda/elementwise.h"

namespace pyengine::cuda {
namespace {

// σ(x) from e^−|x| (no overflow) and log(1 + eˣ) = max(x, 0) + log1p(e^−|x|).
template <typename T>
__device__ __forceinline__ T sigmoid_of(T x) {
  const T e = exp(-fabs(x)), s = T(1) / (T(1) + e);
  return x >= T(0) ? s : e * s;
}
template <typename T>
__device__ __forceinline__ T softplus_of(T x) {
  return (x > T(0) ? x : T(0)) + log1p(exp(-fabs(x)));
}

constexpr double kSqrt2OverPi = 0.7978845608028654, kInvSqrt2 = 0.7071067811865476,
                 kInvSqrt2Pi = 0.3989422804014327, kCubic = 0.044715;

template <typename T>
__device__ __forceinline__ T act_fwd(Act op, T x, T param, T param2) {
  switch (op) {
    case Act::relu: return x > T(0) ? x : T(0);
    case Act::leaky_relu: return x > T(0) ? x : param * x;
    case Act::elu: return x > T(0) ? x : param * (exp(x) - T(1));
    case Act::sigmoid: return T(1) / (T(1) + exp(-x));
    case Act::tanh: return tanh(x);
    case Act::gelu: return T(0.5) * x * (T(1) + erf(x * T(kInvSqrt2)));
    case Act::gelu_tanh: return T(0.5) * x * (T(1) + tanh(T(kSqrt2OverPi) * (x + T(kCubic) * x * x * x)));
    case Act::silu: return x * sigmoid_of(x);
    case Act::relu6: return x < T(0) ? T(0) : (x > T(6) ? T(6) : x);
    case Act::hardswish: {
      const T v = x + T(3);
      return x * (v < T(0) ? T(0) : (v > T(6) ? T(6) : v)) / T(6);
    }
    case Act::hardsigmoid: {
      const T v = x + T(3);
      return (v < T(0) ? T(0) : (v > T(6) ? T(6) : v)) / T(6);
    }
    case Act::softplus: return x * param > param2 ? x : softplus_of(x * param) / param;
    case Act::mish: return x * tanh(softplus_of(x));
    case Act::logsigmoid: return -softplus_of(-x);
  }
  return x;
}

// `v` is the output y for sigmoid/tanh, x for every other op.
template <typename T>
__device__ __forceinline__ T act_bwd(Act op, T g, T v, T param, T param2) {
  switch (op) {
    case Act::relu: return v > T(0) ? g : T(0);
    case Act::leaky_relu: return v > T(0) ? g : g * param;
    case Act::elu: return v > T(0) ? g : g * param * exp(v);
    case Act::sigmoid: return g * v * (T(1) - v);
    case Act::tanh: return g * (T(1) - v * v);
    case Act::gelu:
      return g * (T(0.5) * (T(1) + erf(v * T(kInvSqrt2))) + v * T(kInvSqrt2Pi) * exp(T(-0.5) * v * v));
    case Act::gelu_tanh: {
      const T t = tanh(T(kSqrt2OverPi) * (v + T(kCubic) * v * v * v));
      return g * (T(0.5) * (T(1) + t) +
                  T(0.5) * v * (T(1) - t * t) * T(kSqrt2OverPi) * (T(1) + T(3) * T(kCubic) * v * v));
    }
    case Act::silu: {
      const T s = sigmoid_of(v);
      return g * (s * (T(1) + v * (T(1) - s)));
    }
    case Act::relu6: return v <= T(0) || v >= T(6) ? T(0) : g;   // a NaN x passes g (torch's hardtanh)
    case Act::hardswish: return v <= T(-3) ? T(0) : (v < T(3) ? g * (v / T(3) + T(0.5)) : g);
    case Act::hardsigmoid: return v > T(-3) && v < T(3) ? g / T(6) : T(0);
    case Act::softplus: return v * param > param2 ? g : g * sigmoid_of(v * param);
    case Act::mish: {
      const T t = tanh(softplus_of(v));
      return g * (t + v * (T(1) - t * t) * sigmoid_of(v));
    }
    case Act::logsigmoid: return g * sigmoid_of(-v);
  }
  return g;
}

template <typename T>
__global__ void activation_forward_kernel(Act op, index_t n, const T* __restrict__ x, T* __restrict__ y,
                                          T param, T param2) {
  PE_GRID_STRIDE(i, n) y[i] = act_fwd(op, x[i], param, param2);
}

template <typename T>
__global__ void activation_backward_kernel(Act op, index_t n, const T* __restrict__ g, const T* __restrict__ v,
                                           T* __restrict__ dx, T param, T param2) {
  PE_GRID_STRIDE(i, n) dx[i] = act_bwd(op, g[i], v[i], param, param2);
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

// Channel dropout: the draw of element k's channel c = k / S recomputed by every thread (a few
// integer ops, no second pass); the thread of a channel's first element writes its mask.
template <typename T>
__global__ void dropout_channels_forward_kernel(index_t n, index_t S, const T* __restrict__ x, T* __restrict__ y,
                                                std::uint8_t* __restrict__ mask, std::uint64_t key,
                                                std::uint64_t threshold, T scale) {
  PE_GRID_STRIDE(k, n) {
    const index_t c = k / S;
    const bool keep = dropout_keep(key, static_cast<std::uint64_t>(c), threshold);
    if (k == c * S) mask[c] = keep ? 1 : 0;
    y[k] = x[k] * (keep ? scale : T(0));
  }
}

template <typename T>
__global__ void dropout_channels_backward_kernel(index_t n, index_t S, const T* __restrict__ g,
                                                 const std::uint8_t* __restrict__ mask, T* __restrict__ dx, T scale) {
  PE_GRID_STRIDE(k, n) dx[k] = g[k] * (mask[k / S] ? scale : T(0));
}

// Channels of zero elements still get their mask (one thread per channel).
__global__ void dropout_channels_mask_kernel(index_t channels, std::uint8_t* __restrict__ mask, std::uint64_t key,
                                             std::uint64_t threshold) {
  PE_GRID_STRIDE(c, channels) mask[c] = dropout_keep(key, static_cast<std::uint64_t>(c), threshold) ? 1 : 0;
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
void activation_forward(Act op, index_t n, const T* x, T* y, double param, cudaStream_t stream, double param2) {
  if (n == 0) return;
  activation_forward_kernel<T><<<grid_for(n), kThreads, 0, stream>>>(op, n, x, y, static_cast<T>(param),
                                                                      static_cast<T>(param2));
  check_launch("activation_forward_kernel");
}

template <typename T>
void activation_backward(Act op, index_t n, const T* g, const T* in, T* dx, double param, cudaStream_t stream,
                         double param2) {
  if (n == 0) return;
  activation_backward_kernel<T><<<grid_for(n), kThreads, 0, stream>>>(op, n, g, in, dx, static_cast<T>(param),
                                                                       static_cast<T>(param2));
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
void dropout_channels_forward(index_t channels, index_t S, const T* x, T* y, std::uint8_t* mask, double p,
                              std::uint64_t seed, cudaStream_t stream) {
  if (channels == 0) return;
  const T scale = p < 1.0 ? static_cast<T>(1.0 / (1.0 - p)) : T(0);
  if (S == 0) {
    dropout_channels_mask_kernel<<<grid_for(channels), kThreads, 0, stream>>>(channels, mask, dropout_key(seed),
                                                                               dropout_threshold(p));
    check_launch("dropout_channels_mask_kernel");
    return;
  }
  const index_t n = channels * S;
  dropout_channels_forward_kernel<T><<<grid_for(n), kThreads, 0, stream>>>(n, S, x, y, mask, dropout_key(seed),
                                                                            dropout_threshold(p), scale);
  check_launch("dropout_channels_forward_kernel");
}

template <typename T>
void dropout_channels_backward(index_t channels, index_t S, const T* g, const std::uint8_t* mask, T* dx, double p,
                               cudaStream_t stream) {
  const index_t n = channels * S;
  if (n == 0) return;
  const T scale = p < 1.0 ? static_cast<T>(1.0 / (1.0 - p)) : T(0);
  dropout_channels_backward_kernel<T><<<grid_for(n), kThreads, 0, stream>>>(n, S, g, mask, dx, scale);
  check_launch("dropout_channels_backward_kernel");
}

template <typename T>
void channel_sum(index_t A, index_t C, index_t B, const T* x, T* out, double scale, cudaStream_t stream) {
  if (C == 0) return;
  const unsigned blocks = static_cast<unsigned>(C < 65535 * 8 ? C : 65535 * 8);
  channel_sum_kernel<T><<<blocks, kThreads, 0, stream>>>(A, C, B, x, out, static_cast<T>(scale));
  check_launch("channel_sum_kernel");
}

#define PE_INST(T)                                                                                         \
  template void activation_forward<T>(Act, index_t, const T*, T*, double, cudaStream_t, double);           \
  template void activation_backward<T>(Act, index_t, const T*, const T*, T*, double, cudaStream_t, double); \
  template void dropout_forward<T>(index_t, const T*, T*, std::uint8_t*, double, std::uint64_t,            \
                                   cudaStream_t);                                                          \
  template void dropout_backward<T>(index_t, const T*, const std::uint8_t*, T*, double, cudaStream_t);     \
  template void dropout_channels_forward<T>(index_t, index_t, const T*, T*, std::uint8_t*, double,         \
                                            std::uint64_t, cudaStream_t);                                  \
  template void dropout_channels_backward<T>(index_t, index_t, const T*, const std::uint8_t*, T*, double,  \
                                             cudaStream_t);                                                \
  template void channel_sum<T>(index_t, index_t, index_t, const T*, T*, double, cudaStream_t);
PE_INST(float)
PE_INST(double)
#undef PE_INST

}  // namespace pyengine::cuda
