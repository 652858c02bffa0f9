// pyengine/interpolate.h — resampling of image planes (PyTorch's upsample_nearest2d,
// _upsample_nearest_exact2d and upsample_bilinear2d), forward and backward.
//
// Shapes: x (N, C, H, W) → y (N, C, OH, OW); the P = N·C planes are independent. Separable: along
// each axis, output o reads the inputs i0[o] and i1[o] with weights λ0[o], λ1[o] (interpolate_axis
// below, ATen's source positions; the reference pyengine/reference/interpolate.py has the equations):
//   y[p, oh, ow] = λh0[oh]·(λw0[ow]·x[p, h0, w0] + λw1[ow]·x[p, h0, w1])
//               + λh1[oh]·(λw0[ow]·x[p, h1, w0] + λw1[ow]·x[p, h1, w1])
// The nearest modes have i1 = i0, λ = (1, 0) and read one element (no 0·x: an Inf stays an Inf).
// Backward is the adjoint: grad_x[p, h, w] = Σ over the outputs that read (h, w) of their weight
// times grad_y. Every output is written, never accumulated.
//
// Algorithm, CPU (csrc/cpu/interpolate.cpp builds the per-axis plans once per call, O(OH + OW);
// csrc/cpu/isa/interpolate_isa.cpp, one copy per ISA, runs the planes): planes over threads; per
// output row the two source rows are blended column by column through the width plan. The backward
// scatters into the zeroed plane of its own thread (no atomics, the same bits for any thread count).
// CUDA (csrc/cuda/interpolate.cu): forward one thread per output, the plan entry recomputed from
// interpolate_axis; backward one thread per input element, which gathers from the outputs that read
// it — along each axis a contiguous range, since i0 and i1 never decrease with o, found by binary
// search — so it is deterministic, without atomics.
#pragma once
#include <cmath>

#include "pyengine/common.h"
#include "pyengine/isa_dispatch.h"

#if defined(__CUDACC__)
#define PE_INTERP_HD __host__ __device__ __forceinline__
#else
#define PE_INTERP_HD inline
#endif

namespace pyengine {

enum class InterpMode : int { nearest = 0, nearest_exact = 1, bilinear = 2 };

// The geometry of one call: P planes of (H, W) to (OH, OW); scale_h/scale_w > 0 are the caller's
// scale factors (source step 1/scale), 0 means none (step n/m).
struct InterpolateDims {
  index_t P, H, W, OH, OW;
  InterpMode mode;
  bool align_corners;
  double scale_h, scale_w;
};

// One entry of an axis plan, from n inputs to m outputs.
template <typename T>
struct InterpTap {
  index_t i0, i1;
  T l0, l1;
};

namespace detail {
// Products and sums rounded once each (no fused multiply-add), so the host and the device give
// ATen's positions bit for bit.
#if defined(__CUDA_ARCH__)
__device__ __forceinline__ float mul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ double mul_rn(double a, double b) { return __dmul_rn(a, b); }
__device__ __forceinline__ float add_rn(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ double add_rn(double a, double b) { return __dadd_rn(a, b); }
#else
// The host copy is compiled only in csrc/cpu/interpolate.cpp, with the baseline flags (no FMA).
template <typename T>
inline T mul_rn(T a, T b) { return a * b; }
template <typename T>
inline T add_rn(T a, T b) { return a + b; }
#endif
}  // namespace detail

// Output o of an axis from n to m samples (ATen's formulas):
//   nearest        i0 = min(floor(o·s), n − 1), in float (o itself when m = n, o >> 1 when m = 2n)
//   nearest-exact  i0 = min(floor((o + ½)·s), n − 1), in float
//   bilinear       src = s·o (align_corners) else max(s·(o + ½) − ½, 0), in T;
//                  i0 = min(floor(src), n − 1), i1 = i0 + (i0 < n − 1), λ1 = clamp(src − i0, 0, 1)
//   s = (n − 1)/(m − 1) with align_corners (0 when m = 1), else 1/scale when scale > 0, else n/m.
template <typename T>
PE_INTERP_HD InterpTap<T> interpolate_axis(index_t n, index_t m, InterpMode mode, bool align_corners, double scale,
                                           index_t o) {
  InterpTap<T> t{0, 0, T(1), T(0)};
  if (mode != InterpMode::bilinear) {
    index_t i;
    if (mode == InterpMode::nearest && m == n) {
      i = o;
    } else if (mode == InterpMode::nearest && m == 2 * n) {
      i = o >> 1;
    } else {
      const float s = scale > 0 ? static_cast<float>(1.0 / scale) : static_cast<float>(n) / static_cast<float>(m);
      const float pos = mode == InterpMode::nearest ? detail::mul_rn(static_cast<float>(o), s)
                                                    : detail::mul_rn(static_cast<float>(o) + 0.5f, s);
      i = static_cast<index_t>(floorf(pos));
      if (i > n - 1) i = n - 1;
    }
    t.i0 = t.i1 = i;
    return t;
  }
  T s;
  if (align_corners) s = m > 1 ? static_cast<T>(n - 1) / static_cast<T>(m - 1) : T(0);
  else s = scale > 0 ? static_cast<T>(1.0 / scale) : static_cast<T>(n) / static_cast<T>(m);
  T src = align_corners ? detail::mul_rn(s, static_cast<T>(o))
                        : detail::add_rn(detail::mul_rn(s, static_cast<T>(o) + T(0.5)), T(-0.5));
  if (src < T(0)) src = T(0);
  index_t i0 = static_cast<index_t>(floor(static_cast<double>(src)));
  if (i0 > n - 1) i0 = n - 1;
  T l1 = src - static_cast<T>(i0);
  if (l1 < T(0)) l1 = T(0);
  if (l1 > T(1)) l1 = T(1);
  t.i0 = i0;
  t.i1 = i0 + (i0 < n - 1 ? 1 : 0);
  t.l1 = l1;
  t.l0 = T(1) - l1;
  return t;
}

}  // namespace pyengine

#if !defined(PYENGINE_ISA) && !defined(__CUDACC__)
#include <string>

#include "pyengine/check.h"

// The contract (csrc/bindings/bind_interpolate.cpp, both devices), with the reference's messages.
// forward: x a 4-D float array with H, W >= 1; size a pair of ints >= 1; mode 'nearest',
// 'nearest-exact' or 'bilinear'; align_corners a bool, True only with 'bilinear'; scale_factor None
// or a pair of finite reals > 0 (an entry may be None); the output's element count fits 64 bits.
// backward: grad_output a 4-D float array with OH, OW >= 1, input_shape four ints >= 0 with H, W >= 1
// and grad_output's N and C.
namespace pyengine::contract {

inline InterpMode interpolate_mode(const char* fn, const std::string& mode, const std::string& repr,
                                   bool align_corners) {
  InterpMode m;
  if (mode == "nearest") m = InterpMode::nearest;
  else if (mode == "nearest-exact") m = InterpMode::nearest_exact;
  else if (mode == "bilinear") m = InterpMode::bilinear;
  else value_error(fn, ": mode must be one of 'nearest', 'nearest-exact', 'bilinear', got ", repr);
  if (align_corners && m != InterpMode::bilinear)
    value_error(fn, ": align_corners=True needs mode='bilinear', got ", repr);
  return m;
}

inline double interpolate_scale(const char* fn, double s, const std::string& repr) {
  if (!(std::isfinite(s) && s > 0)) value_error(fn, ": scale_factor must be finite and > 0, got ", repr);
  return s;
}

inline void interpolate_planes(const char* fn, const char* name, const std::vector<index_t>& shape) {
  if (shape[2] < 1 || shape[3] < 1) value_error(fn, ": ", name, " must have height and width >= 1, got ", shape_str(shape));
  checked_numel(fn, name, shape);
}

// x (float, 4-D, checked first) to (OH, OW).
inline InterpolateDims interpolate_forward(const char* fn, const Array& x, index_t OH, index_t OW, InterpMode mode,
                                           bool align_corners, double sh, double sw) {
  interpolate_planes(fn, "x", x.shape);
  checked_numel(fn, "output shape", {x.shape[0], x.shape[1], OH, OW});
  return {x.shape[0] * x.shape[1], x.shape[2], x.shape[3], OH, OW, mode, align_corners, sh, sw};
}

// grad_output (float, 4-D, checked first) back to input_shape.
inline InterpolateDims interpolate_backward(const char* fn, const Array& g, const std::vector<index_t>& in_shape,
                                            InterpMode mode, bool align_corners, double sh, double sw) {
  interpolate_planes(fn, "input_shape", in_shape);
  interpolate_planes(fn, "grad_output", g.shape);
  shape_is(fn, g, {in_shape[0], in_shape[1], g.shape[2], g.shape[3]});
  return {in_shape[0] * in_shape[1], in_shape[2], in_shape[3], g.shape[2], g.shape[3], mode, align_corners, sh, sw};
}

}  // namespace pyengine::contract
#endif

#if !defined(__CUDACC__)
namespace pyengine::cpu {

// ---- the per-ISA kernels (csrc/cpu/isa/interpolate_isa.cpp): (P, H, W, OH, OW, height plan
// i0, i1, λ0, λ1, width plan i0, i1, λ0, λ1, nearest, in, out); forward in = x (P, H, W), out = y
// (P, OH, OW); backward in = grad_y (P, OH, OW), out = grad_x (P, H, W).
#define PE_INTERP_SIG(T)                                                                                       \
  void(index_t, index_t, index_t, index_t, index_t, const index_t*, const index_t*, const T*, const T*,        \
       const index_t*, const index_t*, const T*, const T*, bool, const T*, T*)
PE_ISA_KERNEL(interpolate_forward_f32, PE_INTERP_SIG(float));
PE_ISA_KERNEL(interpolate_forward_f64, PE_INTERP_SIG(double));
PE_ISA_KERNEL(interpolate_backward_f32, PE_INTERP_SIG(float));
PE_ISA_KERNEL(interpolate_backward_f64, PE_INTERP_SIG(double));
#undef PE_INTERP_SIG

#if !defined(PYENGINE_ISA)
// The typed entry points the binding calls (csrc/cpu/interpolate.cpp): plans, then the active ISA's copy.
template <typename T>
void interpolate_forward(const InterpolateDims& d, const T* x, T* y);
template <typename T>
void interpolate_backward(const InterpolateDims& d, const T* grad_y, T* grad_x);
#endif

}  // namespace pyengine::cpu
#endif

// The CUDA launchers (csrc/cuda/interpolate.cu), on the caller's stream.
namespace pyengine::cuda {
template <typename T>
void interpolate_forward(const InterpolateDims& d, const T* x, T* y, cudaStream_t stream);
template <typename T>
void interpolate_backward(const InterpolateDims& d, const T* grad_y, T* grad_x, cudaStream_t stream);
}  // namespace pyengine::cuda
