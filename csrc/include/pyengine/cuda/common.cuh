// pyengine/cuda/common.cuh — what every CUDA kernel file shares: the launch check that turns a CUDA
// error into an exception naming the kernel, grid sizing for grid-stride loops, and small device
// helpers (warp/block reductions).
//
// Conventions (DESIGN.md): a `__global__` function ends in `_kernel`, its host launcher has the
// bare op name; every launcher takes the caller's stream and checks its launch; no launcher ever
// synchronises the device. Arrays are dense and row-major, validated by the bindings
// (csrc/bindings/cuda_*.cpp) before a launcher runs. Elementwise kernels use grid-stride loops with
// 64-bit indices, so any grid size is correct and only the speed depends on it.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "pyengine/common.h"

namespace pyengine::cuda {

// A failed CUDA call or launch. The binding layer turns it into a Python RuntimeError whose message
// starts with the kernel's (or the call's) name.
class CudaError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) {
    cudaGetLastError();  // clear a non-sticky error so the next call starts clean
    throw CudaError(std::string(what) + ": CUDA error " + cudaGetErrorName(err) + ": " +
                    cudaGetErrorString(err));
  }
}

// After every launch: a bad configuration or an earlier asynchronous fault surfaces here.
inline void check_launch(const char* kernel) { check(cudaGetLastError(), kernel); }

constexpr int kThreads = 256;

// Blocks for a grid-stride loop over n items: enough to fill the GPU, capped so the grid dimension
// stays valid for any n (the loop covers the rest).
inline unsigned grid_for(index_t n, int threads = kThreads) {
  index_t blocks = (n + threads - 1) / threads;
  if (blocks < 1) blocks = 1;
  if (blocks > 65535LL * 8) blocks = 65535LL * 8;
  return static_cast<unsigned>(blocks);
}

#define PE_GRID_STRIDE(i, n)                                                                   \
  for (::pyengine::index_t i = static_cast<::pyengine::index_t>(blockIdx.x) * blockDim.x +     \
                               threadIdx.x;                                                    \
       i < (n); i += static_cast<::pyengine::index_t>(blockDim.x) * gridDim.x)

template <typename T>
__device__ __forceinline__ T warp_sum(T v) {
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
  return v;
}

template <typename T>
__device__ __forceinline__ T warp_max(T v) {
  for (int off = 16; off > 0; off >>= 1) {
    T o = __shfl_xor_sync(0xffffffffu, v, off);
    v = o > v ? o : v;
  }
  return v;
}

// Sum over a block whose size is a multiple of 32 (at most 1024); every thread gets the result.
// `scratch` holds 32 values; the function ends with a barrier so scratch can be reused at once.
template <typename T>
__device__ T block_sum(T v, T* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  v = warp_sum(v);
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  T total = lane < nwarps ? scratch[lane] : T(0);
  total = warp_sum(total);
  __syncthreads();
  return total;
}

template <typename T>
__device__ T block_max(T v, T* scratch, T lowest) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  v = warp_max(v);
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  T m = lane < nwarps ? scratch[lane] : lowest;
  m = warp_max(m);
  __syncthreads();
  return m;
}

}  // namespace pyengine::cuda
