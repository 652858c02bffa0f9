// interpolate.cpp — nearest / nearest-exact / bilinear resampling of (P, H, W) planes, forward and
// backward (pyengine/interpolate.h).
//
// The per-axis plans (source rows/columns and weights) are computed once per call, O(OH + OW), with
// ATen's formulas. Forward: one plane per thread at a time; per output row the two source rows are
// blended column by column through the width plan (a gather the compiler vectorises where the ISA
// has gathers). Backward: the same loops with the adjoint scatter into the zeroed plane; the plane
// belongs to one thread, so no atomics.
#include "pyengine/interpolate.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace pyengine::cpu {

template <typename T>
AxisPlan<T> interpolate_axis_plan(index_t n, index_t m, InterpMode mode, bool align_corners, double scale) {
  AxisPlan<T> p;
  p.i0.resize(m);
  p.i1.resize(m);
  p.l0.assign(m, T(1));
  p.l1.assign(m, T(0));
  if (mode != InterpMode::bilinear) {
    const float s = scale > 0 ? static_cast<float>(1.0 / scale) : static_cast<float>(n) / static_cast<float>(m);
    for (index_t o = 0; o < m; ++o) {
      index_t i;
      if (mode == InterpMode::nearest && m == n) {
        i = o;
      } else if (mode == InterpMode::nearest && m == 2 * n) {
        i = o >> 1;
      } else {
        const float pos = mode == InterpMode::nearest ? static_cast<float>(o) * s : (static_cast<float>(o) + 0.5f) * s;
        i = std::min(static_cast<index_t>(std::floor(pos)), n - 1);
      }
      p.i0[o] = p.i1[o] = i;
    }
    return p;
  }
  T s;
  if (align_corners) {
    s = m > 1 ? static_cast<T>(n - 1) / static_cast<T>(m - 1) : T(0);
  } else {
    s = scale > 0 ? static_cast<T>(1.0 / scale) : static_cast<T>(n) / static_cast<T>(m);
  }
  for (index_t o = 0; o < m; ++o) {
    T src = align_corners ? s * static_cast<T>(o) : s * (static_cast<T>(o) + T(0.5)) - T(0.5);
    if (src < T(0)) src = T(0);
    const index_t i0 = std::min(static_cast<index_t>(std::floor(src)), n - 1);
    const T l1 = std::min(std::max(src - static_cast<T>(i0), T(0)), T(1));
    p.i0[o] = i0;
    p.i1[o] = i0 + (i0 < n - 1 ? 1 : 0);
    p.l1[o] = l1;
    p.l0[o] = T(1) - l1;
  }
  return p;
}

template <typename T>
void interpolate_forward(index_t P, index_t H, index_t W, index_t OH, index_t OW, const AxisPlan<T>& ph,
                         const AxisPlan<T>& pw, bool nearest, const T* x, T* y) {
  const int threads = get_num_threads();
  const index_t* w0 = pw.i0.data();
  const index_t* w1 = pw.i1.data();
  const T* lw0 = pw.l0.data();
  const T* lw1 = pw.l1.data();
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && P * OH * OW > 32768)
  for (index_t p = 0; p < P; ++p) {
    const T* xp = x + p * H * W;
    T* yp = y + p * OH * OW;
    for (index_t oh = 0; oh < OH; ++oh) {
      const T* r0 = xp + ph.i0[oh] * W;
      T* yr = yp + oh * OW;
      if (nearest) {
        for (index_t ow = 0; ow < OW; ++ow) yr[ow] = r0[w0[ow]];
        continue;
      }
      const T* r1 = xp + ph.i1[oh] * W;
      const T a = ph.l0[oh], b = ph.l1[oh];
      for (index_t ow = 0; ow < OW; ++ow) {
        const T top = lw0[ow] * r0[w0[ow]] + lw1[ow] * r0[w1[ow]];
        const T bottom = lw0[ow] * r1[w0[ow]] + lw1[ow] * r1[w1[ow]];
        yr[ow] = a * top + b * bottom;
      }
    }
  }
}

template <typename T>
void interpolate_backward(index_t P, index_t H, index_t W, index_t OH, index_t OW, const AxisPlan<T>& ph,
                          const AxisPlan<T>& pw, bool nearest, const T* grad_y, T* grad_x) {
  const int threads = get_num_threads();
  const index_t* w0 = pw.i0.data();
  const index_t* w1 = pw.i1.data();
  const T* lw0 = pw.l0.data();
  const T* lw1 = pw.l1.data();
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && P * OH * OW > 32768)
  for (index_t p = 0; p < P; ++p) {
    T* gx = grad_x + p * H * W;
    const T* gy = grad_y + p * OH * OW;
    std::memset(gx, 0, sizeof(T) * static_cast<size_t>(H * W));
    for (index_t oh = 0; oh < OH; ++oh) {
      T* r0 = gx + ph.i0[oh] * W;
      const T* gr = gy + oh * OW;
      if (nearest) {
        for (index_t ow = 0; ow < OW; ++ow) r0[w0[ow]] += gr[ow];
        continue;
      }
      T* r1 = gx + ph.i1[oh] * W;
      const T a = ph.l0[oh], b = ph.l1[oh];
      for (index_t ow = 0; ow < OW; ++ow) {
        const T g0 = a * gr[ow], g1 = b * gr[ow];
        r0[w0[ow]] += lw0[ow] * g0;
        r0[w1[ow]] += lw1[ow] * g0;
        r1[w0[ow]] += lw0[ow] * g1;
        r1[w1[ow]] += lw1[ow] * g1;
      }
    }
  }
}

#define PE_INTERP_INSTANTIATE(T)                                                                              \
  template AxisPlan<T> interpolate_axis_plan<T>(index_t, index_t, InterpMode, bool, double);                  \
  template void interpolate_forward<T>(index_t, index_t, index_t, index_t, index_t, const AxisPlan<T>&,       \
                                       const AxisPlan<T>&, bool, const T*, T*);                               \
  template void interpolate_backward<T>(index_t, index_t, index_t, index_t, index_t, const AxisPlan<T>&,      \
                                        const AxisPlan<T>&, bool, const T*, T*);
PE_INTERP_INSTANTIATE(float)
PE_INTERP_INSTANTIATE(double)
#undef PE_INTERP_INSTANTIATE

}  // namespace pyengine::cpu
