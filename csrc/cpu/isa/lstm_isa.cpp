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
// with the GRU). Per step and block of MR rows it runs one register-blocked GEMM of its rows against
// w_hh, packed once per call into NR-column panels, and then the fused gate pass on those rows while
// their gates are still in L2.
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


// ---- the sequence recurrence ----------------------------------------------------------------

// Workspace sizes (floats) the two recurrences need, for the caller to allocate.
index_t lstm_recurrence_packed_size(index_t H) {
  const index_t G = 4 * H;
  const index_t fwd = rec::panels_size(H, G), bwd = rec::panels_size(G, H);
  return fwd > bwd ? fwd : bwd;
}
// apack: for each pool slot room for every row (rounded up to MR; one slot may run every row block
// when the other threads are late) by the larger K (4H, of the backward).
index_t lstm_apack_stride(index_t N, index_t H) { return rec::apack_stride(N, 4 * H); }
index_t lstm_recurrence_apack_size(index_t N, index_t H, int threads) {
  return static_cast<index_t>(threads) * lstm_apack_stride(N, H);
}


// Forward recurrence over T steps. gates (T, N, 4H) holds x·w_ihᵀ on entry and the activated gates
// on exit; cs, y (T, N, H) are written. packed, apack: the sizes below.
void lstm_recurrence_forward_f32(index_t T, index_t N, index_t H, const float* h0, const float* c0,
                                 const float* w_hh, const float* b_ih, const float* b_hh, float* gates,
                                 float* cs, float* y, float* packed, float* apack, int threads) {
  const index_t G = 4 * H, NH = N * H, NG = N * G;
  const index_t panels = (G + rec::NR - 1) / rec::NR;
  parallel_for(panels, threads, [&](index_t p) { rec::pack_panel_t(w_hh, H, G, p, packed); });  // B = w_hhᵀ
  // The rows are independent through all T steps: block b of `threads` row blocks runs every step
  // with no synchronisation between steps.
  parallel_for_slots(threads, threads, [&](index_t b, int slot) {
    index_t r0, r1;
    rec::row_range(N, threads, static_cast<int>(b), r0, r1);
    const index_t apack_stride = lstm_apack_stride(N, H);
    float* ap = apack + static_cast<index_t>(slot) * apack_stride;
    const index_t rows = r1 - r0;
    for (index_t t = 0; t < T && rows > 0; ++t) {
      const float* h_prev = t ? y + (t - 1) * NH : h0;
      const float* c_prev = t ? cs + (t - 1) * NH : c0;
      float* g = gates + t * NG + r0 * G;
      rec::pack_all_rows(h_prev + r0 * H, H, rows, H, ap);
      rec::rows_gemm<true>(rows, H, G, ap, packed, g, G);                          // A_t += h_{t−1}·w_hhᵀ
      lstm_gates_forward_f32(rows, H, g, b_ih, b_hh, c_prev + r0 * H, cs + t * NH + r0 * H, y + t * NH + r0 * H);
    }
  });
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
  const index_t panels = (H + rec::NR - 1) / rec::NR;
  parallel_for(panels, threads, [&](index_t p) { rec::pack_panel(w_hh, G, H, p, packed); });   // B = w_hh
  parallel_for_slots(threads, threads, [&](index_t b, int slot) {
    index_t r0, r1;
    rec::row_range(N, threads, static_cast<int>(b), r0, r1);
    const index_t apack_stride = lstm_apack_stride(N, H);
    float* ap = apack + static_cast<index_t>(slot) * apack_stride;
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
      rec::pack_all_rows(dA_t + r0 * G, G, rows, G, ap);
      rec::rows_gemm<false>(rows, G, H, ap, packed, dh_dst + e, H);                // ∂L/∂h_{t−1} = dA_t·w_hh
    }
  });
}

PE_ISA_REGISTER(lstm_gates_forward_f32, lstm_gates_forward_f32)
PE_ISA_REGISTER(lstm_gates_backward_f32, lstm_gates_backward_f32)
PE_ISA_REGISTER(lstm_recurrence_forward_f32, lstm_recurrence_forward_f32)
PE_ISA_REGISTER(lstm_recurrence_backward_f32, lstm_recurrence_backward_f32)
PE_ISA_REGISTER(lstm_recurrence_packed_size, lstm_recurrence_packed_size)
PE_ISA_REGISTER(lstm_recurrence_apack_size, lstm_recurrence_apack_size)

}  // namespace pyengine::cpu::PYENGINE_ISA
