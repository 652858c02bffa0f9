// embedding.cu — the embedding lookup of pyengine/embedding.h on the GPU.
//
// forward: one thread per output element. backward, deterministic: CUB's radix sort of the pairs
// (index, position) — stable, so each row's positions stay in increasing order — then one thread
// per sorted element marks where each row's run starts and ends, then one thread per (v, d) sums its
// run of grad_output rows in order (zero for a row no index names and for padding_idx). The
// workspace holds the sorted keys and positions, the run bounds and CUB's scratch.
#include <cub/device/device_radix_sort.cuh>

#include <climits>

#include "pyengine/cuda/common.cuh"
#include "pyengine/embedding.h"

namespace pyengine::cuda {
namespace {

template <typename T>
__global__ void embedding_forward_kernel(EmbeddingDims d, const T* __restrict__ w, const std::int64_t* __restrict__ idx,
                                         T* __restrict__ out) {
  PE_GRID_STRIDE(k, d.n * d.D) {
    const index_t row = k / d.D, col = k % d.D;
    out[k] = w[idx[row] * d.D + col];
  }
}

__global__ void embedding_iota_kernel(index_t n, std::int64_t* __restrict__ pos) {
  PE_GRID_STRIDE(i, n) pos[i] = i;
}

// bounds[2v], bounds[2v + 1] = [start, end) of row v's run in the sorted keys (zeroed before).
__global__ void embedding_runs_kernel(index_t n, const std::int64_t* __restrict__ keys, index_t* __restrict__ bounds) {
  PE_GRID_STRIDE(i, n) {
    const std::int64_t v = keys[i];
    if (i == 0 || keys[i - 1] != v) bounds[2 * v] = i;
    if (i == n - 1 || keys[i + 1] != v) bounds[2 * v + 1] = i + 1;
  }
}

template <typename T>
__global__ void embedding_backward_kernel(EmbeddingDims d, const T* __restrict__ g, const std::int64_t* __restrict__ pos,
                                          const index_t* __restrict__ bounds, index_t padding_idx, bool freq,
                                          T* __restrict__ gw) {
  PE_GRID_STRIDE(k, d.V * d.D) {
    const index_t v = k / d.D, col = k % d.D;
    const index_t lo = bounds[2 * v], hi = bounds[2 * v + 1];
    T acc = T(0);
    if (v != padding_idx) {
      for (index_t q = lo; q < hi; ++q) acc += g[pos[q] * d.D + col];
      if (freq && hi > lo) acc *= T(1) / static_cast<T>(hi - lo);
    }
    gw[k] = acc;
  }
}

int key_bits(index_t V) {
  int bits = 1;
  while (bits < 63 && (index_t(1) << bits) < V) ++bits;
  return bits;
}

// The workspace's layout: sorted keys (n), positions in (n), positions out (n), bounds (2V), CUB's.
struct Layout {
  size_t keys, pos_in, pos_out, bounds, cub, cub_bytes, total;
  Layout(index_t n, index_t V) {
    const size_t nn = static_cast<size_t>(n > 0 ? n : 1), vv = static_cast<size_t>(V > 0 ? V : 1);
    size_t bytes = 0;
    cub::DeviceRadixSort::SortPairs(nullptr, bytes, static_cast<const std::int64_t*>(nullptr),
                                    static_cast<std::int64_t*>(nullptr), static_cast<const std::int64_t*>(nullptr),
                                    static_cast<std::int64_t*>(nullptr), static_cast<int>(nn), 0, key_bits(V));
    cub_bytes = bytes;
    auto up = [](size_t b) { return (b + 255) / 256 * 256; };
    keys = 0;
    pos_in = keys + up(nn * 8);
    pos_out = pos_in + up(nn * 8);
    bounds = pos_out + up(nn * 8);
    cub = bounds + up(vv * 2 * sizeof(index_t));
    total = cub + up(cub_bytes);
  }
};

}  // namespace

template <typename T>
void embedding_forward(const EmbeddingDims& d, const T* w, const std::int64_t* indices, T* out, cudaStream_t stream) {
  const index_t total = d.n * d.D;
  if (total == 0) return;
  embedding_forward_kernel<T><<<grid_for(total), kThreads, 0, stream>>>(d, w, indices, out);
  check_launch("embedding_forward_kernel");
}

index_t embedding_backward_workspace(index_t n, index_t V) { return static_cast<index_t>(Layout(n, V).total); }

template <typename T>
void embedding_backward(const EmbeddingDims& d, const T* g, const std::int64_t* indices, index_t padding_idx, bool freq,
                        T* gw, void* workspace, cudaStream_t stream) {
  if (d.V * d.D == 0) return;
  const Layout lay(d.n, d.V);
  char* base = static_cast<char*>(workspace);
  auto* keys = reinterpret_cast<std::int64_t*>(base + lay.keys);
  auto* pos_in = reinterpret_cast<std::int64_t*>(base + lay.pos_in);
  auto* pos_out = reinterpret_cast<std::int64_t*>(base + lay.pos_out);
  auto* bounds = reinterpret_cast<index_t*>(base + lay.bounds);
  check(cudaMemsetAsync(bounds, 0, sizeof(index_t) * 2 * static_cast<size_t>(d.V), stream),
        "embedding_backward (cudaMemsetAsync)");
  if (d.n > 0) {
    embedding_iota_kernel<<<grid_for(d.n), kThreads, 0, stream>>>(d.n, pos_in);
    check_launch("embedding_iota_kernel");
    size_t bytes = lay.cub_bytes;
    check(cub::DeviceRadixSort::SortPairs(base + lay.cub, bytes, indices, keys, pos_in, pos_out, static_cast<int>(d.n),
                                          0, key_bits(d.V), stream),
          "embedding_backward (cub::DeviceRadixSort::SortPairs)");
    embedding_runs_kernel<<<grid_for(d.n), kThreads, 0, stream>>>(d.n, keys, bounds);
    check_launch("embedding_runs_kernel");
  }
  embedding_backward_kernel<T><<<grid_for(d.V * d.D), kThreads, 0, stream>>>(d, g, pos_out, bounds, padding_idx, freq,
                                                                               gw);
  check_launch("embedding_backward_kernel");
}

#define PE_INST(T)                                                                                              \
  template void embedding_forward<T>(const EmbeddingDims&, const T*, const std::int64_t*, T*, cudaStream_t);    \
  template void embedding_backward<T>(const EmbeddingDims&, const T*, const std::int64_t*, index_t, bool, T*,   \
                                      void*, cudaStream_t);
PE_INST(float)
PE_INST(double)
#undef PE_INST

}  // namespace pyengine::cuda
