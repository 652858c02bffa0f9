// pyengine/conv2d.h — 2-D convolution (PyTorch's conv2d: cross-correlation), forward and backward,
// and im2col / col2im over its geometry.
//
// Legend (common.h): x (N, C, H, W); weight (K, C/G, R, S); y (N, K, OH, OW); G groups;
// stride (sh, sw), zero padding (ph, pw), dilation (dh, dw);
//   OH = (H + 2·ph − dh·(R − 1) − 1) / sh + 1,   OW likewise.
// Columns of one image: cols (C·R·S, OH·OW), row c·R·S + r·S + s, column oh·OW + ow:
//   cols[c·R·S + r·S + s, oh·OW + ow] = x[c, oh·sh + r·dh − ph, ow·sw + s·dw − pw]  (0 outside x)
// col2im is its adjoint: x[c, h, w] = Σ over the (r, s, oh, ow) that read (h, w) of cols[...].
// Cg = C/G, Kg = K/G, L = OH·OW.
//
//   forward          y[n, k, oh, ow] = bias[k] + Σ_{c<Cg, r, s} weight[k, c, r, s] ·
//                                        x[n, (k / Kg)·Cg + c, oh·sh + r·dh − ph, ow·sw + s·dw − pw]
//   backward_input   grad_x = ∂⟨grad_y, y⟩/∂x   (N, C, H, W)
//   backward_weight  grad_w = ∂⟨grad_y, y⟩/∂w   (K, Cg, R, S), summed over the batch
//   backward_bias    grad_b[k] = Σ_{n, oh, ow} grad_y[n, k, oh, ow]
// Every output is written, never accumulated; bias may be null. N may be 0 (outputs of zero size,
// or zeros for grad_w / grad_b).
//
// Algorithms (csrc/cpu/conv2d.cpp picks per shape):
//  * groups 1, C >= 64, OH·OW <= 256, not pointwise (CIFAR ResNet's 128-, 256-, 512-channel 3×3
//    layers and its stride-2 downsampling 3×3 / 1×1 layers): one GEMM per chunk of images, their
//    columns side by side (CRS × nb·L): y = w · cols scattered to NCHW, grad_cols = wᵀ · grad_y
//    (gathered to K × nb·L) then col2im; backward weight this way on 4×4 outputs and strided
//    layers only. Chunks are bounded (the forward's columns inside L2) and go to threads;
//  * groups 1 (the digit-CNN, ResNet and MobileNet dense layers): register-blocked direct kernels
//    (csrc/cpu/isa/conv_s1_isa.cpp). Each image is laid out zero-padded with rows sharing their
//    padding (strided: split into its sh·sw stride phases, one plane each), so tap (c, r, s) of
//    output q = oh·Wp + ow reads input element off(c, r, s) + q: a GEMM whose B operand is the
//    image itself, shifted (no im2col). Forward: MR output channels × NV vectors of q per
//    micro-tile, accumulators started at the bias; fewer images than threads split each image's
//    tiles over the threads. Backward input (stride 1): the same kernel on grad_output with the
//    weights flipped and transposed. Backward weight: MR taps × NV vectors of output channels,
//    summed over q of every image into one partial per thread; for K ≤ 8 dot products along the
//    output rows instead;
//  * Winograd F(2×2, 3×3) / F(4×4, 3×3) for the float32 forward (and stride-1 backward input) of
//    the many-channel 3×3 stride-1 layers (csrc/cpu/isa/conv_winograd_isa.cpp; see below);
//  * direct row kernels (csrc/cpu/isa/conv_isa.cpp) for grouped shapes with small Cg·R·S
//    (depthwise) and the strided backward input with small Cg·R·S: row strips in registers
//    over a zero-padded copy (column phases when strided);
//  * im2col + GEMM otherwise: per image y_g = w_g · cols_g with the bias (and the ReLU) in the
//    GEMM's epilogue (gemm_ex), grad_cols = w_gᵀ · grad_y_g then col2im; grad_w as one
//    GEMM over the column buffer of a chunk of the batch laid side by side (the whole batch when
//    it fits the workspace budget). Images are spread over threads when there are enough of
//    them; otherwise the GEMM parallelises inside.
#pragma once
#include "pyengine/common.h"
#include "pyengine/isa_dispatch.h"

namespace pyengine {

// Every size of one convolution (checked by the contract below: all ≥ 1 except N, H, W ≥ 0).
struct ConvGeom {
  index_t N, C, H, W;      // input
  index_t K, R, S;         // weight (K, C/G, R, S)
  index_t OH, OW;          // output
  index_t G;               // groups: C % G == 0, K % G == 0
  index_t sh, sw, ph, pw, dh, dw;
};

}  // namespace pyengine

#if !defined(PYENGINE_ISA) && !defined(__CUDACC__)
#include <array>

#include "pyengine/check.h"

// The contract (csrc/bindings/bind_conv2d.cpp, both devices): one geometry check shared by forward,
// every backward and im2col/col2im, so that they accept the same inputs and agree on the output
// size. It rejects stride < 1, padding < 0, dilation < 1, groups < 1 (while the parameters are
// read), groups not dividing C or K, weight channels not matching x, an empty kernel, a kernel span
// larger than the padded input, and sizes whose products overflow 64-bit integers.
namespace pyengine::contract {

inline index_t conv2d_output_size(const char* fn, const char* what, index_t size, index_t k, index_t stride,
                                  index_t pad, index_t dil) {
  const index_t span = checked_add(fn, "kernel span", checked_mul(fn, "kernel span", dil, k - 1), 1);
  const index_t padded = checked_add(fn, "padded input size", size, checked_mul(fn, "padding", 2, pad));
  if (padded < span)
    value_error(fn, ": kernel ", what, " ", k, " (dilation ", dil, ", span ", span, ") is larger than the padded input ",
                what, " ", size, " + 2*", pad, " = ", padded);
  return (padded - span) / stride + 1;
}

// input (N, C, H, W), weight (K, C/groups, R, S); stride, padding, dilation, groups already read.
inline ConvGeom conv2d(const char* fn, const std::vector<index_t>& input, const std::vector<index_t>& weight,
                       std::array<index_t, 2> stride, std::array<index_t, 2> padding, std::array<index_t, 2> dilation,
                       index_t groups) {
  ConvGeom g{};
  g.N = input[0]; g.C = input[1]; g.H = input[2]; g.W = input[3];
  g.K = weight[0]; g.R = weight[2]; g.S = weight[3];
  g.G = groups;
  const index_t cg = weight[1];
  if (g.K < 1) value_error(fn, ": weight must have at least one output channel, got shape ", shape_str(weight));
  if (g.R < 1 || g.S < 1)
    value_error(fn, ": weight kernel size must be >= 1, got ", g.R, "x", g.S, " (weight shape ", shape_str(weight), ")");
  if (g.C % g.G != 0) value_error(fn, ": groups ", g.G, " does not divide the ", g.C, " input channels of x");
  if (g.K % g.G != 0) value_error(fn, ": groups ", g.G, " does not divide the ", g.K, " output channels of weight");
  if (cg < 1 || checked_mul(fn, "weight channels", cg, g.G) != g.C) {
    const index_t expect = cg * g.G;
    if (g.G != 1)
      value_error(fn, ": weight expects ", expect, " input channels (", cg, " per group x ", g.G, " groups), x has ", g.C);
    value_error(fn, ": weight expects ", expect, " input channels, x has ", g.C);
  }
  g.sh = stride[0]; g.sw = stride[1]; g.ph = padding[0]; g.pw = padding[1]; g.dh = dilation[0]; g.dw = dilation[1];
  g.OH = conv2d_output_size(fn, "height", g.H, g.R, g.sh, g.ph, g.dh);
  g.OW = conv2d_output_size(fn, "width", g.W, g.S, g.sw, g.pw, g.dw);
  checked_numel(fn, "input shape", {g.N, g.C, g.H, g.W});
  checked_numel(fn, "output shape", {g.N, g.K, g.OH, g.OW});
  checked_numel(fn, "column shape",
                {g.N, checked_numel(fn, "column shape", {g.C, g.R, g.S}), checked_mul(fn, "column shape", g.OH, g.OW)});
  checked_numel(fn, "padded input shape", {g.N, g.C, checked_add(fn, "padded input shape", g.H, 2 * g.ph),
                                           checked_add(fn, "padded input shape", g.W, 2 * g.pw)});
  return g;
}

inline std::vector<index_t> conv2d_output_shape(const ConvGeom& g) { return {g.N, g.K, g.OH, g.OW}; }

}  // namespace pyengine::contract
#endif

namespace pyengine::cpu {

// One image, `channels` channels starting at x: writes cols (channels·R·S, OH·OW) with row
// stride ld ≥ OH·OW (so a batch can be laid side by side in one column buffer).
template <typename T>
void im2col_image(const ConvGeom& g, index_t channels, const T* x, T* cols, index_t ld);

// One image: x (channels, H, W) = col2im(cols); x is written (not accumulated).
template <typename T>
void col2im_image(const ConvGeom& g, index_t channels, const T* cols, index_t ld, T* x);

// Whole batch, parallel over images: cols (N, C·R·S, OH·OW) written from x (N, C, H, W).
template <typename T>
void im2col(const ConvGeom& g, const T* x, T* cols);

// Whole batch: x (N, C, H, W) written from cols (N, C·R·S, OH·OW), overlaps summed.
template <typename T>
void col2im(const ConvGeom& g, const T* cols, T* x);

// relu: y = max(conv + bias, 0) (NaN stays NaN), applied as each output tile is stored — the fused
// epilogue of conv + bias + ReLU for inference, no second pass over y.
template <typename T>
void conv2d_forward(const ConvGeom& g, const T* x, const T* weight, const T* bias, T* y, bool relu = false);

template <typename T>
void conv2d_backward_input(const ConvGeom& g, const T* grad_y, const T* weight, T* grad_x);

template <typename T>
void conv2d_backward_weight(const ConvGeom& g, const T* grad_y, const T* x, T* grad_w);

// Bytes of scratch memory a pass takes besides its output (the padded images, column buffers and
// packed weights of the algorithm it picks), so that the binding can refuse a request the machine
// cannot hold before anything is allocated.
enum class Conv2dPass { forward, backward_input, backward_weight };
double conv2d_workspace_bytes(const ConvGeom& g, index_t elem_size, Conv2dPass pass);

// grad_y (N, K, L) → grad_b (K,)
template <typename T>
void conv2d_backward_bias(index_t N, index_t K, index_t L, const T* grad_y, T* grad_b);

// ---- the per-ISA kernels (csrc/cpu/isa/conv2d_isa.cpp registers one copy per instruction set)
PE_ISA_KERNEL(conv_direct_forward_f, void(const ConvGeom&, const float*, const float*, const float*, float*, bool));
PE_ISA_KERNEL(conv_direct_forward_d, void(const ConvGeom&, const double*, const double*, const double*, double*,
              bool));
PE_ISA_KERNEL(conv_direct_backward_input_f, void(const ConvGeom&, const float*, const float*, float*));
PE_ISA_KERNEL(conv_direct_backward_input_d, void(const ConvGeom&, const double*, const double*, double*));
PE_ISA_KERNEL(conv_direct_backward_weight_f, void(const ConvGeom&, const float*, const float*, float*));
PE_ISA_KERNEL(conv_direct_backward_weight_d, void(const ConvGeom&, const double*, const double*, double*));
PE_ISA_KERNEL(conv_s1_f, void(const ConvGeom&, const float*, const float*, const float*, float*, bool));
PE_ISA_KERNEL(conv_s1_d, void(const ConvGeom&, const double*, const double*, const double*, double*, bool));
PE_ISA_KERNEL(conv_s1_bw_f, void(const ConvGeom&, const float*, const float*, float*));
PE_ISA_KERNEL(conv_s1_bw_d, void(const ConvGeom&, const double*, const double*, double*));

// Winograd F(m×m, 3×3), m = 2 or 4 (csrc/cpu/isa/conv_winograd_isa.cpp): the forward of a float32
// convolution with R = S = 3, stride 1, dilation 1, groups 1, any padding; x (N, C, H, W), weight
// (K, C, 3, 3), bias (K) or null, y (N, K, OH, OW) written (+ ReLU when relu). With α = m + 2, the
// output tile of m×m at (oh0, ow0) = (m·ty, m·tx) and its input patch d[c] (α×α, from
// x[n, c, oh0 − ph, ow0 − pw], zero outside x):
//   U[ξ][c][k] = (G · weight[k, c] · Gᵀ)[ξ]                    filter transform,  G (α×3)
//   V[ξ][c][t] = (Bᵀ · d[c] · B)[ξ]                            input transform,   Bᵀ (α×α)
//   Mo[ξ][k][t] = Σ_c U[ξ][c][k] · V[ξ][c][t]                  α² GEMMs (tiles × C times C × K)
//   y tile[k] = bias[k] + Aᵀ · Mo[·][k][t] · A                   output transform,  Aᵀ (m×α)
// (the matrices of F(2,3) and F(4,3) are in the .cpp; tiles past OH / OW are computed and cropped).
// α² products per (k, c) and tile instead of 9·m²: 2.25× fewer for m = 2, 4× for m = 4, at the cost
// of a larger rounding error (bench/NOTES.md, "Winograd"). Returns false, having written y only in
// part, when an input or weight is not finite or beyond 1e15 in magnitude (the transforms would
// overflow, or turn an inf into NaN) or the workspace is not there: the caller then runs another
// algorithm. flipped: weight is instead the (C, K, 3, 3) weight of the convolution whose backward
// input this one is (grad_output in, grad_x out), read as weight[k, c, r, s] = w[c, k, 2 − r, 2 − s].
// conv_winograd_workspace_f: the bytes of scratch memory it takes.
PE_ISA_KERNEL(conv_winograd_f, bool(const ConvGeom&, int m, bool flipped, const float*, const float*, const float*,
                                    float*, bool));
PE_ISA_KERNEL(conv_winograd_workspace_f, double(const ConvGeom&, int m));

}  // namespace pyengine::cpu
