// quantized_isa.cpp — the int8 GEMM micro-kernels (see pyengine/quantized.h), compiled once per ISA.
//
// Two products, both with the requantization of quantized.h applied as results are stored:
//  conv_gemm    Y(M × L) = W(M × J) · X(J × L): weights broadcast, columns in vectors. A tile of
//               RM ≤ 8 weight rows × NV vectors of positions keeps its int32 accumulators in
//               registers; its columns are first packed in quads of j, (⌈J/4⌉, NV·lanes, 4) bytes,
//               so one vector load brings 4 taps of every position of a vector.
//  linear_gemm  Y(N × O) = X(N × I) · W(O × I)ᵀ: dot products along I of RN rows of x with RO rows
//               of w, one accumulator vector per (row, weight row), reduced across lanes at the end.
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
#pragma GCC target("avx512vnni")
// GCC 12 reports its own _mm512_undefined_* (used inside the conversion intrinsics) as maybe
// uninitialised; the warning is about the header, not this file.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
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

// Packs columns [l0, l0 + n) of cols (J × L, row stride ld) into dst (Q quads × kTile × 4 bytes),
// byte (q, l, i) = cols[4q + i, l0 + l] XOR kShift; rows j ≥ J and positions l ≥ n are filled with
// kShift (x' = 0 in the AVX2 layout; their weights or outputs are zero or discarded anyway).
void pack_columns(index_t J, const uint8_t* cols, index_t ld, index_t l0, index_t n, uint8_t* dst) {
  const index_t Q = (J + 3) / 4;
  const __m128i shift = _mm_set1_epi8(static_cast<char>(kShift));
  for (index_t q = 0; q < Q; ++q) {
    uint8_t* d = dst + q * kTile * 4;
    const uint8_t* rows[4];
    for (int i = 0; i < 4; ++i) rows[i] = 4 * q + i < J ? cols + (4 * q + i) * ld + l0 : nullptr;
    index_t l = 0;
    if (rows[3]) {
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
    }
    for (; l < n; ++l)
      for (int i = 0; i < 4; ++i) d[l * 4 + i] = rows[i] ? static_cast<uint8_t>(rows[i][l] ^ kShift) : kShift;
    for (; l < kTile; ++l)
      for (int i = 0; i < 4; ++i) d[l * 4 + i] = kShift;
  }
}

// RM weight rows (a, row stride lda ≥ 4Q, zero beyond J) × kNV vectors of packed columns b.
template <int RM>
void conv_tile(index_t Q, const int8_t* a, index_t lda, const uint8_t* b, ivec (&acc)[kMR][kNV]) {
#pragma GCC unroll 8
  for (int i = 0; i < RM; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < kNV; ++v) acc[i][v] = vzero();
  for (index_t q = 0; q < Q; ++q) {
    ivec bv[kNV], babs[kNV];
#pragma GCC unroll 4
    for (int v = 0; v < kNV; ++v) {
      bv[v] = vload(b + q * kTile * 4 + v * kLanes * 4);
      babs[v] = prep_abs(bv[v]);
    }
#pragma GCC unroll 8
    for (int i = 0; i < RM; ++i) {
      const ivec w = vbcast(a + i * lda + 4 * q);
#pragma GCC unroll 4
      for (int v = 0; v < kNV; ++v) acc[i][v] = dot4(acc[i][v], bv[v], babs[v], w);
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
  ivec acc[kMR][kNV];
  for (index_t m0 = 0; m0 < M;) {
    const index_t left = M - m0;
    const int rm = left >= 8 ? 8 : left >= 4 ? 4 : left >= 2 ? 2 : 1;
    const int8_t* a = wpad + m0 * lda;
    switch (rm) {
      case 8: conv_tile<8>(Q, a, lda, b, acc); break;
      case 4: conv_tile<4>(Q, a, lda, b, acc); break;
      case 2: conv_tile<2>(Q, a, lda, b, acc); break;
      default: conv_tile<1>(Q, a, lda, b, acc); break;
    }
    for (int i = 0; i < rm; ++i)
      for (int v = 0; v < kNV; ++v) {
        const index_t start = v * kLanes;
        if (start >= n) break;
        const int valid = static_cast<int>(n - start < kLanes ? n - start : kLanes);
        store_vec(rq, m0 + i, off[m0 + i], acc[i][v], y, (m0 + i) * L + l0 + start, valid);
      }
    m0 += rm;
  }
}

#endif  // AVX-512 or AVX2

}  // namespace

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
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && tiles > 1)
  for (index_t t = 0; t < tiles; ++t) {
    const index_t l0 = t * kTile, n = L - l0 < kTile ? L - l0 : kTile;
    conv_columns(M, L, J, wpad, lda, cols, ld, off, rq, y, l0, n);
  }
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
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && tiles > 1)
  for (index_t t = 0; t < tiles; ++t) {
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
  }
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
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && tiles > 1)
  for (index_t t = 0; t < tiles; ++t) {
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
  }
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

}  // namespace pyengine::cpu::PYENGINE_ISA
