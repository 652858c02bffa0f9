// pyengine/pool2d.h — 2-D max, average and global average pooling over NCHW planes.
//
// x (N, C, H, W) → y (N, C, OH, OW), window kh×kw, stride sh×sw, padding ph×pw, dilation dh×dw:
//   output (oh, ow) reads rows oh·sh − ph + i·dh (i < kh) and columns ow·sw − pw + j·dw (j < kw)
//   that lie inside the input.   OH = floor((H + 2·ph − dh·(kh−1) − 1)/sh) + 1 (ceil with ceil_mode,
//   the last window starting inside the input or left padding) — computed and validated by the binding.
//
// max:  y = max over the window, scanned row by row; a value replaces the running maximum when it is
//       greater or NaN, so ties keep the FIRST maximum and NaN wins (PyTorch's rule).
//       indices (N, C, OH, OW) int64 = h·W + w of the maximum in its plane. Every window holds at
//       least one input element (checked by the binding). Or, with window_indices (CPU only), uint8
//       taps i·kw + j of the maximum inside its window (kh·kw ≤ 256): an eighth of the bytes to
//       write and read back; the backward then needs the window geometry to place them.
//       backward: grad_input (written, zero where no index points) [n,c].flat[idx] += grad_output.
//       Returns the number of indices outside [0, H·W) (taps: past the window or on padding), which
//       are skipped; the binding raises when it is > 0.
// avg:  y = Σ window / divisor, divisor = area of the window clipped to the padded input
//       (count_include_pad) or the number of input elements in it. backward: each covered input
//       element receives grad_output/divisor (grad_input written).
// global avg: y (N, C) = mean over H·W; backward grad_input = grad_output/(H·W) (written).
//
// Algorithm (csrc/cpu/isa/pool2d_isa.cpp): parallel over the N·C planes. The common 2×2 stride-2
// unpadded case has a vector path on AVX2/AVX-512 (rows deinterleaved into the four window corners, 8 outputs at a
// time, the last chunk of a row overlapping the previous one); its backward writes each 2×2 block
// once (value or zero) instead of zeroing the plane and scattering. Other shapes use a scalar
// loop that walks each output row once per window tap.
#pragma once
#include "pyengine/common.h"
#include "pyengine/isa_dispatch.h"

namespace pyengine {

// Every size of one pooling: input (N, C, H, W), window, stride, padding, dilation, output.
struct Pool2dShape {
  index_t N, C, H, W;
  index_t kh, kw, sh, sw, ph, pw, dh, dw;
  index_t OH, OW;
};

}  // namespace pyengine

#if !defined(PYENGINE_ISA) && !defined(__CUDACC__)
#include <array>

#include "pyengine/check.h"

// The contract (csrc/bindings/bind_pool2d.cpp, both devices). PyTorch's limits: C, H, W >= 1 (the
// batch may be empty), kernel >= 1, stride >= 1 (default: the kernel), padding >= 0 and at most
// half the kernel, dilation >= 1, the output at least 1 × 1, and no max-pooling window that covers
// only padding (possible with a large dilation).
namespace pyengine::contract {

inline void pool2d_planes(const char* fn, const char* name, const std::vector<index_t>& shape) {
  if (shape[1] < 1 || shape[2] < 1 || shape[3] < 1)
    value_error(fn, ": ", name, " must have non-zero channels, height and width (only the batch may be empty), got "
                "shape ", shape_str(shape));
  checked_numel(fn, cat(name, " shape").c_str(), shape);
}

// floor((size + 2·p − d·(k − 1) − 1) / s) + 1 (ceil with ceil_mode, the last window starting inside
// the input or the left padding), as the reference's conv_output_size.
inline index_t pool2d_output_size(const char* fn, const char* what, index_t size, index_t k, index_t s, index_t p,
                                  index_t d, bool ceil_mode) {
  const index_t span = checked_add(fn, "kernel span", checked_mul(fn, "kernel span", d, k - 1), 1);
  const index_t padded = checked_add(fn, "padded input size", size, checked_mul(fn, "padding", 2, p));
  if (padded < span)
    value_error(fn, ": kernel ", what, " ", k, " (dilation ", d, ", span ", span, ") is larger than the padded input ",
                what, " ", size, " + 2*", p, " = ", padded);
  const index_t numer = padded - span;
  index_t out = (ceil_mode ? (numer + s - 1) / s : numer / s) + 1;
  if (ceil_mode && (out - 1) * s >= size + p) --out;
  return out;
}

// The first output whose window holds no input element, or −1. Only windows that start in the
// left padding can (a window starting inside the input holds its first tap).
inline index_t pool2d_padding_only(index_t size, index_t out, index_t k, index_t s, index_t p, index_t d) {
  for (index_t o = 0; o < out && o * s < p; ++o) {
    const index_t start = o * s - p;
    const index_t first = (-start + d - 1) / d;   // the first tap at or after position 0
    if (first >= k || start + first * d >= size) return o;
  }
  return -1;
}

// in: (N, C, H, W), already checked by pool2d_planes.
inline Pool2dShape pool2d(const char* fn, const std::vector<index_t>& in, std::array<index_t, 2> k,
                          std::array<index_t, 2> st, std::array<index_t, 2> pad, std::array<index_t, 2> dil,
                          bool ceil_mode) {
  if (pad[0] > k[0] / 2 || pad[1] > k[1] / 2)
    value_error(fn, ": padding must be at most half the kernel size, got padding (", pad[0], ", ", pad[1],
                ") for kernel_size (", k[0], ", ", k[1], ")");
  Pool2dShape g{in[0], in[1], in[2], in[3], k[0], k[1], st[0], st[1], pad[0], pad[1], dil[0], dil[1], 0, 0};
  g.OH = pool2d_output_size(fn, "height", g.H, g.kh, g.sh, g.ph, g.dh, ceil_mode);
  g.OW = pool2d_output_size(fn, "width", g.W, g.kw, g.sw, g.pw, g.dw, ceil_mode);
  const index_t bad_row = pool2d_padding_only(g.H, g.OH, g.kh, g.sh, g.ph, g.dh);
  if (bad_row >= 0)
    value_error(fn, ": the pooling window of output row ", bad_row, " covers only padding (kernel ", g.kh, ", stride ",
                g.sh, ", padding ", g.ph, ", dilation ", g.dh, ", input size ", g.H, ")");
  const index_t bad_col = pool2d_padding_only(g.W, g.OW, g.kw, g.sw, g.pw, g.dw);
  if (bad_col >= 0)
    value_error(fn, ": the pooling window of output column ", bad_col, " covers only padding (kernel ", g.kw,
                ", stride ", g.sw, ", padding ", g.pw, ", dilation ", g.dw, ", input size ", g.W, ")");
  checked_numel(fn, "output shape", {g.N, g.C, g.OH, g.OW});
  return g;
}

// Window taps are uint8: the kernel's area must fit.
inline void pool2d_window_indices(const char* fn, const Pool2dShape& g) {
  if (g.kh * g.kw > 256)
    value_error(fn, ": window_indices needs a kernel of at most 256 elements (they are uint8), got kernel_size (",
                g.kh, ", ", g.kw, ")");
}

// max_pool2d_backward_input: grad_output (N, C, OH, OW) float, indices int64 of its shape (or uint8
// window taps, with the forward's kernel_size: `window`), input_shape (N, C, H, W) with grad_output's
// batch and channels.
inline void max_pool2d_backward(const char* fn, const Array& grad_output, const Array& indices,
                                const std::vector<index_t>& input_shape, bool window) {
  if (indices.dtype == DType::u8 && !window)
    value_error(fn, ": uint8 indices are window taps and need the forward's kernel_size (with its stride, "
                "padding, dilation and ceil_mode)");
  if (indices.dtype != DType::i64 && indices.dtype != DType::u8)
    type_error(fn, ": indices must be int64 (flat positions) or uint8 (window taps), got ", indices.dtype_name);
  shape_is(fn, indices, grad_output.shape);
  pool2d_planes(fn, "input_shape", input_shape);
  if (input_shape[0] != grad_output.dim(0) || input_shape[1] != grad_output.dim(1))
    value_error(fn, ": input_shape ", shape_str(input_shape), " has batch and channels ",
                shape_str({input_shape[0], input_shape[1]}), " but grad_output has ",
                shape_str({grad_output.dim(0), grad_output.dim(1)}));
}

[[noreturn]] inline void pool2d_bad_indices(const char* fn, index_t hw, std::int64_t lo, std::int64_t hi) {
  value_error(fn, ": indices must lie in [0, H*W) = [0, ", hw, "), got values from ", lo, " to ", hi);
}

[[noreturn]] inline void pool2d_bad_taps(const char* fn, const Pool2dShape& g, std::int64_t lo, std::int64_t hi) {
  value_error(fn, ": window indices must be taps in [0, kh*kw) = [0, ", g.kh * g.kw,
              ") that fall inside the input, got values from ", lo, " to ", hi);
}

}  // namespace pyengine::contract
#endif

namespace pyengine::cpu {

template <typename T>
void max_pool2d_forward(const Pool2dShape& s, const T* x, T* y, std::int64_t* indices);

template <typename T>
index_t max_pool2d_backward_input(const Pool2dShape& s, const T* grad_output, const std::int64_t* indices,
                                  T* grad_input);

// The same with uint8 window taps; s is the forward's whole geometry.
template <typename T>
void max_pool2d_forward(const Pool2dShape& s, const T* x, T* y, std::uint8_t* taps);
template <typename T>
index_t max_pool2d_backward_input(const Pool2dShape& s, const T* grad_output, const std::uint8_t* taps,
                                  T* grad_input);

template <typename T>
void avg_pool2d_forward(const Pool2dShape& s, bool count_include_pad, const T* x, T* y);

template <typename T>
void avg_pool2d_backward_input(const Pool2dShape& s, bool count_include_pad, const T* grad_output, T* grad_input);

template <typename T>
void global_avg_pool2d_forward(index_t planes, index_t hw, const T* x, T* y);

template <typename T>
void global_avg_pool2d_backward_input(index_t planes, index_t hw, const T* grad_output, T* grad_input);

// ---- the per-ISA kernels (csrc/cpu/isa/pool2d_isa.cpp registers one copy per instruction set)
PE_ISA_KERNEL(max_pool_fwd_f32, void(const Pool2dShape&, const float*, float*, std::int64_t*));
PE_ISA_KERNEL(max_pool_fwd_f64, void(const Pool2dShape&, const double*, double*, std::int64_t*));
PE_ISA_KERNEL(max_pool_bwd_f32, index_t(const Pool2dShape&, const float*, const std::int64_t*, float*));
PE_ISA_KERNEL(max_pool_bwd_f64, index_t(const Pool2dShape&, const double*, const std::int64_t*, double*));
PE_ISA_KERNEL(max_pool_fwd_taps_f32, void(const Pool2dShape&, const float*, float*, std::uint8_t*));
PE_ISA_KERNEL(max_pool_fwd_taps_f64, void(const Pool2dShape&, const double*, double*, std::uint8_t*));
PE_ISA_KERNEL(max_pool_bwd_taps_f32, index_t(const Pool2dShape&, const float*, const std::uint8_t*, float*));
PE_ISA_KERNEL(max_pool_bwd_taps_f64, index_t(const Pool2dShape&, const double*, const std::uint8_t*, double*));
PE_ISA_KERNEL(avg_pool_fwd_f32, void(const Pool2dShape&, bool, const float*, float*));
PE_ISA_KERNEL(avg_pool_fwd_f64, void(const Pool2dShape&, bool, const double*, double*));
PE_ISA_KERNEL(avg_pool_bwd_f32, void(const Pool2dShape&, bool, const float*, float*));
PE_ISA_KERNEL(avg_pool_bwd_f64, void(const Pool2dShape&, bool, const double*, double*));

}  // namespace pyengine::cpu
