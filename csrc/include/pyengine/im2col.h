// pyengine/im2col.h — the geometry of a 2-D convolution, and im2col / col2im over it.
//
// Legend (common.h): x (N, C, H, W); weight (K, C/G, R, S); y (N, K, OH, OW); G groups;
// stride (sh, sw), zero padding (ph, pw), dilation (dh, dw);
//   OH = (H + 2·ph − dh·(R − 1) − 1) / sh + 1,   OW likewise.
// Columns of one image: cols (C·R·S, OH·OW), row c·R·S + r·S + s, column oh·OW + ow:
//   cols[c·R·S + r·S + s, oh·OW + ow] = x[c, oh·sh + r·dh − ph, ow·sw + s·dw − pw]  (0 outside x)
// col2im is its adjoint: x[c, h, w] = Σ over the (r, s, oh, ow) that read (h, w) of cols[...].
#pragma once
#include "pyengine/common.h"

namespace pyengine::cpu {

// Every size of one convolution (validated by the binding: all > 0 except N, H, W ≥ 0 ...).
struct ConvGeom {
  index_t N, C, H, W;      // input
  index_t K, R, S;         // weight (K, C/G, R, S)
  index_t OH, OW;          // output
  index_t G;               // groups: C % G == 0, K % G == 0
  index_t sh, sw, ph, pw, dh, dw;
};

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

}  // namespace pyengine::cpu
