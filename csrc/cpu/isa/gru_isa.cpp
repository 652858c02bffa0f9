// gru_isa.cpp — the fused float32 GRU gate passes and the sequence recurrence (see pyengine/gru.h),
// compiled once per ISA.
//
// Forward gate pass, per vector of hidden units of a row: from the input projection gi (without
// bias) and the recurrent projection gh (without bias), add both biases, r = σ(·), z = σ(·),
// gh_n + b_hn, n = tanh(gi_n + b_in + r·(gh_n + b_hn)), h = (1−z)·n + z·h_prev; optionally write
// [r z n gh_n] over the row of gi (what backward needs). Backward gate pass: from dh and the saved
// row, the gradients of gi and gh and the direct part dh·z of ∂L/∂h_prev. The last partial vector
// of a row is loaded zero-padded and stored partially, so every element goes through the same
// arithmetic (σ and tanh as in recurrence.h).
//
// The recurrences split the batch rows between the threads once for the whole sequence (see
// recurrence.h): per step and thread, one register-blocked GEMM of its rows of h_{t−1} against
// w_hhᵀ (forward) or of its rows of dgh_t against w_hh (backward), then the gate pass on those rows.
#include <cstring>

#include "isa.h"
#include "pyengine/gru.h"
#include "recurrence.h"

namespace pyengine::cpu::PYENGINE_ISA {
namespace {

using rec::load_n;
using rec::store_n;
using rec::vf;
using rec::VL;

inline vf bias(const float* b, index_t off, int n) { return b ? load_n(b + off, n) : vf{}; }

// One vector [j, j+n) of one row. g: the row of gi / saved gates; gh: the row of h·w_hhᵀ.
inline void forward_vec(index_t H, index_t j, int n, float* g, const float* gh, const float* b_ih,
                        const float* b_hh, const float* h_prev, float* h_next, bool save) {
  const vf r = rec::vsigmoid(load_n(g + j, n) + bias(b_ih, j, n) + load_n(gh + j, n) + bias(b_hh, j, n));
  const vf z = rec::vsigmoid(load_n(g + H + j, n) + bias(b_ih, H + j, n) + load_n(gh + H + j, n) +
                             bias(b_hh, H + j, n));
  const vf ghn = load_n(gh + 2 * H + j, n) + bias(b_hh, 2 * H + j, n);
  const vf nn = rec::vtanh(load_n(g + 2 * H + j, n) + bias(b_ih, 2 * H + j, n) + r * ghn);
  const vf hp = load_n(h_prev + j, n);
  store_n(h_next + j, nn + z * (hp - nn), n);   // (1−z)·n + z·h
  if (save) {
    store_n(g + j, r, n);
    store_n(g + H + j, z, n);
    store_n(g + 2 * H + j, nn, n);
    store_n(g + 3 * H + j, ghn, n);
  }
}

inline void backward_vec(index_t H, index_t j, int n, const float* g, const float* h_prev, const float* dh_a,
                         const float* dh_b, float* dgi, float* dgh, float* dh_prev) {
  const vf one = splat(1.0f);
  const vf r = load_n(g + j, n), z = load_n(g + H + j, n), nn = load_n(g + 2 * H + j, n),
           ghn = load_n(g + 3 * H + j, n);
  vf dh = load_n(dh_a + j, n);
  if (dh_b) dh += load_n(dh_b + j, n);
  const vf da_n = dh * (one - z) * (one - nn * nn);
  const vf da_z = dh * (load_n(h_prev + j, n) - nn) * z * (one - z);
  const vf da_r = da_n * ghn * r * (one - r);
  store_n(dgi + j, da_r, n);
  store_n(dgi + H + j, da_z, n);
  store_n(dgi + 2 * H + j, da_n, n);
  store_n(dgh + j, da_r, n);
  store_n(dgh + H + j, da_z, n);
  store_n(dgh + 2 * H + j, r * da_n, n);
  store_n(dh_prev + j, dh * z, n);   // after every read of dh_b: dh_prev may alias it
}

void gates_forward(index_t rows, index_t H, float* gates, index_t ldg, const float* gh, const float* b_ih,
                   const float* b_hh, const float* h_prev, float* h_next) {
  const bool save = ldg >= 4 * H;
  const index_t full = H / VL * VL;
  for (index_t r = 0; r < rows; ++r) {
    float* g = gates + r * ldg;
    const float* ghr = gh + r * 3 * H;
    const float* hp = h_prev + r * H;
    float* hn = h_next + r * H;
    for (index_t j = 0; j < full; j += VL) forward_vec(H, j, VL, g, ghr, b_ih, b_hh, hp, hn, save);
    if (full < H) forward_vec(H, full, static_cast<int>(H - full), g, ghr, b_ih, b_hh, hp, hn, save);
  }
}

void gates_backward(index_t rows, index_t H, const float* gates, const float* h_prev, const float* dh_a,
                    const float* dh_b, float* dgi, float* dgh, float* dh_prev) {
  const index_t full = H / VL * VL;
  for (index_t r = 0; r < rows; ++r) {
    const float* g = gates + r * 4 * H;
    const float* hp = h_prev + r * H;
    const float* da = dh_a + r * H;
    const float* db = dh_b ? dh_b + r * H : nullptr;
    float* gi = dgi + r * 3 * H;
    float* gh = dgh + r * 3 * H;
    float* dp = dh_prev + r * H;
    for (index_t j = 0; j < full; j += VL) backward_vec(H, j, VL, g, hp, da, db, gi, gh, dp);
    if (full < H) backward_vec(H, full, static_cast<int>(H - full), g, hp, da, db, gi, gh, dp);
  }
}

}  // namespace

// rows × H; see pyengine/gru.h. ldg ≥ 4H: the row of gates receives [r z n gh_n].
void gru_gates_forward_f32(index_t rows, index_t H, float* gates, index_t ldg, const float* gh, const float* b_ih,
                           const float* b_hh, const float* h_prev, float* h_next) {
  gates_forward(rows, H, gates, ldg, gh, b_ih, b_hh, h_prev, h_next);
}

void gru_gates_backward_f32(index_t rows, index_t H, const float* gates, const float* h_prev, const float* dh_a,
                            const float* dh_b, float* dgi, float* dgh, float* dh_prev) {
  gates_backward(rows, H, gates, h_prev, dh_a, dh_b, dgi, dgh, dh_prev);
}

// sizes[0]: w_hh packed (the larger of the two layouts); [1]: the packed rows of every thread;
// [2]: gh, N·3H.
void gru_recurrence_sizes(index_t N, index_t H, int threads, index_t* sizes) {
  const index_t G = 3 * H;
  const index_t fwd = rec::panels_size(H, G), bwd = rec::panels_size(G, H);
  sizes[0] = fwd > bwd ? fwd : bwd;
  sizes[1] = static_cast<index_t>(threads) * rec::apack_stride(N, G);
  sizes[2] = N * G;
}

// Forward over T steps. gates: per step N rows of stride ldg, the input projection (no bias) in the
// first 3H columns on entry; [r z n gh_n] on exit when ldg ≥ 4H. y (T, N, H) written.
void gru_recurrence_forward_f32(index_t T, index_t N, index_t H, const float* h0, const float* w_hh,
                                const float* b_ih, const float* b_hh, float* gates, index_t ldg, float* y,
                                float* packed, float* apack, float* gh, int threads) {
  const index_t G = 3 * H, NH = N * H;
  const index_t panels = (G + rec::NR - 1) / rec::NR;
  parallel_for(panels, threads, [&](index_t p) { rec::pack_panel_t(w_hh, H, G, p, packed); });  // B = w_hhᵀ
  // The rows are independent through all T steps: block b of `threads` row blocks runs every step
  // with no synchronisation between steps.
  parallel_for_slots(threads, threads, [&](index_t b, int slot) {
    index_t r0, r1;
    rec::row_range(N, threads, static_cast<int>(b), r0, r1);
    float* ap = apack + static_cast<index_t>(slot) * rec::apack_stride(N, G);
    const index_t rows = r1 - r0;
    for (index_t t = 0; t < T && rows > 0; ++t) {
      const float* h_prev = (t ? y + (t - 1) * NH : h0) + r0 * H;
      rec::pack_all_rows(h_prev, H, rows, H, ap);
      rec::rows_gemm<false>(rows, H, G, ap, packed, gh + r0 * G, G);          // GH = h_{t−1}·w_hhᵀ
      gates_forward(rows, H, gates + t * N * ldg + r0 * ldg, ldg, gh + r0 * G, b_ih, b_hh, h_prev,
                    y + t * NH + r0 * H);
    }
  });
}

// Backward over t = T−1 … 0: dgi, dgh (T, N, 3H) written; grad_h0 (N, H) written; grad_h_T may be
// null. dh_ws: N·H floats.
void gru_recurrence_backward_f32(index_t T, index_t N, index_t H, const float* h0, const float* w_hh,
                                 const float* gates, const float* hs, const float* grad_y, const float* grad_h_T,
                                 float* dgi, float* dgh, float* grad_h0, float* dh_ws, float* packed, float* apack,
                                 int threads) {
  const index_t G = 3 * H, NH = N * H, NG = N * G;
  const index_t panels = (H + rec::NR - 1) / rec::NR;
  parallel_for(panels, threads, [&](index_t p) { rec::pack_panel(w_hh, G, H, p, packed); });   // B = w_hh
  parallel_for_slots(threads, threads, [&](index_t b, int slot) {
    index_t r0, r1;
    rec::row_range(N, threads, static_cast<int>(b), r0, r1);
    float* ap = apack + static_cast<index_t>(slot) * rec::apack_stride(N, G);
    const index_t rows = r1 - r0, e = r0 * H;
    for (index_t t = T - 1; t >= 0 && rows > 0; --t) {
      const float* dh_src = t == T - 1 ? grad_h_T : dh_ws;   // ∂L/∂h_t from step t+1 (null: zero)
      float* dh_dst = t ? dh_ws : grad_h0;
      const float* h_prev = t ? hs + (t - 1) * NH : h0;
      float* dgh_t = dgh + t * NG + r0 * G;
      gates_backward(rows, H, gates + t * N * 4 * H + r0 * 4 * H, h_prev + e, grad_y + t * NH + e,
                     dh_src ? dh_src + e : nullptr, dgi + t * NG + r0 * G, dgh_t, dh_dst + e);
      rec::pack_all_rows(dgh_t, G, rows, G, ap);
      rec::rows_gemm<true>(rows, G, H, ap, packed, dh_dst + e, H);            // ∂L/∂h_{t−1} += dgh_t·w_hh
    }
  });
}

PE_ISA_REGISTER(gru_gates_forward_f32, gru_gates_forward_f32)
PE_ISA_REGISTER(gru_gates_backward_f32, gru_gates_backward_f32)
PE_ISA_REGISTER(gru_recurrence_forward_f32, gru_recurrence_forward_f32)
PE_ISA_REGISTER(gru_recurrence_backward_f32, gru_recurrence_backward_f32)
PE_ISA_REGISTER(gru_recurrence_sizes, gru_recurrence_sizes)

}  // namespace pyengine::cpu::PYENGINE_ISA
