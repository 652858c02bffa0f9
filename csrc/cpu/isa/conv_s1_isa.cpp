// conv_s1_isa.cpp — register-blocked direct convolution for groups 1 (named for its stride-1 origin), compiled per ISA.
//
// The trick: with stride 1, lay each output row on the padded input's row pitch Wp = W + pw
// (rows share their zero padding; outputs ow ≥ OW are computed and thrown away). Output position q = oh·Wp + ow then reads, for tap
// j = (c, r, s), the padded input at off[j] + q with off[j] = c·Hp·Wp + r·dh·Wp + s·dw — for
// every q of the image. So the convolution of one image is a GEMM whose B operand needs no
// im2col: row j of B is the padded image itself shifted by off[j].
//  forward / backward_input  Y'(rows × Q) = Wpack(rows × J) · X'(J × Q): micro-tile of MR output
//      channels × NV vectors of q; per tap one broadcast weight per row and NV unaligned loads.
//      The accumulators start at the bias, so the bias costs nothing. Backward input is the same
//      kernel on grad_output padded by dh·(R−1)−ph with the weights flipped and transposed.
//  backward_weight  dWᵀ(J × K) += X'(J × Q) · goTᵀ(Q × K), goT the grad_output of one image
//      transposed to (q, k) with zeros in the discarded columns: micro-tile of MR taps × NV
//      vectors of k, one broadcast input value per tap and NV loads per q. One partial dWᵀ per
//      thread, summed at the end; images are spread over threads (no serial batch loop). For
//      K ≤ 8 (a k-vector would be mostly padding) dot products along the output rows instead.
// Strided convolutions use the same kernels: the image is split into its stride phases (see
// tap_offset), which makes every tap's reads a fixed offset from q again.
// Workspaces come from the calling thread's arena (pyengine/workspace.h).
#include <algorithm>
#include <cstdlib>
#include <cstring>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif
#include "isa.h"
#include "pyengine/conv2d.h"


namespace pyengine::cpu::PYENGINE_ISA {
namespace {

// The kernels see the geometry as in (N, C, H, W) → out (N, K, OH, OW) with stride 1 and one group
// (the backward input runs them on a transposed geometry: see csrc/cpu/conv2d.cpp).

// Register blocking: forward MR output channels × NV q-vectors; backward_weight taps per NV.
#if defined(__AVX512F__)
constexpr int kFwdMR = 8, kFwdNV = 3;                // 24 accumulators of 32 registers
constexpr int kBwMR1 = 16, kBwMR2 = 12, kBwMR4 = 6;  // backward_weight taps for NV = 1, 2, 4
#elif defined(__AVX2__)
constexpr int kFwdMR = 4, kFwdNV = 3;                // 12 accumulators of 16 registers
constexpr int kBwMR1 = 12, kBwMR2 = 6, kBwMR4 = 3;
#else
constexpr int kFwdMR = 4, kFwdNV = 2;
constexpr int kBwMR1 = 8, kBwMR2 = 4, kBwMR4 = 2;
#endif

template <typename T> struct VecOf { typedef vec_t<T> type; };

template <typename V, typename T>
inline V loadu(const T* p) { V v; std::memcpy(&v, p, sizeof(V)); return v; }
template <typename V, typename T>
inline void storeu(T* p, const V& v) { std::memcpy(p, &v, sizeof(V)); }

// dst[0, n) = src[0, n), or max(src, 0) with relu (NaN stays NaN), for the short rows of small
// images: whole vectors and one masked vector on AVX-512, where a memcpy call per 7- or 14-float
// row cost about as much as the row's share of the FMAs; plain loops elsewhere.
template <typename T>
inline void copy_row(T* __restrict dst, const T* __restrict src, index_t n, bool relu = false) {
  constexpr int VL = lanes<T>;
  typedef vec_t<T> vec;
  index_t i = 0;
  for (; i + VL <= n; i += VL) {
    vec v = load<T>(src + i);
    if (relu) v = v < vec{} ? vec{} : v;
    store<T>(dst + i, v);
  }
  if (i == n) return;
#if defined(__AVX512F__)
  const unsigned m = (1u << (n - i)) - 1;
  if constexpr (sizeof(T) == 4) {
    __m512 v = _mm512_maskz_loadu_ps(static_cast<__mmask16>(m), src + i);
    if (relu) { vec u = reinterpret_cast<vec&>(v); u = u < vec{} ? vec{} : u; v = reinterpret_cast<__m512&>(u); }
    _mm512_mask_storeu_ps(dst + i, static_cast<__mmask16>(m), v);
  } else {
    __m512d v = _mm512_maskz_loadu_pd(static_cast<__mmask8>(m), src + i);
    if (relu) { vec u = reinterpret_cast<vec&>(v); u = u < vec{} ? vec{} : u; v = reinterpret_cast<__m512d&>(u); }
    _mm512_mask_storeu_pd(dst + i, static_cast<__mmask8>(m), v);
  }
#else
  for (; i < n; ++i) dst[i] = relu && src[i] < T(0) ? T(0) : src[i];
#endif
}

// GCC 12 reports its own _mm512_undefined_ps (inside the unpack intrinsics) as maybe uninitialised,
// wherever transpose16 is inlined (up to transpose_go).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

struct Rows { index_t n, len, pitch; };   // the real outputs: n rows of len, pitch apart

struct Plan {                       // the padded-width layout of one image
  index_t Hp, Wp, Q, TQ, tiles, J, xsize;
  index_t plane;                    // strided: the elements of one phase plane (Hp·Wp)
};

// Where tap (c, r, s) of output q = oh·Wp + ow reads: buf[tap_offset(c, r, s) + q].
//  stride 1: pixel (c, h, w) sits at pw + c·Hp·Wp + (h + ph)·Wp + w, so the offset is
//    c·Hp·Wp + r·dh·Wp + s·dw; columns w < 0 and w ≥ Win fall into the zero gap between rows.
//  strided: the padded pixel (i, j) = (h + ph, w + pw) sits in plane (c, i mod sh, j mod sw) at
//    (i div sh)·Wp + j div sw, Hp = ⌈(H + 2ph)/sh⌉ rows of Wp = ⌈(W + 2pw)/sw⌉ ≥ Wout. Output
//    (oh, ow) reads padded (oh·sh + r·dh, ow·sw + s·dw): with ρ = r·dh and σ = s·dw that is plane
//    (c, ρ mod sh, σ mod sw) at (oh + ρ div sh)·Wp + ow + σ div sw — again a fixed offset from q,
//    so the same kernels run with contiguous loads (the phases take the stride out of the loads).
inline index_t tap_offset(const ConvGeom& g, const Plan& p, index_t c, index_t r, index_t s) {
  if (g.sh == 1 && g.sw == 1) return c * p.Hp * p.Wp + r * g.dh * p.Wp + s * g.dw;
  const index_t rho = r * g.dh, sig = s * g.dw;
  return ((c * g.sh + rho % g.sh) * g.sw + sig % g.sw) * p.plane + (rho / g.sh) * p.Wp + sig / g.sw;
}

inline void fill_offsets(const ConvGeom& g, const Plan& p, index_t* off) {
  for (index_t c = 0; c < g.C; ++c)
    for (index_t r = 0; r < g.R; ++r)
      for (index_t s = 0; s < g.S; ++s) off[(c * g.R + r) * g.S + s] = tap_offset(g, p, c, r, s);
}

template <typename T>
Plan make_plan(const ConvGeom& g, int nv) {
  constexpr int VL = lanes<T>;
  Plan p;
  const bool strided = g.sh > 1 || g.sw > 1;
  if (!strided) {
    p.Hp = g.H + 2 * g.ph;
    // Rows share their zero columns: the right padding of one row is the left padding of the next,
    // so a row needs only W + pw columns (and at least Wout, so that outputs do not overlap).
    p.Wp = g.W + g.pw > g.OW ? g.W + g.pw : g.OW;
  } else {
    p.Hp = (g.H + 2 * g.ph + g.sh - 1) / g.sh;
    p.Wp = (g.W + 2 * g.pw + g.sw - 1) / g.sw;
  }
  p.plane = p.Hp * p.Wp;
  p.Q = g.OH * p.Wp;
  p.TQ = static_cast<index_t>(nv) * VL;
  p.tiles = (p.Q + p.TQ - 1) / p.TQ;
  p.J = g.C * g.R * g.S;
  // the furthest read: the largest tap offset plus the last (rounded-up) output position
  index_t off_max = 0;
  for (index_t r = 0; r < g.R; ++r)
    for (index_t s = 0; s < g.S; ++s) {
      const index_t o = tap_offset(g, p, g.C - 1, r, s);
      off_max = o > off_max ? o : off_max;
    }
  const index_t need = off_max + p.tiles * p.TQ;
  const index_t used = strided ? g.C * g.sh * g.sw * p.plane : g.pw + g.C * p.Hp * p.Wp;
  p.xsize = need > used ? need : used;
  return p;
}

// Lays one image (Cin, Hin, Win) out for the kernels as tap_offset says, zeros everywhere else.
template <typename T>
void pad_into(const ConvGeom& g, const Plan& p, const T* x, T* buf) {
  std::memset(buf, 0, sizeof(T) * static_cast<size_t>(p.xsize));
  if (g.sh == 1 && g.sw == 1) {
    for (index_t c = 0; c < g.C; ++c)
      for (index_t h = 0; h < g.H; ++h)
        copy_row(buf + g.pw + c * p.Hp * p.Wp + (h + g.ph) * p.Wp, x + (c * g.H + h) * g.W, g.W);
    return;
  }
  for (index_t c = 0; c < g.C; ++c)
    for (index_t h = 0; h < g.H; ++h) {
      const index_t i = h + g.ph;
      const T* src = x + (c * g.H + h) * g.W;
      T* row = buf + (c * g.sh + i % g.sh) * g.sw * p.plane + (i / g.sh) * p.Wp;
      for (index_t b = 0; b < g.sw; ++b) {   // column phase b: padded columns j ≡ b (mod sw)
        index_t j = b;
        while (j < g.pw) j += g.sw;
        const index_t count = j < g.pw + g.W ? (g.pw + g.W - j + g.sw - 1) / g.sw : 0;
        const T* s0 = src + (j - g.pw);
        T* d0 = row + b * p.plane + j / g.sw;
        if (g.sw == 2)  // a constant stride, so the compiler deinterleaves with vector permutes
          for (index_t i = 0; i < count; ++i) d0[i] = s0[2 * i];
        else
          for (index_t i = 0; i < count; ++i) d0[i] = s0[i * g.sw];
      }
    }
}

// y[i][q0 : q0 + NV·VL] = bias_i + Σ_j w[j][i] · x[off[j] + q0 + ...] for MR rows.
template <typename T, int MR, int NV>
inline void fwd_tile(index_t J, const index_t* __restrict off, const T* __restrict xq, const T* __restrict w,
                     const T* bias, T* __restrict y, index_t ldy, bool relu = false) {
  using vec = typename VecOf<T>::type;
  constexpr int VL = lanes<T>;
  vec acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    const vec b = splat<T>(bias ? bias[i] : T(0));
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = b;
  }
  for (index_t j = 0; j < J; ++j) {
    const T* xs = xq + off[j];
    vec xv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) xv[v] = loadu<vec>(xs + v * VL);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const vec wv = splat<T>(w[j * MR + i]);  // splat, not 0 + w: a scalar add per broadcast
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] += wv * xv[v];
    }
  }
  if (relu)  // NaN stays NaN
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] = acc[i][v] < vec{} ? vec{} : acc[i][v];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) storeu(y + i * ldy + v * VL, acc[i][v]);
}

// Packs the row-major matrix m (rows × J) into MR-row panels ([j][i] within a panel), then the
// rows left over one by one.
template <typename T>
void pack_rows(index_t rows, index_t J, const T* m, T* out) {
  constexpr int MR = kFwdMR;
  const index_t full = rows / MR;
  for (index_t p = 0; p < full; ++p)
    for (index_t j = 0; j < J; ++j)
      for (int i = 0; i < MR; ++i) out[(p * J + j) * MR + i] = m[(p * MR + i) * J + j];
  std::memcpy(out + full * MR * J, m + full * MR * J, sizeof(T) * static_cast<size_t>((rows - full * MR) * J));
}

// out (N, Cout, Hout, Wout) = conv(in, the packed (Cout × Cin·R·S) matrix wp) + bias.
// Work items are (image, range of q-tiles): one range per image when there are at least as many
// images as threads, else several (batch-1 inference still uses every thread; the images are then
// laid out once, up front, in a shared buffer). An item runs its tiles in blocks whose outputs
// (Cout × block) stay in L2, all output-channel panels per block, and copies each block out.
template <typename T, int NV>
void conv_s1_nv(const ConvGeom& g, const T* in, const T* wp, const T* bias, T* out, bool relu) {
  constexpr int MR = kFwdMR;
  const Plan p = make_plan<T>(g, NV);
  const index_t full = g.K / MR, rest = g.K - full * MR;
  const int nt = get_num_threads();
  const index_t split = g.N >= nt ? 1 : std::min<index_t>(p.tiles, (4 * nt + g.N - 1) / g.N);
  const index_t items = g.N * split;
  const index_t block = std::max<index_t>(1, (index_t(64) << 10) / (g.K * p.TQ));  // 256 KiB of float
  const bool direct = p.Wp == g.OW;
  const index_t L = g.OH * g.OW;
  Workspace ws;
  index_t* off = workspace_take<index_t>(ws, p.J);
  T* shared = split > 1 ? workspace_take<T>(ws, g.N * p.xsize) : nullptr;
  if (!off || (split > 1 && !shared)) return;
  fill_offsets(g, p, off);
  if (split > 1)
    parallel_for(g.N, threads_for_items(g.N),
                 [&](index_t n) { pad_into(g, p, in + n * g.C * g.H * g.W, shared + n * p.xsize); });
  parallel_for(items, threads_for_items(items), [&](index_t item) {
    const index_t n = item / split, part = item % split;
    const index_t t0 = p.tiles * part / split, t1 = p.tiles * (part + 1) / split;
    const index_t ldy = std::min(block, t1 - t0) * p.TQ;
    Workspace image_ws;
    T* xb = split > 1 ? shared + n * p.xsize : workspace_take<T>(image_ws, p.xsize);
    T* yb = workspace_take<T>(image_ws, g.K * ldy);
    if (!xb || !yb) return;  // out of memory: unreachable in practice
    if (split == 1) pad_into(g, p, in + n * g.C * g.H * g.W, xb);
    T* on = out + n * g.K * g.OH * g.OW;
    for (index_t b0 = t0; b0 < t1; b0 += block) {
      const index_t b1 = std::min(b0 + block, t1);
      // tiles [b0, bd) go straight into out: with no discarded columns (Wp = Wout: 1×1 kernels
      // without padding) q is the output index; the rest, and a tile past the end, via yb
      const index_t bd = direct ? std::max(b0, std::min(b1, p.Q / p.TQ)) : b0;
      for (index_t pi = 0; pi < full; ++pi) {
        const T* wpi = wp + pi * MR * p.J;
        const T* bpi = bias ? bias + pi * MR : nullptr;
        for (index_t t = b0; t < bd; ++t)
          fwd_tile<T, MR, NV>(p.J, off, xb + t * p.TQ, wpi, bpi, on + pi * MR * L + t * p.TQ, L, relu);
        for (index_t t = bd; t < b1; ++t)
          fwd_tile<T, MR, NV>(p.J, off, xb + t * p.TQ, wpi, bpi, yb + pi * MR * ldy + (t - b0) * p.TQ, ldy);
      }
      for (index_t ri = 0; ri < rest; ++ri) {
        const index_t row = full * MR + ri;
        for (index_t t = b0; t < bd; ++t)
          fwd_tile<T, 1, NV>(p.J, off, xb + t * p.TQ, wp + row * p.J, bias ? bias + row : nullptr,
                             on + row * L + t * p.TQ, L, relu);
        for (index_t t = bd; t < b1; ++t)
          fwd_tile<T, 1, NV>(p.J, off, xb + t * p.TQ, wp + row * p.J, bias ? bias + row : nullptr,
                             yb + row * ldy + (t - b0) * p.TQ, ldy);
      }
      // outputs q in [q0, q1) that went through yb: the real ones (ow < Wout) of each row touched
      const index_t q0 = bd * p.TQ, q1 = std::min(b1 * p.TQ, p.Q);
      if (q0 >= q1) continue;
      for (index_t oh = q0 / p.Wp; oh * p.Wp < q1; ++oh) {
        const index_t lo = std::max(q0, oh * p.Wp), hi = std::min(q1, oh * p.Wp + g.OW);
        if (lo >= hi) continue;
        for (index_t k = 0; k < g.K; ++k) {
          T* dst = on + (k * g.OH + oh) * g.OW + (lo - oh * p.Wp);
          const T* src = yb + k * ldy + (lo - b0 * p.TQ);
          copy_row(dst, src, hi - lo, relu);  // the fused ReLU on the way out of the tile buffer
        }
      }
    }
  });
}

// Channel-vector variant for small images, where rounding Q up to whole q-vectors and the
// discarded columns waste a quarter of the work (7×7): a micro-tile of MR output pixels × NV
// vectors of output channels; per tap NV weight vectors (wk: J × Kp, channel-contiguous) and one
// broadcast input value per pixel, xb[base[i] + off[j]]. No work is discarded; the tile is
// written out transposed (y is channel-major).
template <typename T, int MR, int NV>
inline void kv_tile(index_t J, const index_t* __restrict off, const T* __restrict xb, const index_t* __restrict base,
                    const T* __restrict wk, index_t ldw, const T* __restrict b, T* __restrict tmp) {
  using vec = typename VecOf<T>::type;
  constexpr int VL = lanes<T>;
  vec acc[MR][NV];
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) {
    const vec bv = loadu<vec>(b + v * VL);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) acc[i][v] = bv;
  }
  for (index_t j = 0; j < J; ++j) {
    const T* xs = xb + off[j];
    vec wv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) wv[v] = loadu<vec>(wk + j * ldw + v * VL);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const vec xv = splat<T>(xs[base[i]]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] += xv * wv[v];
    }
  }
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) storeu(tmp + (i * NV + v) * VL, acc[i][v]);
}

// Output pixels p0 .. p0+MR (flattened oh·Wout + ow) for channel vectors kv .. kv+NV.
template <typename T, int MR, int NV>
void kv_pixels(const ConvGeom& g, const Plan& p, const index_t* off, const T* xb, const T* wk, index_t Kp,
               const T* bias, index_t kv, index_t p0, T* on, bool relu) {
  constexpr int VL = lanes<T>;
  index_t base[MR];
  for (int i = 0; i < MR; ++i) base[i] = (p0 + i) / g.OW * p.Wp + (p0 + i) % g.OW;
  alignas(64) T tmp[MR * NV * VL];
  kv_tile<T, MR, NV>(p.J, off, xb, base, wk + kv * VL, Kp, bias + kv * VL, tmp);
  const index_t P = g.OH * g.OW;
#if defined(__AVX512F__)
  // 16 × 16 transposes in registers, then one masked store of MR pixels per channel (a scalar
  // store per element cost a sixth of the tile's FMA time)
  if constexpr (sizeof(T) == 4 && MR <= 16) {
    if ((kv + NV) * VL <= g.K) {
      const __mmask16 m = static_cast<__mmask16>((1u << MR) - 1);
      for (int v = 0; v < NV; ++v) {
        __m512 r[16];
        for (int i = 0; i < 16; ++i) r[i] = i < MR ? _mm512_load_ps(tmp + (i * NV + v) * VL) : _mm512_setzero_ps();
        transpose16(r);
        for (int l = 0; l < VL; ++l) {
          __m512 o = r[l];
          if (relu) o = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(o, _mm512_setzero_ps(), _CMP_LT_OQ), o, _mm512_setzero_ps());
          _mm512_mask_storeu_ps(on + ((kv + v) * VL + l) * P + p0, m, o);
        }
      }
      return;
    }
  }
#endif
  for (int v = 0; v < NV; ++v)
    for (int l = 0; l < VL; ++l) {
      const index_t k = (kv + v) * VL + l;
      if (k >= g.K) break;
      T* dst = on + k * P + p0;
      if (relu)
        for (int i = 0; i < MR; ++i) dst[i] = tmp[(i * NV + v) * VL + l] < T(0) ? T(0) : tmp[(i * NV + v) * VL + l];
      else
        for (int i = 0; i < MR; ++i) dst[i] = tmp[(i * NV + v) * VL + l];
    }
}

// All pixels of the image in tiles of MR, then 8, 4, 2, 1 (index loads are cheap next to the
// MR·NV FMAs of a tap).
template <typename T, int NV>
void kv_image(const ConvGeom& g, const Plan& p, const index_t* off, const T* xb, const T* wk, index_t Kp,
              const T* bias, index_t kv, T* on, bool relu) {
  constexpr int MR = 12;
  const index_t P = g.OH * g.OW;
  index_t p0 = 0;
  for (; p0 + MR <= P; p0 += MR) kv_pixels<T, MR, NV>(g, p, off, xb, wk, Kp, bias, kv, p0, on, relu);
  if (p0 + 8 <= P) { kv_pixels<T, 8, NV>(g, p, off, xb, wk, Kp, bias, kv, p0, on, relu); p0 += 8; }
  if (p0 + 4 <= P) { kv_pixels<T, 4, NV>(g, p, off, xb, wk, Kp, bias, kv, p0, on, relu); p0 += 4; }
  if (p0 + 2 <= P) { kv_pixels<T, 2, NV>(g, p, off, xb, wk, Kp, bias, kv, p0, on, relu); p0 += 2; }
  if (p0 < P) kv_pixels<T, 1, NV>(g, p, off, xb, wk, Kp, bias, kv, p0, on, relu);
}

// out = conv(in, m) + bias with the channel-vector tiles; m row-major (Cout × J).
template <typename T>
void conv_kv_impl(const ConvGeom& g, const T* in, const T* m, const T* bias, T* out, bool relu) {
  constexpr int VL = lanes<T>;
  const Plan p = make_plan<T>(g, 1);
  const index_t Kp = (g.K + VL - 1) / VL * VL, J = p.J;
  Workspace ws;
  T* wk = workspace_take<T>(ws, J * Kp + Kp);
  index_t* off = workspace_take<index_t>(ws, J);
  if (!wk || !off) return;
  T* bp = wk + J * Kp;
  for (index_t j = 0; j < J; ++j)
    for (index_t k = 0; k < Kp; ++k) wk[j * Kp + k] = k < g.K ? m[k * J + j] : T(0);
  for (index_t k = 0; k < Kp; ++k) bp[k] = bias && k < g.K ? bias[k] : T(0);
  fill_offsets(g, p, off);
  const index_t pairs = Kp / VL / 2;
  // items: (image, pair of channel vectors) when there are fewer images than threads (the images
  // laid out once in a shared buffer), else one item per image
  const index_t split = g.N >= get_num_threads() ? 1 : pairs;
  T* shared = split > 1 ? workspace_take<T>(ws, g.N * p.xsize) : nullptr;
  if (split > 1) {
    if (!shared) return;
    parallel_for(g.N, threads_for_items(g.N),
                 [&](index_t n) { pad_into(g, p, in + n * g.C * g.H * g.W, shared + n * p.xsize); });
  }
  const index_t items = g.N * split;
  parallel_for(items, threads_for_items(items), [&](index_t item) {
    const index_t n = item / split, part = item % split;
    Workspace image_ws;
    T* xb = split > 1 ? shared + n * p.xsize : workspace_take<T>(image_ws, p.xsize);
    if (!xb) return;
    if (split == 1) pad_into(g, p, in + n * g.C * g.H * g.W, xb);
    T* on = out + n * g.K * g.OH * g.OW;
    const index_t lo = split > 1 ? part : 0, hi = split > 1 ? part + 1 : pairs;
    for (index_t pr = lo; pr < hi; ++pr) kv_image<T, 2>(g, p, off, xb, wk, Kp, bp, 2 * pr, on, relu);
  });
}

// Picks the tiling: channel vectors when the output channels fill whole pairs of vectors (one
// vector per tap does not keep the FMAs busy; measured no faster than q tiles) and the
// q-vector tiles would waste more than a fifth (small images; AVX-512 only, where the registers
// hold the 24 accumulators); else q-vector tiles of the widest width whose rounding of Q up to
// whole tiles wastes at most ~5% more than the narrowest.
template <typename T>
void conv_s1_impl(const ConvGeom& g, const T* in, const T* m, const T* bias, T* out, bool relu) {
  constexpr int VL = lanes<T>;
  const index_t Q = make_plan<T>(g, 1).Q;
  const index_t best = (Q + VL - 1) / VL * VL;
#if defined(__AVX512F__)
  if (g.K % (2 * VL) == 0 && best * 5 > g.OH * g.OW * 6) {
    conv_kv_impl<T>(g, in, m, bias, out, relu);
    return;
  }
#endif
  Workspace ws;
  T* wp = workspace_take<T>(ws, g.K * make_plan<T>(g, 1).J);
  if (!wp) return;
  pack_rows<T>(g.K, make_plan<T>(g, 1).J, m, wp);
  int nv = 1;
  for (int cand = kFwdNV; cand > 1; --cand) {
    const index_t t = static_cast<index_t>(cand) * VL;
    if ((Q + t - 1) / t * t * 20 <= best * 21) { nv = cand; break; }
  }
  if (nv >= 3 && kFwdNV >= 3) conv_s1_nv<T, (kFwdNV >= 3 ? 3 : kFwdNV)>(g, in, wp, bias, out, relu);
  else if (nv == 2) conv_s1_nv<T, 2>(g, in, wp, bias, out, relu);
  else conv_s1_nv<T, 1>(g, in, wp, bias, out, relu);
}

// acc(MR taps × NV k-vectors) += Σ x[off[i] + oh·Wp + ow] · goT[oh·Wout + ow][k-vector] over the
// real outputs (the discarded columns ow ≥ Wout are skipped); part rows have stride ldp.
template <typename T, int MR, int NV>
inline void bw_tile(const Rows& rows, const index_t* __restrict off, const T* __restrict x, const T* __restrict goT,
                    index_t ldg, T* __restrict part, index_t ldp) {
  using vec = typename VecOf<T>::type;
  constexpr int VL = lanes<T>;
  vec acc[MR][NV];
  const T* xs[MR];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    xs[i] = x + off[i];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = loadu<vec>(part + i * ldp + v * VL);
  }
  for (index_t oh = 0; oh < rows.n; ++oh) {
    const T* grow = goT + oh * rows.len * ldg;
    for (index_t ow = 0, q = oh * rows.pitch; ow < rows.len; ++ow, ++q) {
      vec gv[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) gv[v] = loadu<vec>(grow + ow * ldg + v * VL);
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) {
        const vec xv = splat<T>(xs[i][q]);
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[i][v] += xv * gv[v];
      }
    }
  }
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) storeu(part + i * ldp + v * VL, acc[i][v]);
}

// gt (L × Kp) = go (K × L) transposed, lanes k ≥ K zero. AVX-512 float: 16 × 16 blocks through
// registers (one scalar store per element was a third of the FMAs' time on a 7×7 image).
template <typename T>
void transpose_go(const T* go, index_t K, index_t L, index_t Kp, T* gt) {
#if defined(__AVX512F__)
  if constexpr (sizeof(T) == 4) {
    for (index_t k0 = 0; k0 < K; k0 += 16)
      for (index_t p0 = 0; p0 < L; p0 += 16) {
        const index_t np = L - p0 < 16 ? L - p0 : 16;
        const __mmask16 m = static_cast<__mmask16>(np == 16 ? 0xffffu : (1u << np) - 1);
        __m512 r[16];
        for (int kk = 0; kk < 16; ++kk)
          r[kk] = k0 + kk < K ? _mm512_maskz_loadu_ps(m, go + (k0 + kk) * L + p0) : _mm512_setzero_ps();
        transpose16(r);
        for (index_t i = 0; i < np; ++i) _mm512_storeu_ps(gt + (p0 + i) * Kp + k0, r[i]);
      }
    for (index_t k = (K + 15) / 16 * 16; k < Kp; ++k)
      for (index_t q = 0; q < L; ++q) gt[q * Kp + k] = T(0);
    return;
  }
#endif
  for (index_t q = 0; q < L; ++q)
    for (index_t k = K; k < Kp; ++k) gt[q * Kp + k] = T(0);
  for (index_t k = 0; k < K; ++k)
    for (index_t q = 0; q < L; ++q) gt[q * Kp + k] = go[k * L + q];
}
#pragma GCC diagnostic pop

template <typename T, int MR, int NV>
void bw_block(index_t J, const Rows& Q, const index_t* off, const T* x, const T* goT, index_t ldg, T* part, index_t ldp) {
  index_t j = 0;
  for (; j + MR <= J; j += MR) bw_tile<T, MR, NV>(Q, off + j, x, goT, ldg, part + j * ldp, ldp);
  // the taps left over in tiles of 8, 4, 2, 1 rows (the first layer has only 9 taps)
  if (MR > 8 && j + 8 <= J) { bw_tile<T, (MR > 8 ? 8 : 1), NV>(Q, off + j, x, goT, ldg, part + j * ldp, ldp); j += (MR > 8 ? 8 : 1); }
  if (MR > 4 && j + 4 <= J) { bw_tile<T, (MR > 4 ? 4 : 1), NV>(Q, off + j, x, goT, ldg, part + j * ldp, ldp); j += (MR > 4 ? 4 : 1); }
  if (MR > 2 && j + 2 <= J) { bw_tile<T, (MR > 2 ? 2 : 1), NV>(Q, off + j, x, goT, ldg, part + j * ldp, ldp); j += (MR > 2 ? 2 : 1); }
  for (; j < J; ++j) bw_tile<T, 1, NV>(Q, off + j, x, goT, ldg, part + j * ldp, ldp);
}

// Backward weight for few output channels (K ≤ 8: the first layers), where padding K up to whole
// k-vectors wastes most lanes and transposing grad_output costs more than the FMAs: dot products
// along the output rows instead, grad_w[k][j] = Σ_{oh, ow} go[k][oh][ow] · x[off[j] + oh·Wp + ow],
// one vector accumulator per (k, j) of a KT × JT tile, KT + JT loads per KT·JT FMAs. The last
// vector of a row is partial: its grad_output lanes load as 0 and its input lanes are selected to
// 0 (so an inf past the row never meets them). acc holds K·J vectors per block of images; the
// lanes are summed at the end, in a fixed order.
template <typename T, int KT, int JT>
inline void bwr_tile(const ConvGeom& g, const Plan& p, const index_t* __restrict off, const T* __restrict xb,
                     const T* __restrict gn, const T* go_end, index_t k0, index_t j0, vec_t<T>* __restrict acc_mem,
                     index_t J) {
  typedef vec_t<T> vec;
  constexpr int VL = lanes<T>;
  vec acc[KT][JT];
#pragma GCC unroll 4
  for (int a = 0; a < KT; ++a)
#pragma GCC unroll 16
    for (int b = 0; b < JT; ++b) acc[a][b] = acc_mem[(k0 + a) * J + j0 + b];
  vec lane;
  for (int i = 0; i < VL; ++i) lane[i] = T(i);
  for (index_t oh = 0; oh < g.OH; ++oh) {
    const T* xrow = xb + oh * p.Wp;
    for (index_t ow0 = 0; ow0 < g.OW; ow0 += VL) {
      const index_t n = g.OW - ow0 < VL ? g.OW - ow0 : VL;
      vec gv[KT];
      const vec keep = splat<T>(T(n));
#pragma GCC unroll 4
      for (int a = 0; a < KT; ++a) {
        const T* gp = gn + ((k0 + a) * g.OH + oh) * g.OW + ow0;
        // a partial vector: a full load and a select where it stays inside grad_output
        gv[a] = n == VL ? load<T>(gp) : gp + VL <= go_end ? (lane < keep ? load<T>(gp) : splat<T>(T(0)))
                                                          : load_part<T>(gp, n, T(0));
      }
#pragma GCC unroll 16
      for (int b = 0; b < JT; ++b) {
        vec xv = load<T>(xrow + off[j0 + b] + ow0);
        if (n < VL) xv = lane < keep ? xv : splat<T>(T(0));
#pragma GCC unroll 4
        for (int a = 0; a < KT; ++a) acc[a][b] += gv[a] * xv;
      }
    }
  }
#pragma GCC unroll 4
  for (int a = 0; a < KT; ++a)
#pragma GCC unroll 16
    for (int b = 0; b < JT; ++b) acc_mem[(k0 + a) * J + j0 + b] = acc[a][b];
}

template <typename T, int KT>
void bwr_taps(const ConvGeom& g, const Plan& p, const index_t* off, const T* xb, const T* gn, const T* go_end,
              index_t k0, vec_t<T>* acc, index_t J) {
  constexpr bool wide = kVecRegisters >= 32;  // room for 2 × 12 accumulators
  for (index_t j = 0; j < J;) {
    const index_t rem = J - j;
    if (wide && rem >= 12) { bwr_tile<T, KT, (wide ? 12 : 1)>(g, p, off, xb, gn, go_end, k0, j, acc, J); j += wide ? 12 : 1; }
    else if (wide && rem == 9) { bwr_tile<T, KT, (wide ? 9 : 1)>(g, p, off, xb, gn, go_end, k0, j, acc, J); j += wide ? 9 : 1; }
    else if (wide && rem >= 8) { bwr_tile<T, KT, (wide ? 8 : 1)>(g, p, off, xb, gn, go_end, k0, j, acc, J); j += wide ? 8 : 1; }
    else if (rem >= 4) { bwr_tile<T, KT, 4>(g, p, off, xb, gn, go_end, k0, j, acc, J); j += 4; }
    else if (rem >= 2) { bwr_tile<T, KT, 2>(g, p, off, xb, gn, go_end, k0, j, acc, J); j += 2; }
    else { bwr_tile<T, KT, 1>(g, p, off, xb, gn, go_end, k0, j, acc, J); j += 1; }
  }
}

template <typename T>
void conv_s1_bw_rows(const ConvGeom& g, const T* go, const T* in, T* gw) {
  typedef vec_t<T> vec;
  constexpr int VL = lanes<T>;
  const Plan p = make_plan<T>(g, 1);
  const index_t K = g.K, J = p.J;
  const int threads = threads_for_items(g.N);
  const T* go_end = go + g.N * K * g.OH * g.OW;
  Workspace ws;
  vec* partial = workspace_take<vec>(ws, threads * K * J);
  index_t* off = workspace_take<index_t>(ws, J);
  if (!partial || !off) return;
  for (index_t i = 0; i < threads * K * J; ++i) partial[i] = splat<T>(T(0));
  fill_offsets(g, p, off);
  // One partial result per block of images, summed in block order below (the same bits every run).
  parallel_for_blocks(g.N, threads, threads, [&](index_t lo, index_t hi, index_t block) {
    vec* mine = partial + block * K * J;
    Workspace mine_ws;
    T* xb = workspace_take<T>(mine_ws, p.xsize + VL);
    if (!xb) return;
    std::memset(xb + p.xsize, 0, sizeof(T) * VL);  // the partial last vector reads up to VL − 1 past
    for (index_t n = lo; n < hi; ++n) {
      pad_into(g, p, in + n * g.C * g.H * g.W, xb);
      const T* gn = go + n * K * g.OH * g.OW;
      index_t k = 0;
      for (; k + 2 <= K; k += 2) bwr_taps<T, 2>(g, p, off, xb, gn, go_end, k, mine, J);
      if (k < K) bwr_taps<T, 1>(g, p, off, xb, gn, go_end, k, mine, J);
    }
  });
  for (index_t k = 0; k < K; ++k)
    for (index_t j = 0; j < J; ++j) {
      T sum = T(0);
      for (int t = 0; t < threads; ++t) sum += hsum<T>(partial[t * K * J + k * J + j]);
      gw[k * J + j] = sum;
    }
}

// grad_w (Cout × Cin·R·S) = Σ_n go[n] (Cout × Q) · X'[n]ᵀ; here Cout = K of the convolution.
template <typename T>
void conv_s1_bw_impl(const ConvGeom& g, const T* go, const T* in, T* gw) {
  constexpr int VL = lanes<T>;
  if (g.K <= 8 && 2 * g.OW >= VL) {
    conv_s1_bw_rows<T>(g, go, in, gw);
    return;
  }
  const Plan p = make_plan<T>(g, 1);
  const index_t K = g.K, Kp = (K + VL - 1) / VL * VL, J = p.J;
  const int threads = threads_for_items(g.N);
  const index_t psize = J * Kp;
  Workspace ws;
  T* partial = workspace_take<T>(ws, threads * psize);
  index_t* off = workspace_take<index_t>(ws, J);
  if (!partial || !off) return;
  std::memset(partial, 0, sizeof(T) * static_cast<size_t>(threads * psize));
  fill_offsets(g, p, off);
  // One partial result per block of images, summed in block order below (the same bits every run).
  parallel_for_blocks(g.N, threads, threads, [&](index_t lo, index_t hi, index_t block) {
    T* mine = partial + block * psize;
    Workspace mine_ws;   // this thread's padded image and transposed grad_output
    T* xb = workspace_take<T>(mine_ws, p.xsize);
    T* gt = workspace_take<T>(mine_ws, g.OH * g.OW * Kp);
    for (index_t n = lo; n < hi; ++n) {
      if (!xb || !gt) continue;
      pad_into(g, p, in + n * g.C * g.H * g.W, xb);
      // goT[oh·Wout + ow][k] = go[n, k, oh, ow], lanes k ≥ K zero
      transpose_go(go + n * K * g.OH * g.OW, K, g.OH * g.OW, Kp, gt);
      const Rows Q{g.OH, g.OW, p.Wp};
      index_t kv = 0;
      const index_t nvec = Kp / VL;
      for (; kv + 4 <= nvec; kv += 4) bw_block<T, kBwMR4, 4>(J, Q, off, xb, gt + kv * VL, Kp, mine + kv * VL, Kp);
      for (; kv + 2 <= nvec; kv += 2) bw_block<T, kBwMR2, 2>(J, Q, off, xb, gt + kv * VL, Kp, mine + kv * VL, Kp);
      for (; kv < nvec; ++kv) bw_block<T, kBwMR1, 1>(J, Q, off, xb, gt + kv * VL, Kp, mine + kv * VL, Kp);
    }
  });
  for (index_t k = 0; k < K; ++k)
    for (index_t j = 0; j < J; ++j) {
      T sum = T(0);
      for (int t = 0; t < threads; ++t) sum += partial[t * psize + j * Kp + k];
      gw[k * J + j] = sum;
    }
}

}  // namespace

// conv_s1_*: m is the row-major (Cout × Cin·R·S) weight matrix; bias may be null.
void conv_s1_f(const ConvGeom& g, const float* in, const float* wp, const float* bias, float* out, bool relu) {
  conv_s1_impl<float>(g, in, wp, bias, out, relu);
}
void conv_s1_d(const ConvGeom& g, const double* in, const double* wp, const double* bias, double* out, bool relu) {
  conv_s1_impl<double>(g, in, wp, bias, out, relu);
}
void conv_s1_bw_f(const ConvGeom& g, const float* go, const float* in, float* gw) {
  conv_s1_bw_impl<float>(g, go, in, gw);
}
void conv_s1_bw_d(const ConvGeom& g, const double* go, const double* in, double* gw) {
  conv_s1_bw_impl<double>(g, go, in, gw);
}

PE_ISA_REGISTER(conv_s1_f, conv_s1_f)
PE_ISA_REGISTER(conv_s1_d, conv_s1_d)
PE_ISA_REGISTER(conv_s1_bw_f, conv_s1_bw_f)
PE_ISA_REGISTER(conv_s1_bw_d, conv_s1_bw_d)

}  // namespace pyengine::cpu::PYENGINE_ISA
