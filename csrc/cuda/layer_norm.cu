// layer_norm.cu — layer normalisation of pyengine/layer_norm.h on the GPU.
//
// forward: one block per row (grid-stride over rows); two passes over the row, Σx then Σ(x − mean)²
// (no cancellation), accumulated in double, then one pass writing y. backward: one block per row
// for grad_input (Σ g·w and Σ g·w·x̂ in double); grad_weight and grad_bias in two steps, a
// (column tiles × kLayerNormColumnBlocks row blocks) grid where each thread sums its column over its
// block of rows in double, then one thread per column adding the blocks in order (deterministic).
#include <cmath>

#include "pyengine/cuda/common.cuh"
#include "pyengine/layer_norm.h"

namespace pyengine::cuda {
namespace {

template <typename T>
__global__ void layer_norm_forward_kernel(index_t M, index_t D, const T* __restrict__ x, const T* __restrict__ w,
                                          const T* __restrict__ b, double eps, T* __restrict__ y,
                                          T* __restrict__ mean, T* __restrict__ rstd) {
  __shared__ double scratch[32];
  for (index_t m = blockIdx.x; m < M; m += gridDim.x) {
    const T* xr = x + m * D;
    double s = 0.0;
    for (index_t d = threadIdx.x; d < D; d += blockDim.x) s += static_cast<double>(xr[d]);
    const double mu = block_sum(s, scratch) / static_cast<double>(D);
    double q = 0.0;
    for (index_t d = threadIdx.x; d < D; d += blockDim.x) {
      const double v = static_cast<double>(xr[d]) - mu;
      q += v * v;
    }
    const double rs = 1.0 / sqrt(block_sum(q, scratch) / static_cast<double>(D) + eps);
    if (threadIdx.x == 0) {
      mean[m] = static_cast<T>(mu);
      rstd[m] = static_cast<T>(rs);
    }
    T* yr = y + m * D;
    for (index_t d = threadIdx.x; d < D; d += blockDim.x) {
      double v = (static_cast<double>(xr[d]) - mu) * rs;
      if (w != nullptr) v *= static_cast<double>(w[d]);
      if (b != nullptr) v += static_cast<double>(b[d]);
      yr[d] = static_cast<T>(v);
    }
  }
}

template <typename T>
__global__ void layer_norm_grad_input_kernel(index_t M, index_t D, const T* __restrict__ g, const T* __restrict__ x,
                                             const T* __restrict__ mean, const T* __restrict__ rstd,
                                             const T* __restrict__ w, T* __restrict__ gi) {
  __shared__ double scratch[32];
  for (index_t m = blockIdx.x; m < M; m += gridDim.x) {
    const T *gr = g + m * D, *xr = x + m * D;
    const double mu = static_cast<double>(mean[m]), r = static_cast<double>(rstd[m]);
    double a = 0.0, c = 0.0;
    for (index_t d = threadIdx.x; d < D; d += blockDim.x) {
      const double gw = static_cast<double>(gr[d]) * (w != nullptr ? static_cast<double>(w[d]) : 1.0);
      a += gw;
      c += gw * (static_cast<double>(xr[d]) - mu) * r;
    }
    a = block_sum(a, scratch) / static_cast<double>(D);
    c = block_sum(c, scratch) / static_cast<double>(D);
    T* out = gi + m * D;
    for (index_t d = threadIdx.x; d < D; d += blockDim.x) {
      const double gw = static_cast<double>(gr[d]) * (w != nullptr ? static_cast<double>(w[d]) : 1.0);
      out[d] = static_cast<T>(r * (gw - a - (static_cast<double>(xr[d]) - mu) * r * c));
    }
  }
}

// partial[(2·j) · D + d] = Σ g·x̂ and partial[(2·j + 1) · D + d] = Σ g over rows [j·M/B, (j+1)·M/B).
template <typename T>
__global__ void layer_norm_column_sums_kernel(index_t M, index_t D, const T* __restrict__ g, const T* __restrict__ x,
                                              const T* __restrict__ mean, const T* __restrict__ rstd,
                                              double* __restrict__ partial) {
  const index_t B = kLayerNormColumnBlocks;
  const index_t j = blockIdx.y;
  for (index_t d = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x; d < D;
       d += static_cast<index_t>(gridDim.x) * blockDim.x) {
    double sw = 0.0, sb = 0.0;
    for (index_t m = j * M / B; m < (j + 1) * M / B; ++m) {
      const double gv = static_cast<double>(g[m * D + d]);
      sb += gv;
      sw += gv * (static_cast<double>(x[m * D + d]) - static_cast<double>(mean[m])) * static_cast<double>(rstd[m]);
    }
    partial[2 * j * D + d] = sw;
    partial[(2 * j + 1) * D + d] = sb;
  }
}

template <typename T>
__global__ void layer_norm_column_finish_kernel(index_t D, const double* __restrict__ partial, T* __restrict__ gw,
                                                T* __restrict__ gb) {
  PE_GRID_STRIDE(d, D) {
    double sw = 0.0, sb = 0.0;
    for (index_t j = 0; j < kLayerNormColumnBlocks; ++j) {
      sw += partial[2 * j * D + d];
      sb += partial[(2 * j + 1) * D + d];
    }
    if (gw != nullptr) gw[d] = static_cast<T>(sw);
    if (gb != nullptr) gb[d] = static_cast<T>(sb);
  }
}

unsigned row_blocks(index_t M) { return static_cast<unsigned>(M < 65535 ? M : 65535); }

}  // namespace

template <typename T>
void layer_norm_forward(index_t M, index_t D, const T* x, const T* w, const T* b, double eps, T* y, T* mean, T* rstd,
                        cudaStream_t stream) {
  if (M == 0) return;
  layer_norm_forward_kernel<T><<<row_blocks(M), kThreads, 0, stream>>>(M, D, x, w, b, eps, y, mean, rstd);
  check_launch("layer_norm_forward_kernel");
}

template <typename T>
void layer_norm_backward(index_t M, index_t D, const T* g, const T* x, const T* mean, const T* rstd, const T* w,
                         T* gi, T* gw, T* gb, double* partial, cudaStream_t stream) {
  if (M > 0 && gi != nullptr) {
    layer_norm_grad_input_kernel<T><<<row_blocks(M), kThreads, 0, stream>>>(M, D, g, x, mean, rstd, w, gi);
    check_launch("layer_norm_grad_input_kernel");
  }
  if (gw == nullptr && gb == nullptr) return;
  const index_t tiles = (D + kThreads - 1) / kThreads;
  const dim3 grid(static_cast<unsigned>(tiles < 65535 ? tiles : 65535), static_cast<unsigned>(kLayerNormColumnBlocks));
  layer_norm_column_sums_kernel<T><<<grid, kThreads, 0, stream>>>(M, D, g, x, mean, rstd, partial);
  check_launch("layer_norm_column_sums_kernel");
  layer_norm_column_finish_kernel<T><<<grid_for(D), kThreads, 0, stream>>>(D, partial, gw, gb);
  check_launch("layer_norm_column_finish_kernel");
}

#define PE_INST(T)                                                                                             \
  template void layer_norm_forward<T>(index_t, index_t, const T*, const T*, const T*, double, T*, T*, T*,       \
                                      cudaStream_t);                                                           \
  template void layer_norm_backward<T>(index_t, index_t, const T*, const T*, const T*, const T*, const T*, T*,  \
                                       T*, T*, double*, cudaStream_t);
PE_INST(float)
PE_INST(double)
#undef PE_INST

}  // namespace pyengine::cuda
