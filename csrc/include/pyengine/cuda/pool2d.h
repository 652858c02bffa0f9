// pyengine/cuda/pool2d.h — max, average and global-average pooling (NCHW) on device pointers.
//
// Shapes: x (N, C, H, W), y and indices (N, C, OH, OW); window kh×kw, stride sh×sw, padding ph×pw,
// dilation dh×dw (max only); OH/OW computed by the caller (PyTorch's rule, ceil_mode included).
// max:  y = max over the window's in-input taps (NaN propagates), indices = h·W + w of the first
//       maximum (int64). backward: gx[n,c,h,w] = Σ g over the outputs whose index is h·W + w
//       (gx zeroed, then atomic adds; an index outside [0, H·W) is skipped, never written).
// avg:  y = Σ over in-input taps / divisor; divisor = (window clipped to the padded input) area with
//       count_include_pad, else the area clipped to the input. backward gathers g/divisor.
// global: y[n, c] = mean over H·W; backward gx = g[n, c] / (H·W). Everything is written.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "pyengine/common.h"

namespace pyengine::cuda {

struct PoolShape {
  index_t N, C, H, W, OH, OW;
  index_t kh, kw, sh, sw, ph, pw, dh, dw;
};

template <typename T>
void max_pool2d_forward(const PoolShape& s, const T* x, T* y, std::int64_t* indices, cudaStream_t stream);
template <typename T>
void max_pool2d_backward_input(index_t NC, index_t HW, index_t OHW, const T* gy, const std::int64_t* indices,
                               T* gx, cudaStream_t stream);
template <typename T>
void avg_pool2d_forward(const PoolShape& s, bool count_include_pad, const T* x, T* y, cudaStream_t stream);
template <typename T>
void avg_pool2d_backward_input(const PoolShape& s, bool count_include_pad, const T* gy, T* gx, cudaStream_t stream);
template <typename T>
void global_avg_pool2d_forward(index_t NC, index_t HW, const T* x, T* y, cudaStream_t stream);
template <typename T>
void global_avg_pool2d_backward_input(index_t NC, index_t HW, const T* gy, T* gx, cudaStream_t stream);

}  // namespace pyengine::cuda
