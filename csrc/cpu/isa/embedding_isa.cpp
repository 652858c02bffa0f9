// embedding_isa.cpp — the embedding kernels of pyengine/embedding.h, compiled once per ISA.
//
// Forward: lookups over threads, each a row copy. Backward: a counting sort of the n positions by
// index on the calling thread (counts, exclusive prefix sums, positions placed in increasing k: a
// stable order), then the V rows over threads, each adding its positions' grad_output rows in that
// order a vector at a time — deterministic, no atomics.
#include <cstring>

#include "isa.h"
#include "pyengine/embedding.h"

namespace pyengine::cpu::PYENGINE_ISA {
namespace {

constexpr index_t kParallelWork = 32768;   // elements moved below which one thread does the call

int threads_for(index_t items, index_t elems) {
  const int t = get_num_threads();
  return t > 1 && items > 1 && elems > kParallelWork ? threads_for_items(items) : 1;
}

template <typename T>
index_t forward(const EmbeddingDims& d, const T* w, const std::int64_t* idx, T* out) {
  index_t bad = 0;
  for (index_t k = 0; k < d.n; ++k) bad += (idx[k] < 0 || idx[k] >= d.V) ? 1 : 0;
  if (bad > 0 || d.D == 0) return bad;
  parallel_for(d.n, threads_for(d.n, d.n * d.D), [&](index_t k) {
    std::memcpy(out + k * d.D, w + idx[k] * d.D, sizeof(T) * static_cast<size_t>(d.D));
  });
  return 0;
}

template <typename T>
index_t backward(const EmbeddingDims& d, const T* g, const std::int64_t* idx, index_t padding_idx, bool freq, T* gw) {
  using V = vec_t<T>;
  constexpr int L = lanes<T>;
  index_t bad = 0;
  for (index_t k = 0; k < d.n; ++k) bad += (idx[k] < 0 || idx[k] >= d.V) ? 1 : 0;
  if (bad > 0) return bad;
  Workspace ws;
  index_t* start = workspace_take<index_t>(ws, d.V + 1);
  index_t* order = workspace_take<index_t>(ws, d.n > 0 ? d.n : 1);
  if (start == nullptr || order == nullptr) return 0;
  std::memset(start, 0, sizeof(index_t) * static_cast<size_t>(d.V + 1));
  for (index_t k = 0; k < d.n; ++k) ++start[idx[k] + 1];
  for (index_t v = 0; v < d.V; ++v) start[v + 1] += start[v];
  // place each position after the earlier ones of its row: start[v] walks to the row's end, so
  // afterwards row v's positions are order[start[v] − count(v), start[v]) — recovered below
  for (index_t k = 0; k < d.n; ++k) order[start[idx[k]]++] = k;
  parallel_for(d.V, threads_for(d.V, (d.n + d.V) * d.D), [&](index_t v) {
    T* row = gw + v * d.D;
    const index_t hi = start[v], lo = v > 0 ? start[v - 1] : 0;
    std::memset(row, 0, sizeof(T) * static_cast<size_t>(d.D));
    if (v == padding_idx || hi == lo) return;
    const T s = freq ? T(1) / static_cast<T>(hi - lo) : T(1);
    index_t j = 0;
    for (; j + L <= d.D; j += L) {
      V acc = {};
      for (index_t q = lo; q < hi; ++q) acc += load<T>(g + order[q] * d.D + j);
      store<T>(row + j, freq ? acc * s : acc);
    }
    for (; j < d.D; ++j) {
      T acc = T(0);
      for (index_t q = lo; q < hi; ++q) acc += g[order[q] * d.D + j];
      row[j] = freq ? acc * s : acc;
    }
  });
  return 0;
}

index_t forward_f32(const EmbeddingDims& d, const float* w, const std::int64_t* idx, float* out) {
  return forward<float>(d, w, idx, out);
}
index_t forward_f64(const EmbeddingDims& d, const double* w, const std::int64_t* idx, double* out) {
  return forward<double>(d, w, idx, out);
}
index_t backward_f32(const EmbeddingDims& d, const float* g, const std::int64_t* idx, index_t p, bool f, float* gw) {
  return backward<float>(d, g, idx, p, f, gw);
}
index_t backward_f64(const EmbeddingDims& d, const double* g, const std::int64_t* idx, index_t p, bool f, double* gw) {
  return backward<double>(d, g, idx, p, f, gw);
}

}  // namespace

PE_ISA_REGISTER(embedding_forward_f32, forward_f32)
PE_ISA_REGISTER(embedding_forward_f64, forward_f64)
PE_ISA_REGISTER(embedding_backward_f32, backward_f32)
PE_ISA_REGISTER(embedding_backward_f64, backward_f64)

}  // namespace pyengine::cpu::PYENGINE_ISA
