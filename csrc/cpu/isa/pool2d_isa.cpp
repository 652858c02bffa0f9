// pool2d_isa.cpp — 2-D max and average pooling (see pyengine/pool2d.h), compiled once per ISA.
//
// Parallel over the N·C planes (static schedule, one plane per iteration). Two paths per op:
//  * 2×2 window, stride 2, no padding, dilation 1 (the usual down-sampling layer): per output row
//    the two input rows are loaded 16 elements at a time and deinterleaved into the four window
//    corners (even/odd lanes), giving 8 outputs per step; a row of OW ≥ 8 ends with a chunk that
//    overlaps the previous one instead of a scalar tail. The backward passes write each 2×2 block
//    once — the gradient where the index (or the average) puts it, zero elsewhere — so the plane is
//    never zeroed and scattered. A max index that is not inside its own block (indices from a
//    3×3/2 padded forward, or made by hand) sends that plane to the general path.
//  * everything else: a scalar loop over the clipped window of each output.
// Indices come in two forms, one template each (Idx): int64 flat positions h·W + w in the plane (the
// public contract), or uint8 window taps i·kw + j (what autograd saves on the CPU: an eighth of the
// bytes, so the backward reads gy + taps and writes gx, 17 MB against 22 MB for the 128×32×28×28
// layer). The taps backward rebuilds the position from the output's window start and a per-call
// table of the taps' row and column offsets.
// The vector types are GCC's vector extensions, so the same source gives AVX-512, AVX2 or SSE2 code.
#include <atomic>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "isa.h"
#include "pyengine/pool2d.h"
#include "pyengine/parallel.h"

// The 8-lane double vectors are 64 bytes; returned by value from the internal inline helpers they
// only change an ABI no other translation unit sees.
#pragma GCC diagnostic ignored "-Wpsabi"


namespace pyengine::cpu::PYENGINE_ISA {
namespace {

typedef float v8f __attribute__((vector_size(32)));
typedef double v8d __attribute__((vector_size(64)));
typedef std::int32_t v8i __attribute__((vector_size(32)));
typedef std::int64_t v8l __attribute__((vector_size(64)));
typedef std::uint8_t v8b __attribute__((vector_size(8)));

// Idx = std::uint8_t: window taps i·kw + j; std::int64_t: flat positions.
template <typename Idx>
constexpr bool kTaps = std::is_same<Idx, std::uint8_t>::value;

// Per element type: the 8-lane value vector and the integer vector its comparisons produce.
template <typename T> struct V8;
template <> struct V8<float> { typedef v8f vec; typedef v8i msk; typedef std::int32_t lane; };
template <> struct V8<double> { typedef v8d vec; typedef v8l msk; typedef std::int64_t lane; };

// 8-lane loads and stores (the 2×2 path works on 8 outputs at a time whatever the ISA).
template <typename Vec, typename T>
inline Vec load8(const T* p) {
  Vec v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <typename Vec, typename T>
inline void store8(T* p, const Vec& v) { std::memcpy(p, &v, sizeof v); }

inline index_t imin(index_t a, index_t b) { return a < b ? a : b; }
inline index_t imax(index_t a, index_t b) { return a > b ? a : b; }

bool is_2x2_stride2(const Pool2dShape& s) {
  return s.kh == 2 && s.kw == 2 && s.sh == 2 && s.sw == 2 && s.ph == 0 && s.pw == 0 && s.dh == 1 && s.dw == 1 &&
         2 * s.OH <= s.H && 2 * s.OW <= s.W && s.H * s.W < (index_t(1) << 30);
}

// The taps [i0, i1) of a window starting at `start` with step `dil` that fall inside [0, size)
// (no division in the usual dilation-1 case).
inline void clip_taps(index_t start, index_t k, index_t dil, index_t size, index_t& i0, index_t& i1) {
  if (dil == 1) {
    i0 = start < 0 ? -start : 0;
    i1 = imin(k, size - start);
    return;
  }
  i0 = start < 0 ? (-start + dil - 1) / dil : 0;
  i1 = imin(k, (size - start + dil - 1) / dil);
}

// The 8-lane 2×2 paths need native 256/512-bit integer compares and shuffles; on plain x86-64 the
// compiler splits them into scalar code slower than the scalar loops, so that copy uses those.
#if defined(__AVX2__)
constexpr bool kVector2x2 = true;
#else
constexpr bool kVector2x2 = false;
#endif

// ---- max pooling -------------------------------------------------------------------------------

// The outputs [lo, hi) whose tap at column offset `off` (= j·dw − pw) lies inside [0, W).
inline void tap_outputs(index_t off, index_t stride, index_t size, index_t out, index_t& lo, index_t& hi) {
  lo = off >= 0 ? 0 : (-off + stride - 1) / stride;
  hi = size - 1 - off < 0 ? 0 : imin(out, (size - 1 - off) / stride + 1);
}

// Row by row: for each tap (i, j) in the window's scan order, one pass over the output row with a
// select-style update, so every output sees its taps in PyTorch's order and the inner loop is a
// simple strided pass the compiler can if-convert.
template <typename T, typename Idx>
void max_plane_general(const Pool2dShape& s, const T* x, T* y, Idx* idx) {
  for (index_t oh = 0; oh < s.OH; ++oh) {
    const index_t hs = oh * s.sh - s.ph;
    index_t i0, i1;
    clip_taps(hs, s.kh, s.dh, s.H, i0, i1);
    T* yr = y + oh * s.OW;
    Idx* ir = idx + oh * s.OW;
    for (index_t ow = 0; ow < s.OW; ++ow) {   // -inf, at the first input element of the window
      const index_t ws = ow * s.sw - s.pw;
      index_t j0, j1;
      clip_taps(ws, s.kw, s.dw, s.W, j0, j1);
      yr[ow] = -__builtin_inf();
      ir[ow] = static_cast<Idx>(kTaps<Idx> ? i0 * s.kw + j0 : (hs + i0 * s.dh) * s.W + ws + j0 * s.dw);
    }
    for (index_t i = i0; i < i1; ++i) {
      const index_t row = (hs + i * s.dh) * s.W;
      const T* xr = x + row;
      for (index_t j = 0; j < s.kw; ++j) {
        const index_t off = j * s.dw - s.pw;
        const Idx tap = static_cast<Idx>(i * s.kw + j);
        index_t lo, hi;
        tap_outputs(off, s.sw, s.W, s.OW, lo, hi);
        for (index_t ow = lo; ow < hi; ++ow) {
          const index_t col = ow * s.sw + off;
          const T v = xr[col];
          const bool take = (v > yr[ow]) | (v != v);   // greater or NaN: first max kept, NaN wins
          yr[ow] = take ? v : yr[ow];
          if constexpr (kTaps<Idx>) ir[ow] = take ? tap : ir[ow];
          else ir[ow] = take ? row + col : ir[ow];
        }
      }
    }
  }
}

// One output of the 2×2/2 case, top-left input at r0[0] with flat index `base`.
template <typename T, typename Idx>
inline void max2x2_one(const T* r0, const T* r1, index_t base, index_t W, T* y, Idx* idx) {
  T best = r0[0];
  index_t where = kTaps<Idx> ? 0 : base;
  const T c[3] = {r0[1], r1[0], r1[1]};
  const index_t off[3] = {1, kTaps<Idx> ? 2 : W, kTaps<Idx> ? 3 : W + 1};
  for (int k = 0; k < 3; ++k) {
    const bool take = (c[k] > best) | (c[k] != c[k]);
    best = take ? c[k] : best;
    where = take ? (kTaps<Idx> ? 0 : base) + off[k] : where;
  }
  *y = best;
  *idx = static_cast<Idx>(where);
}

template <typename T, typename Idx>
void max_plane_2x2(const Pool2dShape& s, const T* x, T* y, Idx* idx) {
  typedef typename V8<T>::vec vec;
  typedef typename V8<T>::msk msk;
  const msk even = {0, 2, 4, 6, 8, 10, 12, 14}, odd = {1, 3, 5, 7, 9, 11, 13, 15};
  const msk zero = {};
  typedef typename V8<T>::lane lane;
  // the three later corners' offsets: flat (1, W, W + 1) or taps (1, 2, 3)
  const msk one = zero + 1, offW = zero + static_cast<lane>(kTaps<Idx> ? 2 : s.W),
            offW1 = zero + static_cast<lane>(kTaps<Idx> ? 3 : s.W + 1);
  for (index_t oh = 0; oh < s.OH; ++oh) {
    const T* r0 = x + 2 * oh * s.W;
    const T* r1 = r0 + s.W;
    T* yr = y + oh * s.OW;
    Idx* ir = idx + oh * s.OW;
    if (!kVector2x2 || s.OW < 8) {
      for (index_t ow = 0; ow < s.OW; ++ow)
        max2x2_one(r0 + 2 * ow, r1 + 2 * ow, 2 * oh * s.W + 2 * ow, s.W, yr + ow, ir + ow);
      continue;
    }
    for (index_t ow = 0;; ow += 8) {
      if (ow > s.OW - 8) ow = s.OW - 8;   // the last chunk overlaps the previous one
      const vec a0 = load8<vec>(r0 + 2 * ow), a1 = load8<vec>(r0 + 2 * ow + 8);
      const vec b0 = load8<vec>(r1 + 2 * ow), b1 = load8<vec>(r1 + 2 * ow + 8);
      vec best = __builtin_shuffle(a0, a1, even);
      msk off = zero;
      const vec cand[3] = {__builtin_shuffle(a0, a1, odd), __builtin_shuffle(b0, b1, even),
                           __builtin_shuffle(b0, b1, odd)};
      const msk coff[3] = {one, offW, offW1};
      for (int k = 0; k < 3; ++k) {
        const msk take = (cand[k] > best) | (cand[k] != cand[k]);   // greater or NaN: first max, NaN wins
        best = take ? cand[k] : best;
        off = take ? coff[k] : off;
      }
      store8(yr + ow, best);
      if constexpr (kTaps<Idx>) {
        store8(ir + ow, __builtin_convertvector(off, v8b));
      } else {
        const v8l lane2 = {0, 2, 4, 6, 8, 10, 12, 14};
        const v8l where = __builtin_convertvector(off, v8l) + lane2 + (2 * oh * s.W + 2 * ow);
        store8(ir + ow, where);
      }
      if (ow == s.OW - 8) break;
    }
  }
}

template <typename T>
index_t max_bwd_plane_general(index_t hw, index_t outs, const T* g, const std::int64_t* idx, T* gi) {
  index_t bad = 0;
  for (index_t i = 0; i < hw; ++i) gi[i] = T(0);
  for (index_t o = 0; o < outs; ++o) {
    const std::int64_t at = idx[o];
    if (at < 0 || at >= hw) {
      ++bad;
      continue;
    }
    gi[at] += g[o];
  }
  return bad;
}

// The row and column offsets (i·dh, j·dw) of every tap i·kw + j of the window (kh·kw ≤ 256).
struct TapTable {
  index_t n;
  std::int32_t row[256], col[256];
  explicit TapTable(const Pool2dShape& s) : n(s.kh * s.kw) {
    for (index_t t = 0; t < n; ++t) {
      row[t] = static_cast<std::int32_t>(t / s.kw * s.dh);
      col[t] = static_cast<std::int32_t>(t % s.kw * s.dw);
    }
  }
};

// Window taps: output (oh, ow)'s gradient goes to its window start plus the tap's offsets. A tap
// past the window or on a padding position is counted (and skipped).
template <typename T>
index_t max_bwd_plane_taps(const Pool2dShape& s, const TapTable& tt, const T* g, const std::uint8_t* taps, T* gi) {
  index_t bad = 0;
  for (index_t i = 0; i < s.H * s.W; ++i) gi[i] = T(0);
  for (index_t oh = 0; oh < s.OH; ++oh) {
    const index_t hs = oh * s.sh - s.ph;
    for (index_t ow = 0; ow < s.OW; ++ow) {
      const index_t t = taps[oh * s.OW + ow];
      const index_t r = hs + (t < tt.n ? tt.row[t] : 0), c = ow * s.sw - s.pw + (t < tt.n ? tt.col[t] : 0);
      if (t >= tt.n || r < 0 || r >= s.H || c < 0 || c >= s.W) {
        ++bad;
        continue;
      }
      gi[r * s.W + c] += g[oh * s.OW + ow];
    }
  }
  return bad;
}

// Writes every covered 2×2 block; returns false (plane left half-written) when an index lies outside
// its own block (a flat index from a 3×3/2 padded forward or made by hand; a tap above 3), so the
// caller redoes the plane with the general path. `rel` below is the index's corner: flat 0, 1, W,
// W + 1, or the tap 0-3.
template <typename T, typename Idx>
bool max_bwd_plane_2x2(const Pool2dShape& s, const T* g, const Idx* idx, T* gi) {
  typedef typename V8<T>::vec vec;
  typedef typename V8<T>::msk msk;
  const index_t W = s.W;
  const index_t c1 = 1, c2 = kTaps<Idx> ? 2 : W, c3 = kTaps<Idx> ? 3 : W + 1;
  const msk lo = {0, 8, 1, 9, 2, 10, 3, 11}, hi = {4, 12, 5, 13, 6, 14, 7, 15};
  const v8l zl = {};
  const v8l lane2 = {0, 2, 4, 6, 8, 10, 12, 14};
  const v8l one = zl + c1, offW = zl + c2, offW1 = zl + c3;
  const vec zero = {};
  v8l missed = zl;
  msk missed_taps = {};
  for (index_t oh = 0; oh < s.OH; ++oh) {
    T* r0 = gi + 2 * oh * W;
    T* r1 = r0 + W;
    const T* gr = g + oh * s.OW;
    const Idx* ir = idx + oh * s.OW;
    if (!kVector2x2 || s.OW < 8) {
      for (index_t ow = 0; ow < s.OW; ++ow) {
        const index_t rel = kTaps<Idx> ? index_t(ir[ow]) : index_t(ir[ow]) - (2 * oh * W + 2 * ow);
        if (rel != 0 && rel != c1 && rel != c2 && rel != c3) return false;
        r0[2 * ow] = rel == 0 ? gr[ow] : T(0);
        r0[2 * ow + 1] = rel == c1 ? gr[ow] : T(0);
        r1[2 * ow] = rel == c2 ? gr[ow] : T(0);
        r1[2 * ow + 1] = rel == c3 ? gr[ow] : T(0);
      }
    } else {
      for (index_t ow = 0;; ow += 8) {
        if (ow > s.OW - 8) ow = s.OW - 8;
        const vec gv = load8<vec>(gr + ow);
        vec t0, t1, b0, b1;
        if constexpr (kTaps<Idx>) {   // compared in the value's lane width (no int64 lanes for float)
          const msk rel = __builtin_convertvector(load8<v8b>(ir + ow), msk);
          missed_taps |= rel > msk{} + 3;
          t0 = rel == msk{} ? gv : zero;
          t1 = rel == msk{} + 1 ? gv : zero;
          b0 = rel == msk{} + 2 ? gv : zero;
          b1 = rel == msk{} + 3 ? gv : zero;
        } else {
          const v8l rel = load8<v8l>(ir + ow) - lane2 - (2 * oh * W + 2 * ow);
          const v8l e0 = rel == zl, e1 = rel == one, e2 = rel == offW, e3 = rel == offW1;
          missed |= ~(e0 | e1 | e2 | e3);   // checked once per plane: a miss redoes the whole plane
          t0 = __builtin_convertvector(e0, msk) ? gv : zero;
          t1 = __builtin_convertvector(e1, msk) ? gv : zero;
          b0 = __builtin_convertvector(e2, msk) ? gv : zero;
          b1 = __builtin_convertvector(e3, msk) ? gv : zero;
        }
        store8(r0 + 2 * ow, __builtin_shuffle(t0, t1, lo));
        store8(r0 + 2 * ow + 8, __builtin_shuffle(t0, t1, hi));
        store8(r1 + 2 * ow, __builtin_shuffle(b0, b1, lo));
        store8(r1 + 2 * ow + 8, __builtin_shuffle(b0, b1, hi));
        if (ow == s.OW - 8) break;
      }
    }
    if (W > 2 * s.OW) r0[W - 1] = r1[W - 1] = T(0);   // odd width: the last column is in no window
  }
  for (int l = 0; l < 8; ++l)
    if (missed[l] | missed_taps[l]) return false;
  for (index_t i = 2 * s.OH * W; i < s.H * W; ++i) gi[i] = T(0);   // odd height: the last row
  return true;
}

// ---- average pooling ---------------------------------------------------------------------------

// The window [start, end) of one dimension clipped to the padded input, the divisor's factor for it,
// and the part inside the input.
struct Span {
  index_t lo, hi, factor;
};
inline Span avg_span(index_t o, index_t stride, index_t pad, index_t k, index_t size, bool include_pad) {
  const index_t start = o * stride - pad;
  const index_t end = imin(start + k, size + pad);
  Span sp;
  sp.lo = imax(start, 0);
  sp.hi = imin(end, size);
  sp.factor = include_pad ? end - start : sp.hi - sp.lo;
  return sp;
}

// Row by row like max_plane_general: sums accumulate in the output row, taps in row-major order.
template <typename T>
void avg_plane_general(const Pool2dShape& s, bool include_pad, const T* x, T* y) {
  for (index_t oh = 0; oh < s.OH; ++oh) {
    const Span h = avg_span(oh, s.sh, s.ph, s.kh, s.H, include_pad);
    T* yr = y + oh * s.OW;
    for (index_t ow = 0; ow < s.OW; ++ow) yr[ow] = T(0);
    for (index_t r = h.lo; r < h.hi; ++r) {
      const T* xr = x + r * s.W;
      for (index_t j = 0; j < s.kw; ++j) {
        const index_t off = j - s.pw;
        index_t lo, hi;
        tap_outputs(off, s.sw, s.W, s.OW, lo, hi);
        for (index_t ow = lo; ow < hi; ++ow) yr[ow] += xr[ow * s.sw + off];
      }
    }
    for (index_t ow = 0; ow < s.OW; ++ow) {
      const Span w = avg_span(ow, s.sw, s.pw, s.kw, s.W, include_pad);
      yr[ow] /= static_cast<T>(h.factor * w.factor);
    }
  }
}

template <typename T>
void avg_bwd_plane_general(const Pool2dShape& s, bool include_pad, const T* g, T* gi) {
  for (index_t i = 0; i < s.H * s.W; ++i) gi[i] = T(0);
  for (index_t oh = 0; oh < s.OH; ++oh) {
    const Span h = avg_span(oh, s.sh, s.ph, s.kh, s.H, include_pad);
    for (index_t ow = 0; ow < s.OW; ++ow) {
      const Span w = avg_span(ow, s.sw, s.pw, s.kw, s.W, include_pad);
      const T share = g[oh * s.OW + ow] / static_cast<T>(h.factor * w.factor);
      for (index_t r = h.lo; r < h.hi; ++r)
        for (index_t c = w.lo; c < w.hi; ++c) gi[r * s.W + c] += share;
    }
  }
}

template <typename T>
void avg_plane_2x2(const Pool2dShape& s, const T* x, T* y) {
  typedef typename V8<T>::vec vec;
  typedef typename V8<T>::msk msk;
  const msk even = {0, 2, 4, 6, 8, 10, 12, 14}, odd = {1, 3, 5, 7, 9, 11, 13, 15};
  for (index_t oh = 0; oh < s.OH; ++oh) {
    const T* r0 = x + 2 * oh * s.W;
    const T* r1 = r0 + s.W;
    T* yr = y + oh * s.OW;
    if (s.OW < 8) {
      for (index_t ow = 0; ow < s.OW; ++ow)
        yr[ow] = (((r0[2 * ow] + r0[2 * ow + 1]) + r1[2 * ow]) + r1[2 * ow + 1]) / T(4);
      continue;
    }
    for (index_t ow = 0;; ow += 8) {
      if (ow > s.OW - 8) ow = s.OW - 8;
      const vec a0 = load8<vec>(r0 + 2 * ow), a1 = load8<vec>(r0 + 2 * ow + 8);
      const vec b0 = load8<vec>(r1 + 2 * ow), b1 = load8<vec>(r1 + 2 * ow + 8);
      // PyTorch's summation order: row by row
      const vec sum = ((__builtin_shuffle(a0, a1, even) + __builtin_shuffle(a0, a1, odd)) +
                       __builtin_shuffle(b0, b1, even)) + __builtin_shuffle(b0, b1, odd);
      store8(yr + ow, sum / T(4));
      if (ow == s.OW - 8) break;
    }
  }
}

template <typename T>
void avg_bwd_plane_2x2(const Pool2dShape& s, const T* g, T* gi) {
  typedef typename V8<T>::vec vec;
  typedef typename V8<T>::msk msk;
  const msk lo = {0, 0, 1, 1, 2, 2, 3, 3}, hi = {4, 4, 5, 5, 6, 6, 7, 7};
  const index_t W = s.W;
  for (index_t oh = 0; oh < s.OH; ++oh) {
    T* r0 = gi + 2 * oh * W;
    T* r1 = r0 + W;
    const T* gr = g + oh * s.OW;
    if (s.OW < 8) {
      for (index_t ow = 0; ow < s.OW; ++ow) {
        const T share = gr[ow] / T(4);
        r0[2 * ow] = r0[2 * ow + 1] = r1[2 * ow] = r1[2 * ow + 1] = share;
      }
    } else {
      for (index_t ow = 0;; ow += 8) {
        if (ow > s.OW - 8) ow = s.OW - 8;
        const vec share = load8<vec>(gr + ow) / T(4);
        const vec l = __builtin_shuffle(share, lo), h = __builtin_shuffle(share, hi);
        store8(r0 + 2 * ow, l);
        store8(r0 + 2 * ow + 8, h);
        store8(r1 + 2 * ow, l);
        store8(r1 + 2 * ow + 8, h);
        if (ow == s.OW - 8) break;
      }
    }
    if (W > 2 * s.OW) r0[W - 1] = r1[W - 1] = T(0);
  }
  for (index_t i = 2 * s.OH * W; i < s.H * W; ++i) gi[i] = T(0);
}

// ---- drivers -----------------------------------------------------------------------------------

template <typename T, typename Idx>
void max_fwd(const Pool2dShape& s, const T* x, T* y, Idx* idx) {
  const index_t planes = s.N * s.C, in = s.H * s.W, out = s.OH * s.OW;
  const bool fast = is_2x2_stride2(s);
  const int threads = get_num_threads();
  parallel_for(planes, threads > 1 && planes > 1 ? threads : 1, [&](index_t p) {
    if (fast)
      max_plane_2x2(s, x + p * in, y + p * out, idx + p * out);
    else
      max_plane_general(s, x + p * in, y + p * out, idx + p * out);
  });
}

template <typename T, typename Idx>
index_t max_bwd(const Pool2dShape& s, const T* g, const Idx* idx, T* gi) {
  const index_t planes = s.N * s.C, in = s.H * s.W, out = s.OH * s.OW;
  // Flat indices carry no window: any geometry whose outputs tile the plane in 2×2 blocks may try
  // the block path (it checks every index). Taps need the 2×2/2 window itself.
  const bool fast = kTaps<Idx> ? is_2x2_stride2(s)
                               : 2 * s.OH <= s.H && 2 * s.OW <= s.W && s.H < 2 * s.OH + 2 && s.W < 2 * s.OW + 2;
  const int threads = get_num_threads();
  std::atomic<index_t> bad{0};
  if constexpr (kTaps<Idx>) {
    const TapTable tt(s);
    parallel_for(planes, threads, [&](index_t p) {
      if (!fast || !max_bwd_plane_2x2(s, g + p * out, idx + p * out, gi + p * in)) {
        const index_t b = max_bwd_plane_taps(s, tt, g + p * out, idx + p * out, gi + p * in);
        if (b) bad.fetch_add(b, std::memory_order_relaxed);
      }
    });
  } else {
    parallel_for(planes, threads, [&](index_t p) {
      if (!fast || !max_bwd_plane_2x2(s, g + p * out, idx + p * out, gi + p * in)) {
        const index_t b = max_bwd_plane_general(in, out, g + p * out, idx + p * out, gi + p * in);
        if (b) bad.fetch_add(b, std::memory_order_relaxed);
      }
    });
  }
  return bad.load();
}

template <typename T>
void avg_fwd(const Pool2dShape& s, bool include_pad, const T* x, T* y) {
  const index_t planes = s.N * s.C, in = s.H * s.W, out = s.OH * s.OW;
  const bool fast = is_2x2_stride2(s);
  const int threads = get_num_threads();
  parallel_for(planes, threads > 1 && planes > 1 ? threads : 1, [&](index_t p) {
    if (fast)
      avg_plane_2x2(s, x + p * in, y + p * out);
    else
      avg_plane_general(s, include_pad, x + p * in, y + p * out);
  });
}

template <typename T>
void avg_bwd(const Pool2dShape& s, bool include_pad, const T* g, T* gi) {
  const index_t planes = s.N * s.C, in = s.H * s.W, out = s.OH * s.OW;
  const bool fast = is_2x2_stride2(s);
  const int threads = get_num_threads();
  parallel_for(planes, threads > 1 && planes > 1 ? threads : 1, [&](index_t p) {
    if (fast)
      avg_bwd_plane_2x2(s, g + p * out, gi + p * in);
    else
      avg_bwd_plane_general(s, include_pad, g + p * out, gi + p * in);
  });
}

}  // namespace

void max_pool_fwd_f32(const Pool2dShape& s, const float* x, float* y, std::int64_t* idx) { max_fwd(s, x, y, idx); }
void max_pool_fwd_f64(const Pool2dShape& s, const double* x, double* y, std::int64_t* idx) { max_fwd(s, x, y, idx); }
index_t max_pool_bwd_f32(const Pool2dShape& s, const float* g, const std::int64_t* idx, float* gi) {
  return max_bwd(s, g, idx, gi);
}
index_t max_pool_bwd_f64(const Pool2dShape& s, const double* g, const std::int64_t* idx, double* gi) {
  return max_bwd(s, g, idx, gi);
}
void max_pool_fwd_taps_f32(const Pool2dShape& s, const float* x, float* y, std::uint8_t* t) { max_fwd(s, x, y, t); }
void max_pool_fwd_taps_f64(const Pool2dShape& s, const double* x, double* y, std::uint8_t* t) { max_fwd(s, x, y, t); }
index_t max_pool_bwd_taps_f32(const Pool2dShape& s, const float* g, const std::uint8_t* t, float* gi) {
  return max_bwd(s, g, t, gi);
}
index_t max_pool_bwd_taps_f64(const Pool2dShape& s, const double* g, const std::uint8_t* t, double* gi) {
  return max_bwd(s, g, t, gi);
}
void avg_pool_fwd_f32(const Pool2dShape& s, bool cip, const float* x, float* y) { avg_fwd(s, cip, x, y); }
void avg_pool_fwd_f64(const Pool2dShape& s, bool cip, const double* x, double* y) { avg_fwd(s, cip, x, y); }
void avg_pool_bwd_f32(const Pool2dShape& s, bool cip, const float* g, float* gi) { avg_bwd(s, cip, g, gi); }
void avg_pool_bwd_f64(const Pool2dShape& s, bool cip, const double* g, double* gi) { avg_bwd(s, cip, g, gi); }

PE_ISA_REGISTER(max_pool_fwd_f32, max_pool_fwd_f32)
PE_ISA_REGISTER(max_pool_fwd_f64, max_pool_fwd_f64)
PE_ISA_REGISTER(max_pool_bwd_f32, max_pool_bwd_f32)
PE_ISA_REGISTER(max_pool_bwd_f64, max_pool_bwd_f64)
PE_ISA_REGISTER(max_pool_fwd_taps_f32, max_pool_fwd_taps_f32)
PE_ISA_REGISTER(max_pool_fwd_taps_f64, max_pool_fwd_taps_f64)
PE_ISA_REGISTER(max_pool_bwd_taps_f32, max_pool_bwd_taps_f32)
PE_ISA_REGISTER(max_pool_bwd_taps_f64, max_pool_bwd_taps_f64)
PE_ISA_REGISTER(avg_pool_fwd_f32, avg_pool_fwd_f32)
PE_ISA_REGISTER(avg_pool_fwd_f64, avg_pool_fwd_f64)
PE_ISA_REGISTER(avg_pool_bwd_f32, avg_pool_bwd_f32)
PE_ISA_REGISTER(avg_pool_bwd_f64, avg_pool_bwd_f64)

}  // namespace pyengine::cpu::PYENGINE_ISA
