// isa.h — the prelude of every per-ISA kernel file (csrc/cpu/isa/*_isa.cpp): the vector types of
// this copy's instruction set, loads and stores, exp and expm1 on vectors, the thread helpers
// (pyengine/parallel.h) and the workspace arena. Included inside each copy's compilation, so the
// vector width follows the flags of that copy (64 bytes AVX-512, 32 AVX2, 16 generic). Everything has internal linkage:
// copies for different ISAs can never be merged by the linker (see pyengine/isa_dispatch.h).
//
// The elementary functions on vectors (float: a few ulps over the whole range, asserted by
// tests/kernels/test_vector_math.py against float64 over a dense sweep; double: a few double ulps):
// exp(x): Cody–Waite range reduction x = n·ln2 + r with |r| ≤ ln2/2 (ln2 split in a high part
// with few mantissa bits, so n·ln2_hi is exact, and a low part), e^r by its Taylor polynomial
// (degree 7 for float: error < 1e-8 relative; degree 13 for double: < 1e-17), and 2ⁿ as the product
// of two powers of two 2^⌊n/2⌋·2^(n−⌊n/2⌋) built in the exponent bits, so that results down in the
// denormals (x to −103.9 for float) are rounded once, and n = 128 at the top of the range is no
// overflow. n is rounded to nearest by adding 1.5·2^mant (the low mantissa bits of the sum are then
// n). Above ln(FLT_MAX) the result is +inf, far below it is 0; NaN stays NaN.
// expm1(x): the same reduction, eˣ − 1 = 2ⁿ·(e^r − 1) + (2ⁿ − 1) with e^r − 1 by its Taylor
// polynomial without the constant term (exact for n = 0, so no cancellation near 0). −1 below
// ln(FLT_MIN), +inf above ln(FLT_MAX).
// log1p(x): u = 1 + x rounded, u = 2ᵏ·m with m in [√½, √2), log m = 2·atanh(s), s = (m − 1)/(m + 1),
// |s| ≤ 0.172, by its Taylor series in s² (5 terms float, 11 double), plus the rounding of 1 + x
// put back as c/u (c = x − (u − 1), or 1 − (u − x) once u ≥ 2, both exact). −1 → −inf, below → NaN.
// tanh(x) = −m/(m + 2) with m = expm1(−2|x|) and the sign of x.
// erf(x), float: x·P(x²) for |x| ≤ 1, 1 − e^(−x²)·Q(min(|x|, 4)) beyond (Q a polynomial in |x| − 2.5;
// it rounds to ±1 from |x| = 4 on); P and Q fitted here (weighted least squares on Chebyshev nodes, iterated towards
// minimax) to 1.2e-9 relative and 2.4e-9 absolute. double: the C library's erf per lane.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include "pyengine/common.h"
#include "pyengine/isa_dispatch.h"
#include "pyengine/parallel.h"
#include "pyengine/workspace.h"

#include <immintrin.h>

#ifndef PYENGINE_ISA
#error "isa.h belongs to the per-ISA kernel files (compiled with -DPYENGINE_ISA=<name>)"
#endif

namespace pyengine::cpu::PYENGINE_ISA {
namespace {

// The instruction set of this copy, for the kernels' register-blocking choices.
#if defined(__AVX512F__)
constexpr int kVecBytes = 64;
constexpr int kVecRegisters = 32;
#elif defined(__AVX2__)
constexpr int kVecBytes = 32;
constexpr int kVecRegisters = 16;
#else
constexpr int kVecBytes = 16;
constexpr int kVecRegisters = 16;
#endif

typedef float vf32 __attribute__((vector_size(kVecBytes)));
typedef double vf64 __attribute__((vector_size(kVecBytes)));
typedef std::int32_t vi32 __attribute__((vector_size(kVecBytes)));
typedef std::int64_t vi64 __attribute__((vector_size(kVecBytes)));
typedef std::uint32_t vu32 __attribute__((vector_size(kVecBytes)));
typedef std::uint64_t vu64 __attribute__((vector_size(kVecBytes)));

template <typename T> struct Vec;
template <> struct Vec<float> {
  typedef vf32 type;
  typedef vu32 utype;  // the bit pattern, as unsigned so that integer arithmetic wraps (NaN inputs)
  typedef vi32 itype;  // the same, signed (arithmetic shifts)
  static constexpr int lanes = kVecBytes / 4;
  static constexpr int mant_bits = 23, exp_bias = 127;
  static constexpr float round_magic = 12582912.0f;  // 1.5·2^23
  static constexpr float hi = 88.7228317f;            // ln(FLT_MAX), rounded down
  static constexpr float lo = -105.0f;                // below ln(2^−150): eˣ rounds to 0
  static constexpr float exp_top = 89.0f;             // above ln(FLT_MAX): eˣ overflows
  static constexpr float exp_normal_lo = -86.6f;      // above it 2ⁿ⁻¹ is a normal float
  static constexpr float expm1_lo = -87.3365448f;     // ln(FLT_MIN): eˣ − 1 rounds to −1 below it
  static constexpr int log1p_terms = 5;
  static constexpr float ln2_hi = 0.693359375f, ln2_lo = -2.12194440e-4f;
};
template <> struct Vec<double> {
  typedef vf64 type;
  typedef vu64 utype;
  typedef vi64 itype;
  static constexpr int lanes = kVecBytes / 8;
  static constexpr int mant_bits = 52, exp_bias = 1023;
  static constexpr double round_magic = 6755399441055744.0;  // 1.5·2^52
  static constexpr double hi = 709.782712893383973;
  static constexpr double lo = -750.0;                       // below ln(2^−1075)
  static constexpr double exp_top = 710.0;
  static constexpr double exp_normal_lo = -707.7;
  static constexpr double expm1_lo = -708.396418532264079;
  static constexpr int log1p_terms = 11;
  static constexpr double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
};

template <typename T> using vec_t = typename Vec<T>::type;
template <typename T> constexpr int lanes = Vec<T>::lanes;

constexpr double inv_factorial(int k) {
  double f = 1.0;
  for (int i = 2; i <= k; ++i) f *= i;
  return 1.0 / f;
}

// s in every lane. Written as s − 0 because that is exactly s, so the compiler folds it to a bare
// broadcast; 0 + s is not (it turns −0 into +0) and costs a dependent scalar add per broadcast.
template <typename T>
inline vec_t<T> splat(T s) { return s - vec_t<T>{}; }

template <typename T>
inline vec_t<T> load(const T* p) {
  vec_t<T> v;
  __builtin_memcpy(&v, p, sizeof(v));
  return v;
}

template <typename T>
inline void store(T* p, vec_t<T> v) { __builtin_memcpy(p, &v, sizeof(v)); }

// The first n (< lanes) elements of p, the other lanes set to fill.
template <typename T>
inline vec_t<T> load_part(const T* p, index_t n, T fill) {
  vec_t<T> v = splat<T>(fill);
  for (index_t i = 0; i < n; ++i) v[i] = p[i];
  return v;
}

template <typename T>
inline void store_part(T* p, vec_t<T> v, index_t n) {
  for (index_t i = 0; i < n; ++i) p[i] = v[i];
}

template <typename T>
inline vec_t<T> vabs(vec_t<T> x) { return x < splat<T>(T(0)) ? -x : x; }

template <typename T>
inline T hmax(vec_t<T> v) {
  T m = v[0];
  for (int i = 1; i < Vec<T>::lanes; ++i) m = v[i] > m ? v[i] : m;
  return m;
}

template <typename T>
inline T hsum(vec_t<T> v) {
  T s = v[0];
  for (int i = 1; i < Vec<T>::lanes; ++i) s += v[i];
  return s;
}

// Σ f(v) over n values, in double by chunks of 1024: two vector accumulators of T per chunk, each
// chunk's sum added to a double, so rounding stays at float32's level within a chunk only (the norm
// families' statistics). f is applied to vectors and to the scalar tail alike.
template <typename T, typename F>
inline double chunked_sum(const T* v, index_t n, F f) {
  constexpr index_t chunk = 1024;
  constexpr int L = lanes<T>;
  double total = 0.0;
  for (index_t s = 0; s < n; s += chunk) {
    const index_t e = n - s < chunk ? n : s + chunk;
    vec_t<T> a0 = {}, a1 = {};
    index_t i = s;
    for (; i + 2 * L <= e; i += 2 * L) {
      a0 += f(load<T>(v + i));
      a1 += f(load<T>(v + i + L));
    }
    for (; i + L <= e; i += L) a0 += f(load<T>(v + i));
    double part = 0.0;
    for (; i < e; ++i) part += static_cast<double>(f(v[i]));
    total += part + static_cast<double>(hsum<T>(a0 + a1));
  }
  return total;
}

// n and r of x = n·ln2 + r (|r| ≤ ln2/2), n as a float and as an integer, for x in the finite range.
template <typename T>
inline void exp_reduce(vec_t<T> x, vec_t<T>& n, vec_t<T>& r, typename Vec<T>::itype& ni) {
  using V = Vec<T>;
  using ivec = typename V::itype;
  const vec_t<T> magic = splat<T>(V::round_magic);
  const vec_t<T> t = x * T(1.44269504088896340736) + magic;  // x·log2(e) rounded to an integer
  n = t - magic;
  ni = (ivec)((typename V::utype)t - (typename V::utype)magic);  // n, two's complement
  r = (x - n * V::ln2_hi) - n * V::ln2_lo;
}

// 2^k for integer k in the normal exponent range, built in the exponent bits.
template <typename T>
inline vec_t<T> pow2i(typename Vec<T>::itype k) {
  return (vec_t<T>)((k + Vec<T>::exp_bias) << Vec<T>::mant_bits);
}

// a < x ? a : x and a > x ? a : x lane by lane: MINPS / MAXPS, one instruction, a NaN x passes.
template <typename T>
inline vec_t<T> vmin_of(vec_t<T> a, vec_t<T> x) {
#if defined(__AVX512F__)
  // (the masked form with every lane set: the plain one trips GCC 12's -Wuninitialized)
  if constexpr (sizeof(T) == 4) return (vec_t<T>)_mm512_mask_min_ps((__m512)a, (__mmask16)-1, (__m512)a, (__m512)x);
  else return (vec_t<T>)_mm512_mask_min_pd((__m512d)a, (__mmask8)-1, (__m512d)a, (__m512d)x);
#elif defined(__AVX2__)
  if constexpr (sizeof(T) == 4) return (vec_t<T>)_mm256_min_ps((__m256)a, (__m256)x);
  else return (vec_t<T>)_mm256_min_pd((__m256d)a, (__m256d)x);
#else
  if constexpr (sizeof(T) == 4) return (vec_t<T>)_mm_min_ps((__m128)a, (__m128)x);
  else return (vec_t<T>)_mm_min_pd((__m128d)a, (__m128d)x);
#endif
}

template <typename T>
inline vec_t<T> vmax_of(vec_t<T> a, vec_t<T> x) {
#if defined(__AVX512F__)
  if constexpr (sizeof(T) == 4) return (vec_t<T>)_mm512_mask_max_ps((__m512)a, (__mmask16)-1, (__m512)a, (__m512)x);
  else return (vec_t<T>)_mm512_mask_max_pd((__m512d)a, (__mmask8)-1, (__m512d)a, (__m512d)x);
#elif defined(__AVX2__)
  if constexpr (sizeof(T) == 4) return (vec_t<T>)_mm256_max_ps((__m256)a, (__m256)x);
  else return (vec_t<T>)_mm256_max_pd((__m256d)a, (__m256d)x);
#else
  if constexpr (sizeof(T) == 4) return (vec_t<T>)_mm_max_ps((__m128)a, (__m128)x);
  else return (vec_t<T>)_mm_max_pd((__m128d)a, (__m128d)x);
#endif
}

// Whether any lane of x is below lim (NaN is not).
template <typename T>
inline bool any_below(vec_t<T> x, vec_t<T> lim) {
#if defined(__AVX512F__)
  if constexpr (sizeof(T) == 4) return _mm512_cmp_ps_mask((__m512)x, (__m512)lim, _CMP_LT_OQ) != 0;
  else return _mm512_cmp_pd_mask((__m512d)x, (__m512d)lim, _CMP_LT_OQ) != 0;
#elif defined(__AVX2__)
  if constexpr (sizeof(T) == 4) return _mm256_movemask_ps(_mm256_cmp_ps((__m256)x, (__m256)lim, _CMP_LT_OQ)) != 0;
  else return _mm256_movemask_pd(_mm256_cmp_pd((__m256d)x, (__m256d)lim, _CMP_LT_OQ)) != 0;
#else
  if constexpr (sizeof(T) == 4) return _mm_movemask_ps(_mm_cmplt_ps((__m128)x, (__m128)lim)) != 0;
  else return _mm_movemask_pd(_mm_cmplt_pd((__m128d)x, (__m128d)lim)) != 0;
#endif
}

// 2·e^r for |r| ≤ ln2/2 (the factor 2 folded into the coefficients: the caller scales by 2ⁿ⁻¹).
// float: the degree-6 polynomial fitted to e^r on the interval (relative error 2.0e-9; one term
// fewer than Taylor's for the same accuracy), fixed c0 = 1; double: Taylor to degree 13.
template <typename T>
inline vec_t<T> exp_poly2(vec_t<T> r) {
  if constexpr (sizeof(T) == 4) {
    constexpr float c[7] = {1.0f, 1.0f, 4.999999404e-01f, 1.666643173e-01f, 4.166800156e-02f, 8.374155499e-03f,
                            1.384365256e-03f};
    vec_t<T> p = splat<T>(2 * c[6]);
#pragma GCC unroll 8
    for (int k = 5; k >= 0; --k) p = p * r + 2 * c[k];
    return p;
  } else {
    vec_t<T> p = splat<T>(T(2 * inv_factorial(13)));
#pragma GCC unroll 16
    for (int k = 12; k >= 0; --k) p = p * r + T(2 * inv_factorial(k));
    return p;
  }
}

// eˣ for x known to lie in [exp_normal_lo, hi] (or NaN): no clamps, no denormal path.
template <typename T>
inline vec_t<T> vexp_in_range(vec_t<T> x) {
  vec_t<T> n, r;
  typename Vec<T>::itype ni;
  exp_reduce<T>(x, n, r, ni);
  return exp_poly2<T>(r) * pow2i<T>(ni - 1);
}

template <typename T>
inline vec_t<T> vexp(vec_t<T> x) {
  using V = Vec<T>;
  using vec = vec_t<T>;
  using ivec = typename V::itype;
  // Clamped to [lo, top] (NaN passes: the comparisons are false). Above ln(FLT_MAX) up to top, 2ⁿ⁻¹
  // with n = 128 times 2e^r > 2 overflows to +inf by itself.
  const vec top = splat<T>(V::exp_top), lo = splat<T>(V::lo);
  const vec xc = vmax_of<T>(lo, vmin_of<T>(top, x));
  vec n, r;
  ivec ni;
  exp_reduce<T>(xc, n, r, ni);
  const vec p = exp_poly2<T>(r);
  if (__builtin_expect(!any_below<T>(xc, splat<T>(V::exp_normal_lo)), 1)) return p * pow2i<T>(ni - 1);
  const ivec n1 = ni >> 1;  // denormal results: 2ⁿ⁻¹ as two normal powers of two, one rounding
  return (p * pow2i<T>(n1 - 1)) * pow2i<T>(ni - n1);
}

// |mag| with the sign bit of sgn.
template <typename T>
inline vec_t<T> vcopysign(vec_t<T> mag, vec_t<T> sgn) {
  using uvec = typename Vec<T>::utype;
  const uvec sign = (uvec)splat<T>(T(-0.0));
  return (vec_t<T>)(((uvec)mag & ~sign) | ((uvec)sgn & sign));
}

// e^r − 1 = r + r²·q(r) for |r| ≤ ln2/2: float q of degree 4 fitted (relative error of the sum
// 1.3e-8), double Taylor's to r¹².
template <typename T>
inline vec_t<T> expm1_poly(vec_t<T> r) {
  vec_t<T> q;
  if constexpr (sizeof(T) == 4) {
    constexpr float c[5] = {4.999999702e-01f, 1.666654348e-01f, 4.166720062e-02f, 8.366513997e-03f,
                            1.388252014e-03f};
    q = splat<T>(c[4]);
#pragma GCC unroll 8
    for (int k = 3; k >= 0; --k) q = q * r + c[k];
  } else {
    q = splat<T>(T(inv_factorial(14)));
#pragma GCC unroll 16
    for (int k = 13; k >= 2; --k) q = q * r + T(inv_factorial(k));
  }
  return r + (r * r) * q;
}

template <typename T>
inline vec_t<T> vexpm1(vec_t<T> x) {
  using V = Vec<T>;
  using vec = vec_t<T>;
  using ivec = typename V::itype;
  vec xc = x > splat<T>(V::hi) ? splat<T>(V::hi) : x;
  xc = xc < splat<T>(V::expm1_lo) ? splat<T>(V::expm1_lo) : xc;
  vec n, r;
  ivec ni;
  exp_reduce<T>(xc, n, r, ni);
  const vec p = expm1_poly<T>(r);                // e^r − 1
  const vec h = pow2i<T>(ni - 1);                // 2ⁿ⁻¹: 2ⁿ itself overflows at n = 128
  vec y = (h * p + (h - T(0.5))) * T(2);         // 2ⁿ·p + 2ⁿ − 1
  y = ni == 0 ? p : y;                           // p itself for |x| ≤ ln2/2 (the last bit)
  y = x > splat<T>(V::hi) ? splat<T>(__builtin_inf()) : y;
  y = x < splat<T>(V::expm1_lo) ? splat<T>(T(-1)) : y;
  return vcopysign<T>(y, x);                     // eˣ − 1 has x's sign: −0 stays −0 (r + r²q gives +0)
}

template <typename T>
inline vec_t<T> vtanh(vec_t<T> x) {
  const vec_t<T> m = vexpm1<T>(T(-2) * vabs<T>(x));  // in (−1, 0]
  return vcopysign<T>(-m / (m + T(2)), x);
}

template <typename T>
inline vec_t<T> vlog1p(vec_t<T> x) {
  using V = Vec<T>;
  using vec = vec_t<T>;
  using ivec = typename V::itype;
  using uvec = typename V::utype;
  const vec one = splat<T>(T(1));
  const vec u = one + x;
  // u = 2ᵏ·m, m in [1, 2) from the bits, then moved to [√½, √2) so that |s| stays small.
  const uvec bits = (uvec)u;
  const uvec mant_mask = ((uvec{} + 1) << V::mant_bits) - 1;
  ivec k = (ivec)(bits >> V::mant_bits) - V::exp_bias;
  vec m = (vec)((bits & mant_mask) | (uvec)one);
  const auto big = m > splat<T>(T(1.41421356237309504880));
  m = big ? m * T(0.5) : m;
  k = big ? k + 1 : k;
  const vec kf = __builtin_convertvector(k, vec);
  const vec c = (k > 0 ? one - (u - x) : x - (u - one)) / u;  // log(1 + x) − log(u), to first order
  const vec s = (m - one) / (m + one), s2 = s * s;
  vec q = splat<T>(T(1) / T(2 * V::log1p_terms + 1));
#pragma GCC unroll 16
  for (int j = V::log1p_terms - 1; j >= 1; --j) q = q * s2 + T(1) / T(2 * j + 1);
  const vec logm = (s + s) + (s + s) * s2 * q;
  vec y = kf * V::ln2_hi + (logm + (kf * V::ln2_lo + c));
  y = x == splat<T>(T(-1)) ? splat<T>(-__builtin_inf()) : y;
  y = x < splat<T>(T(-1)) ? splat<T>(__builtin_nan("")) : y;
  y = x == splat<T>(__builtin_inf()) ? x : y;
  y = x == splat<T>(T(0)) ? x : y;   // ±0 itself (k·ln2 + … sums to +0 for −0)
  return x != x ? x : y;
}

// erf's two fits (float): erf(z) = z·P(z²) on [0, 1]; erfc(z) = e^(−z²)·Q(z − 2.5) on [1, 4].
constexpr float kErfP[7] = {1.128379107e+00f, -3.761262596e-01f, 1.128360033e-01f, -2.685444430e-02f,
                            5.189535208e-03f, -8.020839887e-04f, 7.889114931e-05f};
constexpr float kErfQ[9] = {2.108076066e-01f, -7.434218377e-02f, 2.491462976e-02f, -8.132244460e-03f,
                            2.302506473e-03f, -6.611291901e-04f, 5.433070473e-04f, 2.250560356e-04f,
                            1.068419369e-04f};

// erf(x); with e non-null also *e = e^(−x²) (the exp erf computes anyway: gelu's density term).
template <typename T>
inline vec_t<T> verf(vec_t<T> x, vec_t<T>* e = nullptr) {
  using vec = vec_t<T>;
  if constexpr (sizeof(T) == 8) {
    vec r;
    for (int i = 0; i < Vec<T>::lanes; ++i) r[i] = std::erf(x[i]);
    if (e) *e = vexp<T>(-(x * x));
    return r;
  } else {
    const vec z = vabs<T>(x), z2 = x * x;
    constexpr const float* P = kErfP;
    constexpr const float* Q = kErfQ;
    vec p = splat<T>(P[6]);
#pragma GCC unroll 8
    for (int k = 5; k >= 0; --k) p = p * z2 + P[k];
    const vec small = x * p;
    const vec zq = vmin_of<T>(splat<T>(4.0f), z) - 2.5f;
    vec q = splat<T>(Q[8]);
#pragma GCC unroll 10
    for (int k = 7; k >= 0; --k) q = q * zq + Q[k];
    // e^(−x²), x² clamped where e^(−x²) is still a normal float (erf is ±1 long before, and the
    // density term x·e^(−x²/2)·c of gelu's gradient is below 1e-36 there).
    const vec ex = vexp_in_range<T>(-vmin_of<T>(splat<T>(86.0f), z2));
    if (e) *e = ex;
    // erf(|x|) for |x| > 1; from 4 on e^(−x²)·q < 2e-8 and the difference rounds to 1 (and NaN stays NaN).
    const vec big = splat<T>(1.0f) - ex * q;
    const vec signed_big = (vec)((vu32)big | ((vu32)x & (vu32)splat<T>(-0.0f)));
    return z <= splat<T>(1.0f) ? small : signed_big;
  }
}

// ---- threads (the pool of pyengine/parallel.h: parallel_for, parallel_for_ranges, ...) --------

// Threads for `items` independent pieces of work: the thread count, never more than the items.
inline int threads_for_items(index_t items) {
  int t = get_num_threads();
  if (items < t) t = static_cast<int>(items < 1 ? 1 : items);
  return t;
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#if defined(__AVX512F__)
// r[0:16] ← its transpose (16×16 floats): three rounds of in-lane unpacks and lane shuffles (GEMM
// packing, the stride-1 convolution tiles). GCC 12 reports its own _mm512_undefined_ps inside the
// unpack intrinsics as maybe uninitialised wherever this is inlined: the callers silence it.
inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
    r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
    r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
    r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
  }
  // Now 4×4 blocks are transposed inside each 128-bit lane; two rounds of lane shuffles move
  // block (p, q) to (q, p).
  for (int i = 0; i < 4; ++i) {
    t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
    t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xdd);
    t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
    t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xdd);
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
    r[i + 4] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0x88);
    r[i + 12] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0xdd);
  }
}
#endif
#pragma GCC diagnostic pop

}  // namespace
}  // namespace pyengine::cpu::PYENGINE_ISA
