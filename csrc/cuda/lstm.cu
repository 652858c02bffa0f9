// lstm.cu — the LSTM of pyengine/cuda/lstm.h. The fused gate kernels: one thread per (n, h) unit reads
// its four gate pre-activations, so one pass over memory replaces four activations and three
// products. The cell and sequence launchers run them between GEMMs on the caller's stream.
#include "pyengine/cuda/common.cuh"
#include "pyengine/cuda/elementwise.h"
#include "pyengine/cuda/gemm.h"
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

// ---- cell and sequence ------------------------------------------------------------------------

namespace {
// C (M × N) = op(A)·op(B) (+ Cin when beta is 1) (+ bias per column), row-major, ld = the widths.
template <typename T>
void mm(bool ta, bool tb, index_t M, index_t N, index_t K, const T* A, const T* B, T beta, const T* Cin, T* C,
        const T* bias, bool tf32, cudaStream_t s) {
  gemm<T>(ta, tb, M, N, K, T(1), A, ta ? M : K, B, tb ? K : N, beta, Cin, C, N, bias, false, tf32, s);
}

template <typename T>
void copy(T* dst, const T* src, index_t n, cudaStream_t s) {
  if (n > 0) check(cudaMemcpyAsync(dst, src, sizeof(T) * n, cudaMemcpyDeviceToDevice, s), "lstm (cudaMemcpyAsync)");
}
}  // namespace

template <typename T>
void lstm_cell_forward(index_t N, index_t I, index_t H, const T* x, const T* h, const T* c, const T* w_ih,
                       const T* w_hh, const T* b_ih, const T* b_hh, T* h_next, T* c_next, T* gates, bool tf32,
                       cudaStream_t s) {
  const index_t G = 4 * H;
  mm<T>(false, true, N, G, I, x, w_ih, T(0), nullptr, gates, b_ih, tf32, s);    // x·w_ihᵀ + b_ih
  mm<T>(false, true, N, G, H, h, w_hh, T(1), gates, gates, b_hh, tf32, s);      // + h·w_hhᵀ + b_hh
  lstm_gates_forward<T>(N, H, gates, c, gates, c_next, h_next, s);
}

template <typename T>
void lstm_cell_backward(index_t N, index_t I, index_t H, const T* grad_h_next, const T* grad_c_next, const T* x,
                        const T* h, const T* c, const T* w_ih, const T* w_hh, const T* gates, const T* c_next,
                        T* grad_x, T* grad_h, T* grad_c, T* grad_w_ih, T* grad_w_hh, T* grad_b, T* dz, bool tf32,
                        cudaStream_t s) {
  const index_t G = 4 * H;
  lstm_gates_backward<T>(N, H, grad_h_next, nullptr, grad_c_next, gates, c, c_next, dz, grad_c, s);
  mm<T>(false, false, N, I, G, dz, w_ih, T(0), nullptr, grad_x, nullptr, tf32, s);      // grad_x = dz·w_ih
  mm<T>(false, false, N, H, G, dz, w_hh, T(0), nullptr, grad_h, nullptr, tf32, s);      // grad_h = dz·w_hh
  mm<T>(true, false, G, I, N, dz, x, T(0), nullptr, grad_w_ih, nullptr, tf32, s);       // dzᵀ·x
  mm<T>(true, false, G, H, N, dz, h, T(0), nullptr, grad_w_hh, nullptr, tf32, s);       // dzᵀ·h
  channel_sum<T>(N, G, 1, dz, grad_b, 1.0, s);
}

template <typename T>
void lstm_forward(index_t T_, index_t N, index_t I, index_t H, const T* x, const T* h0, const T* c0, const T* w_ih,
                  const T* w_hh, const T* b_ih, const T* b_hh, T* y, T* h_T, T* c_T, T* gates, T* cs, bool tf32,
                  cudaStream_t s) {
  const index_t G = 4 * H, NH = N * H, NG = N * G;
  mm<T>(false, true, T_ * N, G, I, x, w_ih, T(0), nullptr, gates, b_ih, tf32, s);   // every step's input at once
  for (index_t t = 0; t < T_; ++t) {
    const T* h_prev = t ? y + (t - 1) * NH : h0;
    const T* c_prev = t ? cs + (t - 1) * NH : c0;
    T* g = gates + t * NG;
    mm<T>(false, true, N, G, H, h_prev, w_hh, T(1), g, g, b_hh, tf32, s);
    lstm_gates_forward<T>(N, H, g, c_prev, g, cs + t * NH, y + t * NH, s);
  }
  copy(h_T, y + (T_ - 1) * NH, NH, s);
  copy(c_T, cs + (T_ - 1) * NH, NH, s);
}

index_t lstm_backward_workspace(index_t T_, index_t N, index_t H) { return T_ * N * 4 * H + 4 * N * H; }

template <typename T>
void lstm_backward(index_t T_, index_t N, index_t I, index_t H, const T* grad_y, const T* grad_h_T, const T* grad_c_T,
                   const T* x, const T* h0, const T* c0, const T* w_ih, const T* w_hh, const T* gates, const T* cs,
                   const T* hs, T* grad_x, T* grad_h0, T* grad_c0, T* grad_w_ih, T* grad_w_hh, T* grad_b, T* workspace,
                   bool tf32, cudaStream_t s) {
  const index_t G = 4 * H, NH = N * H, NG = N * G, TN = T_ * N;
  T* dz = workspace;                       // (T, N, 4H)
  T* dh_buf[2] = {dz + T_ * NG, dz + T_ * NG + NH};
  T* dc_buf[2] = {dz + T_ * NG + 2 * NH, dz + T_ * NG + 3 * NH};
  const T* dh = grad_h_T;                  // ∂L/∂h_t from step t+1 (null: zero)
  const T* dc = grad_c_T;
  for (index_t k = 0, t = T_ - 1; t >= 0; ++k, --t) {
    const T* c_prev = t ? cs + (t - 1) * NH : c0;
    T* dc_next = dc_buf[k % 2];
    lstm_gates_backward<T>(N, H, grad_y + t * NH, dh, dc, gates + t * NG, c_prev, cs + t * NH, dz + t * NG, dc_next, s);
    T* dh_next = dh_buf[k % 2];
    mm<T>(false, false, N, H, G, dz + t * NG, w_hh, T(0), nullptr, dh_next, nullptr, tf32, s);   // dz_t·w_hh
    dh = dh_next;
    dc = dc_next;
  }
  copy(grad_h0, dh, NH, s);
  copy(grad_c0, dc, NH, s);
  mm<T>(false, false, TN, I, G, dz, w_ih, T(0), nullptr, grad_x, nullptr, tf32, s);     // grad_x = dz·w_ih
  mm<T>(true, false, G, I, TN, dz, x, T(0), nullptr, grad_w_ih, nullptr, tf32, s);      // dzᵀ·X
  // grad_w_hh = Σ_t dz_tᵀ·h_{t−1}: h_0's step, then h_1..h_{T−1} as one GEMM over (T−1)·N rows
  mm<T>(true, false, G, H, N, dz, h0, T(0), nullptr, grad_w_hh, nullptr, tf32, s);
  if (T_ > 1) mm<T>(true, false, G, H, (T_ - 1) * N, dz + NG, hs, T(1), grad_w_hh, grad_w_hh, nullptr, tf32, s);
  channel_sum<T>(TN, G, 1, dz, grad_b, 1.0, s);
}

#define PE_LSTM_INST(T)                                                                                           \
  template void lstm_cell_forward<T>(index_t, index_t, index_t, const T*, const T*, const T*, const T*, const T*,   \
                                     const T*, const T*, T*, T*, T*, bool, cudaStream_t);                          \
  template void lstm_cell_backward<T>(index_t, index_t, index_t, const T*, const T*, const T*, const T*, const T*, \
                                      const T*, const T*, const T*, const T*, T*, T*, T*, T*, T*, T*, T*, bool,     \
                                      cudaStream_t);                                                              \
  template void lstm_forward<T>(index_t, index_t, index_t, index_t, const T*, const T*, const T*, const T*,        \
                                const T*, const T*, const T*, T*, T*, T*, T*, T*, bool, cudaStream_t);             \
  template void lstm_backward<T>(index_t, index_t, index_t, index_t, const T*, const T*, const T*, const T*,       \
                                 const T*, const T*, const T*, const T*, const T*, const T*, const T*, T*, T*, T*,  \
                                 T*, T*, T*, T*, bool, cudaStream_t);
PE_LSTM_INST(float)
PE_LSTM_INST(double)
#undef PE_LSTM_INST

}  // namespace pyengine::cuda
