// batch_norm.cu — batch normalisation of pyengine/cuda/batch_norm.h. Statistics: one block per channel,
// two passes (mean, then Σ(x − mean)², so the variance does not cancel catastrophically).
// Normalisation and the input gradient: grid-stride elementwise kernels reading per-channel values.
#include <cmath>

#include "pyengine/cuda/batch_norm.h"
#include "pyengine/cuda/common.cuh"

namespace pyengine::cuda {
namespace {

template <typename T>
__device__ __forceinline__ T at(const T* x, index_t C, index_t L, index_t c, index_t j) {
  const index_t n = j / L, l = j - n * L;
  return x[(n * C + c) * L + l];
}

template <typename T>
__global__ void batch_norm_stats_kernel(index_t N, index_t C, index_t L, const T* __restrict__ x,
                                        T* __restrict__ running_mean, T* __restrict__ running_var, T momentum, T eps,
                                        T* __restrict__ save_mean, T* __restrict__ save_invstd) {
  __shared__ T scratch[32];
  const index_t M = N * L;
  for (index_t c = blockIdx.x; c < C; c += gridDim.x) {
    T s = T(0);
    for (index_t j = threadIdx.x; j < M; j += blockDim.x) s += at(x, C, L, c, j);
    const T mean = block_sum(s, scratch) / static_cast<T>(M);
    T q = T(0);
    for (index_t j = threadIdx.x; j < M; j += blockDim.x) {
      const T d = at(x, C, L, c, j) - mean;
      q += d * d;
    }
    const T var = block_sum(q, scratch) / static_cast<T>(M);
    if (threadIdx.x == 0) {
      save_mean[c] = mean;
      save_invstd[c] = T(1) / sqrt(var + eps);
      if (running_mean != nullptr) running_mean[c] = (T(1) - momentum) * running_mean[c] + momentum * mean;
      if (running_var != nullptr) {
        const T unbiased = M > 1 ? var * static_cast<T>(M) / static_cast<T>(M - 1) : var;
        running_var[c] = (T(1) - momentum) * running_var[c] + momentum * unbiased;
      }
    }
  }
}

template <typename T>
__global__ void batch_norm_eval_stats_kernel(index_t C, const T* __restrict__ rm, const T* __restrict__ rv, T eps,
                                             T* __restrict__ save_mean, T* __restrict__ save_invstd) {
  PE_GRID_STRIDE(c, C) {
    save_mean[c] = rm[c];
    save_invstd[c] = T(1) / sqrt(rv[c] + eps);
  }
}

template <typename T>
__global__ void batch_norm_apply_kernel(index_t N, index_t C, index_t L, const T* __restrict__ x,
                                        const T* __restrict__ w, const T* __restrict__ b,
                                        const T* __restrict__ mean, const T* __restrict__ invstd, T* __restrict__ y) {
  PE_GRID_STRIDE(i, N * C * L) {
    const index_t c = (i / L) % C;
    const T scale = invstd[c] * (w != nullptr ? w[c] : T(1));
    y[i] = (x[i] - mean[c]) * scale + (b != nullptr ? b[c] : T(0));
  }
}

template <typename T>
__global__ void batch_norm_grad_sums_kernel(index_t N, index_t C, index_t L, const T* __restrict__ g,
                                            const T* __restrict__ x, const T* __restrict__ mean,
                                            const T* __restrict__ invstd, T* __restrict__ sums) {
  __shared__ T scratch[32];
  const index_t M = N * L;
  for (index_t c = blockIdx.x; c < C; c += gridDim.x) {
    T sg = T(0), sgx = T(0);
    for (index_t j = threadIdx.x; j < M; j += blockDim.x) {
      const T gv = at(g, C, L, c, j);
      sg += gv;
      sgx += gv * (at(x, C, L, c, j) - mean[c]) * invstd[c];
    }
    sg = block_sum(sg, scratch);
    sgx = block_sum(sgx, scratch);
    if (threadIdx.x == 0) {
      sums[c] = sg;
      sums[C + c] = sgx;
    }
  }
}

template <typename T>
__global__ void batch_norm_grad_params_kernel(index_t C, const T* __restrict__ sums, T* __restrict__ gw,
                                              T* __restrict__ gb) {
  PE_GRID_STRIDE(c, C) {
    if (gw != nullptr) gw[c] = sums[C + c];
    if (gb != nullptr) gb[c] = sums[c];
  }
}

template <typename T>
__global__ void batch_norm_grad_input_kernel(index_t N, index_t C, index_t L, bool training, const T* __restrict__ g,
                                             const T* __restrict__ x, const T* __restrict__ w,
                                             const T* __restrict__ mean, const T* __restrict__ invstd,
                                             const T* __restrict__ sums, T* __restrict__ gx) {
  const T M = static_cast<T>(N * L);
  PE_GRID_STRIDE(i, N * C * L) {
    const index_t c = (i / L) % C;
    const T scale = invstd[c] * (w != nullptr ? w[c] : T(1));
    if (training) {
      const T xhat = (x[i] - mean[c]) * invstd[c];
      gx[i] = scale / M * (M * g[i] - sums[c] - xhat * sums[C + c]);
    } else {
      gx[i] = g[i] * scale;
    }
  }
}

unsigned channel_blocks(index_t C) { return static_cast<unsigned>(C < 65535 * 8 ? C : 65535 * 8); }

}  // namespace

template <typename T>
void batch_norm_forward(index_t N, index_t C, index_t L, const T* x, const T* w, const T* b, T* rm, T* rv,
                        bool training, double momentum, double eps, T* y, T* save_mean, T* save_invstd,
                        cudaStream_t stream) {
  if (C == 0) return;
  if (training) {
    if (N * L == 0) {  // an empty batch: statistics are 0 (as the reference), running ones untouched
      check(cudaMemsetAsync(save_mean, 0, sizeof(T) * C, stream), "batch_norm_forward (cudaMemsetAsync)");
      check(cudaMemsetAsync(save_invstd, 0, sizeof(T) * C, stream), "batch_norm_forward (cudaMemsetAsync)");
      return;
    }
    batch_norm_stats_kernel<T><<<channel_blocks(C), kThreads, 0, stream>>>(
        N, C, L, x, rm, rv, static_cast<T>(momentum), static_cast<T>(eps), save_mean, save_invstd);
    check_launch("batch_norm_stats_kernel");
  } else {
    batch_norm_eval_stats_kernel<T><<<grid_for(C), kThreads, 0, stream>>>(C, rm, rv, static_cast<T>(eps), save_mean,
                                                                          save_invstd);
    check_launch("batch_norm_eval_stats_kernel");
  }
  if (N * L == 0) return;
  batch_norm_apply_kernel<T><<<grid_for(N * C * L), kThreads, 0, stream>>>(N, C, L, x, w, b, save_mean, save_invstd, y);
  check_launch("batch_norm_apply_kernel");
}

template <typename T>
void batch_norm_backward(index_t N, index_t C, index_t L, const T* g, const T* x, const T* w, const T* mean,
                         const T* invstd, bool training, T* gx, T* gw, T* gb, T* sums, cudaStream_t stream) {
  if (C == 0) return;
  if (N * L == 0) {
    if (gw != nullptr) check(cudaMemsetAsync(gw, 0, sizeof(T) * C, stream), "batch_norm_backward (cudaMemsetAsync)");
    if (gb != nullptr) check(cudaMemsetAsync(gb, 0, sizeof(T) * C, stream), "batch_norm_backward (cudaMemsetAsync)");
    return;
  }
  batch_norm_grad_sums_kernel<T><<<channel_blocks(C), kThreads, 0, stream>>>(N, C, L, g, x, mean, invstd, sums);
  check_launch("batch_norm_grad_sums_kernel");
  if (gw != nullptr || gb != nullptr) {
    batch_norm_grad_params_kernel<T><<<grid_for(C), kThreads, 0, stream>>>(C, sums, gw, gb);
    check_launch("batch_norm_grad_params_kernel");
  }
  if (gx != nullptr) {
    batch_norm_grad_input_kernel<T><<<grid_for(N * C * L), kThreads, 0, stream>>>(N, C, L, training, g, x, w, mean,
                                                                                  invstd, sums, gx);
    check_launch("batch_norm_grad_input_kernel");
  }
}

#define PE_INST(T)                                                                                          \
  template void batch_norm_forward<T>(index_t, index_t, index_t, const T*, const T*, const T*, T*, T*, bool, \
                                      double, double, T*, T*, T*, cudaStream_t);                            \
  template void batch_norm_backward<T>(index_t, index_t, index_t, const T*, const T*, const T*, const T*,    \
                                       const T*, bool, T*, T*, T*, T*, cudaStream_t);
PE_INST(float)
PE_INST(double)
#undef PE_INST

}  // namespace pyengine::cuda
