// lstm.cu — the fused LSTM gate kernels of pyengine/cuda/lstm.h: one thread per (n, h) unit reads its
// four gate pre-activations, so one pass over memory replaces four activations and three products.
#include "pyengine/cuda/common.cuh"
#include "pyengine/cuda/lstm.h"

namespace pyengine::cuda {
namespace {

template <typename T>
__device__ __forceinline__ T sigmoid(T v) { return T(1) / (T(1) + exp(-v)); }

template <typename T>
__global__ void lstm_gates_forward_kernel(index_t N, index_t H, const T* z, const T* __restrict__ c, T* act,
                                          T* __restrict__ c_next, T* __restrict__ h_next) {
  PE_GRID_STRIDE(idx, N * H) {
    const index_t n = idx / H, h = idx - n * H;
    const index_t row = n * 4 * H;
    // z and act may alias: every element is read before it is written, by this thread only.
    const T i = sigmoid(z[row + h]);
    const T f = sigmoid(z[row + H + h]);
    const T g = tanh(z[row + 2 * H + h]);
    const T o = sigmoid(z[row + 3 * H + h]);
    const T cn = f * c[idx] + i * g;
    act[row + h] = i;
    act[row + H + h] = f;
    act[row + 2 * H + h] = g;
    act[row + 3 * H + h] = o;
    c_next[idx] = cn;
    h_next[idx] = o * tanh(cn);
  }
}

template <typename T>
__global__ void lstm_gates_backward_kernel(index_t N, index_t H, const T* __restrict__ gh1, const T* __restrict__ gh2,
                                           const T* __restrict__ gc_in, const T* __restrict__ act,
                                           const T* __restrict__ c, const T* __restrict__ c_next, T* __restrict__ dz,
                                           T* __restrict__ gc_prev) {
  PE_GRID_STRIDE(idx, N * H) {
    const index_t n = idx / H, h = idx - n * H;
    const index_t row = n * 4 * H;
    const T i = act[row + h], f = act[row + H + h], g = act[row + 2 * H + h], o = act[row + 3 * H + h];
    const T gh = gh1[idx] + (gh2 != nullptr ? gh2[idx] : T(0));
    const T tc = tanh(c_next[idx]);
    const T gc = (gc_in != nullptr ? gc_in[idx] : T(0)) + gh * o * (T(1) - tc * tc);
    dz[row + h] = gc * g * i * (T(1) - i);
    dz[row + H + h] = gc * c[idx] * f * (T(1) - f);
    dz[row + 2 * H + h] = gc * i * (T(1) - g * g);
    dz[row + 3 * H + h] = gh * tc * o * (T(1) - o);
    gc_prev[idx] = gc * f;
  }
}

}  // namespace

template <typename T>
void lstm_gates_forward(index_t N, index_t H, const T* z, const T* c, T* act, T* c_next, T* h_next,
                        cudaStream_t stream) {
  if (N * H == 0) return;
  lstm_gates_forward_kernel<T><<<grid_for(N * H), kThreads, 0, stream>>>(N, H, z, c, act, c_next, h_next);
  check_launch("lstm_gates_forward_kernel");
}

template <typename T>
void lstm_gates_backward(index_t N, index_t H, const T* gh1, const T* gh2, const T* gc, const T* act, const T* c,
                         const T* c_next, T* dz, T* gc_prev, cudaStream_t stream) {
  if (N * H == 0) return;
  lstm_gates_backward_kernel<T><<<grid_for(N * H), kThreads, 0, stream>>>(N, H, gh1, gh2, gc, act, c, c_next, dz,
                                                                          gc_prev);
  check_launch("lstm_gates_backward_kernel");
}

#define PE_INST(T)                                                                                         \
  template void lstm_gates_forward<T>(index_t, index_t, const T*, const T*, T*, T*, T*, cudaStream_t);     \
  template void lstm_gates_backward<T>(index_t, index_t, const T*, const T*, const T*, const T*, const T*, \
                                       const T*, T*, T*, cudaStream_t);
PE_INST(float)
PE_INST(double)
#undef PE_INST

}  // namespace pyengine::cuda
