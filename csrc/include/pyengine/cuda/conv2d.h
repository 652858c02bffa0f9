// pyengine/cuda/conv2d.h — im2col/col2im and 2-D convolution (NCHW) on device pointers.
//
// Shapes: x (N, C, H, W), weight (K, C/G, R, S), bias (K,), y (N, K, OH, OW), G groups,
//   OH = (H + 2·ph − dh·(R−1) − 1)/sh + 1, OW likewise; P = OH·OW; CRS = C·R·S.
// im2col: cols (N, CRS, P), cols[n, (c·R + r)·S + s, oh·OW + ow] = x[n, c, oh·sh − ph + r·dh,
//   ow·sw − pw + s·dw] (0 outside the input). Written.
// col2im: x[n, c, h, w] = Σ of the cols entries that im2col would read from (n, c, h, w). Written
//   (each input element gathers its own sum: no atomics, deterministic).
//
// conv2d_forward:  y[n, g] = W[g] · cols[n, g] + bias      (W[g]: Kg × CgRS, cols[n, g]: CgRS × P)
// conv2d_backward_input:  cols[n, g] = W[g]ᵀ · gy[n, g], then col2im → grad_x (written)
// conv2d_backward_weight: gW[g] = Σ_n gy[n, g] · cols[n, g]ᵀ  (written; one GEMM per chunk of images,
//   reducing over (image, pixel) through the GEMM's segmented k index)
// conv2d_backward_bias is channel_sum (elementwise.h).
// The batch is processed in chunks of `chunk` images whose columns fit the caller's workspace of
// chunk·CRS·P elements (conv2d_chunk picks it); a 1×1, stride-1, unpadded convolution needs no
// columns (the input is its own column matrix). A forward convolution whose CgRS is at most 32 runs
// a direct kernel instead (one thread per output, the few taps unrolled from registers).
#pragma once
#include "pyengine/common.h"
#include "pyengine/conv2d.h"

namespace pyengine::cuda {

using ConvShape = ::pyengine::ConvGeom;   // the geometry of pyengine/conv2d.h

// Images per chunk for a workspace budget of `budget_elems` (at least 1 image); 0 when the
// convolution needs no column workspace at all.
index_t conv2d_chunk(const ConvShape& s, index_t budget_elems, bool direct_ok);
bool conv2d_is_pointwise(const ConvShape& s);
bool conv2d_direct_ok(const ConvShape& s);

template <typename T>
void im2col(const ConvShape& s, const T* x, T* cols, cudaStream_t stream);
template <typename T>
void col2im(const ConvShape& s, const T* cols, T* x, cudaStream_t stream);

template <typename T>
void conv2d_forward(const ConvShape& s, const T* x, const T* w, const T* bias, T* y, T* workspace, index_t chunk,
                    bool tf32, cudaStream_t stream);
template <typename T>
void conv2d_backward_input(const ConvShape& s, const T* gy, const T* w, T* gx, T* workspace, index_t chunk,
                           bool tf32, cudaStream_t stream);
template <typename T>
void conv2d_backward_weight(const ConvShape& s, const T* gy, const T* x, T* gw, T* workspace, index_t chunk,
                            bool tf32, cudaStream_t stream);

}  // namespace pyengine::cuda
