// activation_isa.cpp — the element-wise activations of pyengine/activation.h, compiled once per ISA.
//
// One entry point per dtype takes an ActOp code; each op is a small function on vectors applied by
// map() over the array: chunks of kChunk elements (split over the pool's threads when the array is
// large), full vectors first, then the tail through a padded vector. Branches are vector selects,
// so every loop is straight-line SIMD code.
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

// σ(x) = 1/(1 + e⁻ˣ): below x = −88.7 e⁻ˣ is +inf and σ = 0 (the exact value is under FLT_MIN), which
// is torch's form too; elsewhere one rounding each in 1 + e and the division.
template <typename T>
inline vec_t<T> vsigmoid(vec_t<T> x) {
  const vec_t<T> one = splat<T>(T(1));
  return one / (one + vexp<T>(-x));
}

// log(1 + eˣ) = max(x, 0) + log1p(e^−|x|): no overflow for any x.
template <typename T>
inline vec_t<T> vsoftplus(vec_t<T> x) {
  const vec_t<T> zero = splat<T>(T(0));
  return (x > zero ? x : zero) + vlog1p<T>(vexp<T>(-vabs<T>(x)));
}

// mish's t = tanh(softplus(x)) without the log and the tanh: with e = eˣ, (1 + e)² = 1 + n for
// n = e(e + 2), and tanh(log(1 + e)) = ((1 + e)² − 1)/((1 + e)² + 1) = n/(n + 2), no cancellation
// anywhere (n ≥ 0). Above x = 20 t is 1 in float and in double (1 − 2/n, n > e⁴⁰), so the callers
// return x (forward) and g (backward) there, as torch's formula does. The backward's factor
// (1 − t²)·σ(x) = 4(n + 1)/(n + 2)²·e/(1 + e) = 4e(1 + e)/(n + 2)² is returned in d.
template <typename T>
inline vec_t<T> vmish_t(vec_t<T> x, vec_t<T>* d) {
  const vec_t<T> lim = splat<T>(T(20));
  const vec_t<T> e = vexp<T>(x < lim ? x : lim);
  const vec_t<T> n = e * (e + T(2));
  if (!d) return n / (n + T(2));
  const vec_t<T> r = T(1) / (n + T(2));
  *d = T(4) * e * (e + T(1)) * r * r;
  return n * r;
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
      return map<T>(n, a, nullptr, out, [=](vec x, vec) { return vsigmoid<T>(x); });
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
    case ActOp::gelu_backward:  // φ(x) = e^(−x²/2)/√(2π): the exp erf(x/√2) computes
      return map<T>(n, a, b, out, [=](vec g, vec x) {
        vec e;
        const vec r = verf<T>(x * kInvSqrt2, &e);
        return g * (half * (one + r) + x * kInvSqrt2Pi * e);
      });
    case ActOp::gelu_tanh_forward:  // ½(1 + tanh u) = σ(2u): x/(1 + e^(−2u)), one exp and one division
      return map<T>(n, a, nullptr, out, [=](vec x, vec) {
        return x / (one + vexp<T>(T(-2) * kSqrt2OverPi * (x + kCubic * x * x * x)));
      });
    case ActOp::gelu_tanh_backward:  // s + x·2s(1 − s)·u' with s = σ(2u) (= ½(1 + t), 2s(1 − s) = ½(1 − t²))
      return map<T>(n, a, b, out, [=](vec g, vec x) {
        const vec s = one / (one + vexp<T>(T(-2) * kSqrt2OverPi * (x + kCubic * x * x * x)));
        return g * (s + x * (T(2) * s * (one - s)) * kSqrt2OverPi * (one + T(3) * kCubic * x * x));
      });
    case ActOp::silu_forward:  // x/(1 + e⁻ˣ): one division, no product
      return map<T>(n, a, nullptr, out, [=](vec x, vec) { return x / (one + vexp<T>(-x)); });
    case ActOp::silu_backward:
      return map<T>(n, a, b, out, [=](vec g, vec x) {
        const vec s = vsigmoid<T>(x);
        return g * (s * (one + x * (one - s)));
      });
    case ActOp::relu6_forward:   // NaN fails both tests and stays NaN
      return map<T>(n, a, nullptr, out, [=](vec x, vec) { return x < zero ? zero : (x > six ? six : x); });
    case ActOp::relu6_backward:
      return map<T>(n, a, b, out, [=](vec g, vec x) { return (x <= zero) | (x >= six) ? zero : g; });
    case ActOp::hardswish_forward:  // torch's x·min(max(x + 3, 0), 6)/6, bit for bit
      return map<T>(n, a, nullptr, out, [=](vec x, vec) { return x * vmin_of<T>(six, vmax_of<T>(zero, x + T(3))) / six; });
    case ActOp::hardswish_backward:
      return map<T>(n, a, b, out, [=](vec g, vec x) {
        return x <= splat<T>(T(-3)) ? zero : (x < splat<T>(T(3)) ? g * (x / T(3) + half) : g);
      });
    case ActOp::hardsigmoid_forward:
      return map<T>(n, a, nullptr, out, [=](vec x, vec) { return vmin_of<T>(six, vmax_of<T>(zero, x + T(3))) / six; });
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
    case ActOp::mish_forward:   // x·t; above 20 t = 1 to the type's precision (float), x itself
      return map<T>(n, a, nullptr, out, [=](vec x, vec) {
        const vec y = x * vmish_t<T>(x, nullptr);
        return x > splat<T>(T(20)) ? x : y;
      });
    case ActOp::mish_backward:  // t + x·(1 − t²)·σ(x); 1 above 20 (x·4e^−x underflows there)
      return map<T>(n, a, b, out, [=](vec g, vec x) {
        vec d;
        const vec t = vmish_t<T>(x, &d);
        return x > splat<T>(T(20)) ? g : g * (t + x * d);
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

template <typename T>
void vector_math(int fn, index_t n, const T* x, T* out) {
  using vec = vec_t<T>;
  switch (static_cast<VecFn>(fn)) {
    case VecFn::exp: return map<T>(n, x, nullptr, out, [](vec v, vec) { return vexp<T>(v); });
    case VecFn::expm1: return map<T>(n, x, nullptr, out, [](vec v, vec) { return vexpm1<T>(v); });
    case VecFn::log1p: return map<T>(n, x, nullptr, out, [](vec v, vec) { return vlog1p<T>(v); });
    case VecFn::tanh: return map<T>(n, x, nullptr, out, [](vec v, vec) { return vtanh<T>(v); });
    case VecFn::erf: return map<T>(n, x, nullptr, out, [](vec v, vec) { return verf<T>(v); });
  }
}
void vector_math_f32(int fn, index_t n, const float* x, float* out) { vector_math<float>(fn, n, x, out); }
void vector_math_f64(int fn, index_t n, const double* x, double* out) { vector_math<double>(fn, n, x, out); }

PE_ISA_REGISTER(vector_math_f32, vector_math_f32)
PE_ISA_REGISTER(vector_math_f64, vector_math_f64)
PE_ISA_REGISTER(activation_f32, activation_f32)
PE_ISA_REGISTER(activation_f64, activation_f64)

}  // namespace pyengine::cpu::PYENGINE_ISA
