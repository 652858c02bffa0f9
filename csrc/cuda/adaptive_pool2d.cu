// adaptive_pool2d.cu — the adaptive max pooling of pyengine/adaptive_pool2d.h on the GPU.
//
// forward: one thread per output cell, scanning its bin row by row (the header's rule). The index
// check: one thread per cell, an atomic count of the indices outside their bins (an integer sum: its
// order does not matter). backward: one thread per input element (h, w), which gathers from the
// cells whose bins hold it — rows i with r0(i) <= h < r1(i) form a contiguous range (bins start and
// end monotonically), found from i ≈ h·OH/H by stepping, and likewise for columns — adding the
// gradient of each cell whose index is (h, w). No atomics: the same bits on every run.
#include "pyengine/adaptive_pool2d.h"
#include "pyengine/cuda/common.cuh"

namespace pyengine::cuda {
namespace {

// [lo, hi) of the cells along an axis (n inputs, m cells) whose bins hold input k.
__device__ __forceinline__ void cells_of(index_t n, index_t m, index_t k, index_t& lo, index_t& hi) {
  index_t o = (k * m) / n;   // the cell whose bin starts at or before k and ends after it
  index_t b0, b1;
  while (o > 0) {            // step back while the previous cell still covers k
    adaptive_bin(n, m, o - 1, b0, b1);
    if (b1 <= k) break;
    --o;
  }
  lo = o;
  hi = o;
  while (hi < m) {
    adaptive_bin(n, m, hi, b0, b1);
    if (b0 > k) break;
    ++hi;
  }
}

template <typename T>
__global__ void adaptive_max_pool2d_forward_kernel(AdaptivePool2dDims d, const T* __restrict__ x, T* __restrict__ y,
                                                   std::int64_t* __restrict__ idx) {
  PE_GRID_STRIDE(k, d.P * d.OH * d.OW) {
    const index_t j = k % d.OW, i = (k / d.OW) % d.OH, p = k / (d.OW * d.OH);
    index_t r0, r1, c0, c1;
    adaptive_bin(d.H, d.OH, i, r0, r1);
    adaptive_bin(d.W, d.OW, j, c0, c1);
    const T* xp = x + p * d.H * d.W;
    T best = xp[r0 * d.W + c0];
    index_t at = r0 * d.W + c0;
    for (index_t r = r0; r < r1; ++r)
      for (index_t c = c0; c < c1; ++c) {
        const T v = xp[r * d.W + c];
        if (v > best || v != v) {
          best = v;
          at = r * d.W + c;
        }
      }
    y[k] = best;
    idx[k] = at;
  }
}

__global__ void adaptive_max_pool2d_check_kernel(AdaptivePool2dDims d, const std::int64_t* __restrict__ idx,
                                                 unsigned long long* bad) {
  unsigned long long mine = 0;
  PE_GRID_STRIDE(k, d.P * d.OH * d.OW) {
    const index_t j = k % d.OW, i = (k / d.OW) % d.OH;
    index_t r0, r1, c0, c1;
    adaptive_bin(d.H, d.OH, i, r0, r1);
    adaptive_bin(d.W, d.OW, j, c0, c1);
    const std::int64_t at = idx[k];
    if (at < 0 || at >= d.H * d.W) {
      ++mine;
      continue;
    }
    const index_t r = at / d.W, c = at % d.W;
    if (r < r0 || r >= r1 || c < c0 || c >= c1) ++mine;
  }
  if (mine) atomicAdd(bad, mine);
}

template <typename T>
__global__ void adaptive_max_pool2d_backward_kernel(AdaptivePool2dDims d, const T* __restrict__ g,
                                                    const std::int64_t* __restrict__ idx, T* __restrict__ gx) {
  PE_GRID_STRIDE(k, d.P * d.H * d.W) {
    const index_t w = k % d.W, h = (k / d.W) % d.H, p = k / (d.W * d.H);
    index_t i0, i1, j0, j1;
    cells_of(d.H, d.OH, h, i0, i1);
    cells_of(d.W, d.OW, w, j0, j1);
    const std::int64_t me = h * d.W + w;
    const T* gp = g + p * d.OH * d.OW;
    const std::int64_t* ip = idx + p * d.OH * d.OW;
    T acc = T(0);
    for (index_t i = i0; i < i1; ++i)
      for (index_t j = j0; j < j1; ++j)
        if (ip[i * d.OW + j] == me) acc += gp[i * d.OW + j];
    gx[k] = acc;
  }
}

}  // namespace

template <typename T>
void adaptive_max_pool2d_forward(const AdaptivePool2dDims& d, const T* x, T* y, std::int64_t* indices,
                                 cudaStream_t stream) {
  const index_t n = d.P * d.OH * d.OW;
  if (n == 0) return;
  adaptive_max_pool2d_forward_kernel<T><<<grid_for(n), kThreads, 0, stream>>>(d, x, y, indices);
  check_launch("adaptive_max_pool2d_forward_kernel");
}

index_t adaptive_max_pool2d_bad_indices(const AdaptivePool2dDims& d, const std::int64_t* indices,
                                        unsigned long long* scratch, cudaStream_t stream) {
  const index_t n = d.P * d.OH * d.OW;
  if (n == 0) return 0;
  check(cudaMemsetAsync(scratch, 0, sizeof(unsigned long long), stream), "adaptive_max_pool2d (cudaMemsetAsync)");
  adaptive_max_pool2d_check_kernel<<<grid_for(n), kThreads, 0, stream>>>(d, indices, scratch);
  check_launch("adaptive_max_pool2d_check_kernel");
  unsigned long long bad = 0;
  check(cudaMemcpyAsync(&bad, scratch, sizeof(bad), cudaMemcpyDeviceToHost, stream),
        "adaptive_max_pool2d (cudaMemcpyAsync)");
  check(cudaStreamSynchronize(stream), "adaptive_max_pool2d (cudaStreamSynchronize)");
  return static_cast<index_t>(bad);
}

template <typename T>
void adaptive_max_pool2d_backward(const AdaptivePool2dDims& d, const T* g, const std::int64_t* indices, T* gx,
                                  cudaStream_t stream) {
  const index_t n = d.P * d.H * d.W;
  if (n == 0) return;
  adaptive_max_pool2d_backward_kernel<T><<<grid_for(n), kThreads, 0, stream>>>(d, g, indices, gx);
  check_launch("adaptive_max_pool2d_backward_kernel");
}

#define PE_INST(T)                                                                                                \
  template void adaptive_max_pool2d_forward<T>(const AdaptivePool2dDims&, const T*, T*, std::int64_t*,            \
                                               cudaStream_t);                                                     \
  template void adaptive_max_pool2d_backward<T>(const AdaptivePool2dDims&, const T*, const std::int64_t*, T*,     \
                                                cudaStream_t);
PE_INST(float)
PE_INST(double)
#undef PE_INST

}  // namespace pyengine::cuda
