// batch_norm.cpp — picks the ISA copy of the batch-norm kernels (csrc/cpu/isa/batch_norm_isa.cpp).
#include "pyengine/batch_norm.h"

namespace pyengine::cpu {

template <>
void batch_norm_forward<float>(index_t N, index_t C, index_t HW, const float* x, const float* w, const float* b,
                               float* rm, float* rv, bool training, double momentum, double eps, float* y, float* mean,
                               float* invstd) {
  return bn_forward_f32(N, C, HW, x, w, b, rm, rv, training, momentum, eps, y, mean, invstd);
}
template <>
void batch_norm_forward<double>(index_t N, index_t C, index_t HW, const double* x, const double* w, const double* b,
                                double* rm, double* rv, bool training, double momentum, double eps, double* y,
                                double* mean, double* invstd) {
  return bn_forward_f64(N, C, HW, x, w, b, rm, rv, training, momentum, eps, y, mean, invstd);
}
template <>
void batch_norm_backward<float>(index_t N, index_t C, index_t HW, const float* g, const float* x, const float* w,
                                const float* mean, const float* invstd, bool training, float* gi, float* gw,
                                float* gb) {
  return bn_backward_f32(N, C, HW, g, x, w, mean, invstd, training, gi, gw, gb);
}
template <>
void batch_norm_backward<double>(index_t N, index_t C, index_t HW, const double* g, const double* x, const double* w,
                                 const double* mean, const double* invstd, bool training, double* gi, double* gw,
                                 double* gb) {
  return bn_backward_f64(N, C, HW, g, x, w, mean, invstd, training, gi, gw, gb);
}

}  // namespace pyengine::cpu
