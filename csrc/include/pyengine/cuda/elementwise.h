// pyengine/cuda/elementwise.h — activations, dropout and the per-channel sum, on device pointers.
//
// Activations over n elements (any shape, dense):
//   relu        y = max(x, 0)                  dx = g·[x > 0]
//   leaky_relu  y = x > 0 ? x : slope·x        dx = g·(x > 0 ? 1 : slope)
//   elu         y = x > 0 ? x : α(eˣ − 1)      dx = g·(x > 0 ? 1 : α·eˣ)
//   sigmoid     y = 1/(1 + e⁻ˣ)                dx = g·y(1 − y)      (backward takes the output y)
//   tanh        y = tanh x                     dx = g·(1 − y²)      (backward takes the output y)
//   gelu (exact and tanh), silu, relu6, hardswish, hardsigmoid, softplus, mish, logsigmoid: as in
//   pyengine/activation.h, backward from x.
// y and dx are written. `param` is slope (leaky_relu) or α (elu), ignored otherwise.
//
// Dropout over n elements: mask[i] = keep(seed, i) (uint8), y[i] = x[i]·mask[i]/(1 − p), with the
// counter-based draw of pyengine/cuda/dropout_rng.h, the same as the reference's and the CPU
// kernel's, so every implementation gives the same mask for the same seed.
// Backward: dx = g·mask/(1 − p). p in [0, 1).
//
// channel_sum: x viewed as (A, C, B) → out[c] = scale · Σ_{a,b} x[a, c, b], written. It is the bias
// gradient of a convolution (A = N, B = OH·OW) and of a linear layer (A = N, B = 1).
#pragma once
#include <cstdint>

#include "pyengine/common.h"

namespace pyengine::cuda {

enum class Act : int {
  relu = 0, leaky_relu = 1, elu = 2, sigmoid = 3, tanh = 4, gelu = 5, gelu_tanh = 6, silu = 7, relu6 = 8,
  hardswish = 9, hardsigmoid = 10, softplus = 11, mish = 12, logsigmoid = 13
};

// param2 is softplus's threshold (param its beta); the equations of gelu .. logsigmoid are in
// pyengine/activation.h.
template <typename T>
void activation_forward(Act op, index_t n, const T* x, T* y, double param, cudaStream_t stream, double param2 = 0.0);
// `in` is the forward output y for sigmoid/tanh, x for every other op.
template <typename T>
void activation_backward(Act op, index_t n, const T* grad_output, const T* in, T* grad_input, double param,
                         cudaStream_t stream, double param2 = 0.0);

template <typename T>
void dropout_forward(index_t n, const T* x, T* y, std::uint8_t* mask, double p, std::uint64_t seed,
                     cudaStream_t stream);
template <typename T>
void dropout_backward(index_t n, const T* grad_output, const std::uint8_t* mask, T* grad_input, double p,
                      cudaStream_t stream);

// Channel dropout (pyengine/dropout.h): `channels` = N·C planes of S elements, mask (channels).
template <typename T>
void dropout_channels_forward(index_t channels, index_t S, const T* x, T* y, std::uint8_t* mask, double p,
                              std::uint64_t seed, cudaStream_t stream);
template <typename T>
void dropout_channels_backward(index_t channels, index_t S, const T* grad_output, const std::uint8_t* mask,
                               T* grad_input, double p, cudaStream_t stream);

template <typename T>
void channel_sum(index_t A, index_t C, index_t B, const T* x, T* out, double scale, cudaStream_t stream);

}  // namespace pyengine::cuda
