// softmax.cu — softmax, log-softmax and cross-entropy of pyengine/cuda/softmax.h.
// Rows (I == 1): one block per row (grid-stride over rows), block max then block sum of exp(x − max),
// in T. Columns (I > 1): one thread per (o, i), three passes over d. Cross-entropy reuses the row
// scheme with one block per sample.
#include <cmath>
#include <cstdint>

#include "pyengine/cuda/common.cuh"
#include "pyengine/cuda/softmax.h"

namespace pyengine::cuda {
namespace {

template <typename T>
__device__ __forceinline__ T lowest() { return -INFINITY; }

template <typename T>
__global__ void softmax_rows_kernel(bool log, index_t O, index_t D, const T* __restrict__ x, T* __restrict__ y) {
  __shared__ T scratch[32];
  for (index_t o = blockIdx.x; o < O; o += gridDim.x) {
    const T* xr = x + o * D;
    T* yr = y + o * D;
    T m = lowest<T>();
    for (index_t d = threadIdx.x; d < D; d += blockDim.x) m = xr[d] > m ? xr[d] : m;
    m = block_max(m, scratch, lowest<T>());
    T s = T(0);
    for (index_t d = threadIdx.x; d < D; d += blockDim.x) s += exp(xr[d] - m);
    s = block_sum(s, scratch);
    if (log) {
      const T lse = m + ::log(s);
      for (index_t d = threadIdx.x; d < D; d += blockDim.x) yr[d] = xr[d] - lse;
    } else {
      const T inv = T(1) / s;
      for (index_t d = threadIdx.x; d < D; d += blockDim.x) yr[d] = exp(xr[d] - m) * inv;
    }
  }
}

template <typename T>
__global__ void softmax_cols_kernel(bool log, index_t O, index_t D, index_t I, const T* __restrict__ x,
                                    T* __restrict__ y) {
  PE_GRID_STRIDE(j, O * I) {
    const index_t o = j / I, i = j - o * I;
    const T* xc = x + o * D * I + i;
    T* yc = y + o * D * I + i;
    T m = lowest<T>();
    for (index_t d = 0; d < D; ++d) m = xc[d * I] > m ? xc[d * I] : m;
    T s = T(0);
    for (index_t d = 0; d < D; ++d) s += exp(xc[d * I] - m);
    if (log) {
      const T lse = m + ::log(s);
      for (index_t d = 0; d < D; ++d) yc[d * I] = xc[d * I] - lse;
    } else {
      const T inv = T(1) / s;
      for (index_t d = 0; d < D; ++d) yc[d * I] = exp(xc[d * I] - m) * inv;
    }
  }
}

template <typename T>
__global__ void softmax_backward_rows_kernel(bool log, index_t O, index_t D, const T* __restrict__ g,
                                             const T* __restrict__ y, T* __restrict__ dx) {
  __shared__ T scratch[32];
  for (index_t o = blockIdx.x; o < O; o += gridDim.x) {
    const T *gr = g + o * D, *yr = y + o * D;
    T* dr = dx + o * D;
    T s = T(0);
    for (index_t d = threadIdx.x; d < D; d += blockDim.x) s += log ? gr[d] : gr[d] * yr[d];
    s = block_sum(s, scratch);
    for (index_t d = threadIdx.x; d < D; d += blockDim.x)
      dr[d] = log ? gr[d] - exp(yr[d]) * s : yr[d] * (gr[d] - s);
  }
}

template <typename T>
__global__ void softmax_backward_cols_kernel(bool log, index_t O, index_t D, index_t I, const T* __restrict__ g,
                                             const T* __restrict__ y, T* __restrict__ dx) {
  PE_GRID_STRIDE(j, O * I) {
    const index_t o = j / I, i = j - o * I, base = o * D * I + i;
    T s = T(0);
    for (index_t d = 0; d < D; ++d) s += log ? g[base + d * I] : g[base + d * I] * y[base + d * I];
    for (index_t d = 0; d < D; ++d) {
      const index_t k = base + d * I;
      dx[k] = log ? g[k] - exp(y[k]) * s : y[k] * (g[k] - s);
    }
  }
}

// Per sample: max and Σ exp over the row, then the loss or the gradient row.
template <typename T>
__global__ void cross_entropy_forward_kernel(index_t N, index_t C, const T* __restrict__ x,
                                             const std::int64_t* __restrict__ t, T* __restrict__ losses) {
  __shared__ T scratch[32];
  for (index_t n = blockIdx.x; n < N; n += gridDim.x) {
    const T* xr = x + n * C;
    T m = lowest<T>();
    for (index_t c = threadIdx.x; c < C; c += blockDim.x) m = xr[c] > m ? xr[c] : m;
    m = block_max(m, scratch, lowest<T>());
    T s = T(0);
    for (index_t c = threadIdx.x; c < C; c += blockDim.x) s += exp(xr[c] - m);
    s = block_sum(s, scratch);
    if (threadIdx.x == 0) {
      const std::int64_t tn = t[n];
      losses[n] = (tn >= 0 && tn < C) ? m + ::log(s) - xr[tn] : T(NAN);
    }
  }
}

template <typename T>
__global__ void cross_entropy_backward_kernel(index_t N, index_t C, const T* __restrict__ go, bool per_row, T scale,
                                              const T* __restrict__ x, const std::int64_t* __restrict__ t,
                                              T* __restrict__ dx) {
  __shared__ T scratch[32];
  for (index_t n = blockIdx.x; n < N; n += gridDim.x) {
    const T* xr = x + n * C;
    T* dr = dx + n * C;
    T m = lowest<T>();
    for (index_t c = threadIdx.x; c < C; c += blockDim.x) m = xr[c] > m ? xr[c] : m;
    m = block_max(m, scratch, lowest<T>());
    T s = T(0);
    for (index_t c = threadIdx.x; c < C; c += blockDim.x) s += exp(xr[c] - m);
    s = block_sum(s, scratch);
    const T gn = (per_row ? go[n] : go[0]) * scale;
    const std::int64_t tn = t[n];
    const bool valid = tn >= 0 && tn < C;
    const T inv = T(1) / s;
    for (index_t c = threadIdx.x; c < C; c += blockDim.x)
      dr[c] = valid ? gn * (exp(xr[c] - m) * inv - (c == tn ? T(1) : T(0))) : T(NAN);
  }
}

unsigned row_blocks(index_t rows) { return static_cast<unsigned>(rows < 65535 * 8 ? (rows > 0 ? rows : 1) : 65535 * 8); }

// *first = the smallest n whose target is not a class index (N when there is none).
__global__ void first_bad_target_kernel(index_t N, index_t C, const std::int64_t* __restrict__ t,
                                        unsigned long long* first) {
  PE_GRID_STRIDE(n, N) {
    if (t[n] < 0 || t[n] >= C) atomicMin(first, static_cast<unsigned long long>(n));
  }
}

}  // namespace

index_t first_bad_target(index_t N, index_t C, const std::int64_t* target, std::int64_t* scratch, std::int64_t* value,
                         cudaStream_t stream) {
  const char* what = "first_bad_target";
  const std::int64_t init = N;
  check(cudaMemcpyAsync(scratch, &init, sizeof(init), cudaMemcpyHostToDevice, stream), what);
  first_bad_target_kernel<<<grid_for(N), kThreads, 0, stream>>>(N, C, target,
                                                                reinterpret_cast<unsigned long long*>(scratch));
  check_launch("first_bad_target_kernel");
  std::int64_t first = N;
  check(cudaMemcpyAsync(&first, scratch, sizeof(first), cudaMemcpyDeviceToHost, stream), what);
  check(cudaStreamSynchronize(stream), what);
  if (first >= N) return -1;
  check(cudaMemcpyAsync(value, target + first, sizeof(std::int64_t), cudaMemcpyDeviceToHost, stream), what);
  check(cudaStreamSynchronize(stream), what);
  return first;
}

template <typename T>
void softmax_forward(bool log, index_t O, index_t D, index_t I, const T* x, T* y, cudaStream_t stream) {
  if (O == 0 || D == 0 || I == 0) return;
  if (I == 1) {
    softmax_rows_kernel<T><<<row_blocks(O), kThreads, 0, stream>>>(log, O, D, x, y);
    check_launch("softmax_rows_kernel");
  } else {
    softmax_cols_kernel<T><<<grid_for(O * I), kThreads, 0, stream>>>(log, O, D, I, x, y);
    check_launch("softmax_cols_kernel");
  }
}

template <typename T>
void softmax_backward(bool log, index_t O, index_t D, index_t I, const T* g, const T* y, T* dx, cudaStream_t stream) {
  if (O == 0 || D == 0 || I == 0) return;
  if (I == 1) {
    softmax_backward_rows_kernel<T><<<row_blocks(O), kThreads, 0, stream>>>(log, O, D, g, y, dx);
    check_launch("softmax_backward_rows_kernel");
  } else {
    softmax_backward_cols_kernel<T><<<grid_for(O * I), kThreads, 0, stream>>>(log, O, D, I, g, y, dx);
    check_launch("softmax_backward_cols_kernel");
  }
}

template <typename T>
void cross_entropy_forward(index_t N, index_t C, const T* x, const std::int64_t* t, T* losses, cudaStream_t stream) {
  if (N == 0) return;
  cross_entropy_forward_kernel<T><<<row_blocks(N), kThreads, 0, stream>>>(N, C, x, t, losses);
  check_launch("cross_entropy_forward_kernel");
}

template <typename T>
void cross_entropy_backward(index_t N, index_t C, const T* go, bool per_row, double scale, const T* x,
                            const std::int64_t* t, T* dx, cudaStream_t stream) {
  if (N == 0 || C == 0) return;
  cross_entropy_backward_kernel<T><<<row_blocks(N), kThreads, 0, stream>>>(N, C, go, per_row, static_cast<T>(scale),
                                                                           x, t, dx);
  check_launch("cross_entropy_backward_kernel");
}

#define PE_INST(T)                                                                                              \
  template void softmax_forward<T>(bool, index_t, index_t, index_t, const T*, T*, cudaStream_t);                \
  template void softmax_backward<T>(bool, index_t, index_t, index_t, const T*, const T*, T*, cudaStream_t);     \
  template void cross_entropy_forward<T>(index_t, index_t, const T*, const std::int64_t*, T*, cudaStream_t);    \
  template void cross_entropy_backward<T>(index_t, index_t, const T*, bool, double, const T*,                   \
                                          const std::int64_t*, T*, cudaStream_t);
PE_INST(float)
PE_INST(double)
#undef PE_INST

}  // namespace pyengine::cuda
