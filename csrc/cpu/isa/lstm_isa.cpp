// lstm_isa.cpp — the fused float32 LSTM gate passes (see pyengine/lstm.h), compiled once per ISA.
//
// Forward, per element of a row of H hidden units: add both biases to the four pre-activations,
// apply σ/σ/tanh/σ, update the cell and compute h, writing the activated gates back in place.
// Backward: from (dh, dc, saved gates, c_prev, c_next) compute the four pre-activation gradients
// and the cell gradient flowing to the previous step. Both work on whole vectors of VL lanes; the
// last partial vector of a row is loaded zero-padded and stored partially, so every element goes
// through the same arithmetic.
//
// exp is a Cody–Waite range reduction x = n·ln2 + r (|r| ≤ ln2/2, ln2 split in two so n·ln2 is
// exact), a degree-7 polynomial for e^r and 2^n built in the exponent bits; relative error below
// 1e-7 over the clamped range [-87.3, 88.3]. σ(x) = 1/(1+e^−x). tanh uses an odd polynomial in x
// for |x| < 0.625 (where 1 − 2/(e^{2|x|}+1) would cancel) and that identity elsewhere; relative
// error about 1.3e-7. The polynomial coefficients are the classic minimax fits for float.
//
// The float32 sequence recurrence (forward and backward) also lives here. Threads split the batch
// rows once for the whole sequence: step t of a row needs only that row's state from step t±1, so
// each thread runs its rows through every step with no barrier. Per step and block of MR rows it
// runs one register-blocked GEMM of its rows against w_hh, packed once per call into NR-column
// panels, and then the fused gate pass on those rows while their gates are still in L2.
#include <cstring>

#include "gemm_kernel.h"
#include "isa.h"
#include "pyengine/lstm.h"

namespace pyengine::cpu::PYENGINE_ISA {
namespace {

constexpr int VL = lanes<float>;
constexpr int MR = Blocking<float>::MR;   // the GEMM micro-kernel's blocking (gemm_kernel.h)
constexpr int NR = Blocking<float>::NR;

typedef vec_t<float> vf;
typedef vi32 vi;

// n lanes from p (the rest zero); n == VL is the common, branch-free case once inlined.
inline vf load(const float* p, int n) {
  vf v = vf{};
  if (n == VL)
    std::memcpy(&v, p, sizeof(vf));
  else
    std::memcpy(&v, p, static_cast<size_t>(n) * sizeof(float));
  return v;
}

inline void store(float* p, vf v, int n) {
  if (n == VL)
    std::memcpy(p, &v, sizeof(vf));
  else
    std::memcpy(p, &v, static_cast<size_t>(n) * sizeof(float));
}

inline vf vmin(vf a, vf b) { return a < b ? a : b; }
inline vf vmax(vf a, vf b) { return a > b ? a : b; }

inline vf vexp(vf x) {
  x = vmax(vmin(x, splat(88.3f)), splat(-87.3f));
  // Round x·log2(e) to the nearest integer by adding and removing 1.5·2^23.
  const vf magic = splat(12582912.0f);
  const vf n = (x * splat(1.44269504088896341f) + magic) - magic;
  vf r = x - n * splat(0.693359375f);
  r = r - n * splat(-2.12194440e-4f);
  vf p = splat(1.9875691500e-4f);
  p = p * r + splat(1.3981999507e-3f);
  p = p * r + splat(8.3334519073e-3f);
  p = p * r + splat(4.1665795894e-2f);
  p = p * r + splat(1.6666665459e-1f);
  p = p * r + splat(5.0000001201e-1f);
  const vf er = p * r * r + r + splat(1.0f);
  const vi bits = (__builtin_convertvector(n, vi) + 127) << 23;  // n in [-126, 127]: a normal 2^n
  return er * (vf)bits;
}

inline vf vsigmoid(vf x) { return splat(1.0f) / (splat(1.0f) + vexp(-x)); }

inline vf vtanh(vf x) {
  const vf ax = x < splat(0.0f) ? -x : x;
  const vf e = vexp(splat(2.0f) * ax);
  vf large = splat(1.0f) - splat(2.0f) / (e + splat(1.0f));
  large = x < splat(0.0f) ? -large : large;
  const vf z = x * x;
  vf p = splat(-5.70498872745e-3f);
  p = p * z + splat(2.06390887954e-2f);
  p = p * z + splat(-5.37397155531e-2f);
  p = p * z + splat(1.33314422036e-1f);
  p = p * z + splat(-3.33332819422e-1f);
  const vf small = p * z * x + x;
  return ax < splat(0.625f) ? small : large;
}

// One vector of hidden units [j, j+n) of one row.
inline void forward_vec(index_t H, index_t j, int n, float* g, const float* b_ih, const float* b_hh,
                        const float* c_prev, float* c_next, float* h_next) {
  vf a[4];
  for (int q = 0; q < 4; ++q) {
    a[q] = load(g + q * H + j, n);
    if (b_ih) a[q] += load(b_ih + q * H + j, n);
    if (b_hh) a[q] += load(b_hh + q * H + j, n);
  }
  const vf i = vsigmoid(a[0]), f = vsigmoid(a[1]), gg = vtanh(a[2]), o = vsigmoid(a[3]);
  const vf c = f * load(c_prev + j, n) + i * gg;
  store(g + j, i, n);
  store(g + H + j, f, n);
  store(g + 2 * H + j, gg, n);
  store(g + 3 * H + j, o, n);
  store(c_next + j, c, n);
  store(h_next + j, o * vtanh(c), n);
}

inline void backward_vec(index_t H, index_t j, int n, const float* g, const float* c_prev,
                         const float* c_next, const float* dh_a, const float* dh_b, const float* dc_in,
                         float* dc_out, float* dg) {
  const vf one = splat(1.0f);
  const vf i = load(g + j, n), f = load(g + H + j, n), gg = load(g + 2 * H + j, n), o = load(g + 3 * H + j, n);
  const vf tc = vtanh(load(c_next + j, n));
  vf dh = load(dh_a + j, n);
  if (dh_b) dh += load(dh_b + j, n);
  vf dc = dh * o * (one - tc * tc);
  if (dc_in) dc += load(dc_in + j, n);
  store(dg + j, dc * gg * i * (one - i), n);
  store(dg + H + j, dc * load(c_prev + j, n) * f * (one - f), n);
  store(dg + 2 * H + j, dc * i * (one - gg * gg), n);
  store(dg + 3 * H + j, dh * tc * o * (one - o), n);
  store(dc_out + j, dc * f, n);
}

}  // namespace

// rows × H: gates row stride 4H (pre-activations in, activated gates out), the others stride H.
void lstm_gates_forward_f32(index_t rows, index_t H, float* gates, const float* b_ih, const float* b_hh,
                            const float* c_prev, float* c_next, float* h_next) {
  const index_t full = H / VL * VL;
  for (index_t r = 0; r < rows; ++r) {
    float* g = gates + r * 4 * H;
    const float* cp = c_prev + r * H;
    float* cn = c_next + r * H;
    float* hn = h_next + r * H;
    for (index_t j = 0; j < full; j += VL) forward_vec(H, j, VL, g, b_ih, b_hh, cp, cn, hn);
    if (full < H) forward_vec(H, full, static_cast<int>(H - full), g, b_ih, b_hh, cp, cn, hn);
  }
}

// dh = dh_a + dh_b (dh_b may be null); dc_in (may be null, may alias dc_out) is ∂L/∂c_next and
// dc_out receives ∂L/∂c_prev; dgates (row stride 4H) receives the pre-activation gradients.
void lstm_gates_backward_f32(index_t rows, index_t H, const float* gates, const float* c_prev,
                             const float* c_next, const float* dh_a, const float* dh_b, const float* dc_in,
                             float* dc_out, float* dgates) {
  const index_t full = H / VL * VL;
  for (index_t r = 0; r < rows; ++r) {
    const float* g = gates + r * 4 * H;
    const float* cp = c_prev + r * H;
    const float* cn = c_next + r * H;
    const float* da = dh_a + r * H;
    const float* db = dh_b ? dh_b + r * H : nullptr;
    const float* di = dc_in ? dc_in + r * H : nullptr;
    float* dco = dc_out + r * H;
    float* dg = dgates + r * 4 * H;
    for (index_t j = 0; j < full; j += VL) backward_vec(H, j, VL, g, cp, cn, da, db, di, dco, dg);
    if (full < H) backward_vec(H, full, static_cast<int>(H - full), g, cp, cn, da, db, di, dco, dg);
  }
}


// ---- the sequence recurrence ----------------------------------------------------------------

namespace {

// ap[k·MR + i] = A[i, k] for the m ≤ MR rows of A (row stride lda) and k < K; rows m..MR zero.
void pack_rows(const float* A, index_t lda, int m, index_t K, float* ap) {
  for (int i = 0; i < m; ++i) {
    const float* row = A + i * lda;
    for (index_t k = 0; k < K; ++k) ap[k * MR + i] = row[k];
  }
  for (int i = m; i < MR; ++i)
    for (index_t k = 0; k < K; ++k) ap[k * MR + i] = 0.0f;
}

// All `rows` rows of A (row stride lda, K columns) packed block by block: block b (rows b·MR …)
// at ap + b·MR·K, in pack_rows' layout.
void pack_all_rows(const float* A, index_t lda, index_t rows, index_t K, float* ap) {
  for (index_t rb = 0; rb < rows; rb += MR)
    pack_rows(A + rb * lda, lda, rows - rb < MR ? static_cast<int>(rows - rb) : MR, K, ap + rb * K);
}

// C[0:rows, 0:cols] (+)= A[0:rows, 0:K] · B, A packed by pack_all_rows, B packed in NR-column
// panels of K rows, through the GEMM's micro-kernel (gemm_kernel.h); ACC adds onto C. Loop order
// k-chunk → panel → row block: a KC×NR chunk of a B panel (32 KB)
// is read from L2 once per step and reused from L1 by every row block.
constexpr index_t KC = 256;
template <bool ACC>
void rows_gemm(index_t rows, index_t K, index_t cols, const float* ap, const float* bp, float* c, index_t ldc) {
  for (index_t k0 = 0; k0 < K; k0 += KC) {
    const index_t kc = K - k0 < KC ? K - k0 : KC;
    for (index_t p = 0; p * NR < cols; ++p) {
      const int n = cols - p * NR < NR ? static_cast<int>(cols - p * NR) : NR;
      const float* b = bp + p * K * NR + k0 * NR;
      for (index_t rb = 0; rb < rows; rb += MR) {
        const int m = rows - rb < MR ? static_cast<int>(rows - rb) : MR;
        const float* a = ap + rb * K + k0 * MR;
        float* cp = c + rb * ldc + p * NR;
        // gemm's micro-kernel on the packed panels (every w_hh panel is NR wide)
        tile<float, true>(kc, a, 0, b, cp, ldc, 1.0f, ACC || k0 > 0 ? 1.0f : 0.0f, m, n, Epilogue<float>{}, true);
      }
    }
  }
}

// The rows [r0, r1) of thread tid out of nt, in whole blocks where possible.
void row_range(index_t N, int nt, int tid, index_t& r0, index_t& r1) {
  const index_t per = (N + nt - 1) / nt;
  r0 = per * tid < N ? per * tid : N;
  r1 = r0 + per < N ? r0 + per : N;
}

}  // namespace

// Workspace sizes (floats) the two recurrences need, for the caller to allocate.
index_t lstm_recurrence_packed_size(index_t H) {
  const index_t G = 4 * H;
  const index_t fwd = (G + NR - 1) / NR * NR * H, bwd = (H + NR - 1) / NR * NR * G;
  return fwd > bwd ? fwd : bwd;
}
// apack: for each thread room for every row (rounded up to MR; OpenMP may hand out fewer threads
// than asked, giving each more rows) by the larger K (4H, of the backward).
index_t lstm_apack_stride(index_t N, index_t H) { return (N + MR - 1) / MR * MR * 4 * H; }
index_t lstm_recurrence_apack_size(index_t N, index_t H, int threads) {
  return static_cast<index_t>(threads) * lstm_apack_stride(N, H);
}


// Forward recurrence over T steps. gates (T, N, 4H) holds x·w_ihᵀ on entry and the activated gates
// on exit; cs, y (T, N, H) are written. packed, apack: the sizes below.
void lstm_recurrence_forward_f32(index_t T, index_t N, index_t H, const float* h0, const float* c0,
                                 const float* w_hh, const float* b_ih, const float* b_hh, float* gates,
                                 float* cs, float* y, float* packed, float* apack, int threads) {
  const index_t G = 4 * H, NH = N * H, NG = N * G;
  const index_t panels = (G + NR - 1) / NR;
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    int tid = 0, nt = 1;
#ifdef PYENGINE_OPENMP
    tid = omp_get_thread_num();
    nt = omp_get_num_threads();
#endif
    // w_hhᵀ (H, G) into panels: packed[p][k][j] = w_hh[p·NR + j, k]
#pragma omp for schedule(static)
    for (index_t p = 0; p < panels; ++p) {
      float* dst = packed + p * H * NR;
      for (index_t k = 0; k < H; ++k)
        for (int j = 0; j < NR; ++j) {
          const index_t col = p * NR + j;
          dst[k * NR + j] = col < G ? w_hh[col * H + k] : 0.0f;
        }
    }
    index_t r0, r1;
    row_range(N, nt, tid, r0, r1);
    const index_t apack_stride = lstm_apack_stride(N, H);
    float* ap = apack + static_cast<index_t>(tid) * apack_stride;
    const index_t rows = r1 - r0;
    for (index_t t = 0; t < T && rows > 0; ++t) {
      const float* h_prev = t ? y + (t - 1) * NH : h0;
      const float* c_prev = t ? cs + (t - 1) * NH : c0;
      float* g = gates + t * NG + r0 * G;
      pack_all_rows(h_prev + r0 * H, H, rows, H, ap);
      rows_gemm<true>(rows, H, G, ap, packed, g, G);                          // A_t += h_{t−1}·w_hhᵀ
      lstm_gates_forward_f32(rows, H, g, b_ih, b_hh, c_prev + r0 * H, cs + t * NH + r0 * H, y + t * NH + r0 * H);
    }
  }
}

// Backward recurrence over T steps, t = T−1 … 0: dA (T, N, 4H) is written with the pre-activation
// gradients; grad_h0, grad_c0 (N, H) are written; grad_h_T, grad_c_T may be null. dh_ws, dc_ws: N·H
// floats each; packed, apack: the sizes above.
void lstm_recurrence_backward_f32(index_t T, index_t N, index_t H, const float* c0, const float* w_hh,
                                  const float* gates, const float* cs, const float* grad_y,
                                  const float* grad_h_T, const float* grad_c_T, float* dA, float* grad_h0,
                                  float* grad_c0, float* dh_ws, float* dc_ws, float* packed, float* apack,
                                  int threads) {
  const index_t G = 4 * H, NH = N * H, NG = N * G;
  const index_t panels = (H + NR - 1) / NR;
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    int tid = 0, nt = 1;
#ifdef PYENGINE_OPENMP
    tid = omp_get_thread_num();
    nt = omp_get_num_threads();
#endif
    // w_hh (G, H) into panels: packed[p][k][j] = w_hh[k, p·NR + j]
#pragma omp for schedule(static)
    for (index_t p = 0; p < panels; ++p) {
      float* dst = packed + p * G * NR;
      for (index_t k = 0; k < G; ++k)
        for (int j = 0; j < NR; ++j) {
          const index_t col = p * NR + j;
          dst[k * NR + j] = col < H ? w_hh[k * H + col] : 0.0f;
        }
    }
    index_t r0, r1;
    row_range(N, nt, tid, r0, r1);
    const index_t apack_stride = lstm_apack_stride(N, H);
    float* ap = apack + static_cast<index_t>(tid) * apack_stride;
    const index_t rows = r1 - r0;
    for (index_t t = T - 1; t >= 0 && rows > 0; --t) {
      const float* dh_src = t == T - 1 ? grad_h_T : dh_ws;   // ∂L/∂h_t from step t+1 (null: zero)
      const float* dc_src = t == T - 1 ? grad_c_T : dc_ws;
      float* dh_dst = t ? dh_ws : grad_h0;
      float* dc_dst = t ? dc_ws : grad_c0;
      const float* c_prev = t ? cs + (t - 1) * NH : c0;
      float* dA_t = dA + t * NG;
      const index_t e = r0 * H;
      lstm_gates_backward_f32(rows, H, gates + t * NG + r0 * G, c_prev + e, cs + t * NH + e, grad_y + t * NH + e,
                              dh_src ? dh_src + e : nullptr, dc_src ? dc_src + e : nullptr, dc_dst + e,
                              dA_t + r0 * G);
      pack_all_rows(dA_t + r0 * G, G, rows, G, ap);
      rows_gemm<false>(rows, G, H, ap, packed, dh_dst + e, H);                // ∂L/∂h_{t−1} = dA_t·w_hh
    }
  }
}

PE_ISA_REGISTER(lstm_gates_forward_f32, lstm_gates_forward_f32)
PE_ISA_REGISTER(lstm_gates_backward_f32, lstm_gates_backward_f32)
PE_ISA_REGISTER(lstm_recurrence_forward_f32, lstm_recurrence_forward_f32)
PE_ISA_REGISTER(lstm_recurrence_backward_f32, lstm_recurrence_backward_f32)
PE_ISA_REGISTER(lstm_recurrence_packed_size, lstm_recurrence_packed_size)
PE_ISA_REGISTER(lstm_recurrence_apack_size, lstm_recurrence_apack_size)

}  // namespace pyengine::cpu::PYENGINE_ISA
