// activation_isa.cpp — the element-wise activations of pyengine/activation.h, compiled once per ISA.
//
// One entry point per dtype takes an ActOp code; each op is a small function on vectors applied by
// map() over the array: chunks of kChunk elements (split over OpenMP threads when the array is
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
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
  for (index_t c = 0; c < chunks; ++c) {
    const index_t begin = c * kChunk;
    const index_t end = n - begin < kChunk ? n : begin + kChunk;
    index_t i = begin;
    for (; i + L <= end; i += L) store<T>(out + i, f(load<T>(a + i), b ? load<T>(b + i) : splat<T>(T(0))));
    if (i < end) {
      const index_t rest = end - i;
      store_part<T>(out + i, f(load_part<T>(a + i, rest, T(0)), b ? load_part<T>(b + i, rest, T(0)) : splat<T>(T(0))),
                    rest);
    }
  }
}

template <typename T>
void activation(ActOp op, index_t n, const T* a, const T* b, T param, T* out) {
  using vec = vec_t<T>;
  const vec zero = splat<T>(T(0)), one = splat<T>(T(1));
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
  }
}

}  // namespace

void activation_f32(int op, index_t n, const float* a, const float* b, float param, float* out) {
  activation<float>(static_cast<ActOp>(op), n, a, b, param, out);
}
void activation_f64(int op, index_t n, const double* a, const double* b, double param, double* out) {
  activation<double>(static_cast<ActOp>(op), n, a, b, param, out);
}

PE_ISA_REGISTER(activation_f32, activation_f32)
PE_ISA_REGISTER(activation_f64, activation_f64)

}  // namespace pyengine::cpu::PYENGINE_ISA
