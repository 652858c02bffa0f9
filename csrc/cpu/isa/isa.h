// isa.h — the prelude of every per-ISA kernel file (csrc/cpu/isa/*_isa.cpp): the vector types of
// this copy's instruction set, loads and stores, exp and expm1 on vectors, the thread helpers
// (pyengine/parallel.h) and the workspace arena. Included inside each copy's compilation, so the
// vector width follows the flags of that copy (64 bytes AVX-512, 32 AVX2, 16 generic). Everything has internal linkage:
// copies for different ISAs can never be merged by the linker (see pyengine/isa_dispatch.h).
//
// exp(x): Cody–Waite range reduction x = n·ln2 + r with |r| ≤ ln2/2 (ln2 split in a high part
// with few mantissa bits, so n·ln2_hi is exact, and a low part), e^r by its Taylor polynomial
// (degree 7 for float: error < 1e-8 relative; degree 13 for double: < 1e-17), and 2ⁿ built in the
// exponent bits. n is rounded to nearest by adding 1.5·2^mant (the low mantissa bits of the sum
// are then n). Inputs beyond the finite range give +inf / 0; NaN stays NaN.
// expm1(x): the Taylor series of eˣ − 1 for |x| < 0.3 (no cancellation near 0), exp(x) − 1 beyond.
#pragma once
#include <cstdint>
#include <cstring>
#include "pyengine/common.h"
#include "pyengine/isa_dispatch.h"
#include "pyengine/parallel.h"
#include "pyengine/workspace.h"

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
  static constexpr int lanes = kVecBytes / 4;
  static constexpr int mant_bits = 23, exp_bias = 127;
  static constexpr float round_magic = 12582912.0f;  // 1.5·2^23
  static constexpr float hi = 88.7228317f;            // ln(FLT_MAX), rounded down
  static constexpr float lo = -87.3365448f;           // ln(FLT_MIN): below it the result is 0
  static constexpr float ln2_hi = 0.693359375f, ln2_lo = -2.12194440e-4f;
  static constexpr int exp_degree = 7, expm1_degree = 8;
};
template <> struct Vec<double> {
  typedef vf64 type;
  typedef vu64 utype;
  static constexpr int lanes = kVecBytes / 8;
  static constexpr int mant_bits = 52, exp_bias = 1023;
  static constexpr double round_magic = 6755399441055744.0;  // 1.5·2^52
  static constexpr double hi = 709.782712893383973;
  static constexpr double lo = -708.396418532264079;
  static constexpr double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
  static constexpr int exp_degree = 13, expm1_degree = 14;
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

template <typename T>
inline vec_t<T> vexp(vec_t<T> x) {
  using V = Vec<T>;
  using vec = vec_t<T>;
  using uvec = typename V::utype;
  const vec hi = splat<T>(V::hi), lo = splat<T>(V::lo), magic = splat<T>(V::round_magic);
  vec xc = x > hi ? hi : x;  // comparisons with NaN are false: NaN passes through the clamps
  xc = xc < lo ? lo : xc;
  const vec t = xc * T(1.44269504088896340736) + magic;  // x·log2(e) rounded to an integer
  const vec n = t - magic;
  const uvec ni = (uvec)t - (uvec)magic;  // n, two's complement
  const vec r = (xc - n * V::ln2_hi) - n * V::ln2_lo;
  vec p = splat<T>(T(inv_factorial(V::exp_degree)));
#pragma GCC unroll 16
  for (int k = V::exp_degree - 1; k >= 0; --k) p = p * r + T(inv_factorial(k));
  // 2ⁿ as 2·2ⁿ⁻¹ so that n = 128 (1024 for double) near the top of the range stays representable.
  const vec scale = (vec)((ni + (V::exp_bias - 1)) << V::mant_bits);  // n−1 ≥ −127: never negative
  vec y = (p + p) * scale;
  y = x > hi ? splat<T>(__builtin_inf()) : y;
  y = x < lo ? splat<T>(T(0)) : y;
  return y;
}

template <typename T>
inline vec_t<T> vexpm1(vec_t<T> x) {
  using V = Vec<T>;
  vec_t<T> p = splat<T>(T(inv_factorial(V::expm1_degree)));
#pragma GCC unroll 16
  for (int k = V::expm1_degree - 1; k >= 1; --k) p = p * x + T(inv_factorial(k));
  const vec_t<T> series = p * x;
  const vec_t<T> direct = vexp<T>(x) - T(1);
  return vabs<T>(x) < splat<T>(T(0.3)) ? series : direct;
}

// ---- threads (the pool of pyengine/parallel.h: parallel_for, parallel_for_ranges, ...) --------

// Threads for `items` independent pieces of work: the thread count, never more than the items.
inline int threads_for_items(index_t items) {
  int t = get_num_threads();
  if (items < t) t = static_cast<int>(items < 1 ? 1 : items);
  return t;
}

}  // namespace
}  // namespace pyengine::cpu::PYENGINE_ISA
