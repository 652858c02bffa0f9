// pyengine/dropout.h — dropout with a counter-based mask (the same on every implementation).
//
// x, y (n) any shape flattened in C order; mask (n) uint8, 1 = kept. For element i:
//   key = mix64(seed ^ 0x5DEECE66D), z = mix64(key + (i + 1)·0x9E3779B97F4A7C15)   (mod 2^64)
//   mask[i] = (z >> 32) >= threshold,  threshold = ceil(p·2^32)
//   y[i] = x[i]·mask[i]·scale, scale = 1/(1 − p)         (y and mask written)
// mix64 is splitmix64's finaliser. The draw depends only on (seed, i): the result is the same for
// any thread count and matches pyengine/reference/dropout.py bit for bit.
// backward: grad_input[i] = grad_output[i]·mask[i]·scale (written).
//
// Channel dropout (Dropout1d, Dropout2d, Dropout3d): x (N, C, S) with S the product of the axes after
// the second (1 when there are none): one draw per channel, mask (N, C) from the same counter with
// i = n·C + c, y[n, c, s] = x[n, c, s]·mask[n, c]·scale; backward grad_input[n, c, s] =
// grad_output[n, c, s]·mask[n, c]·scale (written).
#pragma once
#include <cstdint>

#include "pyengine/common.h"

#if !defined(PYENGINE_ISA) && !defined(__CUDACC__)
#include "pyengine/check.h"

// The contract (csrc/bindings/bind_dropout.cpp, both devices): x float of any shape; p in [0, 1);
// seed an int in [0, 2**64); backward's mask uint8 of grad_output's shape.
namespace pyengine::contract {

inline double dropout_p(const char* fn, double p) {
  if (!(p >= 0.0 && p < 1.0)) value_error(fn, ": p must be in [0, 1), got ", p);
  return p;
}

inline DType dropout_backward(const char* fn, const Array& grad_output, const Array& mask) {
  float_array(fn, grad_output);
  if (mask.dtype != DType::u8) type_error(fn, ": mask must be uint8, got ", mask.dtype_name);
  shape_is(fn, mask, grad_output.shape);
  return grad_output.dtype;
}

// Channel dropout: x (N, C, ...) with at least 2 axes.
inline void dropout_channels_input(const char* fn, const Array& x) {
  float_array(fn, x);
  if (x.ndim() < 2)
    value_error(fn, ": ", x.name, " must have at least 2 axes (N, C, ...), got shape ", shape_str(x.shape));
}

// Channel dropout backward: mask uint8 (N, C) of grad_output's first two axes.
inline DType dropout_channels_backward(const char* fn, const Array& grad_output, const Array& mask) {
  dropout_channels_input(fn, grad_output);
  if (mask.dtype != DType::u8) type_error(fn, ": mask must be uint8, got ", mask.dtype_name);
  shape_is(fn, mask, {grad_output.shape[0], grad_output.shape[1]});
  return grad_output.dtype;
}

}  // namespace pyengine::contract
#endif

namespace pyengine::cpu {

std::uint64_t dropout_mix64(std::uint64_t z);

template <typename T>
void dropout_forward(index_t n, const T* x, std::uint64_t seed, std::uint64_t threshold, T scale, T* y,
                     std::uint8_t* mask);

template <typename T>
void dropout_backward(index_t n, const T* grad_output, const std::uint8_t* mask, T scale, T* grad_input);

// Channel dropout over `channels` = N·C planes of S elements each.
template <typename T>
void dropout_channels_forward(index_t channels, index_t S, const T* x, std::uint64_t seed, std::uint64_t threshold,
                              T scale, T* y, std::uint8_t* mask);
template <typename T>
void dropout_channels_backward(index_t channels, index_t S, const T* grad_output, const std::uint8_t* mask, T scale,
                               T* grad_input);

}  // namespace pyengine::cpu
