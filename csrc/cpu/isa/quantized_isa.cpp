// quantized_isa.cpp — the int8 kernels (see pyengine/quantized.h), compiled once per ISA.
//
// Two products, both with the requantization of quantized.h applied as results are stored:
//  conv_gemm    Y(M × L) = W(M × J) · X(J × L): weights broadcast, columns in vectors. A tile of
//               RM ≤ 8 weight rows × NV vectors of positions keeps its int32 accumulators in
//               registers; its columns are first packed in quads of j, (⌈J/4⌉, NV·lanes, 4) bytes,
//               so one vector load brings 4 taps of every position of a vector.
//  linear_gemm  Y(N × O) = X(N × I) · W(O × I)ᵀ: dot products along I of RN rows of x with RO rows
//               of w, one accumulator vector per (row, weight row), reduced across lanes at the end.
// Around them: quantized_conv_s1 (stride 1, one group: the padded image is the B operand, no
// im2col), quantized_depthwise (VNNI + VBMI: vpermb gathers a filter row's taps, vpdpbusd sums
// them), quantize_f32 (float32 → uint8) and max_pool_2x2_row (uint8 2×2/2 max pooling).
// The AVX-512 copy runs only on CPUs with VNNI (csrc/cpu/quantized.cpp picks the copy) and uses
// vpdpbusd; the AVX2 copy uses vpmaddubsw on |x'| and w·sign(x'), x' = x − 128, which cannot
// saturate (quantized.h); the generic copy is plain integer code. Workspaces come from the calling
// thread's arena.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif
#include "isa.h"
#include "pyengine/quantized.h"


#if defined(__AVX512F__)
// This copy is only called on CPUs with AVX-512 VNNI (vpdpbusd); the others take the AVX2 copy.
#pragma GCC target("avx512vnni,avx512vbmi")  // vpermb: checked at run time in quantized_depthwise
// GCC 12 reports its own _mm512_undefined_* (used inside the conversion intrinsics) as maybe
// uninitialised; the warning is about the header, not this file.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

namespace pyengine::cpu::PYENGINE_ISA {
namespace {

using std::int32_t;
using std::int8_t;
using std::uint8_t;

// The scalar requantization of quantized.h (also the tail of the vector stores).
inline float clamp_f(float f, float lo, float hi) { return f < lo ? lo : (f > hi ? hi : f); }

inline void store_scalar(const Requant& rq, index_t k, int32_t acc, void* y, index_t idx) {
  const float f = static_cast<float>(acc + rq.offset[k]) * rq.multiplier[k];
  if (rq.out_u8) {
    const float lo = static_cast<float>(rq.qmin - rq.y_zero_point), hi = static_cast<float>(rq.qmax - rq.y_zero_point);
    const int32_t q = static_cast<int32_t>(__builtin_nearbyintf(clamp_f(f, lo, hi))) + rq.y_zero_point;
    static_cast<uint8_t*>(y)[idx] = static_cast<uint8_t>(q);
  } else {
    static_cast<float*>(y)[idx] = f;
  }
}

inline int thread_count() {
#ifdef PYENGINE_OPENMP
  return get_num_threads();
#else
  return 1;
#endif
}

#if defined(__AVX512F__) || defined(__AVX2__)

#if defined(__AVX512F__)
constexpr int kLanes = 16;        // int32 lanes (positions) per vector
constexpr int kNV = 3;            // vectors of positions per conv tile
typedef __m512i ivec;
inline ivec vload(const void* p) { return _mm512_loadu_si512(p); }
inline ivec vbcast(const int8_t* p) { int32_t v; std::memcpy(&v, p, 4); return _mm512_set1_epi32(v); }
inline ivec vzero() { return _mm512_setzero_si512(); }
// acc += Σ of 4 products x(u8)·w(s8) per int32 lane.
inline ivec dot4(ivec acc, ivec x, ivec absx, ivec w) { (void)absx; return _mm512_dpbusd_epi32(acc, x, w); }
inline ivec prep_abs(ivec x) { return x; }
constexpr uint8_t kShift = 0;     // columns are stored as x
#else
constexpr int kLanes = 8;
constexpr int kNV = 2;
typedef __m256i ivec;
inline ivec vload(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline ivec vbcast(const int8_t* p) { int32_t v; std::memcpy(&v, p, 4); return _mm256_set1_epi32(v); }
inline ivec vzero() { return _mm256_setzero_si256(); }
// x holds x' = x − 128 (int8), absx = |x'| (uint8 ≤ 128): |x'|·(w·sign x') pairs cannot saturate.
inline ivec dot4(ivec acc, ivec x, ivec absx, ivec w) {
  const ivec pairs = _mm256_maddubs_epi16(absx, _mm256_sign_epi8(w, x));
  return _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
}
inline ivec prep_abs(ivec x) { return _mm256_abs_epi8(x); }
constexpr uint8_t kShift = 0x80;  // columns are stored as x' = x − 128 (x XOR 0x80)
#endif
constexpr int kMR = 8;            // weight rows per conv tile
constexpr int kTile = kNV * kLanes;

// Requantizes one vector of accumulators (row k, `valid` positions) and stores it at y[idx...].
inline void store_vec(const Requant& rq, index_t k, int32_t off, ivec acc, void* y, index_t idx, int valid) {
#if defined(__AVX512F__)
  const __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(acc, _mm512_set1_epi32(off))),
                                 _mm512_set1_ps(rq.multiplier[k]));
  const __mmask16 m = valid >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << valid) - 1);
  if (rq.out_u8) {
    const __m512 lo = _mm512_set1_ps(static_cast<float>(rq.qmin - rq.y_zero_point));
    const __m512 hi = _mm512_set1_ps(static_cast<float>(rq.qmax - rq.y_zero_point));
    const __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_min_ps(_mm512_max_ps(f, lo), hi)),
                                       _mm512_set1_epi32(rq.y_zero_point));
    _mm_mask_storeu_epi8(static_cast<uint8_t*>(y) + idx, m, _mm512_cvtusepi32_epi8(q));
  } else {
    _mm512_mask_storeu_ps(static_cast<float*>(y) + idx, m, f);
  }
#else
  const __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(acc, _mm256_set1_epi32(off))),
                                 _mm256_set1_ps(rq.multiplier[k]));
  if (rq.out_u8) {
    const __m256 lo = _mm256_set1_ps(static_cast<float>(rq.qmin - rq.y_zero_point));
    const __m256 hi = _mm256_set1_ps(static_cast<float>(rq.qmax - rq.y_zero_point));
    const __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(f, lo), hi)),
                                       _mm256_set1_epi32(rq.y_zero_point));
    // 8 int32 in [0, 255] → 8 bytes: pack to int16 then to uint8 (both in range, no saturation).
    const __m128i w16 = _mm_packus_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    const __m128i b8 = _mm_packus_epi16(w16, w16);
    uint8_t tmp[16];
    _mm_storeu_si128(reinterpret_cast<__m128i*>(tmp), b8);
    std::memcpy(static_cast<uint8_t*>(y) + idx, tmp, static_cast<size_t>(valid < 8 ? valid : 8));
  } else {
    if (valid >= 8) {
      _mm256_storeu_ps(static_cast<float*>(y) + idx, f);
    } else {
      float tmp[8];
      _mm256_storeu_ps(tmp, f);
      std::memcpy(static_cast<float*>(y) + idx, tmp, sizeof(float) * static_cast<size_t>(valid));
    }
  }
#endif
}

// Packs n positions of J rows into dst (Q quads × kTile × 4 bytes): byte (q, l, i) = row(4q + i)[l]
// XOR kShift, where row(j) points at the first of the n positions of row j. Rows j ≥ J and
// positions l ≥ n are filled with kShift (x' = 0 in the AVX2 layout; their weights or outputs are
// zero or discarded anyway).
template <typename Row>
void pack_quads(index_t J, Row row, index_t n, uint8_t* dst) {
  const index_t Q = (J + 3) / 4;
  const __m128i shift = _mm_set1_epi8(static_cast<char>(kShift));
  alignas(16) static const uint8_t zeros[kTile + 16] = {};   // rows j ≥ J: 0 XOR kShift = kShift
  for (index_t q = 0; q < Q; ++q) {
    uint8_t* d = dst + q * kTile * 4;
    const uint8_t* rows[4];
    for (int i = 0; i < 4; ++i) rows[i] = 4 * q + i < J ? row(4 * q + i) : zeros;
    index_t l = 0;
    for (; l + 16 <= n; l += 16) {
      const __m128i r0 = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[0] + l)), shift);
      const __m128i r1 = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[1] + l)), shift);
      const __m128i r2 = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[2] + l)), shift);
      const __m128i r3 = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[3] + l)), shift);
      const __m128i a_lo = _mm_unpacklo_epi8(r0, r1), a_hi = _mm_unpackhi_epi8(r0, r1);
      const __m128i b_lo = _mm_unpacklo_epi8(r2, r3), b_hi = _mm_unpackhi_epi8(r2, r3);
      __m128i* o = reinterpret_cast<__m128i*>(d + l * 4);
      _mm_storeu_si128(o + 0, _mm_unpacklo_epi16(a_lo, b_lo));
      _mm_storeu_si128(o + 1, _mm_unpackhi_epi16(a_lo, b_lo));
      _mm_storeu_si128(o + 2, _mm_unpacklo_epi16(a_hi, b_hi));
      _mm_storeu_si128(o + 3, _mm_unpackhi_epi16(a_hi, b_hi));
    }
    for (; l < n; ++l)
      for (int i = 0; i < 4; ++i) d[l * 4 + i] = static_cast<uint8_t>(rows[i][l] ^ kShift);
    for (; l < kTile; ++l)
      for (int i = 0; i < 4; ++i) d[l * 4 + i] = kShift;
  }
}

void pack_columns(index_t J, const uint8_t* cols, index_t ld, index_t l0, index_t n, uint8_t* dst) {
  pack_quads(J, [=](index_t j) { return cols + j * ld + l0; }, n, dst);
}

// RM weight rows (a, row stride lda ≥ 4Q, zero beyond J) × kNV vectors of columns, accumulated
// in registers and stored requantized: output row m0 + i, positions [0, n) of the tile at
// y[(m0 + i)·ldy + y0 …]. The columns of quad q are the packed tile at b + q·kTile·4 (S1 false)
// or the channel-quad image at b + off[q] (S1 true, see quantized_conv_s1). One function for the
// loop and the stores keeps the accumulators in registers.
template <int RM, bool S1, int NV = kNV>
void gemm_tile(index_t Q, const int8_t* a, index_t lda, const uint8_t* b, const index_t* off, const Requant& rq,
               index_t m0, const int32_t* offs, void* y, index_t y0, index_t ldy, index_t n) {
  ivec acc[RM][NV];
#pragma GCC unroll 8
  for (int i = 0; i < RM; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = vzero();
  for (index_t q = 0; q < Q; ++q) {
    const uint8_t* bq = S1 ? b + off[q] : b + q * kTile * 4;
    ivec bv[NV], babs[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      bv[v] = vload(bq + v * kLanes * 4);
      babs[v] = prep_abs(bv[v]);
    }
#pragma GCC unroll 8
    for (int i = 0; i < RM; ++i) {
      const ivec w = vbcast(a + i * lda + 4 * q);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] = dot4(acc[i][v], bv[v], babs[v], w);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < RM; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const index_t start = v * kLanes;
      if (start < n)
        store_vec(rq, m0 + i, offs[m0 + i], acc[i][v], y, (m0 + i) * ldy + y0 + start,
                  static_cast<int>(n - start < kLanes ? n - start : kLanes));
    }
}

// Every block of weight rows (8, then 4, 2, 1) of one tile of positions.
template <bool S1, int NV = kNV>
void gemm_rows(index_t M, index_t Q, const int8_t* w, index_t lda, const uint8_t* b, const index_t* off,
               const Requant& rq, const int32_t* offs, void* y, index_t y0, index_t ldy, index_t n) {
  for (index_t m0 = 0; m0 < M;) {
    const index_t left = M - m0;
    const int8_t* a = w + m0 * lda;
    if (left >= 8) {
      gemm_tile<8, S1, NV>(Q, a, lda, b, off, rq, m0, offs, y, y0, ldy, n);
      m0 += 8;
    } else if (left >= 4) {
      gemm_tile<4, S1, NV>(Q, a, lda, b, off, rq, m0, offs, y, y0, ldy, n);
      m0 += 4;
    } else if (left >= 2) {
      gemm_tile<2, S1, NV>(Q, a, lda, b, off, rq, m0, offs, y, y0, ldy, n);
      m0 += 2;
    } else {
      gemm_tile<1, S1, NV>(Q, a, lda, b, off, rq, m0, offs, y, y0, ldy, n);
      m0 += 1;
    }
  }
}

// One tile of positions [l0, l0 + n): packs its columns, then runs every block of weight rows.
void conv_columns(index_t M, index_t L, index_t J, const int8_t* wpad, index_t lda, const uint8_t* cols, index_t ld,
                  const int32_t* off, const Requant& rq, void* y, index_t l0, index_t n) {
  const index_t Q = (J + 3) / 4;
  Workspace ws;
  uint8_t* b = workspace_take<uint8_t>(ws, Q * kTile * 4);
  if (!b) return;
  pack_columns(J, cols, ld, l0, n, b);
  gemm_rows<false>(M, Q, wpad, lda, b, nullptr, rq, off, y, l0, L, n);
}

// dst row r (of OW) = src[(r / OH)·ldy + (r % OH)·Wp …]: the kept positions of each output row.
// A function of its own so that the loop bounds are plain values (a lambda's captures could alias
// the stores and be reloaded every element).
template <typename T>
void copy_rows(index_t rows, index_t OH, index_t OW, index_t Wp, index_t ldy, const T* __restrict src, T* __restrict dst) {
  for (index_t r = 0; r < rows; ++r) {
    const T* s = src + (r / OH) * ldy + (r % OH) * Wp;
    T* d = dst + r * OW;
#if defined(__AVX512F__)
    // Short rows (7, 14, 28 wide): masked vector moves instead of a memmove call per row.
    constexpr index_t V = 64 / sizeof(T);
    for (index_t i = 0; i < OW; i += V) {
      const index_t left = OW - i < V ? OW - i : V;
      if (sizeof(T) == 1) {
        const __mmask64 m = left == V ? ~__mmask64(0) : (__mmask64(1) << left) - 1;
        _mm512_mask_storeu_epi8(d + i, m, _mm512_maskz_loadu_epi8(m, s + i));
      } else {
        const __mmask16 m = left == V ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1);
        _mm512_mask_storeu_epi32(d + i, m, _mm512_maskz_loadu_epi32(m, s + i));
      }
    }
#else
    for (index_t i = 0; i < OW; ++i) d[i] = s[i];
#endif
  }
}

#endif  // AVX-512 or AVX2

}  // namespace

// A stride-1, groups-1 convolution without im2col. Each image is laid out padded (Hp × Wp, padding
// x_zero_point), so output position p = oh·Wp + ow (ow ≥ OW computed and dropped) reads tap
// (c, r, s) at offset r·dh·Wp + s·dw + p of channel c's plane. Two layouts of the quads of the
// reduction:
//  * C ≥ 4, channel quads: the channels are interleaved in fours, xq[cq][hp][wp][4]; quad
//    j = (cq, r, s) of position p is the 4 bytes at off[j] + 4p, off[j] = 4·(cq·Hp·Wp + r·dh·Wp +
//    s·dw) — a GEMM whose B operand is the shifted image itself, no packing at all. The weights
//    are regrouped once per call into the same quads (channels ≥ C get weight 0).
//  * C < 4 (first layers), tap quads: quad q holds taps 4q … 4q+3 in (c, r, s) order (im2col's
//    rows), packed per tile of positions from the shifted planes — a third of the work of
//    channel quads that would be mostly zero.
// x (N, C, H, W); y (N, K, OH, OW), uint8 or float32 per rq. Images go to threads when there are
// at least as many as threads, else the tiles of positions of each image do.
bool quantized_conv_s1(const ConvGeom& g, const uint8_t* x, uint8_t pad, const int8_t* w, const int32_t* rowsum,
                       const Requant& rq, void* y) {
#if defined(__AVX512F__) || defined(__AVX2__)
  const index_t C = g.C, H = g.H, W = g.W, K = g.K, OH = g.OH, OW = g.OW, R = g.R, S = g.S;
  const bool taps = C < 4;
  const index_t RS = R * S, CQ = taps ? C : (C + 3) / 4;
  const index_t Qn = taps ? (C * RS + 3) / 4 : CQ * RS, lda = 4 * Qn;
  const index_t Hp = H + 2 * g.ph, Wp = W + 2 * g.pw, P = OH * Wp;
  // Channel quads: tiles of nv vectors, the widest that wastes at most ~5% more positions than one
  // vector would (a 7×9 image is 63 positions: 64 in tiles of 2 vectors, 96 in tiles of 3).
  int nv = kNV;
  if (!taps) {
    const index_t best = (P + kLanes - 1) / kLanes * kLanes;
    for (nv = kNV; nv > 1; --nv) {
      const index_t t = nv * kLanes;
      if ((P + t - 1) / t * t * 20 <= best * 21) break;
    }
  }
  const index_t tile_w = taps ? kTile : nv * kLanes;
  const index_t tiles = (P + tile_w - 1) / tile_w, ldy = tiles * tile_w;
  const index_t bpp = taps ? 1 : 4;                    // bytes per position in a plane
  // Positions up to tiles·kTile (and the 16-wide row writes below) read or write past the last
  // real row: pad each plane by that much.
  const index_t Wr = (W + 15) / 16 * 16;
  const index_t plane = Hp * Wp * bpp, slack = (ldy - P + (R - 1) * g.dh * Wp + S * g.dw + Wr + 64) * bpp;
  const index_t xbytes = CQ * plane + slack;
  const size_t esize = rq.out_u8 ? 1 : sizeof(float);
  const index_t noff = CQ * RS;                        // quads (channel layout) or taps (tap layout)
  int8_t* wq = static_cast<int8_t*>(std::malloc(static_cast<size_t>(K * lda + noff * 8 + 4 * K + 64)));
  if (!wq) return false;
  index_t* off = reinterpret_cast<index_t*>(wq + (K * lda + 7) / 8 * 8);
  int32_t* offs = reinterpret_cast<int32_t*>(off + noff);
  for (index_t k = 0; k < K; ++k) {
    int8_t* dst = wq + k * lda;
    std::memset(dst, 0, static_cast<size_t>(lda));
    if (taps) {
      std::memcpy(dst, w + k * C * RS, static_cast<size_t>(C * RS));
    } else {
      for (index_t c = 0; c < C; ++c)
        for (index_t rs = 0; rs < RS; ++rs) dst[((c / 4) * RS + rs) * 4 + (c % 4)] = w[(k * C + c) * RS + rs];
    }
    offs[k] = rq.offset[k] + (kShift ? 128 * rowsum[k] : 0);
  }
  // Where quad j (channel quads) or tap j (tap quads) starts in the padded image.
  for (index_t cq = 0; cq < CQ; ++cq)
    for (index_t r = 0; r < R; ++r)
      for (index_t s2 = 0; s2 < S; ++s2)
        off[(cq * R + r) * S + s2] = cq * plane + (r * g.dh * Wp + s2 * g.dw) * (taps ? 1 : 4);
  const uint8_t padv = static_cast<uint8_t>(pad ^ kShift);
  const int threads = thread_count();
  const bool by_image = threads > 1 && g.N >= threads;
  const index_t ph = g.ph, pw = g.pw;

  auto tile = [&, K, lda, Qn, ldy, C, RS, taps, nv, tile_w](const uint8_t* xq, char* yb, index_t t) {
    const index_t p0 = t * tile_w;
    if (!taps) {
      const uint8_t* b = xq + 4 * p0;
      if (nv >= 3) gemm_rows<true, (kNV >= 3 ? 3 : kNV)>(K, Qn, wq, lda, b, off, rq, offs, yb, p0, ldy, tile_w);
      else if (nv == 2) gemm_rows<true, 2>(K, Qn, wq, lda, b, off, rq, offs, yb, p0, ldy, tile_w);
      else gemm_rows<true, 1>(K, Qn, wq, lda, b, off, rq, offs, yb, p0, ldy, tile_w);
      return;
    }
    Workspace ws;   // this thread's packed quads
    uint8_t* b = workspace_take<uint8_t>(ws, Qn * kTile * 4);
    if (!b) return;
    pack_quads(C * RS, [=](index_t j) { return xq + off[j] + p0; }, kTile, b);
    gemm_rows<false>(K, Qn, wq, lda, b, nullptr, rq, offs, yb, p0, ldy, kTile);
  };
  auto image = [&, C, H, W, K, OH, OW, CQ, Wp, Wr, ldy, plane, xbytes, esize, padv, ph, pw, taps](index_t n, bool split) {
    Workspace ws;   // the image's padded planes, its output rows, the channel-row buffer
    uint8_t* xq = workspace_take<uint8_t>(ws, xbytes + 64);
    char* yb = workspace_take<char>(ws, static_cast<index_t>(K * ldy * esize) + 64);
    uint8_t* rowbuf = workspace_take<uint8_t>(ws, 4 * Wr + 64);
    if (!xq || !yb || !rowbuf) return;
    // Tap planes stay unshifted (pack_quads applies the AVX2 shift); channel quads are read as
    // they are, so they are stored shifted.
    std::memset(xq, taps ? pad : padv, static_cast<size_t>(xbytes));
    const uint8_t* xn = x + n * C * H * W;
    const __m128i shift = _mm_set1_epi8(static_cast<char>(kShift));
    [[maybe_unused]] const __m128i padraw = _mm_set1_epi8(static_cast<char>(pad));
    if (taps) {
      for (index_t c = 0; c < C; ++c)
        for (index_t h = 0; h < H; ++h)
          std::memcpy(xq + c * plane + (h + ph) * Wp + pw, xn + (c * H + h) * W, static_cast<size_t>(W));
    } else {
      // 4 channel rows → W positions × 4 bytes, 16 positions per step. The rows are first copied
      // into a buffer padded to whole steps with the pad value, so the step writes past W put the
      // pad value in the row's right padding and the next row's left padding; the rows below,
      // written afterwards, replace what they cover.
      for (index_t cq = 0; cq < CQ; ++cq)
        for (index_t h = 0; h < H; ++h) {
#if !defined(__AVX512F__)
          for (int i = 0; i < 4; ++i) {
            uint8_t* rb = rowbuf + i * Wr;
            if (4 * cq + i < C) {
              std::memcpy(rb, xn + ((4 * cq + i) * H + h) * W, static_cast<size_t>(W));
              std::memset(rb + W, pad, static_cast<size_t>(Wr - W));
            } else {
              std::memset(rb, pad, static_cast<size_t>(Wr));
            }
          }
#endif
          uint8_t* d = xq + cq * plane + ((h + ph) * Wp + pw) * 4;
          for (index_t ww = 0; ww < Wr; ww += 16) {
            __m128i r[4];
#if defined(__AVX512F__)
            // Masked loads: the bytes past W (and missing channels) take the pad value.
            const index_t left = W - ww < 16 ? W - ww : 16;
            const __mmask16 m = left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1);
            for (int i = 0; i < 4; ++i)
              r[i] = _mm_xor_si128(4 * cq + i < C ? _mm_mask_loadu_epi8(padraw, m, xn + ((4 * cq + i) * H + h) * W + ww)
                                                  : padraw, shift);
#else
            for (int i = 0; i < 4; ++i)
              r[i] = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(rowbuf + i * Wr + ww)), shift);
#endif
            const __m128i a_lo = _mm_unpacklo_epi8(r[0], r[1]), a_hi = _mm_unpackhi_epi8(r[0], r[1]);
            const __m128i b_lo = _mm_unpacklo_epi8(r[2], r[3]), b_hi = _mm_unpackhi_epi8(r[2], r[3]);
            __m128i* o = reinterpret_cast<__m128i*>(d + ww * 4);
            _mm_storeu_si128(o + 0, _mm_unpacklo_epi16(a_lo, b_lo));
            _mm_storeu_si128(o + 1, _mm_unpackhi_epi16(a_lo, b_lo));
            _mm_storeu_si128(o + 2, _mm_unpacklo_epi16(a_hi, b_hi));
            _mm_storeu_si128(o + 3, _mm_unpackhi_epi16(a_hi, b_hi));
          }
        }
    }
    parallel_for(tiles, split ? threads : 1, [&](index_t t) { tile(xq, yb, t); });
    // Rows of Wp computed positions → rows of OW outputs.
    if (rq.out_u8)
      copy_rows(K * OH, OH, OW, Wp, ldy, reinterpret_cast<const uint8_t*>(yb), static_cast<uint8_t*>(y) + n * K * OH * OW);
    else
      copy_rows(K * OH, OH, OW, Wp, ldy, reinterpret_cast<const float*>(yb), static_cast<float*>(y) + n * K * OH * OW);
  };
  parallel_for(g.N, by_image ? threads : 1, [&](index_t n) { image(n, !by_image); });
  std::free(wq);
  return true;
#else
  (void)g; (void)x; (void)pad; (void)w; (void)rowsum; (void)rq; (void)y;
  return false;
#endif
}

// Y (M × L, row stride L; uint8 or float32 per rq) = W (M × J) · cols (J × L, row stride ld),
// requantized; rowsum[k] = Σ_j W[k, j]. split: spread the tiles of positions over the threads.
void quantized_conv_gemm(index_t M, index_t L, index_t J, const int8_t* w, const uint8_t* cols, index_t ld,
                         const int32_t* rowsum, const Requant& rq, void* y, bool split) {
#if defined(__AVX512F__) || defined(__AVX2__)
  // Weights padded to a whole number of quads per row, and the offsets of this copy's layout.
  const index_t lda = (J + 3) / 4 * 4;
  Workspace ws;
  int8_t* wpad = workspace_take<int8_t>(ws, M * lda + 4 * M);
  if (!wpad) return;
  int32_t* off = reinterpret_cast<int32_t*>(wpad + M * lda);
  for (index_t k = 0; k < M; ++k) {
    std::memcpy(wpad + k * lda, w + k * J, static_cast<size_t>(J));
    for (index_t j = J; j < lda; ++j) wpad[k * lda + j] = 0;
    // AVX2: the kernel sums w·(x − 128), so v = acc + offset + 128·Σw.
    off[k] = rq.offset[k] + (kShift ? 128 * rowsum[k] : 0);
  }
  const index_t tiles = (L + kTile - 1) / kTile;
  const int threads = split ? thread_count() : 1;
  parallel_for(tiles, threads, [&](index_t t) {
    const index_t l0 = t * kTile, n = L - l0 < kTile ? L - l0 : kTile;
    conv_columns(M, L, J, wpad, lda, cols, ld, off, rq, y, l0, n);
  });
#else
  (void)rowsum;
  (void)split;
  for (index_t k = 0; k < M; ++k) {
    const int8_t* wk = w + k * J;
    for (index_t l = 0; l < L; ++l) {
      int32_t acc = 0;
      for (index_t j = 0; j < J; ++j) acc += static_cast<int32_t>(wk[j]) * static_cast<int32_t>(cols[j * ld + l]);
      store_scalar(rq, k, acc, y, k * L + l);
    }
  }
#endif
}

// Y (N × O; uint8 or float32 per rq) = X (N × I) · W (O × I)ᵀ, requantized; rowsum[o] = Σ_i W[o, i].
void quantized_linear_gemm(index_t N, index_t I, index_t O, const uint8_t* x, const int8_t* w,
                           const int32_t* rowsum, const Requant& rq, void* y) {
#if defined(__AVX512F__)
  (void)rowsum;
  constexpr int RN = 4, RO = 4;
  const index_t nt = (N + RN - 1) / RN, ot = (O + RO - 1) / RO;
  const index_t tiles = nt * ot;
  const int threads = N * O * I > (index_t(1) << 18) ? thread_count() : 1;
  const index_t steps = I / 64;
  const int rest = static_cast<int>(I - steps * 64);
  const __mmask64 tail = rest ? (~__mmask64(0)) >> (64 - rest) : 0;
  parallel_for(tiles, (threads > 1 && tiles > 1) ? threads : 1, [&](index_t t) {
    const index_t n0 = (t / ot) * RN, o0 = (t % ot) * RO;
    const int rn = static_cast<int>(N - n0 < RN ? N - n0 : RN), ro = static_cast<int>(O - o0 < RO ? O - o0 : RO);
    // Missing rows repeat the last one (their results are not stored), so the loop is fixed-size.
    const uint8_t* xr[RN];
    const int8_t* wr[RO];
    for (int i = 0; i < RN; ++i) xr[i] = x + (n0 + (i < rn ? i : rn - 1)) * I;
    for (int o = 0; o < RO; ++o) wr[o] = w + (o0 + (o < ro ? o : ro - 1)) * I;
    __m512i acc[RN][RO];
    for (int i = 0; i < RN; ++i)
      for (int o = 0; o < RO; ++o) acc[i][o] = _mm512_setzero_si512();
    if (rn == 1) {
      for (index_t s = 0; s <= steps; ++s) {
        if (s == steps && !rest) break;
        const __mmask64 m = s < steps ? ~__mmask64(0) : tail;
        const __m512i xv = _mm512_maskz_loadu_epi8(m, xr[0] + s * 64);
#pragma GCC unroll 4
        for (int o = 0; o < RO; ++o)
          acc[0][o] = _mm512_dpbusd_epi32(acc[0][o], xv, _mm512_maskz_loadu_epi8(m, wr[o] + s * 64));
      }
    } else {
      for (index_t s = 0; s <= steps; ++s) {
        if (s == steps && !rest) break;
        const __mmask64 m = s < steps ? ~__mmask64(0) : tail;
        __m512i wv[RO];
#pragma GCC unroll 4
        for (int o = 0; o < RO; ++o) wv[o] = _mm512_maskz_loadu_epi8(m, wr[o] + s * 64);
#pragma GCC unroll 4
        for (int i = 0; i < RN; ++i) {
          const __m512i xv = _mm512_maskz_loadu_epi8(m, xr[i] + s * 64);
#pragma GCC unroll 4
          for (int o = 0; o < RO; ++o) acc[i][o] = _mm512_dpbusd_epi32(acc[i][o], xv, wv[o]);
        }
      }
    }
    for (int i = 0; i < rn; ++i)
      for (int o = 0; o < ro; ++o)
        store_scalar(rq, o0 + o, _mm512_reduce_add_epi32(acc[i][o]), y, (n0 + i) * O + o0 + o);
  });
#elif defined(__AVX2__)
  // x' = x − 128 rows, padded to whole vectors with x' = 0; the weights' tail is copied per tile.
  constexpr int RN = 2, RO = 4;
  const index_t Ip = (I + 31) / 32 * 32, steps = Ip / 32, full = I / 32;
  Workspace ws;
  uint8_t* xs = workspace_take<uint8_t>(ws, N * Ip);
  if (!xs) return;
  for (index_t n = 0; n < N; ++n) {
    for (index_t i = 0; i < I; ++i) xs[n * Ip + i] = static_cast<uint8_t>(x[n * I + i] ^ 0x80);
    for (index_t i = I; i < Ip; ++i) xs[n * Ip + i] = 0;
  }
  const index_t nt = (N + RN - 1) / RN, ot = (O + RO - 1) / RO;
  const index_t tiles = nt * ot;
  const int threads = N * O * I > (index_t(1) << 18) ? thread_count() : 1;
  parallel_for(tiles, (threads > 1 && tiles > 1) ? threads : 1, [&](index_t t) {
    const index_t n0 = (t / ot) * RN, o0 = (t % ot) * RO;
    const int rn = static_cast<int>(N - n0 < RN ? N - n0 : RN), ro = static_cast<int>(O - o0 < RO ? O - o0 : RO);
    const uint8_t* xr[RN];
    const int8_t* wr[RO];
    for (int i = 0; i < RN; ++i) xr[i] = xs + (n0 + (i < rn ? i : rn - 1)) * Ip;
    for (int o = 0; o < RO; ++o) wr[o] = w + (o0 + (o < ro ? o : ro - 1)) * I;
    alignas(32) int8_t wtail[RO][32];
    if (full < steps)
      for (int o = 0; o < RO; ++o) {
        std::memset(wtail[o], 0, 32);
        std::memcpy(wtail[o], wr[o] + full * 32, static_cast<size_t>(I - full * 32));
      }
    __m256i acc[RN][RO];
    for (int i = 0; i < RN; ++i)
      for (int o = 0; o < RO; ++o) acc[i][o] = _mm256_setzero_si256();
    for (index_t s = 0; s < steps; ++s) {
      __m256i wv[RO];
#pragma GCC unroll 4
      for (int o = 0; o < RO; ++o) wv[o] = s < full ? vload(wr[o] + s * 32) : vload(wtail[o]);
#pragma GCC unroll 2
      for (int i = 0; i < RN; ++i) {
        const __m256i xv = vload(xr[i] + s * 32), xa = _mm256_abs_epi8(xv);
#pragma GCC unroll 4
        for (int o = 0; o < RO; ++o) acc[i][o] = dot4(acc[i][o], xv, xa, wv[o]);
      }
    }
    for (int i = 0; i < rn; ++i)
      for (int o = 0; o < ro; ++o) {
        __m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc[i][o]), _mm256_extracti128_si256(acc[i][o], 1));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
        // Σ w·x = Σ w·x' + 128·Σ w
        store_scalar(rq, o0 + o, _mm_cvtsi128_si32(s) + 128 * rowsum[o0 + o], y, (n0 + i) * O + o0 + o);
      }
  });
#else
  (void)rowsum;
  for (index_t n = 0; n < N; ++n)
    for (index_t o = 0; o < O; ++o) {
      int32_t acc = 0;
      for (index_t i = 0; i < I; ++i) acc += static_cast<int32_t>(x[n * I + i]) * static_cast<int32_t>(w[o * I + i]);
      store_scalar(rq, o, acc, y, n * O + o);
    }
#endif
}

PE_ISA_REGISTER(quantized_conv_gemm, quantized_conv_gemm)
PE_ISA_REGISTER(quantized_linear_gemm, quantized_linear_gemm)
PE_ISA_REGISTER(quantized_conv_s1, quantized_conv_s1)


// y = clamp(rint(x / scale) + zero_point, 0, 255), NaN → zero_point (see quantized.h).
void quantize_f32(index_t n, const float* x, float scale, int32_t zero_point, uint8_t* y) {
  const float zp = static_cast<float>(zero_point);
  index_t i = 0;
#if defined(__AVX512F__)
  const __m512 vs = _mm512_set1_ps(scale), vz = _mm512_set1_ps(zp), lo = _mm512_setzero_ps(),
               hi = _mm512_set1_ps(255.0f);
  for (; i + 16 <= n; i += 16) {
    const __m512 v = _mm512_loadu_ps(x + i);
    __m512 r = _mm512_add_ps(_mm512_roundscale_ps(_mm512_div_ps(v, vs), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), vz);
    r = _mm512_min_ps(_mm512_max_ps(r, lo), hi);
    r = _mm512_mask_mov_ps(r, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), vz);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), _mm512_cvtusepi32_epi8(_mm512_cvtps_epi32(r)));
  }
#elif defined(__AVX2__)
  const __m256 vs = _mm256_set1_ps(scale), vz = _mm256_set1_ps(zp), lo = _mm256_setzero_ps(),
               hi = _mm256_set1_ps(255.0f);
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    __m256 r = _mm256_add_ps(_mm256_round_ps(_mm256_div_ps(v, vs), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), vz);
    r = _mm256_min_ps(_mm256_max_ps(r, lo), hi);
    r = _mm256_blendv_ps(r, vz, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    const __m256i q = _mm256_cvtps_epi32(r);
    const __m128i w16 = _mm_packus_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(y + i), _mm_packus_epi16(w16, w16));
  }
#endif
  for (; i < n; ++i) {
    float q = __builtin_nearbyintf(x[i] / scale) + zp;
    q = q < 0.0f ? 0.0f : (q > 255.0f ? 255.0f : q);
    y[i] = q == q ? static_cast<uint8_t>(q) : static_cast<uint8_t>(zero_point);
  }
}

// One output row of 2×2 / stride-2 max pooling: out[o] = max(r0[2o], r0[2o+1], r1[2o], r1[2o+1]).
// AVX-512 handles any width with masked loads and stores (the digit CNN's rows are 28 and 14 wide).
void max_pool_2x2_row(index_t OW, const uint8_t* r0, const uint8_t* r1, uint8_t* out) {
  index_t o = 0;
#if defined(__AVX512F__)
  for (; o < OW; o += 32) {
    const index_t left = OW - o < 32 ? OW - o : 32;
    const __mmask64 in = left == 32 ? ~__mmask64(0) : (__mmask64(1) << (2 * left)) - 1;
    const __m512i m = _mm512_max_epu8(_mm512_maskz_loadu_epi8(in, r0 + 2 * o), _mm512_maskz_loadu_epi8(in, r1 + 2 * o));
    const __m512i t = _mm512_max_epu8(m, _mm512_srli_epi16(m, 8));     // low byte of each pair: the max
    _mm256_mask_storeu_epi8(out + o, left == 32 ? ~__mmask32(0) : (__mmask32(1) << left) - 1,
                            _mm512_cvtepi16_epi8(t));
  }
#elif defined(__AVX2__)
  const __m256i low = _mm256_set1_epi16(0x00FF);
  for (; o + 32 <= OW; o += 32) {
    const __m256i m0 = _mm256_max_epu8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(r0 + 2 * o)),
                                       _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r1 + 2 * o)));
    const __m256i m1 = _mm256_max_epu8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(r0 + 2 * o + 32)),
                                       _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r1 + 2 * o + 32)));
    const __m256i t0 = _mm256_and_si256(_mm256_max_epu8(m0, _mm256_srli_epi16(m0, 8)), low);
    const __m256i t1 = _mm256_and_si256(_mm256_max_epu8(m1, _mm256_srli_epi16(m1, 8)), low);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + o),
                        _mm256_permute4x64_epi64(_mm256_packus_epi16(t0, t1), 0xD8));
  }
#endif
  for (; o < OW; ++o) {
    const uint8_t a = r0[2 * o] > r0[2 * o + 1] ? r0[2 * o] : r0[2 * o + 1];
    const uint8_t b = r1[2 * o] > r1[2 * o + 1] ? r1[2 * o] : r1[2 * o + 1];
    out[o] = a > b ? a : b;
  }
}

PE_ISA_REGISTER(quantize_f32, quantize_f32)
PE_ISA_REGISTER(max_pool_2x2_row, max_pool_2x2_row)

// Depthwise convolution (groups = C = K), kernel R × S with R ≤ 8, S ≤ 4, AVX-512 VNNI + VBMI only (returns
// false elsewhere; the caller then takes the GEMM path). Per channel the image is padded once (pad
// = x_zero_point); for output row oh and 16 output columns ow … ow+15, kernel row r contributes
// Σ_s w[r, s]·xpad[oh·sh + r·dh, (ow + i)·sw + s·dw] to lane i: one 64-byte load of that padded row
// from column ow·sw, one vpermb that gathers for every lane i its S taps into the 4 bytes of the
// lane, and one vpdpbusd with the broadcast (w[r, 0], …, w[r, S−1], 0…). R loads, permutes and
// dot products per 16 outputs — the taps of a filter row in one instruction.
bool quantized_depthwise(const ConvGeom& g, const uint8_t* x, uint8_t pad, const int8_t* w, const Requant& rq,
                         void* y) {
#if defined(__AVX512F__)
  static const bool vbmi = __builtin_cpu_supports("avx512vbmi");
  if (!vbmi || g.S > 4 || g.R > 8 || 15 * g.sw + (g.S - 1) * g.dw > 63) return false;
  const index_t C = g.C, H = g.H, W = g.W, OH = g.OH, OW = g.OW, R = g.R, S = g.S;
  const index_t Hp = H + 2 * g.ph, Wp = W + 2 * g.pw;
  const index_t owv = (OW + 15) / 16 * 16;
  const index_t Wb = (owv - 1) * g.sw + 64 > Wp ? (owv - 1) * g.sw + 64 : Wp;   // row pitch with slack
  const size_t esize = rq.out_u8 ? 1 : sizeof(float);
  alignas(64) uint8_t idx[64];
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 4; ++j) idx[4 * i + j] = static_cast<uint8_t>(i * g.sw + (j < S ? j : 0) * g.dw);
  const __m512i perm = _mm512_load_si512(idx);
  const int threads = thread_count();
  const index_t items = g.N * C;
  parallel_for(items, threads > 1 && items >= threads ? threads : 1, [&, C, H, W, OH, OW, R, S, Hp, Wp, Wb,
                                                                      esize](index_t it) {
    const index_t n = it / C, c = it % C;
    Workspace ws;   // the channel's padded image
    uint8_t* xp = workspace_take<uint8_t>(ws, Hp * Wb + 64);
    if (!xp) return;
    std::memset(xp, pad, static_cast<size_t>(Hp * Wb));
    const uint8_t* xc = x + (n * C + c) * H * W;
    for (index_t h = 0; h < H; ++h) std::memcpy(xp + (h + g.ph) * Wb + g.pw, xc + h * W, static_cast<size_t>(W));
    __m512i wr[8];
    for (index_t r = 0; r < R; ++r) {
      int32_t q = 0;
      for (index_t s = 0; s < S; ++s) q |= static_cast<int32_t>(static_cast<uint8_t>(w[(c * R + r) * S + s])) << (8 * s);
      wr[r] = _mm512_set1_epi32(q);
    }
    const int32_t off = rq.offset[c];
    char* yc = static_cast<char*>(y) + static_cast<size_t>((n * C + c) * OH * OW) * esize;
    for (index_t oh = 0; oh < OH; ++oh) {
      const uint8_t* base = xp + oh * g.sh * Wb;
      for (index_t ow = 0; ow < OW; ow += 16) {
        __m512i acc = _mm512_setzero_si512();
        for (index_t r = 0; r < R; ++r) {
          const __m512i v = _mm512_loadu_si512(base + r * g.dh * Wb + ow * g.sw);
          acc = _mm512_dpbusd_epi32(acc, _mm512_permutexvar_epi8(perm, v), wr[r]);
        }
        store_vec(rq, c, off, acc, yc, oh * OW + ow, static_cast<int>(OW - ow < 16 ? OW - ow : 16));
      }
    }
  });
  return true;
#else
  (void)g; (void)x; (void)pad; (void)w; (void)rq; (void)y;
  return false;
#endif
}

PE_ISA_REGISTER(quantized_depthwise, quantized_depthwise)

}  // namespace pyengine::cpu::PYENGINE_ISA
