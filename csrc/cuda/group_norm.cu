// group_norm.cu — group normalisation of pyengine/group_norm.h on the GPU.
//
// forward: one block per group (grid-stride over the N·G groups); two passes over the group's M
// contiguous values, Σx then Σ(x − mean)² (no cancellation), accumulated in double, then one pass
// writing y. backward: one block per group; per channel of the group, Σ g, Σ g·x̂, Σ g·w and Σ g·w·x̂
// in double (block reductions; the first two kept in `partial`), then a pass writing grad_input;
// then one thread per channel adds the per-(n, c) terms over n in order for grad_weight and
// grad_bias (deterministic: no atomics anywhere).
#include <cmath>

#include "pyengine/cuda/common.cuh"
#include "pyengine/group_norm.h"

namespace pyengine::cuda {
namespace {

template <typename T>
__global__ void group_norm_forward_kernel(GroupNormDims d, const T* __restrict__ x, const T* __restrict__ w,
                                          const T* __restrict__ b, double eps, T* __restrict__ y,
                                          T* __restrict__ mean, T* __restrict__ rstd) {
  __shared__ double scratch[32];
  const index_t Cg = d.C / d.G, M = Cg * d.S;
  for (index_t q = blockIdx.x; q < d.N * d.G; q += gridDim.x) {
    const T* xg = x + q * M;
    double s = 0.0;
    for (index_t i = threadIdx.x; i < M; i += blockDim.x) s += static_cast<double>(xg[i]);
    const double mu = M > 0 ? block_sum(s, scratch) / static_cast<double>(M) : 0.0;
    double v2 = 0.0;
    for (index_t i = threadIdx.x; i < M; i += blockDim.x) {
      const double v = static_cast<double>(xg[i]) - mu;
      v2 += v * v;
    }
    const double var = M > 0 ? block_sum(v2, scratch) / static_cast<double>(M) : 0.0;
    const double rs = 1.0 / sqrt(var + eps);
    if (threadIdx.x == 0) {
      mean[q] = static_cast<T>(mu);
      rstd[q] = static_cast<T>(rs);
    }
    const index_t c0 = (q % d.G) * Cg;
    T* yg = y + q * M;
    for (index_t i = threadIdx.x; i < M; i += blockDim.x) {
      const index_t c = c0 + i / d.S;
      double v = (static_cast<double>(xg[i]) - mu) * rs;
      if (w != nullptr) v *= static_cast<double>(w[c]);
      if (b != nullptr) v += static_cast<double>(b[c]);
      yg[i] = static_cast<T>(v);
    }
  }
}

template <typename T>
__global__ void group_norm_backward_kernel(GroupNormDims d, const T* __restrict__ g, const T* __restrict__ x,
                                           const T* __restrict__ mean, const T* __restrict__ rstd,
                                           const T* __restrict__ w, T* __restrict__ gi, double* __restrict__ partial) {
  __shared__ double scratch[32];
  const index_t Cg = d.C / d.G, M = Cg * d.S;
  for (index_t q = blockIdx.x; q < d.N * d.G; q += gridDim.x) {
    const index_t n = q / d.G, c0 = (q % d.G) * Cg;
    const double mu = static_cast<double>(mean[q]), r = static_cast<double>(rstd[q]);
    double a = 0.0, c = 0.0;
    for (index_t k = 0; k < Cg; ++k) {
      const index_t off = (n * d.C + c0 + k) * d.S;
      const double wc = w != nullptr ? static_cast<double>(w[c0 + k]) : 1.0;
      double sb = 0.0, sx = 0.0, sa = 0.0, sc = 0.0;
      for (index_t i = threadIdx.x; i < d.S; i += blockDim.x) {
        const double gv = static_cast<double>(g[off + i]), xh = (static_cast<double>(x[off + i]) - mu) * r;
        sb += gv;
        sx += gv * xh;
        sa += gv * wc;
        sc += gv * wc * xh;
      }
      sb = block_sum(sb, scratch);
      sx = block_sum(sx, scratch);
      a += block_sum(sa, scratch);
      c += block_sum(sc, scratch);
      if (threadIdx.x == 0) {
        partial[2 * (n * d.C + c0 + k)] = sb;
        partial[2 * (n * d.C + c0 + k) + 1] = sx;
      }
    }
    if (gi == nullptr || M == 0) continue;
    const double ma = a / static_cast<double>(M), mc = c / static_cast<double>(M);
    const T* gg = g + q * M;
    const T* xg = x + q * M;
    T* out = gi + q * M;
    for (index_t i = threadIdx.x; i < M; i += blockDim.x) {
      const index_t ch = c0 + i / d.S;
      const double wc = w != nullptr ? static_cast<double>(w[ch]) : 1.0;
      const double xh = (static_cast<double>(xg[i]) - mu) * r;
      out[i] = static_cast<T>(r * (static_cast<double>(gg[i]) * wc - ma - xh * mc));
    }
  }
}

template <typename T>
__global__ void group_norm_param_kernel(GroupNormDims d, const double* __restrict__ partial, T* __restrict__ gw,
                                        T* __restrict__ gb) {
  PE_GRID_STRIDE(c, d.C) {
    double sw = 0.0, sb = 0.0;
    for (index_t n = 0; n < d.N; ++n) {
      sb += partial[2 * (n * d.C + c)];
      sw += partial[2 * (n * d.C + c) + 1];
    }
    if (gw != nullptr) gw[c] = static_cast<T>(sw);
    if (gb != nullptr) gb[c] = static_cast<T>(sb);
  }
}

unsigned group_blocks(index_t n) { return static_cast<unsigned>(n < 65535 ? n : 65535); }

}  // namespace

template <typename T>
void group_norm_forward(const GroupNormDims& d, const T* x, const T* w, const T* b, double eps, T* y, T* mean,
                        T* rstd, cudaStream_t stream) {
  if (d.N * d.G == 0) return;
  group_norm_forward_kernel<T><<<group_blocks(d.N * d.G), kThreads, 0, stream>>>(d, x, w, b, eps, y, mean, rstd);
  check_launch("group_norm_forward_kernel");
}

template <typename T>
void group_norm_backward(const GroupNormDims& d, const T* g, const T* x, const T* mean, const T* rstd, const T* w,
                         T* gi, T* gw, T* gb, double* partial, cudaStream_t stream) {
  if (d.N * d.G > 0) {
    group_norm_backward_kernel<T><<<group_blocks(d.N * d.G), kThreads, 0, stream>>>(d, g, x, mean, rstd, w, gi,
                                                                                    partial);
    check_launch("group_norm_backward_kernel");
  }
  if (gw == nullptr && gb == nullptr) return;
  group_norm_param_kernel<T><<<grid_for(d.C), kThreads, 0, stream>>>(d, partial, gw, gb);
  check_launch("group_norm_param_kernel");
}

#define PE_INST(T)                                                                                              \
  template void group_norm_forward<T>(const GroupNormDims&, const T*, const T*, const T*, double, T*, T*, T*,   \
                                      cudaStream_t);                                                            \
  template void group_norm_backward<T>(const GroupNormDims&, const T*, const T*, const T*, const T*, const T*,  \
                                       T*, T*, T*, double*, cudaStream_t);
PE_INST(float)
PE_INST(double)
#undef PE_INST

}  // namespace pyengine::cuda
