// adaptive_pool2d.cpp — the typed entry points of pyengine/adaptive_pool2d.h: the active
// instruction set's copy of the kernels (csrc/cpu/isa/adaptive_pool2d_isa.cpp).
#include "pyengine/adaptive_pool2d.h"

namespace pyengine::cpu {

template <typename T>
void adaptive_max_pool2d_forward(const AdaptivePool2dDims& d, const T* x, T* y, std::int64_t* indices) {
  if (d.P == 0) return;
  if constexpr (sizeof(T) == 4) adaptive_max_pool2d_forward_f32(d, x, y, indices);
  else adaptive_max_pool2d_forward_f64(d, x, y, indices);
}

template <typename T>
index_t adaptive_max_pool2d_backward(const AdaptivePool2dDims& d, const T* grad_y, const std::int64_t* indices,
                                     T* grad_x) {
  if (d.P == 0) return 0;
  if constexpr (sizeof(T) == 4) return adaptive_max_pool2d_backward_f32(d, grad_y, indices, grad_x);
  else return adaptive_max_pool2d_backward_f64(d, grad_y, indices, grad_x);
}

template void adaptive_max_pool2d_forward<float>(const AdaptivePool2dDims&, const float*, float*, std::int64_t*);
template void adaptive_max_pool2d_forward<double>(const AdaptivePool2dDims&, const double*, double*, std::int64_t*);
template index_t adaptive_max_pool2d_backward<float>(const AdaptivePool2dDims&, const float*, const std::int64_t*,
                                                     float*);
template index_t adaptive_max_pool2d_backward<double>(const AdaptivePool2dDims&, const double*, const std::int64_t*,
                                                      double*);

}  // namespace pyengine::cpu
