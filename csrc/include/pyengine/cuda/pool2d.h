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
#include <cstdint>

#include "pyengine/common.h"
#include "pyengine/pool2d.h"

namespace pyengine::cuda {

using PoolShape = ::pyengine::Pool2dShape;   // the geometry of pyengine/pool2d.h


template <typename T>
void max_pool2d_forward(const PoolShape& s, const T* x, T* y, std::int64_t* indices, cudaStream_t stream);
template <typename T>
void max_pool2d_backward_input(index_t NC, index_t HW, index_t OHW, const T* gy, const std::int64_t* indices,
                               T* gx, cudaStream_t stream);
// The same sum in index order, without atomics (whose order, with three or more windows sharing an
// input element, changes the float sum from run to run): done on the host, waiting for the stream.
// Picked under pyengine.use_deterministic_algorithms(True).
template <typename T>
void max_pool2d_backward_input_ordered(index_t NC, index_t HW, index_t OHW, const T* gy, const std::int64_t* indices,
                                       T* gx, cudaStream_t stream);
template <typename T>
void avg_pool2d_forward(const PoolShape& s, bool count_include_pad, const T* x, T* y, cudaStream_t stream);
template <typename T>
void avg_pool2d_backward_input(const PoolShape& s, bool count_include_pad, const T* gy, T* gx, cudaStream_t stream);
template <typename T>
void global_avg_pool2d_forward(index_t NC, index_t HW, const T* x, T* y, cudaStream_t stream);
template <typename T>
void global_avg_pool2d_backward_input(index_t NC, index_t HW, const T* gy, T* gx, cudaStream_t stream);

// The smallest and largest of n indices (n ≥ 1), for the range check of the backward: a reduction
// into scratch (2 device int64s), copied to range_host[0..1]; waits for the stream.
void index_range(index_t n, const std::int64_t* indices, std::int64_t* scratch, std::int64_t* range_host,
                 cudaStream_t stream);

}  // namespace pyengine::cuda
