// pool2d.cu — pooling kernels of pyengine/cuda/pool2d.h. Forward: one thread per output element.
// Average backward: one thread per input element gathering from the (few) outputs whose windows
// cover it, found by inverting oh·sh − ph + i = h for each tap i (no atomics, deterministic). Max
// backward scatters each output's gradient to its recorded index with an atomic add (the contract
// gives it no window geometry).
// Global average: one warp per (n, c) plane.
#include <climits>
#include <cmath>
#include <cstdint>
#include <vector>

#include "pyengine/cuda/common.cuh"
#include "pyengine/cuda/pool2d.h"

namespace pyengine::cuda {
namespace {

template <typename T>
__global__ void max_pool2d_forward_kernel(PoolShape s, const T* __restrict__ x, T* __restrict__ y,
                                          std::int64_t* __restrict__ ind) {
  PE_GRID_STRIDE(idx, s.N * s.C * s.OH * s.OW) {
    const index_t ow = idx % s.OW, oh = (idx / s.OW) % s.OH, nc = idx / (s.OW * s.OH);
    const T* xp = x + nc * s.H * s.W;
    T best = T(-INFINITY);
    index_t arg = -1;
    for (index_t i = 0; i < s.kh; ++i) {
      const index_t h = oh * s.sh - s.ph + i * s.dh;
      if (h < 0 || h >= s.H) continue;
      for (index_t j = 0; j < s.kw; ++j) {
        const index_t w = ow * s.sw - s.pw + j * s.dw;
        if (w < 0 || w >= s.W) continue;
        const T v = xp[h * s.W + w];
        // the first maximum wins; a NaN wins and stays (as PyTorch)
        if (arg < 0 || v > best || (isnan(v) && !isnan(best))) {
          best = v;
          arg = h * s.W + w;
        }
      }
    }
    y[idx] = best;
    ind[idx] = arg;
  }
}

// First and last output index (inclusive) whose window tap lands on input coordinate h, for tap i.
__device__ __forceinline__ bool tap_output(index_t h, index_t i, index_t stride, index_t pad, index_t dil,
                                           index_t out, index_t* o) {
  const index_t t = h + pad - i * dil;
  if (t < 0 || t % stride != 0) return false;
  *o = t / stride;
  return *o < out;
}

// One thread per output element adds its gradient at its recorded input position. Windows may
// overlap, so the adds are atomic; an index outside [0, H·W) (only possible with hand-made indices)
// is skipped, never written.
template <typename T>
__global__ void max_pool2d_backward_kernel(index_t NC, index_t HW, index_t OHW, const T* __restrict__ gy,
                                           const std::int64_t* __restrict__ ind, T* __restrict__ gx) {
  PE_GRID_STRIDE(idx, NC * OHW) {
    const std::int64_t pos = ind[idx];
    if (pos >= 0 && pos < HW) atomicAdd(gx + (idx / OHW) * HW + pos, gy[idx]);
  }
}

__device__ __forceinline__ index_t avg_divisor(const PoolShape& s, bool include_pad, index_t oh, index_t ow) {
  index_t h0 = oh * s.sh - s.ph, w0 = ow * s.sw - s.pw;
  index_t h1 = h0 + s.kh, w1 = w0 + s.kw;
  h1 = h1 < s.H + s.ph ? h1 : s.H + s.ph;
  w1 = w1 < s.W + s.pw ? w1 : s.W + s.pw;
  if (include_pad) return (h1 - h0) * (w1 - w0);
  h0 = h0 > 0 ? h0 : 0;
  w0 = w0 > 0 ? w0 : 0;
  h1 = h1 < s.H ? h1 : s.H;
  w1 = w1 < s.W ? w1 : s.W;
  const index_t d = (h1 - h0) * (w1 - w0);
  return d > 0 ? d : 1;
}

template <typename T>
__global__ void avg_pool2d_forward_kernel(PoolShape s, bool include_pad, const T* __restrict__ x, T* __restrict__ y) {
  PE_GRID_STRIDE(idx, s.N * s.C * s.OH * s.OW) {
    const index_t ow = idx % s.OW, oh = (idx / s.OW) % s.OH, nc = idx / (s.OW * s.OH);
    const T* xp = x + nc * s.H * s.W;
    T sum = T(0);
    for (index_t i = 0; i < s.kh; ++i) {
      const index_t h = oh * s.sh - s.ph + i;
      if (h < 0 || h >= s.H) continue;
      for (index_t j = 0; j < s.kw; ++j) {
        const index_t w = ow * s.sw - s.pw + j;
        if (w >= 0 && w < s.W) sum += xp[h * s.W + w];
      }
    }
    y[idx] = sum / static_cast<T>(avg_divisor(s, include_pad, oh, ow));
  }
}

template <typename T>
__global__ void avg_pool2d_backward_kernel(PoolShape s, bool include_pad, const T* __restrict__ gy, T* __restrict__ gx) {
  PE_GRID_STRIDE(idx, s.N * s.C * s.H * s.W) {
    const index_t w = idx % s.W, h = (idx / s.W) % s.H, nc = idx / (s.W * s.H);
    const index_t base = nc * s.OH * s.OW;
    T sum = T(0);
    for (index_t i = 0; i < s.kh; ++i) {
      index_t oh;
      if (!tap_output(h, i, s.sh, s.ph, 1, s.OH, &oh)) continue;
      for (index_t j = 0; j < s.kw; ++j) {
        index_t ow;
        if (!tap_output(w, j, s.sw, s.pw, 1, s.OW, &ow)) continue;
        sum += gy[base + oh * s.OW + ow] / static_cast<T>(avg_divisor(s, include_pad, oh, ow));
      }
    }
    gx[idx] = sum;
  }
}

// One warp per plane, planes grid-strided over all warps of the grid.
template <typename T>
__global__ void global_avg_pool2d_forward_kernel(index_t NC, index_t HW, const T* __restrict__ x, T* __restrict__ y) {
  const index_t lane = threadIdx.x & 31;
  const index_t warp = (static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
  const index_t nwarps = (static_cast<index_t>(gridDim.x) * blockDim.x) >> 5;
  for (index_t p = warp; p < NC; p += nwarps) {
    T s = T(0);
    for (index_t i = lane; i < HW; i += 32) s += x[p * HW + i];
    s = warp_sum(s);
    if (lane == 0) y[p] = s / static_cast<T>(HW);
  }
}

template <typename T>
__global__ void global_avg_pool2d_backward_kernel(index_t NC, index_t HW, const T* __restrict__ gy, T* __restrict__ gx) {
  PE_GRID_STRIDE(idx, NC * HW) gx[idx] = gy[idx / HW] / static_cast<T>(HW);
}

// scratch[0] = min, scratch[1] = max of the n indices (atomics on the two words; order-free).
__global__ void index_range_kernel(index_t n, const std::int64_t* __restrict__ idx, unsigned long long* scratch) {
  long long lo = LLONG_MAX, hi = LLONG_MIN;
  PE_GRID_STRIDE(i, n) {
    const long long v = idx[i];
    lo = v < lo ? v : lo;
    hi = v > hi ? v : hi;
  }
  atomicMin(reinterpret_cast<long long*>(scratch), lo);
  atomicMax(reinterpret_cast<long long*>(scratch) + 1, hi);
}

}  // namespace

void index_range(index_t n, const std::int64_t* indices, std::int64_t* scratch, std::int64_t* range_host,
                 cudaStream_t stream) {
  const std::int64_t init[2] = {LLONG_MAX, LLONG_MIN};
  check(cudaMemcpyAsync(scratch, init, sizeof(init), cudaMemcpyHostToDevice, stream), "index_range (cudaMemcpyAsync)");
  index_range_kernel<<<grid_for(n), kThreads, 0, stream>>>(n, indices, reinterpret_cast<unsigned long long*>(scratch));
  check_launch("index_range_kernel");
  check(cudaMemcpyAsync(range_host, scratch, 2 * sizeof(std::int64_t), cudaMemcpyDeviceToHost, stream),
        "index_range (cudaMemcpyAsync)");
  check(cudaStreamSynchronize(stream), "index_range (cudaStreamSynchronize)");
}

template <typename T>
void max_pool2d_forward(const PoolShape& s, const T* x, T* y, std::int64_t* ind, cudaStream_t stream) {
  const index_t n = s.N * s.C * s.OH * s.OW;
  if (n == 0) return;
  max_pool2d_forward_kernel<T><<<grid_for(n), kThreads, 0, stream>>>(s, x, y, ind);
  check_launch("max_pool2d_forward_kernel");
}

template <typename T>
void max_pool2d_backward_input(index_t NC, index_t HW, index_t OHW, const T* gy, const std::int64_t* ind, T* gx,
                               cudaStream_t stream) {
  if (NC * HW == 0) return;
  check(cudaMemsetAsync(gx, 0, sizeof(T) * NC * HW, stream), "max_pool2d_backward_input (cudaMemsetAsync)");
  if (OHW == 0) return;
  max_pool2d_backward_kernel<T><<<grid_for(NC * OHW), kThreads, 0, stream>>>(NC, HW, OHW, gy, ind, gx);
  check_launch("max_pool2d_backward_kernel");
}

template <typename T>
void max_pool2d_backward_input_ordered(index_t NC, index_t HW, index_t OHW, const T* gy, const std::int64_t* ind,
                                       T* gx, cudaStream_t stream) {
  const char* what = "max_pool2d_backward_input (ordered)";
  std::vector<T> hg(static_cast<size_t>(NC * OHW)), hx(static_cast<size_t>(NC * HW), T(0));
  std::vector<std::int64_t> hi(static_cast<size_t>(NC * OHW));
  check(cudaMemcpyAsync(hg.data(), gy, hg.size() * sizeof(T), cudaMemcpyDeviceToHost, stream), what);
  check(cudaMemcpyAsync(hi.data(), ind, hi.size() * sizeof(std::int64_t), cudaMemcpyDeviceToHost, stream), what);
  check(cudaStreamSynchronize(stream), what);
  for (index_t p = 0; p < NC; ++p)
    for (index_t j = 0; j < OHW; ++j) {
      const std::int64_t k = hi[static_cast<size_t>(p * OHW + j)];
      if (k >= 0 && k < HW) hx[static_cast<size_t>(p * HW + k)] += hg[static_cast<size_t>(p * OHW + j)];
    }
  check(cudaMemcpyAsync(gx, hx.data(), hx.size() * sizeof(T), cudaMemcpyHostToDevice, stream), what);
  check(cudaStreamSynchronize(stream), what);
}

template <typename T>
void avg_pool2d_forward(const PoolShape& s, bool include_pad, const T* x, T* y, cudaStream_t stream) {
  const index_t n = s.N * s.C * s.OH * s.OW;
  if (n == 0) return;
  avg_pool2d_forward_kernel<T><<<grid_for(n), kThreads, 0, stream>>>(s, include_pad, x, y);
  check_launch("avg_pool2d_forward_kernel");
}

template <typename T>
void avg_pool2d_backward_input(const PoolShape& s, bool include_pad, const T* gy, T* gx, cudaStream_t stream) {
  const index_t n = s.N * s.C * s.H * s.W;
  if (n == 0) return;
  avg_pool2d_backward_kernel<T><<<grid_for(n), kThreads, 0, stream>>>(s, include_pad, gy, gx);
  check_launch("avg_pool2d_backward_kernel");
}

template <typename T>
void global_avg_pool2d_forward(index_t NC, index_t HW, const T* x, T* y, cudaStream_t stream) {
  if (NC == 0) return;
  global_avg_pool2d_forward_kernel<T><<<grid_for(NC * 32), kThreads, 0, stream>>>(NC, HW, x, y);
  check_launch("global_avg_pool2d_forward_kernel");
}

template <typename T>
void global_avg_pool2d_backward_input(index_t NC, index_t HW, const T* gy, T* gx, cudaStream_t stream) {
  if (NC * HW == 0) return;
  global_avg_pool2d_backward_kernel<T><<<grid_for(NC * HW), kThreads, 0, stream>>>(NC, HW, gy, gx);
  check_launch("global_avg_pool2d_backward_kernel");
}

#define PE_INST(T)                                                                                              \
  template void max_pool2d_forward<T>(const PoolShape&, const T*, T*, std::int64_t*, cudaStream_t);            \
  template void max_pool2d_backward_input<T>(index_t, index_t, index_t, const T*, const std::int64_t*, T*,      \
                                             cudaStream_t);                                                   \
  template void max_pool2d_backward_input_ordered<T>(index_t, index_t, index_t, const T*, const std::int64_t*, T*, \
                                                     cudaStream_t);                                            \
  template void avg_pool2d_forward<T>(const PoolShape&, bool, const T*, T*, cudaStream_t);                      \
  template void avg_pool2d_backward_input<T>(const PoolShape&, bool, const T*, T*, cudaStream_t);               \
  template void global_avg_pool2d_forward<T>(index_t, index_t, const T*, T*, cudaStream_t);                     \
  template void global_avg_pool2d_backward_input<T>(index_t, index_t, const T*, T*, cudaStream_t);
PE_INST(float)
PE_INST(double)
#undef PE_INST

}  // namespace pyengine::cuda
