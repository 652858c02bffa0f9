// pyengine/image.h — the data loader's per-image fast path: crop (with zero padding), horizontal
// flip, uint8 → float32 in [0, 1], HWC → CHW and per-channel normalisation, in one pass.
//
// src uint8 (H, W, C) with byte strides (sh, sw, sc) (a grayscale (H, W) image is C = 1); out
// float32 (C, OH, OW), written. The crop window's corner (top, left) is in src's coordinates and
// may lie outside it (the zero padding of RandomCrop): a pixel outside src is 0. With
//   x' = flip ? OW − 1 − x : x,   p = src[top + y, left + x', c] (0 outside),
//   out[c, y, x] = (float(p) · (1/255) − mean[c]) / std[c]
// in float32, one rounding per operation, in this order: bit for bit what
// pyengine.data.transforms' Compose([RandomCrop, RandomHorizontalFlip, ToTensor, Normalize]) computes
// with NumPy one step at a time (mean 0 and std 1 give ToTensor alone exactly).
//
// Algorithm (csrc/cpu/image.cpp): per output row, the source row's taps are gathered (strided,
// reversed when flipped) into the output row as floats, then one contiguous loop scales and
// normalises it (the compiler vectorises it; IEEE division, no reciprocal, so the bits match).
// One thread: the loader parallelises over images (workers), and one 224×224 image is ~0.1 ms.
#pragma once
#include <cstdint>

#include "pyengine/common.h"

namespace pyengine::cpu {

void crop_flip_to_tensor(const std::uint8_t* src, index_t H, index_t W, index_t C, index_t sh, index_t sw,
                         index_t sc, index_t top, index_t left, index_t OH, index_t OW, bool flip,
                         const float* mean, const float* std, float* out);

}  // namespace pyengine::cpu
