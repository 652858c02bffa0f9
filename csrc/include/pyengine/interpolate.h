// pyengine/interpolate.h — resampling of image planes (PyTorch's upsample_nearest2d,
// _upsample_nearest_exact2d and upsample_bilinear2d), forward and backward.
//
// Shapes: x (N, C, H, W) → y (N, C, OH, OW); the P = N·C planes are independent. Separable: every
// output (oh, ow) reads at most two rows and two columns,
//   y[p, oh, ow] = λh0[oh]·(λw0[ow]·x[p, h0, w0] + λw1[ow]·x[p, h0, w1])
//               + λh1[oh]·(λw0[ow]·x[p, h1, w0] + λw1[ow]·x[p, h1, w1])
// with the per-axis plan (i0, i1, λ0, λ1) of interpolate_axis_plan (the equations are in
// pyengine/reference/interpolate.py); the nearest modes have i1 = i0, λ = (1, 0), and read one
// element. Backward is the adjoint: grad_x[p, h, w] = Σ over the outputs that read (h, w) of their
// weight times grad_y — every output written (grad_x is zeroed first), never accumulated.
// Planes are spread over threads, so the backward's scatter has no races.
#pragma once
#include <vector>

#include "pyengine/common.h"

namespace pyengine::cpu {

enum class InterpMode : int { nearest = 0, nearest_exact = 1, bilinear = 2 };

// One axis from n to m samples. scale > 0 is the caller's scale factor (source step 1/scale),
// 0 means none (step n/m). Nearest positions are computed in float (as ATen), bilinear in T.
template <typename T>
struct AxisPlan {
  std::vector<index_t> i0, i1;
  std::vector<T> l0, l1;
};

template <typename T>
AxisPlan<T> interpolate_axis_plan(index_t n, index_t m, InterpMode mode, bool align_corners, double scale);

// x (P, H, W) → y (P, OH, OW)
template <typename T>
void interpolate_forward(index_t P, index_t H, index_t W, index_t OH, index_t OW, const AxisPlan<T>& ph,
                         const AxisPlan<T>& pw, bool nearest, const T* x, T* y);

// grad_y (P, OH, OW) → grad_x (P, H, W)
template <typename T>
void interpolate_backward(index_t P, index_t H, index_t W, index_t OH, index_t OW, const AxisPlan<T>& ph,
                          const AxisPlan<T>& pw, bool nearest, const T* grad_y, T* grad_x);

}  // namespace pyengine::cpu
