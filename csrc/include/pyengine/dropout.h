// pyengine/dropout.h — dropout with a counter-based mask (the same on every implementation).
//
// x, y (n) any shape flattened in C order; mask (n) uint8, 1 = kept. For element i:
//   key = mix64(seed ^ 0x5DEECE66D), z = mix64(key + (i + 1)·0x9E3779B97F4A7C15)   (mod 2^64)
//   mask[i] = (z >> 32) >= threshold,  threshold = ceil(p·2^32)
//   y[i] = x[i]·mask[i]·scale, scale = 1/(1 − p)         (y and mask written)
// mix64 is splitmix64's finaliser. The draw depends only on (seed, i): the result is the same for
// any thread count and matches pyengine/reference/dropout.py bit for bit.
// backward: grad_input[i] = grad_output[i]·mask[i]·scale (written).
#pragma once
#include <cstdint>

#include "pyengine/common.h"

namespace pyengine::cpu {

std::uint64_t dropout_mix64(std::uint64_t z);

template <typename T>
void dropout_forward(index_t n, const T* x, std::uint64_t seed, std::uint64_t threshold, T scale, T* y,
                     std::uint8_t* mask);

template <typename T>
void dropout_backward(index_t n, const T* grad_output, const std::uint8_t* mask, T scale, T* grad_input);

}  // namespace pyengine::cpu
