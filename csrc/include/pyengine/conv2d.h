// pyengine/conv2d.h — 2-D convolution (PyTorch's conv2d: cross-correlation), forward and backward.
//
// Legend and geometry: pyengine/im2col.h (ConvGeom). Cg = C/G, Kg = K/G, L = OH·OW.
//   forward          y[n, k, oh, ow] = bias[k] + Σ_{c<Cg, r, s} weight[k, c, r, s] ·
//                                        x[n, (k / Kg)·Cg + c, oh·sh + r·dh − ph, ow·sw + s·dw − pw]
//   backward_input   grad_x = ∂⟨grad_y, y⟩/∂x   (N, C, H, W)
//   backward_weight  grad_w = ∂⟨grad_y, y⟩/∂w   (K, Cg, R, S), summed over the batch
//   backward_bias    grad_b[k] = Σ_{n, oh, ow} grad_y[n, k, oh, ow]
// Every output is written, never accumulated; bias may be null. N may be 0 (outputs of zero size,
// or zeros for grad_w / grad_b).
//
// Algorithms (csrc/cpu/conv2d.cpp picks per shape):
//  * stride 1, groups 1 (the digit-CNN and ResNet 3×3 layers): register-blocked direct kernels
//    (csrc/cpu/isa/conv_s1_isa.cpp). Each image is laid out zero-padded with rows sharing their
//    padding, so tap (c, r, s) of output q = oh·Wp + ow reads input element off(c, r, s) + q: a
//    GEMM whose B operand is the image itself, shifted (no im2col). Forward: MR output channels ×
//    NV vectors of q per micro-tile, accumulators started at the bias. Backward input: the same
//    kernel on grad_output with the weights flipped and transposed. Backward weight: MR taps ×
//    NV vectors of output channels, summed over q of every image into one partial per thread;
//  * direct row kernels (csrc/cpu/isa/conv_isa.cpp) for other shapes with small Cg·R·S
//    (depthwise, strided first layers): vector FMAs along ow over a zero-padded copy;
//  * im2col + GEMM otherwise: per image y_g = w_g · cols_g with the bias (and the ReLU) in the
//    GEMM's epilogue (gemm_ex), grad_cols = w_gᵀ · grad_y_g then col2im; grad_w as one
//    GEMM over the column buffer of a chunk of the batch laid side by side (the whole batch when
//    it fits the workspace budget). Images are spread over threads when there are enough of
//    them; otherwise the GEMM parallelises inside.
#pragma once
#include "pyengine/im2col.h"

namespace pyengine::cpu {

// relu: y = max(conv + bias, 0) (NaN stays NaN), applied as each output tile is stored — the fused
// epilogue of conv + bias + ReLU for inference, no second pass over y.
template <typename T>
void conv2d_forward(const ConvGeom& g, const T* x, const T* weight, const T* bias, T* y, bool relu = false);

template <typename T>
void conv2d_backward_input(const ConvGeom& g, const T* grad_y, const T* weight, T* grad_x);

template <typename T>
void conv2d_backward_weight(const ConvGeom& g, const T* grad_y, const T* x, T* grad_w);

// grad_y (N, K, L) → grad_b (K,)
template <typename T>
void conv2d_backward_bias(index_t N, index_t K, index_t L, const T* grad_y, T* grad_b);

}  // namespace pyengine::cpu
