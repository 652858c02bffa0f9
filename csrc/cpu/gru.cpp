// gru.cpp — GRU cell and sequence kernels (equations and algorithm in pyengine/gru.h).
//
// The big matrix work (the input projection, grad_x, grad_w_ih, grad_w_hh) is pyengine::cpu::gemm,
// which splits each GEMM over the threads itself. The recurrence over the steps comes in two
// versions. float runs gru_isa.cpp: the batch rows are split between the threads once for the whole
// sequence (a row's step t needs only that row's step t−1), w_hh is packed once per call, and each
// thread does per step one register-blocked GEMM of its rows and the vectorised fused gate pass,
// with no barrier between steps. double (the gradient-check path) runs per step one gemm call and a
// scalar gate pass with libm's exp and tanh. The cell uses gemm and the gate pass. Workspaces (the
// recurrent projection, the packed weights and rows, the gate gradients, the running dh) come from
// the calling thread's arena (pyengine/workspace.h).
#include "pyengine/gru.h"

#include <cmath>
#include <cstring>

#include "pyengine/gemm.h"
#include "pyengine/parallel.h"
#include "pyengine/workspace.h"

namespace pyengine::cpu {

namespace {

// Below this many elements per pass, waking a second thread costs more than it saves.
constexpr index_t kParallelElems = 1 << 14;

int threads_for(index_t elems) {
  const int nt = get_num_threads();
  return elems >= kParallelElems && nt > 1 ? nt : 1;
}

// --- the element-wise passes: float through the ISA copy, double in scalar with libm ----------

void gate_fwd_rows(index_t rows, index_t H, float* g, index_t ldg, const float* gh, const float* b_ih,
                   const float* b_hh, const float* h_prev, float* h_next) {
  gru_gates_forward_f32(rows, H, g, ldg, gh, b_ih, b_hh, h_prev, h_next);
}

void gate_bwd_rows(index_t rows, index_t H, const float* g, const float* h_prev, const float* dh_a,
                   const float* dh_b, float* dgi, float* dgh, float* dh_prev) {
  gru_gates_backward_f32(rows, H, g, h_prev, dh_a, dh_b, dgi, dgh, dh_prev);
}

double sigmoid(double v) { return 1.0 / (1.0 + std::exp(-v)); }
double at(const double* b, index_t i) { return b ? b[i] : 0.0; }

void gate_fwd_rows(index_t rows, index_t H, double* gates, index_t ldg, const double* gh_, const double* b_ih,
                   const double* b_hh, const double* h_prev, double* h_next) {
  const bool save = ldg >= 4 * H;
  for (index_t r = 0; r < rows; ++r) {
    double* g = gates + r * ldg;
    const double* gh = gh_ + r * 3 * H;
    for (index_t j = 0; j < H; ++j) {
      const double rr = sigmoid(g[j] + at(b_ih, j) + gh[j] + at(b_hh, j));
      const double z = sigmoid(g[H + j] + at(b_ih, H + j) + gh[H + j] + at(b_hh, H + j));
      const double ghn = gh[2 * H + j] + at(b_hh, 2 * H + j);
      const double n = std::tanh(g[2 * H + j] + at(b_ih, 2 * H + j) + rr * ghn);
      const double hp = h_prev[r * H + j];
      h_next[r * H + j] = n + z * (hp - n);
      if (save) {
        g[j] = rr;
        g[H + j] = z;
        g[2 * H + j] = n;
        g[3 * H + j] = ghn;
      }
    }
  }
}

void gate_bwd_rows(index_t rows, index_t H, const double* gates, const double* h_prev, const double* dh_a,
                   const double* dh_b, double* dgi_, double* dgh_, double* dh_prev) {
  for (index_t r = 0; r < rows; ++r) {
    const double* g = gates + r * 4 * H;
    double* dgi = dgi_ + r * 3 * H;
    double* dgh = dgh_ + r * 3 * H;
    for (index_t j = 0; j < H; ++j) {
      const index_t e = r * H + j;
      const double rr = g[j], z = g[H + j], n = g[2 * H + j], ghn = g[3 * H + j];
      const double dh = dh_a[e] + (dh_b ? dh_b[e] : 0.0);
      const double da_n = dh * (1.0 - z) * (1.0 - n * n);
      const double da_z = dh * (h_prev[e] - n) * z * (1.0 - z);
      const double da_r = da_n * ghn * rr * (1.0 - rr);
      dgi[j] = dgh[j] = da_r;
      dgi[H + j] = dgh[H + j] = da_z;
      dgi[2 * H + j] = da_n;
      dgh[2 * H + j] = rr * da_n;
      dh_prev[e] = dh * z;   // after the read of dh_b[e]: dh_prev may alias dh_b
    }
  }
}

// The passes over N rows, split by rows across the threads.
template <typename T>
void gates_forward(index_t N, index_t H, T* gates, index_t ldg, const T* gh, const T* b_ih, const T* b_hh,
                   const T* h_prev, T* h_next) {
  const int nt = threads_for(N * 3 * H);
  parallel_for(N, nt, [&](index_t r) {
    gate_fwd_rows(1, H, gates + r * ldg, ldg, gh + r * 3 * H, b_ih, b_hh, h_prev + r * H, h_next + r * H);
  });
}

template <typename T>
void gates_backward(index_t N, index_t H, const T* gates, const T* h_prev, const T* dh_a, const T* dh_b, T* dgi,
                    T* dgh, T* dh_prev) {
  const int nt = threads_for(N * 3 * H);
  parallel_for(N, nt, [&](index_t r) {
    const index_t e = r * H;
    gate_bwd_rows(1, H, gates + r * 4 * H, h_prev + e, dh_a + e, dh_b ? dh_b + e : nullptr, dgi + r * 3 * H,
                  dgh + r * 3 * H, dh_prev + e);
  });
}

// out[j] = Σ_r a[r, j] for a (rows, cols); columns split across the threads.
template <typename T>
void column_sums(index_t rows, index_t cols, const T* a, T* out) {
  const int nt = threads_for(rows * cols);
  const index_t chunk = 64;
  const index_t n_chunks = (cols + chunk - 1) / chunk;
  parallel_for(n_chunks, nt, [&](index_t cb) {
    const index_t j0 = cb * chunk, j1 = j0 + chunk < cols ? j0 + chunk : cols;
    T* o = out + j0;
    for (index_t j = 0; j < j1 - j0; ++j) o[j] = T(0);
    for (index_t r = 0; r < rows; ++r) {
      const T* row = a + r * cols + j0;
      for (index_t j = 0; j < j1 - j0; ++j) o[j] += row[j];
    }
  });
}

// Threads for the float recurrence: rows are split between them, so never more than N.
int recurrence_threads(index_t N, index_t H) {
  const int nt = get_num_threads();
  if (nt <= 1 || static_cast<double>(N) * 3 * H * H < 64.0 * 64 * 64) return 1;
  return N < nt ? static_cast<int>(N) : nt;
}

// --- the recurrence over the steps (after the input projection) -------------------------------

// Generic version: per step one recurrent GEMM (both threads) and one fused gate pass (rows split
// across threads). gates: see gru_recurrence_forward_f32 in pyengine/gru.h.
template <typename T>
void recurrence_forward(index_t T_, index_t N, index_t H, const T* h0, const T* w_hh, const T* b_ih, const T* b_hh,
                        T* gates, index_t ldg, T* y) {
  const index_t G = 3 * H, NH = N * H;
  Workspace ws;
  T* gh = workspace_take<T>(ws, N * G);
  for (index_t t = 0; t < T_; ++t) {
    const T* h_prev = t ? y + (t - 1) * NH : h0;
    gemm<T>(false, true, N, G, H, T(1), h_prev, H, w_hh, H, T(0), gh, G);   // GH = h_{t−1}·w_hhᵀ
    gates_forward<T>(N, H, gates + t * N * ldg, ldg, gh, b_ih, b_hh, h_prev, y + t * NH);
  }
}

// dgi, dgh (T, N, 3H) receive the gate gradients; grad_h0 the initial state's.
template <typename T>
void recurrence_backward(index_t T_, index_t N, index_t H, const T* h0, const T* w_hh, const T* gates, const T* hs,
                         const T* grad_y, const T* grad_h_T, T* dgi, T* dgh, T* grad_h0) {
  const index_t G = 3 * H, NH = N * H, NG = N * G;
  Workspace ws;
  T* dh_buf = workspace_take<T>(ws, NH);
  const T* dh_rec = grad_h_T;   // ∂L/∂h_t arriving from step t+1 (null: zero)
  for (index_t t = T_ - 1; t >= 0; --t) {
    const T* h_prev = t ? hs + (t - 1) * NH : h0;
    T* dh_out = t ? dh_buf : grad_h0;
    gates_backward<T>(N, H, gates + t * N * 4 * H, h_prev, grad_y + t * NH, dh_rec, dgi + t * NG, dgh + t * NG,
                      dh_out);
    gemm<T>(false, false, N, H, G, T(1), dgh + t * NG, G, w_hh, H, T(1), dh_out, H);   // += dgh_t·w_hh
    dh_rec = dh_out;
  }
}

template <>
void recurrence_forward<float>(index_t T_, index_t N, index_t H, const float* h0, const float* w_hh,
                               const float* b_ih, const float* b_hh, float* gates, index_t ldg, float* y) {
  const int nt = recurrence_threads(N, H);
  index_t sizes[3];
  gru_recurrence_sizes(N, H, nt, sizes);
  Workspace ws;
  float* packed = workspace_take<float>(ws, sizes[0]);
  float* apack = workspace_take<float>(ws, sizes[1]);
  float* gh = workspace_take<float>(ws, sizes[2]);
  if (!packed || !apack || !gh) return;
  gru_recurrence_forward_f32(T_, N, H, h0, w_hh, b_ih, b_hh, gates, ldg, y, packed, apack, gh, nt);
}

template <>
void recurrence_backward<float>(index_t T_, index_t N, index_t H, const float* h0, const float* w_hh,
                                const float* gates, const float* hs, const float* grad_y, const float* grad_h_T,
                                float* dgi, float* dgh, float* grad_h0) {
  const int nt = recurrence_threads(N, H);
  index_t sizes[3];
  gru_recurrence_sizes(N, H, nt, sizes);
  Workspace ws;
  float* dh_ws = workspace_take<float>(ws, N * H);
  float* packed = workspace_take<float>(ws, sizes[0]);
  float* apack = workspace_take<float>(ws, sizes[1]);
  if (!dh_ws || !packed || !apack) return;
  gru_recurrence_backward_f32(T_, N, H, h0, w_hh, gates, hs, grad_y, grad_h_T, dgi, dgh, grad_h0, dh_ws, packed,
                              apack, nt);
}

}  // namespace

template <typename T>
void gru_cell_forward(index_t N, index_t I, index_t H, const T* x, const T* h, const T* w_ih, const T* w_hh,
                      const T* b_ih, const T* b_hh, T* h_next, T* gates) {
  const index_t G = 3 * H;
  Workspace ws;
  T* gh = workspace_take<T>(ws, N * G);
  if (!gh) return;
  gemm<T>(false, true, N, G, I, T(1), x, I, w_ih, I, T(0), gates, 4 * H);   // GI = x·w_ihᵀ (row stride 4H)
  gemm<T>(false, true, N, G, H, T(1), h, H, w_hh, H, T(0), gh, G);          // GH = h·w_hhᵀ
  gates_forward<T>(N, H, gates, 4 * H, gh, b_ih, b_hh, h, h_next);
}

template <typename T>
void gru_cell_backward(index_t N, index_t I, index_t H, const T* grad_h_next, const T* x, const T* h,
                       const T* w_ih, const T* w_hh, const T* gates, T* grad_x, T* grad_h, T* grad_w_ih,
                       T* grad_w_hh, T* grad_b_ih, T* grad_b_hh) {
  const index_t G = 3 * H;
  Workspace ws;
  T* dgi = workspace_take<T>(ws, N * G);
  T* dgh = workspace_take<T>(ws, N * G);
  if (!dgi || !dgh) return;
  gates_backward<T>(N, H, gates, h, grad_h_next, nullptr, dgi, dgh, grad_h);   // grad_h = dh⊙z
  gemm<T>(false, false, N, H, G, T(1), dgh, G, w_hh, H, T(1), grad_h, H);     //   + dgh·w_hh
  gemm<T>(false, false, N, I, G, T(1), dgi, G, w_ih, I, T(0), grad_x, I);     // grad_x = dgi·w_ih
  gemm<T>(true, false, G, I, N, T(1), dgi, G, x, I, T(0), grad_w_ih, I);      // grad_w_ih = dgiᵀ·x
  gemm<T>(true, false, G, H, N, T(1), dgh, G, h, H, T(0), grad_w_hh, H);      // grad_w_hh = dghᵀ·h
  column_sums<T>(N, G, dgi, grad_b_ih);
  column_sums<T>(N, G, dgh, grad_b_hh);
}

template <typename T>
void gru_forward(index_t T_, index_t N, index_t I, index_t H, const T* x, const T* h0, const T* w_ih,
                 const T* w_hh, const T* b_ih, const T* b_hh, T* y, T* h_T, T* gates) {
  const index_t G = 3 * H, NH = N * H;
  Workspace ws;
  // Inference (no gates array): the projection goes to a workspace of row stride 3H and nothing is saved.
  const index_t ldg = gates ? 4 * H : G;
  T* g = gates ? gates : workspace_take<T>(ws, T_ * N * G);
  if (!g) return;
  // GI = X(T·N, I)·w_ihᵀ for every step at once.
  gemm<T>(false, true, T_ * N, G, I, T(1), x, I, w_ih, I, T(0), g, ldg);
  recurrence_forward<T>(T_, N, H, h0, w_hh, b_ih, b_hh, g, ldg, y);
  std::memcpy(h_T, y + (T_ - 1) * NH, static_cast<size_t>(NH) * sizeof(T));
}

template <typename T>
void gru_backward(index_t T_, index_t N, index_t I, index_t H, const T* grad_y, const T* grad_h_T, const T* x,
                  const T* h0, const T* w_ih, const T* w_hh, const T* gates, const T* hs, T* grad_x, T* grad_h0,
                  T* grad_w_ih, T* grad_w_hh, T* grad_b_ih, T* grad_b_hh) {
  const index_t G = 3 * H, NG = N * G, TN = T_ * N;
  Workspace ws;
  T* dgi = workspace_take<T>(ws, T_ * NG);
  T* dgh = workspace_take<T>(ws, T_ * NG);
  if (!dgi || !dgh) return;
  recurrence_backward<T>(T_, N, H, h0, w_hh, gates, hs, grad_y, grad_h_T, dgi, dgh, grad_h0);
  gemm<T>(false, false, TN, I, G, T(1), dgi, G, w_ih, I, T(0), grad_x, I);    // grad_x = dGI·w_ih
  gemm<T>(true, false, G, I, TN, T(1), dgi, G, x, I, T(0), grad_w_ih, I);     // grad_w_ih = dGIᵀ·X
  // grad_w_hh = Σ_t dgh_tᵀ·h_{t−1}: h_0 apart, then h_1..h_{T−1} as one GEMM over (T−1)·N rows
  gemm<T>(true, false, G, H, N, T(1), dgh, G, h0, H, T(0), grad_w_hh, H);
  if (T_ > 1) gemm<T>(true, false, G, H, (T_ - 1) * N, T(1), dgh + NG, G, hs, H, T(1), grad_w_hh, H);
  column_sums<T>(TN, G, dgi, grad_b_ih);
  column_sums<T>(TN, G, dgh, grad_b_hh);
}

#define PE_GRU_INSTANTIATE(T)                                                                                    \
  template void gru_cell_forward<T>(index_t, index_t, index_t, const T*, const T*, const T*, const T*, const T*, \
                                    const T*, T*, T*);                                                           \
  template void gru_cell_backward<T>(index_t, index_t, index_t, const T*, const T*, const T*, const T*,          \
                                     const T*, const T*, T*, T*, T*, T*, T*, T*);                                \
  template void gru_forward<T>(index_t, index_t, index_t, index_t, const T*, const T*, const T*, const T*,       \
                               const T*, const T*, T*, T*, T*);                                                  \
  template void gru_backward<T>(index_t, index_t, index_t, index_t, const T*, const T*, const T*, const T*,      \
                                const T*, const T*, const T*, const T*, T*, T*, T*, T*, T*, T*);
PE_GRU_INSTANTIATE(float)
PE_GRU_INSTANTIATE(double)
#undef PE_GRU_INSTANTIATE

}  // namespace pyengine::cpu
