// interpolate.cu — the resampling of pyengine/interpolate.h on the GPU.
//
// forward: one thread per output element (grid-stride); its height and width taps are recomputed
// from interpolate_axis (a few flops, no plan in device memory). backward: one thread per input
// element, which gathers the gradients of the outputs that read it. Along an axis those outputs are
// the o with i0[o] <= i <= i1[o] — a contiguous range, because i0 and i1 never decrease with o and
// i1 − i0 <= 1 — found by two binary searches; each contributes λ0 where i0 = i and λ1 where i1 = i.
// No atomics: the sums run in one order, the same bits on every run.
#include "pyengine/cuda/common.cuh"
#include "pyengine/interpolate.h"

namespace pyengine::cuda {
namespace {

struct Axis {
  index_t n, m;
  InterpMode mode;
  bool align_corners;
  double scale;
};

template <typename T>
__device__ __forceinline__ InterpTap<T> tap(const Axis& a, index_t o) {
  return interpolate_axis<T>(a.n, a.m, a.mode, a.align_corners, a.scale, o);
}

// [lo, hi) of the outputs along `a` that read input i.
template <typename T>
__device__ void readers(const Axis& a, index_t i, index_t& lo, index_t& hi) {
  index_t l = 0, r = a.m;   // first o with i1[o] >= i
  while (l < r) {
    const index_t mid = l + (r - l) / 2;
    if (tap<T>(a, mid).i1 >= i) r = mid;
    else l = mid + 1;
  }
  lo = l;
  r = a.m;                  // first o (from lo) with i0[o] > i
  while (l < r) {
    const index_t mid = l + (r - l) / 2;
    if (tap<T>(a, mid).i0 > i) r = mid;
    else l = mid + 1;
  }
  hi = l;
}

template <typename T>
__device__ __forceinline__ T weight_of(const InterpTap<T>& t, index_t i) {
  return (t.i0 == i ? t.l0 : T(0)) + (t.i1 == i && t.i1 != t.i0 ? t.l1 : T(0));
}

template <typename T>
__global__ void interpolate_forward_kernel(index_t P, Axis ah, Axis aw, const T* __restrict__ x, T* __restrict__ y) {
  const index_t H = ah.n, W = aw.n, OH = ah.m, OW = aw.m;
  const bool nearest = ah.mode != InterpMode::bilinear;
  PE_GRID_STRIDE(k, P * OH * OW) {
    const index_t ow = k % OW, oh = (k / OW) % OH, p = k / (OW * OH);
    const T* xp = x + p * H * W;
    const InterpTap<T> th = tap<T>(ah, oh), tw = tap<T>(aw, ow);
    if (nearest) {
      y[k] = xp[th.i0 * W + tw.i0];
      continue;
    }
    const T top = xp[th.i0 * W + tw.i0] * tw.l0 + xp[th.i0 * W + tw.i1] * tw.l1;
    const T bottom = xp[th.i1 * W + tw.i0] * tw.l0 + xp[th.i1 * W + tw.i1] * tw.l1;
    y[k] = top * th.l0 + bottom * th.l1;
  }
}

template <typename T>
__global__ void interpolate_backward_kernel(index_t P, Axis ah, Axis aw, const T* __restrict__ g,
                                            T* __restrict__ gx) {
  const index_t H = ah.n, W = aw.n, OH = ah.m, OW = aw.m;
  PE_GRID_STRIDE(k, P * H * W) {
    const index_t w = k % W, h = (k / W) % H, p = k / (W * H);
    index_t h_lo, h_hi, w_lo, w_hi;
    readers<T>(ah, h, h_lo, h_hi);
    readers<T>(aw, w, w_lo, w_hi);
    const T* gp = g + p * OH * OW;
    T acc = T(0);
    for (index_t oh = h_lo; oh < h_hi; ++oh) {
      const T wh = weight_of(tap<T>(ah, oh), h);
      T row = T(0);
      for (index_t ow = w_lo; ow < w_hi; ++ow) row += gp[oh * OW + ow] * weight_of(tap<T>(aw, ow), w);
      acc += row * wh;
    }
    gx[k] = acc;
  }
}

}  // namespace

template <typename T>
void interpolate_forward(const InterpolateDims& d, const T* x, T* y, cudaStream_t stream) {
  const index_t n = d.P * d.OH * d.OW;
  if (n == 0) return;
  const Axis ah{d.H, d.OH, d.mode, d.align_corners, d.scale_h}, aw{d.W, d.OW, d.mode, d.align_corners, d.scale_w};
  interpolate_forward_kernel<T><<<grid_for(n), kThreads, 0, stream>>>(d.P, ah, aw, x, y);
  check_launch("interpolate_forward_kernel");
}

template <typename T>
void interpolate_backward(const InterpolateDims& d, const T* g, T* gx, cudaStream_t stream) {
  const index_t n = d.P * d.H * d.W;
  if (n == 0) return;
  const Axis ah{d.H, d.OH, d.mode, d.align_corners, d.scale_h}, aw{d.W, d.OW, d.mode, d.align_corners, d.scale_w};
  interpolate_backward_kernel<T><<<grid_for(n), kThreads, 0, stream>>>(d.P, ah, aw, g, gx);
  check_launch("interpolate_backward_kernel");
}

#define PE_INST(T)                                                                                      \
  template void interpolate_forward<T>(const InterpolateDims&, const T*, T*, cudaStream_t);              \
  template void interpolate_backward<T>(const InterpolateDims&, const T*, T*, cudaStream_t);
PE_INST(float)
PE_INST(double)
#undef PE_INST

}  // namespace pyengine::cuda
