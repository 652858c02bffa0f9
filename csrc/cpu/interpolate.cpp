// interpolate.cpp — the typed entry points of pyengine/interpolate.h: the per-axis plans (source
// rows/columns and weights, ATen's formulas in interpolate_axis), computed once per call in
// O(OH + OW), then the active instruction set's copy of the plane kernels
// (csrc/cpu/isa/interpolate_isa.cpp).
#include "pyengine/interpolate.h"

#include <vector>

namespace pyengine::cpu {
namespace {

template <typename T>
struct Plan {
  std::vector<index_t> i0, i1;
  std::vector<T> l0, l1;
  Plan(index_t n, index_t m, InterpMode mode, bool align_corners, double scale)
      : i0(static_cast<size_t>(m)), i1(static_cast<size_t>(m)), l0(static_cast<size_t>(m)), l1(static_cast<size_t>(m)) {
    for (index_t o = 0; o < m; ++o) {
      const InterpTap<T> t = interpolate_axis<T>(n, m, mode, align_corners, scale, o);
      const size_t k = static_cast<size_t>(o);
      i0[k] = t.i0;
      i1[k] = t.i1;
      l0[k] = t.l0;
      l1[k] = t.l1;
    }
  }
};

template <typename T, typename K>
void run(const K& kernel, const InterpolateDims& d, const T* in, T* out) {
  if (d.P == 0) return;
  const Plan<T> ph(d.H, d.OH, d.mode, d.align_corners, d.scale_h);
  const Plan<T> pw(d.W, d.OW, d.mode, d.align_corners, d.scale_w);
  kernel(d.P, d.H, d.W, d.OH, d.OW, ph.i0.data(), ph.i1.data(), ph.l0.data(), ph.l1.data(), pw.i0.data(),
         pw.i1.data(), pw.l0.data(), pw.l1.data(), d.mode != InterpMode::bilinear, in, out);
}

}  // namespace

template <typename T>
void interpolate_forward(const InterpolateDims& d, const T* x, T* y) {
  if constexpr (sizeof(T) == 4) run<T>(interpolate_forward_f32, d, x, y);
  else run<T>(interpolate_forward_f64, d, x, y);
}

template <typename T>
void interpolate_backward(const InterpolateDims& d, const T* grad_y, T* grad_x) {
  if constexpr (sizeof(T) == 4) run<T>(interpolate_backward_f32, d, grad_y, grad_x);
  else run<T>(interpolate_backward_f64, d, grad_y, grad_x);
}

template void interpolate_forward<float>(const InterpolateDims&, const float*, float*);
template void interpolate_forward<double>(const InterpolateDims&, const double*, double*);
template void interpolate_backward<float>(const InterpolateDims&, const float*, float*);
template void interpolate_backward<double>(const InterpolateDims&, const double*, double*);

}  // namespace pyengine::cpu
