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
//       least one input element (checked by the binding).
//       backward: grad_input (written, zero where no index points) [n,c].flat[idx] += grad_output.
//       Returns the number of indices outside [0, H·W) (skipped); the binding raises when it is > 0.
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

namespace pyengine::cpu {

struct Pool2dShape {
  index_t N, C, H, W;
  index_t kh, kw, sh, sw, ph, pw, dh, dw;
  index_t OH, OW;
};

template <typename T>
void max_pool2d_forward(const Pool2dShape& s, const T* x, T* y, std::int64_t* indices);

template <typename T>
index_t max_pool2d_backward_input(const Pool2dShape& s, const T* grad_output, const std::int64_t* indices,
                                  T* grad_input);

template <typename T>
void avg_pool2d_forward(const Pool2dShape& s, bool count_include_pad, const T* x, T* y);

template <typename T>
void avg_pool2d_backward_input(const Pool2dShape& s, bool count_include_pad, const T* grad_output, T* grad_input);

template <typename T>
void global_avg_pool2d_forward(index_t planes, index_t hw, const T* x, T* y);

template <typename T>
void global_avg_pool2d_backward_input(index_t planes, index_t hw, const T* grad_output, T* grad_input);

}  // namespace pyengine::cpu
