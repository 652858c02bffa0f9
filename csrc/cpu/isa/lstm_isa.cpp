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
#include <cstring>

#include "pyengine/common.h"

#ifndef PYENGINE_ISA
#error "lstm_isa.cpp is compiled once per ISA with -DPYENGINE_ISA=<name>"
#endif

namespace pyengine::cpu::PYENGINE_ISA {
namespace {

#if defined(__AVX512F__)
constexpr int kVecBytes = 64;
#elif defined(__AVX2__)
constexpr int kVecBytes = 32;
#else
constexpr int kVecBytes = 16;
#endif
constexpr int VL = kVecBytes / 4;

typedef float vf __attribute__((vector_size(kVecBytes)));
typedef int vi __attribute__((vector_size(kVecBytes)));

inline vf splat(float v) { return vf{} + v; }

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

}  // namespace pyengine::cpu::PYENGINE_ISA
