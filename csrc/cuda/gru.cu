// gru.cu — the GRU of pyengine/cuda/gru.h. The fused gate kernels: one thread per (n, h) unit reads
// its gate pre-activations from both projections, so one pass over memory replaces three
// activations, the reset product and the state update. The cell and sequence launchers run them
// between GEMMs on the caller's stream.
#include "pyengine/cuda/common.cuh"
#include "pyengine/cuda/elementwise.h"
#include "pyengine/cuda/gemm.h"
#include "pyengine/cuda/gru.h"

namespace pyengine::cuda {
namespace {

template <typename T>
__device__ __forceinline__ T sigmoid(T v) { return T(1) / (T(1) + exp(-v)); }

template <typename T>
__global__ void gru_gates_forward_kernel(index_t N, index_t H, const T* __restrict__ gi, const T* __restrict__ gh,
                                         const T* __restrict__ h_prev, T* __restrict__ h_next, T* __restrict__ gates) {
  PE_GRID_STRIDE(idx, N * H) {
    const index_t n = idx / H, h = idx - n * H;
    const index_t row = n * 3 * H;
    const T r = sigmoid(gi[row + h] + gh[row + h]);
    const T z = sigmoid(gi[row + H + h] + gh[row + H + h]);
    const T ghn = gh[row + 2 * H + h];
    const T nn = tanh(gi[row + 2 * H + h] + r * ghn);
    h_next[idx] = nn + z * (h_prev[idx] - nn);
    if (gates != nullptr) {
      T* g = gates + n * 4 * H;
      g[h] = r;
      g[H + h] = z;
      g[2 * H + h] = nn;
      g[3 * H + h] = ghn;
    }
  }
}

template <typename T>
__global__ void gru_gates_backward_kernel(index_t N, index_t H, const T* __restrict__ gates,
                                          const T* __restrict__ h_prev, const T* __restrict__ dh_a, const T* dh_b,
                                          T* __restrict__ dgi, T* __restrict__ dgh, T* dh_prev) {
  PE_GRID_STRIDE(idx, N * H) {
    const index_t n = idx / H, h = idx - n * H;
    const T* g = gates + n * 4 * H;
    const T r = g[h], z = g[H + h], nn = g[2 * H + h], ghn = g[3 * H + h];
    const T dh = dh_a[idx] + (dh_b != nullptr ? dh_b[idx] : T(0));
    const T da_n = dh * (T(1) - z) * (T(1) - nn * nn);
    const T da_z = dh * (h_prev[idx] - nn) * z * (T(1) - z);
    const T da_r = da_n * ghn * r * (T(1) - r);
    const index_t row = n * 3 * H;
    dgi[row + h] = da_r;
    dgi[row + H + h] = da_z;
    dgi[row + 2 * H + h] = da_n;
    dgh[row + h] = da_r;
    dgh[row + H + h] = da_z;
    dgh[row + 2 * H + h] = r * da_n;
    dh_prev[idx] = dh * z;   // dh_prev may alias dh_b: this thread read dh_b[idx] above
  }
}

}  // namespace

template <typename T>
void gru_gates_forward(index_t N, index_t H, const T* gi, const T* gh, const T* h_prev, T* h_next, T* gates,
                       cudaStream_t stream) {
  if (N * H == 0) return;
  gru_gates_forward_kernel<T><<<grid_for(N * H), kThreads, 0, stream>>>(N, H, gi, gh, h_prev, h_next, gates);
  check_launch("gru_gates_forward_kernel");
}

template <typename T>
void gru_gates_backward(index_t N, index_t H, const T* gates, const T* h_prev, const T* dh_a, const T* dh_b, T* dgi,
                        T* dgh, T* dh_prev, cudaStream_t stream) {
  if (N * H == 0) return;
  gru_gates_backward_kernel<T><<<grid_for(N * H), kThreads, 0, stream>>>(N, H, gates, h_prev, dh_a, dh_b, dgi, dgh,
                                                                         dh_prev);
  check_launch("gru_gates_backward_kernel");
}

#define PE_INST(T)                                                                                          \
  template void gru_gates_forward<T>(index_t, index_t, const T*, const T*, const T*, T*, T*, cudaStream_t); \
  template void gru_gates_backward<T>(index_t, index_t, const T*, const T*, const T*, const T*, T*, T*, T*, \
                                      cudaStream_t);
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
  if (n > 0) check(cudaMemcpyAsync(dst, src, sizeof(T) * n, cudaMemcpyDeviceToDevice, s), "gru (cudaMemcpyAsync)");
}
}  // namespace

index_t gru_cell_workspace(index_t N, index_t H) { return 2 * N * 3 * H; }
index_t gru_forward_workspace(index_t T_, index_t N, index_t H) { return (T_ + 1) * N * 3 * H; }
index_t gru_backward_workspace(index_t T_, index_t N, index_t H) { return 2 * T_ * N * 3 * H + N * H; }

template <typename T>
void gru_cell_forward(index_t N, index_t I, index_t H, const T* x, const T* h, const T* w_ih, const T* w_hh,
                      const T* b_ih, const T* b_hh, T* h_next, T* gates, T* ws, bool tf32, cudaStream_t s) {
  const index_t G = 3 * H;
  T* gi = ws;
  T* gh = ws + N * G;
  mm<T>(false, true, N, G, I, x, w_ih, T(0), nullptr, gi, b_ih, tf32, s);   // x·w_ihᵀ + b_ih
  mm<T>(false, true, N, G, H, h, w_hh, T(0), nullptr, gh, b_hh, tf32, s);   // h·w_hhᵀ + b_hh
  gru_gates_forward<T>(N, H, gi, gh, h, h_next, gates, s);
}

template <typename T>
void gru_cell_backward(index_t N, index_t I, index_t H, const T* grad_h_next, const T* x, const T* h,
                       const T* w_ih, const T* w_hh, const T* gates, T* grad_x, T* grad_h, T* grad_w_ih,
                       T* grad_w_hh, T* grad_b_ih, T* grad_b_hh, T* ws, bool tf32, cudaStream_t s) {
  const index_t G = 3 * H;
  T* dgi = ws;
  T* dgh = ws + N * G;
  gru_gates_backward<T>(N, H, gates, h, grad_h_next, nullptr, dgi, dgh, grad_h, s);   // grad_h = dh·z
  mm<T>(false, false, N, H, G, dgh, w_hh, T(1), grad_h, grad_h, nullptr, tf32, s);     //   + dgh·w_hh
  mm<T>(false, false, N, I, G, dgi, w_ih, T(0), nullptr, grad_x, nullptr, tf32, s);    // dgi·w_ih
  mm<T>(true, false, G, I, N, dgi, x, T(0), nullptr, grad_w_ih, nullptr, tf32, s);     // dgiᵀ·x
  mm<T>(true, false, G, H, N, dgh, h, T(0), nullptr, grad_w_hh, nullptr, tf32, s);     // dghᵀ·h
  channel_sum<T>(N, G, 1, dgi, grad_b_ih, 1.0, s);
  channel_sum<T>(N, G, 1, dgh, grad_b_hh, 1.0, s);
}

template <typename T>
void gru_forward(index_t T_, index_t N, index_t I, index_t H, const T* x, const T* h0, const T* w_ih, const T* w_hh,
                 const T* b_ih, const T* b_hh, T* y, T* h_T, T* gates, bool keep, T* ws, bool tf32, cudaStream_t s) {
  const index_t G = 3 * H, NH = N * H, NG = N * G;
  T* gi = ws;              // (T, N, 3H)
  T* gh = ws + T_ * NG;    // (N, 3H)
  mm<T>(false, true, T_ * N, G, I, x, w_ih, T(0), nullptr, gi, b_ih, tf32, s);   // every step's input at once
  for (index_t t = 0; t < T_; ++t) {
    const T* h_prev = t ? y + (t - 1) * NH : h0;
    mm<T>(false, true, N, G, H, h_prev, w_hh, T(0), nullptr, gh, b_hh, tf32, s);
    gru_gates_forward<T>(N, H, gi + t * NG, gh, h_prev, y + t * NH, keep ? gates + t * N * 4 * H : nullptr, s);
  }
  copy(h_T, y + (T_ - 1) * NH, NH, s);
}

template <typename T>
void gru_backward(index_t T_, index_t N, index_t I, index_t H, const T* grad_y, const T* grad_h_T, const T* x,
                  const T* h0, const T* w_ih, const T* w_hh, const T* gates, const T* hs, T* grad_x, T* grad_h0,
                  T* grad_w_ih, T* grad_w_hh, T* grad_b_ih, T* grad_b_hh, T* ws, bool tf32, cudaStream_t s) {
  const index_t G = 3 * H, NH = N * H, NG = N * G, TN = T_ * N;
  T* dgi = ws;                  // (T, N, 3H)
  T* dgh = ws + T_ * NG;        // (T, N, 3H)
  T* dh = ws + 2 * T_ * NG;     // (N, H): ∂L/∂h_t, running
  const T* dh_in = grad_h_T;    // null: zero
  for (index_t t = T_ - 1; t >= 0; --t) {
    const T* h_prev = t ? hs + (t - 1) * NH : h0;
    gru_gates_backward<T>(N, H, gates + t * N * 4 * H, h_prev, grad_y + t * NH, dh_in, dgi + t * NG, dgh + t * NG,
                          dh, s);
    mm<T>(false, false, N, H, G, dgh + t * NG, w_hh, T(1), dh, dh, nullptr, tf32, s);   // += dgh_t·w_hh
    dh_in = dh;
  }
  copy(grad_h0, dh, NH, s);
  mm<T>(false, false, TN, I, G, dgi, w_ih, T(0), nullptr, grad_x, nullptr, tf32, s);     // grad_x = dGI·w_ih
  mm<T>(true, false, G, I, TN, dgi, x, T(0), nullptr, grad_w_ih, nullptr, tf32, s);      // dGIᵀ·X
  // grad_w_hh = Σ_t dgh_tᵀ·h_{t−1}: h_0's step, then h_1..h_{T−1} as one GEMM over (T−1)·N rows
  mm<T>(true, false, G, H, N, dgh, h0, T(0), nullptr, grad_w_hh, nullptr, tf32, s);
  if (T_ > 1) mm<T>(true, false, G, H, (T_ - 1) * N, dgh + NG, hs, T(1), grad_w_hh, grad_w_hh, nullptr, tf32, s);
  channel_sum<T>(TN, G, 1, dgi, grad_b_ih, 1.0, s);
  channel_sum<T>(TN, G, 1, dgh, grad_b_hh, 1.0, s);
}

#define PE_GRU_INST(T)                                                                                             \
  template void gru_cell_forward<T>(index_t, index_t, index_t, const T*, const T*, const T*, const T*, const T*,    \
                                    const T*, T*, T*, T*, bool, cudaStream_t);                                      \
  template void gru_cell_backward<T>(index_t, index_t, index_t, const T*, const T*, const T*, const T*, const T*,   \
                                     const T*, T*, T*, T*, T*, T*, T*, T*, bool, cudaStream_t);                     \
  template void gru_forward<T>(index_t, index_t, index_t, index_t, const T*, const T*, const T*, const T*,          \
                               const T*, const T*, T*, T*, T*, bool, T*, bool, cudaStream_t);                       \
  template void gru_backward<T>(index_t, index_t, index_t, index_t, const T*, const T*, const T*, const T*,         \
                                const T*, const T*, const T*, const T*, T*, T*, T*, T*, T*, T*, T*, bool,           \
                                cudaStream_t);
PE_GRU_INST(float)
PE_GRU_INST(double)
#undef PE_GRU_INST

}  // namespace pyengine::cuda
