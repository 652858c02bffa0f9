// softmax.cpp — softmax / log-softmax (the ISA copies in csrc/cpu/isa/softmax_isa.cpp) and
// cross-entropy built on them: forward = −log_softmax picked at the target, summed in double in
// row order; backward = softmax scaled by the upstream gradient, minus it at the target.
#include "pyengine/softmax.h"

#include <cmath>
#include <limits>
#include <vector>

namespace pyengine::cpu {

namespace {

void run(SoftmaxOp op, bool bwd, index_t outer, index_t dim, index_t inner, const float* a, const float* b,
         float* out) {
  return softmax_f32(static_cast<int>(op), bwd, outer, dim, inner, a, b, out);
}
void run(SoftmaxOp op, bool bwd, index_t outer, index_t dim, index_t inner, const double* a, const double* b,
         double* out) {
  return softmax_f64(static_cast<int>(op), bwd, outer, dim, inner, a, b, out);
}

}  // namespace

template <typename T>
void softmax_forward(index_t outer, index_t dim, index_t inner, const T* x, T* y) {
  run(SoftmaxOp::softmax, false, outer, dim, inner, x, static_cast<const T*>(nullptr), y);
}
template <typename T>
void softmax_backward(index_t outer, index_t dim, index_t inner, const T* g, const T* y, T* gx) {
  run(SoftmaxOp::softmax, true, outer, dim, inner, g, y, gx);
}
template <typename T>
void log_softmax_forward(index_t outer, index_t dim, index_t inner, const T* x, T* y) {
  run(SoftmaxOp::log_softmax, false, outer, dim, inner, x, static_cast<const T*>(nullptr), y);
}
template <typename T>
void log_softmax_backward(index_t outer, index_t dim, index_t inner, const T* g, const T* y, T* gx) {
  run(SoftmaxOp::log_softmax, true, outer, dim, inner, g, y, gx);
}

template <typename T>
void cross_entropy_forward(index_t N, index_t C, const T* logits, const std::int64_t* target, Reduction reduction,
                           T* out) {
  if (reduction != Reduction::none && N == 0) {
    out[0] = reduction == Reduction::mean ? std::numeric_limits<T>::quiet_NaN() : T(0);
    return;
  }
  std::vector<T> logp(static_cast<size_t>(N * C));
  log_softmax_forward<T>(N, C, 1, logits, logp.data());
  if (reduction == Reduction::none) {
    for (index_t n = 0; n < N; ++n) out[n] = -logp[static_cast<size_t>(n * C + target[n])];
    return;
  }
  double total = 0.0;
  for (index_t n = 0; n < N; ++n) total -= logp[static_cast<size_t>(n * C + target[n])];
  out[0] = static_cast<T>(reduction == Reduction::mean ? total / static_cast<double>(N) : total);
}

template <typename T>
void cross_entropy_backward(index_t N, index_t C, const T* grad_output, const T* logits,
                            const std::int64_t* target, Reduction reduction, T* grad_logits) {
  softmax_forward<T>(N, C, 1, logits, grad_logits);
  T shared = T(0);  // the weight of every row for mean/sum (grad_output has one element then)
  if (reduction == Reduction::sum) shared = grad_output[0];
  if (reduction == Reduction::mean) shared = static_cast<T>(grad_output[0] / static_cast<double>(N));
  const int threads = N * C >= (index_t(1) << 15) ? get_num_threads() : 1;
  (void)threads;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
  for (index_t n = 0; n < N; ++n) {
    const T w = reduction == Reduction::none ? grad_output[n] : shared;
    T* row = grad_logits + n * C;
    for (index_t c = 0; c < C; ++c) row[c] *= w;
    row[target[n]] -= w;
  }
}

#define PE_INSTANTIATE(T)                                                                              \
  template void softmax_forward<T>(index_t, index_t, index_t, const T*, T*);                          \
  template void softmax_backward<T>(index_t, index_t, index_t, const T*, const T*, T*);               \
  template void log_softmax_forward<T>(index_t, index_t, index_t, const T*, T*);                      \
  template void log_softmax_backward<T>(index_t, index_t, index_t, const T*, const T*, T*);           \
  template void cross_entropy_forward<T>(index_t, index_t, const T*, const std::int64_t*, Reduction, T*); \
  template void cross_entropy_backward<T>(index_t, index_t, const T*, const T*, const std::int64_t*,  \
                                          Reduction, T*);
PE_INSTANTIATE(float)
PE_INSTANTIATE(double)
#undef PE_INSTANTIATE

}  // namespace pyengine::cpu
