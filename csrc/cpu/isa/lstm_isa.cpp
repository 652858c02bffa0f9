// lstm_isa.cpp — the fused float32 LSTM gate passes (see pyengine/lstm.h), compiled once per ISA.
//
// Forward, per element of a row of H hidden units: add both biases to the four pre-activations,
// apply σ/σ/tanh/σ, update the cell and compute h, writing the activated gates back in place.
// Backward: from (dh, dc, saved gates, c_prev, c_next) compute the four pre-activation gradients
// and the cell gradient flowing to the previous step. Both work on whole vectors of VL lanes; the
// last partial vector of a row is loaded zero-padded and stored partially, so every element goes
// through the same arithmetic.
//
// σ and tanh are recurrence.h's (relative error about 1e-7 and 1.3e-7).
//
// The float32 sequence recurrence (forward and backward) also lives here. Threads split the batch
// rows once for the whole sequence: step t of a row needs only that row's state from step t±1, so
// each thread runs its rows through every step with no barrier (recurrence.h has the pieces, shared
// with the GRU). Per step, the forward runs for each group of 32 hidden units one register-blocked
// GEMM of its rows against the group's four gate panels of w_hh into an L1 buffer, and the gate pass
// on it at once (adding the input projection kept in the gates array); the backward runs the gate
// pass on its rows and then one GEMM of their gate gradients against w_hh (NR-column panels). Both
// pack w_hh once per call.
//
// The float32 inference forward (nothing saved) fuses the input projection into each step's GEMM
// and runs the gate pass on each group of 32 hidden units while its pre-activations are in L1; see
// its section below.
#include "isa.h"
#include "pyengine/lstm.h"
#include "recurrence.h"

namespace pyengine::cpu::PYENGINE_ISA {
namespace {

using rec::vf;
using rec::VL;
using rec::vsigmoid;
using rec::vtanh;
using rec::load_n;
using rec::store_n;

// One vector of hidden units [j, j+n) of one row.
inline void forward_vec(index_t H, index_t j, int n, float* g, const float* b_ih, const float* b_hh,
                        const float* c_prev, float* c_next, float* h_next) {
  vf a[4];
  for (int q = 0; q < 4; ++q) {
    a[q] = load_n(g + q * H + j, n);
    if (b_ih) a[q] += load_n(b_ih + q * H + j, n);
    if (b_hh) a[q] += load_n(b_hh + q * H + j, n);
  }
  const vf i = vsigmoid(a[0]), f = vsigmoid(a[1]), gg = vtanh(a[2]), o = vsigmoid(a[3]);
  const vf c = f * load_n(c_prev + j, n) + i * gg;
  store_n(g + j, i, n);
  store_n(g + H + j, f, n);
  store_n(g + 2 * H + j, gg, n);
  store_n(g + 3 * H + j, o, n);
  store_n(c_next + j, c, n);
  store_n(h_next + j, o * vtanh(c), n);
}

inline void backward_vec(index_t H, index_t j, int n, const float* g, const float* c_prev,
                         const float* c_next, const float* dh_a, const float* dh_b, const float* dc_in,
                         float* dc_out, float* dg) {
  const vf one = splat(1.0f);
  const vf i = load_n(g + j, n), f = load_n(g + H + j, n), gg = load_n(g + 2 * H + j, n), o = load_n(g + 3 * H + j, n);
  const vf tc = vtanh(load_n(c_next + j, n));
  vf dh = load_n(dh_a + j, n);
  if (dh_b) dh += load_n(dh_b + j, n);
  vf dc = dh * o * (one - tc * tc);
  if (dc_in) dc += load_n(dc_in + j, n);
  store_n(dg + j, dc * gg * i * (one - i), n);
  store_n(dg + H + j, dc * load_n(c_prev + j, n) * f * (one - f), n);
  store_n(dg + 2 * H + j, dc * i * (one - gg * gg), n);
  store_n(dg + 3 * H + j, dh * tc * o * (one - o), n);
  store_n(dc_out + j, dc * f, n);
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


// ---- row blocks and unit groups shared by the forwards ----------------------------------
//
// Both forwards (training and inference) pack their weights with the columns grouped by hidden unit:
// group u holds 4 NR-wide panels, gate q (i f g o) of the units [u·NR, u·NR + NR), zero past H; a
// group's pre-activations for a block of rows land in a small buffer that stays in L1 and the gate
// pass runs on it at once.

namespace {

inline index_t inf_groups(index_t H) { return (H + rec::NR - 1) / rec::NR; }

// The row blocks of `rows` rows: MR-row blocks; a last block of at most MR/3 rows after a full one
// is merged with it into two blocks (12 + 4 rows become 8 + 8), so only the wide micro-kernels
// run. inf_block gives block b's first row and row count.
inline bool inf_split_tail(index_t rows) {
  const index_t rem = rows % rec::MR;
  return rows > rec::MR && rem >= 1 && rem <= rec::MR / 3;
}
inline index_t inf_block_count(index_t rows) {
  return inf_split_tail(rows) ? rows / rec::MR + 1 : (rows + rec::MR - 1) / rec::MR;
}
inline void inf_block(index_t rows, index_t b, index_t& start, int& m) {
  constexpr int MR = rec::MR;
  const index_t nb = inf_block_count(rows);
  if (inf_split_tail(rows) && b >= nb - 2) {
    const index_t left = rows - (nb - 2) * MR, a = (left + 1) / 2;
    start = (nb - 2) * MR + (b == nb - 2 ? 0 : a);
    m = static_cast<int>(b == nb - 2 ? a : left - a);
    return;
  }
  start = b * MR;
  m = static_cast<int>(rows - start < MR ? rows - start : MR);
}
inline index_t inf_max_blocks(index_t rows) { return inf_block_count(rows); }

// The row count the micro-kernel chosen for m rows computes (tile() picks MR, ⅔MR or ⅓MR): the
// buffer has room for it, so every tile is stored whole (the fast path of micro_kernel).
inline int kernel_rows(int m) {
  constexpr int MR = rec::MR, R2 = 2 * MR / 3, R1 = MR / 3;
  return m > R2 ? MR : m > R1 ? R2 : R1;
}

// Floats one pool slot needs: the packed rows (every block MR rows × K) and the pre-activation
// buffer (every block MR rows × 4·NR).
inline index_t inf_slot_size(index_t rows, index_t K) {
  const index_t nb = inf_max_blocks(rows);
  return nb * rec::MR * K + nb * rec::MR * 4 * rec::NR;
}

}  // namespace

// ---- the sequence recurrence ----------------------------------------------------------------

// Workspace sizes (floats) the two recurrences need, for the caller to allocate.
// packed: the forward's grouped w_hh panels and bias, or the backward's w_hh panels.
index_t lstm_recurrence_packed_size(index_t H) {
  const index_t cols = inf_groups(H) * 4 * rec::NR;
  const index_t fwd = cols * H + cols, bwd = rec::panels_size(4 * H, H);
  return fwd > bwd ? fwd : bwd;
}
// apack: for each pool slot room for every row (rounded up to MR; one slot may run every row block
// when the other threads are late) by the backward's K (4H), or the forward's packed rows and
// pre-activation buffer.
index_t lstm_apack_stride(index_t N, index_t H) {
  const index_t bwd = rec::apack_stride(N, 4 * H), fwd = inf_slot_size(N, H);
  return fwd > bwd ? fwd : bwd;
}
index_t lstm_recurrence_apack_size(index_t N, index_t H, int threads) {
  return static_cast<index_t>(threads) * lstm_apack_stride(N, H);
}


// Forward recurrence over T steps. gates (T, N, 4H) holds x·w_ihᵀ on entry and the activated gates
// on exit; cs, y (T, N, H) are written. packed, apack: the sizes above. Per step and thread: the
// thread's rows of h_{t−1} are packed once, and per group of NR units one GEMM against the grouped
// w_hh panels fills the L1 buffer (not the gates array, whose rows would make the GEMM's stores and
// loads of C miss the cache), then the gate pass adds the projection and the biases, applies the
// nonlinearities and writes the activated gates, c and h.
void lstm_recurrence_forward_f32(index_t T, index_t N, index_t H, const float* h0, const float* c0,
                                 const float* w_hh, const float* b_ih, const float* b_hh, float* gates,
                                 float* cs, float* y, float* packed, float* apack, int threads) {
  constexpr int NR = rec::NR, MR = rec::MR, VL = rec::VL;
  constexpr index_t LDC = 4 * NR;
  const index_t G = 4 * H, NH = N * H, NG = N * G, groups = inf_groups(H), cols = groups * 4 * NR;
  float* bias = packed + cols * H;
  // Panel p = 4·u + q: packed[p][k][j] = w_hh[q·H + u·NR + j, k], zero past H.
  parallel_for(groups * 4, threads, [&](index_t p) {
    const index_t u = p / 4, q = p % 4;
    float* dst = packed + p * H * NR;
    for (int j = 0; j < NR; ++j) {
      const index_t unit = u * NR + j, row = q * H + unit;
      for (index_t k = 0; k < H; ++k) dst[k * NR + j] = unit < H ? w_hh[row * H + k] : 0.0f;
      bias[p * NR + j] = unit >= H ? 0.0f : (b_ih ? b_ih[row] : 0.0f) + (b_hh ? b_hh[row] : 0.0f);
    }
  });
  const index_t stride = lstm_apack_stride(N, H);
  // K = H in near-equal chunks of at most 256 (a chunk of a panel, ≤ 32 KB, stays in L1 for every row block)
  const index_t n_chunks = (H + 255) / 256, kc_max = (H + n_chunks - 1) / n_chunks;
  parallel_for_slots(threads, threads, [&](index_t b, int slot) {
    index_t r0, r1;
    rec::row_range(N, threads, static_cast<int>(b), r0, r1);
    const index_t rows = r1 - r0;
    if (rows <= 0) return;
    const index_t nb = inf_block_count(rows);
    float* ap = apack + static_cast<index_t>(slot) * stride;
    float* cb = ap + nb * MR * H;
    for (index_t t = 0; t < T; ++t) {
      const float* hp = (t ? y + (t - 1) * NH : h0) + r0 * H;
      const float* cp = (t ? cs + (t - 1) * NH : c0) + r0 * H;
      float* ct = cs + t * NH + r0 * H;
      float* yt = y + t * NH + r0 * H;
      float* gt = gates + t * NG + r0 * G;
      for (index_t bi = 0; bi < nb; ++bi) {   // h_{t−1} block by block: ap_b[k·MR + i], rows past m zero
        index_t s0;
        int m;
        inf_block(rows, bi, s0, m);
        rec::pack_rows(hp + s0 * H, H, m, H, ap + bi * MR * H);
      }
      for (index_t u = 0; u < groups; ++u) {
        for (index_t k0 = 0; k0 < H; k0 += kc_max) {
          const index_t kc = H - k0 < kc_max ? H - k0 : kc_max;
          for (int q = 0; q < 4; ++q) {
            const float* bp = packed + ((u * 4 + q) * H + k0) * NR;
            for (index_t bi = 0; bi < nb; ++bi) {
              index_t s0;
              int m;
              inf_block(rows, bi, s0, m);
              tile<float, true>(kc, ap + bi * MR * H + k0 * MR, 0, bp, cb + bi * MR * LDC + q * NR, LDC, 1.0f,
                                k0 ? 1.0f : 0.0f, kernel_rows(m), NR, Epilogue<float>{}, true);
            }
          }
        }
        const index_t u0 = u * NR;
        const int nu = H - u0 < NR ? static_cast<int>(H - u0) : NR;
        const float* bu = bias + u * 4 * NR;
        for (index_t bi = 0; bi < nb; ++bi) {
          index_t s0;
          int m;
          inf_block(rows, bi, s0, m);
          for (int i = 0; i < m; ++i) {
            const float* a = cb + (bi * MR + i) * LDC;
            const index_t r = s0 + i;
            float* g = gt + r * G + u0;
            for (int v = 0; v < nu; v += VL) {
              const int n = nu - v < VL ? nu - v : VL;
              vf pre[4];
              for (int q = 0; q < 4; ++q)
                pre[q] = rec::load_n(a + q * NR + v, VL) + rec::load_n(bu + q * NR + v, VL) +
                         rec::load_n(g + q * H + v, n);
              const vf ig = vsigmoid(pre[0]), fg = vsigmoid(pre[1]), gg = vtanh(pre[2]), og = vsigmoid(pre[3]);
              const vf c = fg * rec::load_n(cp + r * H + u0 + v, n) + ig * gg;
              rec::store_n(g + v, ig, n);
              rec::store_n(g + H + v, fg, n);
              rec::store_n(g + 2 * H + v, gg, n);
              rec::store_n(g + 3 * H + v, og, n);
              rec::store_n(ct + r * H + u0 + v, c, n);
              rec::store_n(yt + r * H + u0 + v, og * vtanh(c), n);
            }
          }
        }
      }
    }
  });
}

// Backward recurrence over T steps, t = T−1 … 0: dA (T, N, 4H) is written with the pre-activation
// gradients; grad_h0, grad_c0 (N, H) are written; grad_h_T, grad_c_T may be null. dh_ws, dc_ws: N·H
// floats each; packed, apack: the sizes above. dsum (may be null): the bias gradient Σ_{t,n} dA (4H),
// summed per block of rows as the rows are made (while they are in L1/L2, instead of a pass over dA
// afterwards) and the `threads` blocks' sums added in block order (dsum_parts: threads·4H floats).
void lstm_recurrence_backward_f32(index_t T, index_t N, index_t H, const float* c0, const float* w_hh,
                                  const float* gates, const float* cs, const float* grad_y,
                                  const float* grad_h_T, const float* grad_c_T, float* dA, float* grad_h0,
                                  float* grad_c0, float* dh_ws, float* dc_ws, float* packed, float* apack,
                                  float* dsum, float* dsum_parts, int threads) {
  const index_t G = 4 * H, NH = N * H, NG = N * G;
  const index_t panels = (H + rec::NR - 1) / rec::NR;
  parallel_for(panels, threads, [&](index_t p) { rec::pack_panel(w_hh, G, H, p, packed); });   // B = w_hh
  parallel_for_slots(threads, threads, [&](index_t b, int slot) {
    index_t r0, r1;
    rec::row_range(N, threads, static_cast<int>(b), r0, r1);
    const index_t apack_stride = lstm_apack_stride(N, H);
    float* ap = apack + static_cast<index_t>(slot) * apack_stride;
    const index_t rows = r1 - r0;
    float* part = dsum ? dsum_parts + b * G : nullptr;
    if (part) std::memset(part, 0, static_cast<size_t>(G) * sizeof(float));
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
      if (part)
        for (index_t r = 0; r < rows; ++r) {
          const float* d = dA_t + (r0 + r) * G;
          for (index_t j = 0; j < G; ++j) part[j] += d[j];
        }
      rec::pack_all_rows(dA_t + r0 * G, G, rows, G, ap);
      rec::rows_gemm<false>(rows, G, H, ap, packed, dh_dst + e, H);                // ∂L/∂h_{t−1} = dA_t·w_hh
    }
  });
  if (dsum) {
    for (index_t j = 0; j < G; ++j) dsum[j] = 0.0f;
    for (int b = 0; b < threads; ++b)
      for (index_t j = 0; j < G; ++j) dsum[j] += dsum_parts[b * G + j];
  }
}

// ---- the inference forward: one fused GEMM per step, nothing kept --------------------------
//
// Per step and thread, one GEMM of the thread's rows of [x_t | h_{t−1}] (K = I + H columns) against
// [w_ih | w_hh]ᵀ packed once per call, so the input projection never goes through memory. The packed
// columns are grouped by hidden unit: group u holds 4 NR-wide panels, gate q (i f g o) of the units
// [u·NR, u·NR + NR), zero past H. A group's N × 4·NR pre-activations land in a small buffer that
// stays in L1, and the gate pass (bias, σ/σ/tanh/σ, the cell update, h) runs on it at once,
// writing only h (into y) and the cell state (kept in c_T).


// sizes[0]: the packed weights and bias; [1]: the per-slot buffers of `threads` slots.
void lstm_inference_sizes(index_t N, index_t I, index_t H, int threads, index_t* sizes) {
  const index_t K = I + H, cols = inf_groups(H) * 4 * rec::NR;
  sizes[0] = cols * K + cols;
  const index_t rows = (N + threads - 1) / threads;
  sizes[1] = static_cast<index_t>(threads) * inf_slot_size(rows, K);
}

// y (T, N, H), h_T, c_T (N, H) written; x (T, N, I); b_ih, b_hh may be null. packed, slots: the
// sizes above. T ≥ 1.
void lstm_inference_forward_f32(index_t T, index_t N, index_t I, index_t H, const float* x, const float* h0,
                                const float* c0, const float* w_ih, const float* w_hh, const float* b_ih,
                                const float* b_hh, float* y, float* h_T, float* c_T, float* packed, float* slots,
                                int threads) {
  constexpr int NR = rec::NR, MR = rec::MR, VL = rec::VL;
  constexpr index_t LDC = 4 * NR;
  const index_t K = I + H, NH = N * H, groups = inf_groups(H), cols = groups * 4 * NR;
  float* bias = packed + cols * K;
  // Panel p = 4·u + q: packed[p][k][j] = [w_ih | w_hh][q·H + u·NR + j, k], zero past H.
  parallel_for(groups * 4, threads, [&](index_t p) {
    const index_t u = p / 4, q = p % 4;
    float* dst = packed + p * K * NR;
    for (int j = 0; j < NR; ++j) {   // one weight row at a time: contiguous reads
      const index_t unit = u * NR + j, row = q * H + unit;
      if (unit >= H) {
        for (index_t k = 0; k < K; ++k) dst[k * NR + j] = 0.0f;
        continue;
      }
      for (index_t k = 0; k < I; ++k) dst[k * NR + j] = w_ih[row * I + k];
      for (index_t k = 0; k < H; ++k) dst[(I + k) * NR + j] = w_hh[row * H + k];
    }
    for (int j = 0; j < NR; ++j) {
      const index_t unit = u * NR + j, row = q * H + unit;
      bias[p * NR + j] = unit >= H ? 0.0f : (b_ih ? b_ih[row] : 0.0f) + (b_hh ? b_hh[row] : 0.0f);
    }
  });
  // K in near-equal chunks of at most 256, so a chunk of a panel (≤ 32 KB) stays in L1 while every
  // row block uses it.
  const index_t n_chunks = (K + 255) / 256, kc_max = (K + n_chunks - 1) / n_chunks;
  parallel_for_slots(threads, threads, [&](index_t b, int slot) {
    index_t r0, r1;
    rec::row_range(N, threads, static_cast<int>(b), r0, r1);
    const index_t rows = r1 - r0;
    if (rows <= 0) return;
    const index_t rows_max = (N + threads - 1) / threads;
    const index_t nbmax = inf_max_blocks(rows_max);
    float* ap = slots + static_cast<index_t>(slot) * inf_slot_size(rows_max, K);
    float* cb = ap + nbmax * MR * K;
    const index_t nb = inf_block_count(rows);
    std::memcpy(c_T + r0 * H, c0 + r0 * H, static_cast<size_t>(rows * H) * sizeof(float));
    for (index_t t = 0; t < T; ++t) {
      const float* xt = x + (t * N + r0) * I;
      const float* hp = (t ? y + (t - 1) * NH : h0) + r0 * H;
      float* yt = y + t * NH + r0 * H;
      // pack [x_t | h_{t−1}] block by block: ap_b[k·MR + i] (rows past the block's zero)
      for (index_t bi = 0; bi < nb; ++bi) {
        float* a = ap + bi * MR * K;
        index_t s;
        int m;
        inf_block(rows, bi, s, m);
        for (int i = 0; i < MR; ++i) {
          if (i < m) {
            const float* xr = xt + (s + i) * I;
            const float* hr = hp + (s + i) * H;
            for (index_t k = 0; k < I; ++k) a[k * MR + i] = xr[k];
            for (index_t k = 0; k < H; ++k) a[(I + k) * MR + i] = hr[k];
          } else {
            for (index_t k = 0; k < K; ++k) a[k * MR + i] = 0.0f;
          }
        }
      }
      for (index_t u = 0; u < groups; ++u) {
        for (index_t k0 = 0; k0 < K; k0 += kc_max) {
          const index_t kc = K - k0 < kc_max ? K - k0 : kc_max;
          for (int q = 0; q < 4; ++q) {
            const float* bp = packed + ((u * 4 + q) * K + k0) * NR;
            for (index_t bi = 0; bi < nb; ++bi) {
              index_t s;
              int m;
              inf_block(rows, bi, s, m);
              tile<float, true>(kc, ap + bi * MR * K + k0 * MR, 0, bp, cb + bi * MR * LDC + q * NR, LDC, 1.0f,
                                k0 ? 1.0f : 0.0f, kernel_rows(m), NR, Epilogue<float>{}, true);
            }
          }
        }
        // the gate pass on units [u·NR, u·NR + nu) of every row
        const index_t u0 = u * NR;
        const int nu = H - u0 < NR ? static_cast<int>(H - u0) : NR;
        const float* bu = bias + u * 4 * NR;
        for (index_t bi = 0; bi < nb; ++bi) {
          index_t s;
          int m;
          inf_block(rows, bi, s, m);
          for (int i = 0; i < m; ++i) {
            const float* a = cb + (bi * MR + i) * LDC;
            const index_t r = s + i;
            float* cr = c_T + (r0 + r) * H + u0;
            float* hr = yt + r * H + u0;
            for (int v = 0; v < nu; v += VL) {
              const int n = nu - v < VL ? nu - v : VL;
              const vf ig = rec::vsigmoid(rec::load_n(a + v, VL) + rec::load_n(bu + v, VL));
              const vf fg = rec::vsigmoid(rec::load_n(a + NR + v, VL) + rec::load_n(bu + NR + v, VL));
              const vf gg = rec::vtanh(rec::load_n(a + 2 * NR + v, VL) + rec::load_n(bu + 2 * NR + v, VL));
              const vf og = rec::vsigmoid(rec::load_n(a + 3 * NR + v, VL) + rec::load_n(bu + 3 * NR + v, VL));
              const vf c = fg * rec::load_n(cr + v, n) + ig * gg;
              rec::store_n(cr + v, c, n);
              rec::store_n(hr + v, og * rec::vtanh(c), n);
            }
          }
        }
      }
    }
    std::memcpy(h_T + r0 * H, y + (T - 1) * NH + r0 * H, static_cast<size_t>(rows * H) * sizeof(float));
  });
}

PE_ISA_REGISTER(lstm_gates_forward_f32, lstm_gates_forward_f32)
PE_ISA_REGISTER(lstm_gates_backward_f32, lstm_gates_backward_f32)
PE_ISA_REGISTER(lstm_recurrence_forward_f32, lstm_recurrence_forward_f32)
PE_ISA_REGISTER(lstm_recurrence_backward_f32, lstm_recurrence_backward_f32)
PE_ISA_REGISTER(lstm_recurrence_packed_size, lstm_recurrence_packed_size)
PE_ISA_REGISTER(lstm_recurrence_apack_size, lstm_recurrence_apack_size)
PE_ISA_REGISTER(lstm_inference_sizes, lstm_inference_sizes)
PE_ISA_REGISTER(lstm_inference_forward_f32, lstm_inference_forward_f32)

}  // namespace pyengine::cpu::PYENGINE_ISA
