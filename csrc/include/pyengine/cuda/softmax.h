// pyengine/cuda/softmax.h — softmax, log-softmax and cross-entropy on device pointers.
//
// x is viewed as (O, D, I): O = product of the sizes before the axis, D the axis, I after it.
//   softmax      y = exp(x − max) / Σ exp(x − max)          dx = y·(g − Σ_d g·y)
//   log_softmax  y = x − max − log Σ exp(x − max)           dx = g − exp(y)·Σ_d g
// Outputs are written. With I == 1 one block reduces each row; otherwise one thread owns a column
// (o, i) and walks d, which keeps the loads coalesced over i.
//
// cross_entropy over logits (N, C) and int64 targets (N,):
//   loss_n = logsumexp(x_n) − x_n[t_n]; forward writes the N per-row losses (the caller reduces).
//   backward: dx[n, c] = g_n · (softmax(x_n)[c] − [c == t_n]), g_n = grad_output·scale (scalar,
//   `per_row` false) or grad_output[n] (`per_row` true).
// A target outside [0, C) (rejected by the Python layer) gives NaN, never an out-of-bounds read.
#pragma once
#include <cstdint>

#include "pyengine/common.h"

namespace pyengine::cuda {

template <typename T>
void softmax_forward(bool log, index_t O, index_t D, index_t I, const T* x, T* y, cudaStream_t stream);
template <typename T>
void softmax_backward(bool log, index_t O, index_t D, index_t I, const T* grad_output, const T* y, T* grad_input,
                      cudaStream_t stream);

template <typename T>
void cross_entropy_forward(index_t N, index_t C, const T* logits, const std::int64_t* target, T* losses,
                           cudaStream_t stream);
template <typename T>
void cross_entropy_backward(index_t N, index_t C, const T* grad_output, bool per_row, double scale, const T* logits,
                            const std::int64_t* target, T* grad_logits, cudaStream_t stream);

// The first n with target[n] outside [0, C), its value in *value; −1 when every target is a class
// index. scratch: one device int64. Waits for the stream (the binding raises before any kernel reads
// a bad target).
index_t first_bad_target(index_t N, index_t C, const std::int64_t* target, std::int64_t* scratch, std::int64_t* value,
                         cudaStream_t stream);

}  // namespace pyengine::cuda
