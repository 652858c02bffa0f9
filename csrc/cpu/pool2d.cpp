// pool2d.cpp — picks the ISA copy of the max/average pooling kernels (csrc/cpu/isa/pool2d_isa.cpp) and
// holds global average pooling, a plain per-plane mean that the compiler vectorises.
#include "pyengine/pool2d.h"
#include "pyengine/parallel.h"

namespace pyengine::cpu {

template <>
void max_pool2d_forward<float>(const Pool2dShape& s, const float* x, float* y, std::int64_t* idx) {
  return max_pool_fwd_f32(s, x, y, idx);
}
template <>
void max_pool2d_forward<double>(const Pool2dShape& s, const double* x, double* y, std::int64_t* idx) {
  return max_pool_fwd_f64(s, x, y, idx);
}
template <>
index_t max_pool2d_backward_input<float>(const Pool2dShape& s, const float* g, const std::int64_t* idx, float* gi) {
  return max_pool_bwd_f32(s, g, idx, gi);
}
template <>
index_t max_pool2d_backward_input<double>(const Pool2dShape& s, const double* g, const std::int64_t* idx,
                                          double* gi) {
  return max_pool_bwd_f64(s, g, idx, gi);
}
template <>
void max_pool2d_forward<float>(const Pool2dShape& s, const float* x, float* y, std::uint8_t* taps) {
  return max_pool_fwd_taps_f32(s, x, y, taps);
}
template <>
void max_pool2d_forward<double>(const Pool2dShape& s, const double* x, double* y, std::uint8_t* taps) {
  return max_pool_fwd_taps_f64(s, x, y, taps);
}
template <>
index_t max_pool2d_backward_input<float>(const Pool2dShape& s, const float* g, const std::uint8_t* taps, float* gi) {
  return max_pool_bwd_taps_f32(s, g, taps, gi);
}
template <>
index_t max_pool2d_backward_input<double>(const Pool2dShape& s, const double* g, const std::uint8_t* taps,
                                          double* gi) {
  return max_pool_bwd_taps_f64(s, g, taps, gi);
}
template <>
void avg_pool2d_forward<float>(const Pool2dShape& s, bool cip, const float* x, float* y) {
  return avg_pool_fwd_f32(s, cip, x, y);
}
template <>
void avg_pool2d_forward<double>(const Pool2dShape& s, bool cip, const double* x, double* y) {
  return avg_pool_fwd_f64(s, cip, x, y);
}
template <>
void avg_pool2d_backward_input<float>(const Pool2dShape& s, bool cip, const float* g, float* gi) {
  return avg_pool_bwd_f32(s, cip, g, gi);
}
template <>
void avg_pool2d_backward_input<double>(const Pool2dShape& s, bool cip, const double* g, double* gi) {
  return avg_pool_bwd_f64(s, cip, g, gi);
}

template <typename T>
void global_avg_pool2d_forward(index_t planes, index_t hw, const T* x, T* y) {
  const int threads = get_num_threads();
  parallel_for(planes, threads > 1 && planes * hw > 32768 ? threads : 1, [&](index_t p) {
    const T* src = x + p * hw;
    double sum = 0.0;   // double: a float sum over a large plane loses digits
    for (index_t i = 0; i < hw; ++i) sum += src[i];
    y[p] = static_cast<T>(sum / static_cast<double>(hw));
  });
}

template <typename T>
void global_avg_pool2d_backward_input(index_t planes, index_t hw, const T* g, T* gi) {
  const int threads = get_num_threads();
  parallel_for(planes, threads > 1 && planes * hw > 32768 ? threads : 1, [&](index_t p) {
    const T share = static_cast<T>(static_cast<double>(g[p]) / static_cast<double>(hw));
    T* dst = gi + p * hw;
    for (index_t i = 0; i < hw; ++i) dst[i] = share;
  });
}

template void global_avg_pool2d_forward<float>(index_t, index_t, const float*, float*);
template void global_avg_pool2d_forward<double>(index_t, index_t, const double*, double*);
template void global_avg_pool2d_backward_input<float>(index_t, index_t, const float*, float*);
template void global_avg_pool2d_backward_input<double>(index_t, index_t, const double*, double*);

}  // namespace pyengine::cpu
