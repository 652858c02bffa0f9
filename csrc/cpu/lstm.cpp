// lstm.cpp — LSTM cell and sequence kernels (equations and algorithm in pyengine/lstm.h).
//
// The big matrix work (the input projection, grad_x, grad_w_ih, grad_w_hh) is pyengine::cpu::gemm,
// which splits each GEMM over the threads itself. The recurrence over the steps comes in two
// versions. float runs lstm_isa.cpp: the batch rows are split between the threads once for the
// whole sequence (a row's step t needs only that row's step t−1), w_hh is packed once per call, and
// each thread does per step and block of rows one register-blocked GEMM and the vectorised fused
// gate pass, with no barrier between steps. double (the gradient-check path) runs per step one
// gemm call and a scalar gate pass with libm's exp and tanh. The cell uses gemm and the gate pass.
// Workspaces (packed w_hh, the gate gradients, the running dh and dc) come from the calling
// thread's arena (pyengine/workspace.h).
#include "pyengine/lstm.h"
#include "pyengine/workspace.h"

#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#include "pyengine/gemm.h"
#include "pyengine/parallel.h"

namespace pyengine::cpu {

namespace {

// Below this many elements per pass, waking a second thread costs more than it saves.
constexpr index_t kParallelElems = 1 << 14;

int threads_for(index_t elems) {
  const int nt = get_num_threads();
  return elems >= kParallelElems && nt > 1 ? nt : 1;
}

// --- the element-wise passes: float through the ISA copy, double in scalar with libm ----------

void gate_fwd_rows(index_t rows, index_t H, float* g, const float* b_ih, const float* b_hh,
                   const float* c_prev, float* c_next, float* h_next) {
  return lstm_gates_forward_f32(rows, H, g, b_ih, b_hh, c_prev, c_next, h_next);
}

void gate_bwd_rows(index_t rows, index_t H, const float* g, const float* c_prev, const float* c_next,
                   const float* dh_a, const float* dh_b, const float* dc_in, float* dc_out, float* dg) {
  return lstm_gates_backward_f32(rows, H, g, c_prev, c_next, dh_a, dh_b, dc_in, dc_out, dg);
}

double sigmoid(double v) { return 1.0 / (1.0 + std::exp(-v)); }

void gate_fwd_rows(index_t rows, index_t H, double* gates, const double* b_ih, const double* b_hh,
                   const double* c_prev, double* c_next, double* h_next) {
  for (index_t r = 0; r < rows; ++r) {
    double* g = gates + r * 4 * H;
    for (index_t j = 0; j < H; ++j) {
      double a[4];
      for (int q = 0; q < 4; ++q)
        a[q] = g[q * H + j] + (b_ih ? b_ih[q * H + j] : 0.0) + (b_hh ? b_hh[q * H + j] : 0.0);
      const double i = sigmoid(a[0]), f = sigmoid(a[1]), gg = std::tanh(a[2]), o = sigmoid(a[3]);
      const double c = f * c_prev[r * H + j] + i * gg;
      g[j] = i;
      g[H + j] = f;
      g[2 * H + j] = gg;
      g[3 * H + j] = o;
      c_next[r * H + j] = c;
      h_next[r * H + j] = o * std::tanh(c);
    }
  }
}

void gate_bwd_rows(index_t rows, index_t H, const double* gates, const double* c_prev, const double* c_next,
                   const double* dh_a, const double* dh_b, const double* dc_in, double* dc_out,
                   double* dgates) {
  for (index_t r = 0; r < rows; ++r) {
    const double* g = gates + r * 4 * H;
    double* dg = dgates + r * 4 * H;
    for (index_t j = 0; j < H; ++j) {
      const index_t e = r * H + j;
      const double i = g[j], f = g[H + j], gg = g[2 * H + j], o = g[3 * H + j];
      const double tc = std::tanh(c_next[e]);
      const double dh = dh_a[e] + (dh_b ? dh_b[e] : 0.0);
      const double dc = (dc_in ? dc_in[e] : 0.0) + dh * o * (1.0 - tc * tc);
      dg[j] = dc * gg * i * (1.0 - i);
      dg[H + j] = dc * c_prev[e] * f * (1.0 - f);
      dg[2 * H + j] = dc * i * (1.0 - gg * gg);
      dg[3 * H + j] = dh * tc * o * (1.0 - o);
      dc_out[e] = dc * f;
    }
  }
}

// The passes over N rows, split by rows across the threads.
template <typename T>
void gates_forward(index_t N, index_t H, T* gates, const T* b_ih, const T* b_hh, const T* c_prev, T* c_next,
                   T* h_next) {
  const int nt = threads_for(N * 4 * H);
  parallel_for(N, nt, [&](index_t r) {
    gate_fwd_rows(1, H, gates + r * 4 * H, b_ih, b_hh, c_prev + r * H, c_next + r * H, h_next + r * H);
  });
}

template <typename T>
void gates_backward(index_t N, index_t H, const T* gates, const T* c_prev, const T* c_next, const T* dh_a,
                    const T* dh_b, const T* dc_in, T* dc_out, T* dgates) {
  const int nt = threads_for(N * 4 * H);
  parallel_for(N, nt > 1 ? nt : 1, [&](index_t r) {
    const index_t e = r * H;
    gate_bwd_rows(1, H, gates + r * 4 * H, c_prev + e, c_next + e, dh_a + e, dh_b ? dh_b + e : nullptr,
                  dc_in ? dc_in + e : nullptr, dc_out + e, dgates + r * 4 * H);
  });
}

// out[j] = Σ_r a[r, j] for a (rows, cols); columns split across the threads.
template <typename T>
void column_sums(index_t rows, index_t cols, const T* a, T* out) {
  const int nt = threads_for(rows * cols);
  const index_t chunk = 64;
  const index_t n_chunks = (cols + chunk - 1) / chunk;
  parallel_for(n_chunks, nt > 1 ? nt : 1, [&](index_t cb) {
    const index_t j0 = cb * chunk, j1 = j0 + chunk < cols ? j0 + chunk : cols;
    T* o = out + j0;
    for (index_t j = 0; j < j1 - j0; ++j) o[j] = T(0);
    for (index_t r = 0; r < rows; ++r) {
      const T* row = a + r * cols + j0;
      for (index_t j = 0; j < j1 - j0; ++j) o[j] += row[j];
    }
  });
}

index_t recurrence_packed_size(index_t H) { return lstm_recurrence_packed_size(H); }
index_t recurrence_apack_size(index_t N, index_t H, int threads) {
  return lstm_recurrence_apack_size(N, H, threads);
}

// Threads for the float recurrence: rows are split between them, so never more than N.
int recurrence_threads(index_t N, index_t H) {
  const int nt = get_num_threads();
  if (nt <= 1 || static_cast<double>(N) * 4 * H * H < 64.0 * 64 * 64) return 1;
  return N < nt ? static_cast<int>(N) : nt;
}

// dst (cols, rows) = srcᵀ for src (rows, cols).
template <typename T>
void transpose(index_t rows, index_t cols, const T* src, T* dst) {
  constexpr index_t B = 32;
  for (index_t r0 = 0; r0 < rows; r0 += B)
    for (index_t c0 = 0; c0 < cols; c0 += B) {
      const index_t r1 = r0 + B < rows ? r0 + B : rows, c1 = c0 + B < cols ? c0 + B : cols;
      for (index_t r = r0; r < r1; ++r)
        for (index_t c = c0; c < c1; ++c) dst[c * rows + r] = src[r * cols + c];
    }
}

// --- sparse input rows ------------------------------------------------------------------------
//
// A one-hot (or few-hot) x — characters, words or categories fed in as indicator vectors, as in
// examples/char_lstm.py — makes x·w_ihᵀ and dAᵀ·x almost all multiplications by zero. When at most
// one entry of x in 16 is non-zero and w_ih is finite (so that skipping 0·w changes nothing; 0·inf
// would be NaN), the projection adds, per row of x, the rows of w_ihᵀ its non-zeros pick (scaled by
// them: a one-hot row copies its w_ih column exactly, the dense GEMM's result to the bit), and
// grad_w_ihᵀ adds each row of dA into the rows its x row picks. A dense x leaves the scan within the
// first 1/16 of its entries.
template <typename T>
struct SparseRows {
  index_t* start = nullptr;   // (rows + 1): row r's entries are [start[r], start[r + 1])
  index_t* col = nullptr;
  T* val = nullptr;
};

template <typename T>
bool all_finite(index_t n, const T* a) {
  bool ok = true;
  for (index_t i = 0; i < n; ++i) ok &= std::isfinite(a[i]);
  return ok;
}

// Fills s from x (rows, I) when it has at most rows·I/16 non-zeros (−0 counts as one); false otherwise.
template <typename T>
bool sparse_rows(Workspace& ws, index_t rows, index_t I, const T* x, SparseRows<T>& s) {
  const index_t limit = rows * I / 16;
  if (I < 16 || limit < 1) return false;
  s.start = workspace_take<index_t>(ws, rows + 1);
  s.col = workspace_take<index_t>(ws, limit);
  s.val = workspace_take<T>(ws, limit);
  if (!s.start || !s.col || !s.val) return false;
  index_t nnz = 0;
  for (index_t r = 0; r < rows; ++r) {
    s.start[r] = nnz;
    const T* row = x + r * I;
    for (index_t k0 = 0; k0 < I; k0 += 16) {
      const index_t k1 = k0 + 16 < I ? k0 + 16 : I;
      bool any = false;   // 16 entries tested at once (vectorised), one by one only when some is non-zero
      for (index_t k = k0; k < k1; ++k) any |= row[k] != T(0) || std::signbit(row[k]);
      if (!any) continue;
      for (index_t k = k0; k < k1; ++k) {
        if (row[k] == T(0) && !std::signbit(row[k])) continue;
        if (nnz == limit) return false;
        s.col[nnz] = k;
        s.val[nnz++] = row[k];
      }
    }
  }
  s.start[rows] = nnz;
  return true;
}

// gates (rows, G) = x·w_ihᵀ for the sparse x of s; wT = w_ihᵀ (I, G).
template <typename T>
void sparse_projection(index_t rows, index_t G, const SparseRows<T>& s, const T* wT, T* gates) {
  parallel_for(rows, threads_for(rows * G), [&](index_t r) {
    T* g = gates + r * G;
    index_t p = s.start[r];
    const index_t e = s.start[r + 1];
    if (p == e) {
      std::memset(g, 0, static_cast<size_t>(G) * sizeof(T));
      return;
    }
    const T* w = wT + s.col[p] * G;
    const T v = s.val[p];
    for (index_t j = 0; j < G; ++j) g[j] = v * w[j];
    for (++p; p < e; ++p) {
      const T* wp = wT + s.col[p] * G;
      const T vp = s.val[p];
      for (index_t j = 0; j < G; ++j) g[j] += vp * wp[j];
    }
  });
}

// gT (I, G) = (dAᵀ·x)ᵀ = xᵀ·dA for the sparse x (rows, I) of s and dA (rows, G); columns of G split
// across the threads (each adds over the rows in order: the same bits at every thread count).
template <typename T>
void sparse_weight_grad(index_t rows, index_t I, index_t G, const SparseRows<T>& s, const T* dA, T* gT) {
  const index_t chunk = 128, n_chunks = (G + chunk - 1) / chunk;
  parallel_for(n_chunks, threads_for(rows * G), [&](index_t cb) {
    const index_t j0 = cb * chunk, n = G - j0 < chunk ? G - j0 : chunk;
    for (index_t k = 0; k < I; ++k) std::memset(gT + k * G + j0, 0, static_cast<size_t>(n) * sizeof(T));
    for (index_t r = 0; r < rows; ++r) {
      const T* d = dA + r * G + j0;
      for (index_t p = s.start[r]; p < s.start[r + 1]; ++p) {
        T* o = gT + s.col[p] * G + j0;
        const T v = s.val[p];
        for (index_t j = 0; j < n; ++j) o[j] += v * d[j];
      }
    }
  });
}

// --- the recurrence over the steps (after the input projection) -------------------------------

// Generic version: per step one recurrent GEMM (both threads) and one fused gate pass (rows split
// across threads). gates holds x·w_ihᵀ on entry, the activated gates on exit.
template <typename T>
void recurrence_forward(index_t T_, index_t N, index_t H, const T* h0, const T* c0, const T* w_hh,
                        const T* b_ih, const T* b_hh, T* gates, T* cs, T* y) {
  const index_t G = 4 * H, NH = N * H, NG = N * G;
  Workspace ws;
  T* w_hh_t = workspace_take<T>(ws, G * H);   // w_hhᵀ (H, G): each step's GEMM reads B without a transpose
  transpose<T>(G, H, w_hh, w_hh_t);
  for (index_t t = 0; t < T_; ++t) {
    const T* h_prev = t ? y + (t - 1) * NH : h0;
    const T* c_prev = t ? cs + (t - 1) * NH : c0;
    T* g = gates + t * NG;
    gemm<T>(false, false, N, G, H, T(1), h_prev, H, w_hh_t, G, T(1), g, G);   // A_t += h_{t−1}·w_hhᵀ
    gates_forward<T>(N, H, g, b_ih, b_hh, c_prev, cs + t * NH, y + t * NH);
  }
}

// dA (T, N, G) receives the pre-activation gradients; grad_h0, grad_c0 the initial-state gradients;
// dsum (may be null) Σ over the steps and rows of dA (the bias gradient).
template <typename T>
void recurrence_backward(index_t T_, index_t N, index_t H, const T* c0, const T* w_hh, const T* gates,
                         const T* cs, const T* grad_y, const T* grad_h_T, const T* grad_c_T, T* dA, T* grad_h0,
                         T* grad_c0, T* dsum) {
  const index_t G = 4 * H, NH = N * H, NG = N * G;
  Workspace ws;
  T* dh_buf = workspace_take<T>(ws, NH);
  T* dc_buf = workspace_take<T>(ws, NH);
  const T* dh_rec = grad_h_T;   // ∂L/∂h_t arriving from step t+1 (null: zero)
  const T* dc_in = grad_c_T;    // ∂L/∂c_t arriving from step t+1 (null: zero)
  for (index_t t = T_ - 1; t >= 0; --t) {
    const T* c_prev = t ? cs + (t - 1) * NH : c0;
    T* dA_t = dA + t * NG;
    T* dc_out = t ? dc_buf : grad_c0;
    gates_backward<T>(N, H, gates + t * NG, c_prev, cs + t * NH, grad_y + t * NH, dh_rec, dc_in, dc_out, dA_t);
    dc_in = dc_out;
    T* dh_out = t ? dh_buf : grad_h0;
    gemm<T>(false, false, N, H, G, T(1), dA_t, G, w_hh, H, T(0), dh_out, H);   // ∂L/∂h_{t−1} = dA_t·w_hh
    dh_rec = dh_out;
  }
  if (dsum) column_sums<T>(T_ * N, G, dA, dsum);
}

// float: the row-split recurrence of lstm_isa.cpp with w_hh packed once per call.
void recurrence_forward_isa(index_t T_, index_t N, index_t H, const float* h0, const float* c0, const float* w_hh,
                            const float* b_ih, const float* b_hh, float* gates, float* cs, float* y, float* packed,
                            float* apack, int nt) {
  return lstm_recurrence_forward_f32(T_, N, H, h0, c0, w_hh, b_ih, b_hh, gates, cs, y, packed, apack, nt);
}

void recurrence_backward_isa(index_t T_, index_t N, index_t H, const float* c0, const float* w_hh,
                             const float* gates, const float* cs, const float* grad_y, const float* grad_h_T,
                             const float* grad_c_T, float* dA, float* grad_h0, float* grad_c0, float* dh_ws,
                             float* dc_ws, float* packed, float* apack, float* dsum, float* dsum_parts, int nt) {
  return lstm_recurrence_backward_f32(T_, N, H, c0, w_hh, gates, cs, grad_y, grad_h_T, grad_c_T, dA, grad_h0, grad_c0,
                                      dh_ws, dc_ws, packed, apack, dsum, dsum_parts, nt);
}

template <>
void recurrence_forward<float>(index_t T_, index_t N, index_t H, const float* h0, const float* c0,
                               const float* w_hh, const float* b_ih, const float* b_hh, float* gates, float* cs,
                               float* y) {
  const int nt = recurrence_threads(N, H);
  Workspace ws;
  float* packed = workspace_take<float>(ws, recurrence_packed_size(H));
  float* apack = workspace_take<float>(ws, recurrence_apack_size(N, H, nt));
  recurrence_forward_isa(T_, N, H, h0, c0, w_hh, b_ih, b_hh, gates, cs, y, packed, apack, nt);
}

template <>
void recurrence_backward<float>(index_t T_, index_t N, index_t H, const float* c0, const float* w_hh,
                                const float* gates, const float* cs, const float* grad_y, const float* grad_h_T,
                                const float* grad_c_T, float* dA, float* grad_h0, float* grad_c0, float* dsum) {
  const int nt = recurrence_threads(N, H);
  Workspace ws;
  float* dh_ws = workspace_take<float>(ws, N * H);
  float* dc_ws = workspace_take<float>(ws, N * H);
  float* packed = workspace_take<float>(ws, recurrence_packed_size(H));
  float* apack = workspace_take<float>(ws, recurrence_apack_size(N, H, nt));
  float* parts = dsum ? workspace_take<float>(ws, static_cast<index_t>(nt) * 4 * H) : nullptr;
  recurrence_backward_isa(T_, N, H, c0, w_hh, gates, cs, grad_y, grad_h_T, grad_c_T, dA, grad_h0, grad_c0, dh_ws,
                          dc_ws, packed, apack, parts ? dsum : nullptr, parts, nt);
  if (dsum && !parts) column_sums<float>(T_ * N, 4 * H, dA, dsum);
}

// float: the fused per-step GEMM and gate pass of lstm_isa.cpp.
void inference_forward_isa(index_t T_, index_t N, index_t I, index_t H, const float* x, const float* h0,
                                   const float* c0, const float* w_ih, const float* w_hh, const float* b_ih,
                                   const float* b_hh, float* y, float* h_T, float* c_T) {
  const int nt = recurrence_threads(N, H);
  index_t sizes[2];
  lstm_inference_sizes(N, I, H, nt, sizes);
  Workspace ws;
  float* packed = workspace_take<float>(ws, sizes[0]);
  float* slots = workspace_take<float>(ws, sizes[1]);
  if (!packed || !slots) return;   // out of memory (the binding's estimate refuses such calls first)
  lstm_inference_forward_f32(T_, N, I, H, x, h0, c0, w_ih, w_hh, b_ih, b_hh, y, h_T, c_T, packed, slots, nt);
}

}  // namespace

template <typename T>
void lstm_cell_forward(index_t N, index_t I, index_t H, const T* x, const T* h, const T* c, const T* w_ih,
                       const T* w_hh, const T* b_ih, const T* b_hh, T* h_next, T* c_next, T* gates) {
  const index_t G = 4 * H;
  // gates = x·w_ihᵀ + h·w_hhᵀ, then the fused pass adds the biases and applies the nonlinearities
  gemm<T>(false, true, N, G, I, T(1), x, I, w_ih, I, T(0), gates, G);
  gemm<T>(false, true, N, G, H, T(1), h, H, w_hh, H, T(1), gates, G);
  gates_forward<T>(N, H, gates, b_ih, b_hh, c, c_next, h_next);
}

template <typename T>
void lstm_cell_backward(index_t N, index_t I, index_t H, const T* grad_h_next, const T* grad_c_next,
                        const T* x, const T* h, const T* c, const T* w_ih, const T* w_hh, const T* gates,
                        const T* c_next, T* grad_x, T* grad_h, T* grad_c, T* grad_w_ih, T* grad_w_hh,
                        T* grad_b) {
  const index_t G = 4 * H;
  Workspace ws;
  T* dA = workspace_take<T>(ws, N * G);
  gates_backward<T>(N, H, gates, c, c_next, grad_h_next, nullptr, grad_c_next, grad_c, dA);
  gemm<T>(false, false, N, I, G, T(1), dA, G, w_ih, I, T(0), grad_x, I);    // grad_x = dA·w_ih
  gemm<T>(false, false, N, H, G, T(1), dA, G, w_hh, H, T(0), grad_h, H);    // grad_h = dA·w_hh
  gemm<T>(true, false, G, I, N, T(1), dA, G, x, I, T(0), grad_w_ih, I);     // grad_w_ih = dAᵀ·x
  gemm<T>(true, false, G, H, N, T(1), dA, G, h, H, T(0), grad_w_hh, H);     // grad_w_hh = dAᵀ·h
  column_sums<T>(N, G, dA, grad_b);
}

template <typename T>
void lstm_forward(index_t T_, index_t N, index_t I, index_t H, const T* x, const T* h0, const T* c0,
                  const T* w_ih, const T* w_hh, const T* b_ih, const T* b_hh, T* y, T* h_T, T* c_T,
                  T* gates, T* cs) {
  const index_t G = 4 * H, NH = N * H;
  {
    // A = X(T·N, I)·w_ihᵀ for every step at once (row by row over the non-zeros for a sparse x).
    Workspace ws;
    SparseRows<T> s;
    T* wT = nullptr;
    if (sparse_rows(ws, T_ * N, I, x, s) && all_finite(G * I, w_ih) && (wT = workspace_take<T>(ws, I * G))) {
      transpose<T>(G, I, w_ih, wT);
      sparse_projection(T_ * N, G, s, wT, gates);
    } else {
      gemm<T>(false, true, T_ * N, G, I, T(1), x, I, w_ih, I, T(0), gates, G);
    }
  }
  recurrence_forward(T_, N, H, h0, c0, w_hh, b_ih, b_hh, gates, cs, y);
  std::memcpy(h_T, y + (T_ - 1) * NH, static_cast<size_t>(NH) * sizeof(T));
  std::memcpy(c_T, cs + (T_ - 1) * NH, static_cast<size_t>(NH) * sizeof(T));
}

template <typename T>
void lstm_forward_inference(index_t T_, index_t N, index_t I, index_t H, const T* x, const T* h0, const T* c0,
                            const T* w_ih, const T* w_hh, const T* b_ih, const T* b_hh, T* y, T* h_T, T* c_T) {
  if constexpr (std::is_same_v<T, float>) {
    inference_forward_isa(T_, N, I, H, x, h0, c0, w_ih, w_hh, b_ih, b_hh, y, h_T, c_T);
    return;
  }
  Workspace ws;
  T* gates = workspace_take<T>(ws, T_ * N * 4 * H);
  T* cs = workspace_take<T>(ws, T_ * N * H);
  if (!gates || !cs) return;   // out of memory (the binding's estimate refuses such calls first)
  lstm_forward<T>(T_, N, I, H, x, h0, c0, w_ih, w_hh, b_ih, b_hh, y, h_T, c_T, gates, cs);
}

template <typename T>
void lstm_backward(index_t T_, index_t N, index_t I, index_t H, const T* grad_y, const T* grad_h_T,
                   const T* grad_c_T, const T* x, const T* h0, const T* c0, const T* w_ih, const T* w_hh,
                   const T* gates, const T* cs, const T* hs, T* grad_x, T* grad_h0, T* grad_c0,
                   T* grad_w_ih, T* grad_w_hh, T* grad_b) {
  const index_t G = 4 * H, NG = N * G;
  Workspace ws;
  T* dA = workspace_take<T>(ws, T_ * NG);
  // The bias gradient Σ dA is summed as dA is made; the sparse grad_w_ih needs it too (below).
  T* sums = grad_b ? grad_b : grad_w_ih ? workspace_take<T>(ws, G) : nullptr;
  recurrence_backward(T_, N, H, c0, w_hh, gates, cs, grad_y, grad_h_T, grad_c_T, dA, grad_h0, grad_c0, sums);
  const index_t TN = T_ * N;
  if (grad_x) gemm<T>(false, false, TN, I, G, T(1), dA, G, w_ih, I, T(0), grad_x, I);     // grad_x = dA·w_ih
  if (grad_w_ih) {   // grad_w_ih = dAᵀ·X (for a sparse X, its transpose row by row over X's non-zeros)
    Workspace wsx;
    SparseRows<T> s;
    T* gT = nullptr;
    // dA must be finite too (0·NaN is NaN in the GEMM): its column sums are finite only then (or
    // overflow, which keeps the GEMM)
    const bool sparse = sums && all_finite(G, sums) && sparse_rows(wsx, TN, I, x, s) &&
                        (gT = workspace_take<T>(wsx, I * G));
    if (sparse) {
      sparse_weight_grad(TN, I, G, s, dA, gT);
      transpose<T>(I, G, gT, grad_w_ih);
    } else {
      gemm<T>(true, false, G, I, TN, T(1), dA, G, x, I, T(0), grad_w_ih, I);
    }
  }
  // grad_w_hh = Σ_t dA_tᵀ·h_{t−1}: h_0 apart, then h_1..h_{T−1} as one GEMM over (T−1)·N rows
  if (grad_w_hh) {
    gemm<T>(true, false, G, H, N, T(1), dA, G, h0, H, T(0), grad_w_hh, H);
    if (T_ > 1) gemm<T>(true, false, G, H, (T_ - 1) * N, T(1), dA + NG, G, hs, H, T(1), grad_w_hh, H);
  }
}

#define PE_LSTM_INSTANTIATE(T)                                                                            \
  template void lstm_cell_forward<T>(index_t, index_t, index_t, const T*, const T*, const T*, const T*,   \
                                     const T*, const T*, const T*, T*, T*, T*);                          \
  template void lstm_cell_backward<T>(index_t, index_t, index_t, const T*, const T*, const T*, const T*,  \
                                      const T*, const T*, const T*, const T*, const T*, T*, T*, T*, T*,  \
                                      T*, T*);                                                           \
  template void lstm_forward<T>(index_t, index_t, index_t, index_t, const T*, const T*, const T*,         \
                                const T*, const T*, const T*, const T*, T*, T*, T*, T*, T*);             \
  template void lstm_forward_inference<T>(index_t, index_t, index_t, index_t, const T*, const T*, const T*,\
                                          const T*, const T*, const T*, const T*, T*, T*, T*);           \
  template void lstm_backward<T>(index_t, index_t, index_t, index_t, const T*, const T*, const T*,        \
                                 const T*, const T*, const T*, const T*, const T*, const T*, const T*,   \
                                 const T*, T*, T*, T*, T*, T*, T*);
PE_LSTM_INSTANTIATE(float)
PE_LSTM_INSTANTIATE(double)
#undef PE_LSTM_INSTANTIATE

}  // namespace pyengine::cpu
