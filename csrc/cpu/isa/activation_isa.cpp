// activation_isa.cpp — the element-wise activations of pyengine/activation.h, compiled once per ISA.
//
// One entry point per dtype takes an ActOp code; each op is a small function on vectors applied by
// map() over the array: chunks of kChunk elements (split over the pool's threads when the array is
// large), full vectors first, then the tail through a padded vector. Branches are vector selects,
// so every loop is straight-line SIMD code.
#include <cmath>

#include "isa.h"
#include "pyengine/activation.h"

namespace pyengine::cpu::PYENGINE_ISA {
namespace {

constexpr index_t kChunk = 8192;
constexpr index_t kParallelMin = index_t(1) << 16;  // below this one thread is faster than waking two

// out[i] = f(a[i], b[i]) for i < n (b is not read by forward ops: f ignores its second argument).
template <typename T, typename F>
void map(index_t n, const T* a, const T* b, T* out, F f) {
  constexpr index_t L = Vec<T>::lanes;
  const index_t chunks = (n + kChunk - 1) / kChunk;
  const int threads = n >= kParallelMin ? get_num_threads() : 1;
  parallel_for(chunks, threads > 1 ? threads : 1, [&](index_t c) {
    const index_t begin = c * kChunk;
    const index_t end = n - begin < kChunk ? n : begin + kChunk;
    index_t i = begin;
    for (; i + L <= end; i += L) store<T>(out + i, f(load<T>(a + i), b ? load<T>(b + i) : splat<T>(T(0))));
    if (i < end) {
      const index_t rest = end - i;
      store_part<T>(out + i, f(load_part<T>(a + i, rest, T(0)), b ? load_part<T>(b + i, rest, T(0)) : splat<T>(T(0))),
                    rest);
    }
  });
}

// f applied to each lane (the C library's scalar functions: log1p, and erf in double).
template <typename T, typename F>
inline vec_t<T> per_lane(vec_t<T> x, F f) {
  vec_t<T> r;
  for (int i = 0; i < Vec<T>::lanes; ++i) r[i] = f(x[i]);
  return r;
}

template <typename T>
inline vec_t<T> vsigmoid(vec_t<T> x) {
  const vec_t<T> one = splat<T>(T(1)), e = vexp<T>(-vabs<T>(x)), s = one / (one + e);
  return x >= splat<T>(T(0)) ? s : e * s;
}

template <typename T>
inline vec_t<T> vtanh(vec_t<T> x) {
  const vec_t<T> m = vexpm1<T>(T(-2) * vabs<T>(x));   // in (−1, 0]
  const vec_t<T> t = -m / (m + T(2));
  return x < splat<T>(T(0)) ? -t : t;
}

// log(1 + eˣ) = max(x, 0) + log1p(e^−|x|): no overflow for any x.
template <typename T>
inline vec_t<T> vsoftplus(vec_t<T> x) {
  const vec_t<T> zero = splat<T>(T(0));
  const vec_t<T> l = per_lane<T>(vexp<T>(-vabs<T>(x)), [](T v) { return std::log1p(v); });
  return (x > zero ? x : zero) + l;
}

// erf: float by the Chebyshev fit of erfc (Numerical Recipes; relative error < 1.2e-7) on vectors,
// double by the C library per lane.
template <typename T>
inline vec_t<T> verf(vec_t<T> x) {
  if constexpr (sizeof(T) == 8) {
    return per_lane<T>(x, [](T v) { return std::erf(v); });
  } else {
    const vec_t<T> z = vabs<T>(x), one = splat<T>(T(1));
    const vec_t<T> t = one / (one + T(0.5) * z);
    constexpr T coef[9] = {T(-0.82215223), T(1.48851587), T(-1.13520398), T(0.27886807), T(-0.18628806),
                           T(0.09678418),  T(0.37409196), T(1.00002368),  T(-1.26551223)};
    vec_t<T> p = splat<T>(T(0.17087277));
    for (int k = 0; k < 9; ++k) p = coef[k] + t * p;
    const vec_t<T> erfc = t * vexp<T>(-z * z + p);
    const vec_t<T> r = one - erfc;
    return x < splat<T>(T(0)) ? -r : (x != x ? x : r);
  }
}

template <typename T>
void activation(ActOp op, index_t n, const T* a, const T* b, T param, T param2, T* out) {
  using vec = vec_t<T>;
  const vec zero = splat<T>(T(0)), one = splat<T>(T(1)), half = splat<T>(T(0.5)), six = splat<T>(T(6));
  constexpr T kSqrt2OverPi = T(0.7978845608028654), kInvSqrt2 = T(0.7071067811865476),
              kInvSqrt2Pi = T(0.3989422804014327), kCubic = T(0.044715);
  switch (op) {
    case ActOp::relu_forward:  // a = x
      return map<T>(n, a, nullptr, out, [=](vec x, vec) { return x < zero ? zero : x; });
    case ActOp::relu_backward:  // a = grad_output, b = x
      return map<T>(n, a, b, out, [=](vec g, vec x) { return x <= zero ? zero : g; });
    case ActOp::leaky_relu_forward:
      return map<T>(n, a, nullptr, out, [=](vec x, vec) { return x > zero ? x : x * param; });
    case ActOp::leaky_relu_backward:
      return map<T>(n, a, b, out, [=](vec g, vec x) { return x > zero ? g : g * param; });
    case ActOp::elu_forward:
      return map<T>(n, a, nullptr, out, [=](vec x, vec) { return x <= zero ? vexpm1<T>(x) * param : x; });
    case ActOp::elu_backward:
      return map<T>(n, a, b, out, [=](vec g, vec x) { return x <= zero ? g * vexp<T>(x) * param : g; });
    case ActOp::sigmoid_forward:
      return map<T>(n, a, nullptr, out, [=](vec x, vec) {
        const vec e = vexp<T>(-vabs<T>(x));
        const vec s = one / (one + e);
        return x >= zero ? s : e * s;
      });
    case ActOp::sigmoid_backward:  // b = output
      return map<T>(n, a, b, out, [=](vec g, vec y) { return g * y * (one - y); });
    case ActOp::tanh_forward:
      return map<T>(n, a, nullptr, out, [=](vec x, vec) {
        const vec m = vexpm1<T>(T(-2) * vabs<T>(x));  // in (−1, 0]
        const vec t = -m / (m + T(2));
        return x < zero ? -t : t;
      });
    case ActOp::tanh_backward:
      return map<T>(n, a, b, out, [=](vec g, vec y) { return g * (one - y * y); });
    case ActOp::gelu_forward:
      return map<T>(n, a, nullptr, out, [=](vec x, vec) { return half * x * (one + verf<T>(x * kInvSqrt2)); });
    case ActOp::gelu_backward:
      return map<T>(n, a, b, out, [=](vec g, vec x) {
        return g * (half * (one + verf<T>(x * kInvSqrt2)) + x * kInvSqrt2Pi * vexp<T>(T(-0.5) * x * x));
      });
    case ActOp::gelu_tanh_forward:
      return map<T>(n, a, nullptr, out, [=](vec x, vec) {
        return half * x * (one + vtanh<T>(kSqrt2OverPi * (x + kCubic * x * x * x)));
      });
    case ActOp::gelu_tanh_backward:
      return map<T>(n, a, b, out, [=](vec g, vec x) {
        const vec t = vtanh<T>(kSqrt2OverPi * (x + kCubic * x * x * x));
        return g * (half * (one + t) + half * x * (one - t * t) * kSqrt2OverPi * (one + T(3) * kCubic * x * x));
      });
    case ActOp::silu_forward:
      return map<T>(n, a, nullptr, out, [=](vec x, vec) { return x * vsigmoid<T>(x); });
    case ActOp::silu_backward:
      return map<T>(n, a, b, out, [=](vec g, vec x) {
        const vec s = vsigmoid<T>(x);
        return g * (s * (one + x * (one - s)));
      });
    case ActOp::relu6_forward:   // NaN fails both tests and stays NaN
      return map<T>(n, a, nullptr, out, [=](vec x, vec) { return x < zero ? zero : (x > six ? six : x); });
    case ActOp::relu6_backward:
      return map<T>(n, a, b, out, [=](vec g, vec x) { return (x <= zero) | (x >= six) ? zero : g; });
    case ActOp::hardswish_forward:
      return map<T>(n, a, nullptr, out, [=](vec x, vec) {
        const vec v = x + T(3);
        return x * (v < zero ? zero : (v > six ? six : v)) / six;
      });
    case ActOp::hardswish_backward:
      return map<T>(n, a, b, out, [=](vec g, vec x) {
        return x <= splat<T>(T(-3)) ? zero : (x < splat<T>(T(3)) ? g * (x / T(3) + half) : g);
      });
    case ActOp::hardsigmoid_forward:
      return map<T>(n, a, nullptr, out, [=](vec x, vec) {
        const vec v = x + T(3);
        return (v < zero ? zero : (v > six ? six : v)) / six;
      });
    case ActOp::hardsigmoid_backward:
      return map<T>(n, a, b, out, [=](vec g, vec x) {
        return (x > splat<T>(T(-3))) & (x < splat<T>(T(3))) ? g / six : zero;
      });
    case ActOp::softplus_forward:   // param = beta, param2 = threshold
      return map<T>(n, a, nullptr, out, [=](vec x, vec) {
        const vec bx = x * param;
        return bx > splat<T>(param2) ? x : vsoftplus<T>(bx) / param;
      });
    case ActOp::softplus_backward:
      return map<T>(n, a, b, out, [=](vec g, vec x) {
        const vec bx = x * param;
        return bx > splat<T>(param2) ? g : g * vsigmoid<T>(bx);
      });
    case ActOp::mish_forward:
      return map<T>(n, a, nullptr, out, [=](vec x, vec) { return x * vtanh<T>(vsoftplus<T>(x)); });
    case ActOp::mish_backward:
      return map<T>(n, a, b, out, [=](vec g, vec x) {
        const vec t = vtanh<T>(vsoftplus<T>(x));
        return g * (t + x * (one - t * t) * vsigmoid<T>(x));
      });
    case ActOp::logsigmoid_forward:
      return map<T>(n, a, nullptr, out, [=](vec x, vec) { return -vsoftplus<T>(-x); });
    case ActOp::logsigmoid_backward:
      return map<T>(n, a, b, out, [=](vec g, vec x) { return g * vsigmoid<T>(-x); });
  }
}

}  // namespace

void activation_f32(int op, index_t n, const float* a, const float* b, float param, float param2, float* out) {
  activation<float>(static_cast<ActOp>(op), n, a, b, param, param2, out);
}
void activation_f64(int op, index_t n, const double* a, const double* b, double param, double param2, double* out) {
  activation<double>(static_cast<ActOp>(op), n, a, b, param, param2, out);
}

PE_ISA_REGISTER(activation_f32, activation_f32)
PE_ISA_REGISTER(activation_f64, activation_f64)

}  // namespace pyengine::cpu::PYENGINE_ISA
