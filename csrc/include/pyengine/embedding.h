// pyengine/embedding.h — embedding lookup (PyTorch's embedding / embedding_dense_backward).
//
// Shapes: weight (V, D), indices (*) int64 with n elements, out (*, D).
//   forward:  out[k, :] = weight[indices[k], :]
//   backward: grad_weight[v, :] = s_v · Σ over the k with indices[k] = v, in increasing k, of grad_output[k, :]
//             s_v = 1/count(v) with scale_grad_by_freq, else 1; the padding_idx row is 0.
// grad_weight is written (zero for rows no index names), never accumulated. Every index must lie in
// [0, V): the kernels count the others (skipped) and the binding raises.
//
// Algorithm, CPU (csrc/cpu/isa/embedding_isa.cpp, one copy per ISA): forward copies rows, lookups
// over threads. Backward is a deterministic scatter-add: a counting sort of the positions by index
// (counts, exclusive prefix sums, then the positions placed in increasing k, so each row's list is
// in order), then rows v over threads, each summing its list of grad_output rows in that order —
// no atomics, the same bits for any thread count.
// CUDA (csrc/cuda/embedding.cu): forward one thread per output element. Backward: CUB's stable radix
// sort of (index, position) pairs, the start of each row's run, then one thread per (v, d) summing
// its run in position order — deterministic. An index check (a min/max reduction) runs first.
#pragma once
#include <cstdint>

#include "pyengine/common.h"
#include "pyengine/isa_dispatch.h"

namespace pyengine {
struct EmbeddingDims {
  index_t V, D, n;   // weight (V, D), n lookups
};
}  // namespace pyengine

#if !defined(PYENGINE_ISA) && !defined(__CUDACC__)
#include <algorithm>

#include "pyengine/check.h"

// The contract (csrc/bindings/bind_embedding.cpp, both devices), with the reference's messages.
// forward: weight a 2-D float array (V may be 0 only with no lookups), indices int64 of any shape.
// backward: grad_output float of shape (*indices.shape, D), num_weights an int >= 0, padding_idx
// None or an int in [0, num_weights), scale_grad_by_freq a bool.
namespace pyengine::contract {

inline EmbeddingDims embedding_forward(const char* fn, const Array& weight, const Array& indices) {
  exact_dtype(fn, indices, DType::i64);
  const index_t n = checked_numel(fn, "indices shape", indices.shape);
  std::vector<index_t> out = indices.shape;
  out.push_back(weight.shape[1]);
  checked_numel(fn, "output shape", out);
  return {weight.shape[0], weight.shape[1], n};
}

inline EmbeddingDims embedding_backward(const char* fn, const Array& g, const Array& indices, index_t V) {
  exact_dtype(fn, indices, DType::i64);
  const index_t n = checked_numel(fn, "indices shape", indices.shape);
  if (g.ndim() != indices.ndim() + 1 ||
      !std::equal(indices.shape.begin(), indices.shape.end(), g.shape.begin()))
    value_error(fn, ": grad_output must have shape indices.shape + (embedding_dim,) = ", shape_str(indices.shape),
                " + (D,), got ", shape_str(g.shape));
  const index_t D = g.shape.back();
  checked_numel(fn, "grad_weight shape", {V, D});
  return {V, D, n};
}

[[noreturn]] inline void embedding_bad_indices(const char* fn, index_t V, std::int64_t lo, std::int64_t hi) {
  value_error(fn, ": indices must lie in [0, num_embeddings) = [0, ", V, "), got values from ", lo, " to ", hi);
}

}  // namespace pyengine::contract
#endif

#if !defined(__CUDACC__)
namespace pyengine::cpu {

// ---- the per-ISA kernels (csrc/cpu/isa/embedding_isa.cpp). forward(d, weight, indices, out) and
// backward(d, grad_output, indices, padding_idx (−1: none), scale_grad_by_freq, grad_weight) return
// the number of indices outside [0, V) (skipped).
PE_ISA_KERNEL(embedding_forward_f32, index_t(const EmbeddingDims&, const float*, const std::int64_t*, float*));
PE_ISA_KERNEL(embedding_forward_f64, index_t(const EmbeddingDims&, const double*, const std::int64_t*, double*));
PE_ISA_KERNEL(embedding_backward_f32,
              index_t(const EmbeddingDims&, const float*, const std::int64_t*, index_t, bool, float*));
PE_ISA_KERNEL(embedding_backward_f64,
              index_t(const EmbeddingDims&, const double*, const std::int64_t*, index_t, bool, double*));

#if !defined(PYENGINE_ISA)
template <typename T>
index_t embedding_forward(const EmbeddingDims& d, const T* w, const std::int64_t* idx, T* out) {
  if constexpr (sizeof(T) == 4) return embedding_forward_f32(d, w, idx, out);
  else return embedding_forward_f64(d, w, idx, out);
}
template <typename T>
index_t embedding_backward(const EmbeddingDims& d, const T* g, const std::int64_t* idx, index_t padding_idx,
                           bool freq, T* gw) {
  if constexpr (sizeof(T) == 4) return embedding_backward_f32(d, g, idx, padding_idx, freq, gw);
  else return embedding_backward_f64(d, g, idx, padding_idx, freq, gw);
}
#endif

}  // namespace pyengine::cpu
#endif

// The CUDA launchers (csrc/cuda/embedding.cu), on the caller's stream; the index range check uses
// pool2d's cuda::index_range. embedding_backward_workspace is the bytes of device workspace the
// backward needs for n lookups and V rows.
namespace pyengine::cuda {
template <typename T>
void embedding_forward(const EmbeddingDims& d, const T* w, const std::int64_t* indices, T* out, cudaStream_t stream);
index_t embedding_backward_workspace(index_t n, index_t V);
template <typename T>
void embedding_backward(const EmbeddingDims& d, const T* g, const std::int64_t* indices, index_t padding_idx,
                        bool freq, T* gw, void* workspace, cudaStream_t stream);
}  // namespace pyengine::cuda
