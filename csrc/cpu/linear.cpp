// linear.cpp — fully connected forward and backward (pyengine/linear.h), each one call of
// pyengine::cpu::gemm; the forward adds the bias in gemm_ex's epilogue as y is stored.
#include "pyengine/linear.h"

#include "pyengine/gemm.h"

namespace pyengine::cpu {

template <typename T>
void linear_forward(index_t N, index_t I, index_t O, const T* x, const T* weight, const T* bias, T* y) {
  // y = x·weightᵀ + bias, the bias added per column as the GEMM stores y
  gemm_ex<T>(false, true, N, O, I, T(1), x, I, weight, I, T(0), y, O, nullptr, bias, false);
}

template <typename T>
void linear_backward_input(index_t N, index_t I, index_t O, const T* grad_output, const T* weight,
                           T* grad_input) {
  gemm<T>(false, false, N, I, O, T(1), grad_output, O, weight, I, T(0), grad_input, I);
}

template <typename T>
void linear_backward_weight(index_t N, index_t I, index_t O, const T* grad_output, const T* x,
                            T* grad_weight) {
  gemm<T>(true, false, O, I, N, T(1), grad_output, O, x, I, T(0), grad_weight, I);
}

template <typename T>
void linear_backward_bias(index_t N, index_t O, const T* grad_output, T* grad_bias) {
  for (index_t o = 0; o < O; ++o) grad_bias[o] = T(0);
  for (index_t n = 0; n < N; ++n) {
    const T* row = grad_output + n * O;
    for (index_t o = 0; o < O; ++o) grad_bias[o] += row[o];
  }
}

#define PE_LINEAR_INSTANTIATE(T)                                                                       \
  template void linear_forward<T>(index_t, index_t, index_t, const T*, const T*, const T*, T*);       \
  template void linear_backward_input<T>(index_t, index_t, index_t, const T*, const T*, T*);          \
  template void linear_backward_weight<T>(index_t, index_t, index_t, const T*, const T*, T*);         \
  template void linear_backward_bias<T>(index_t, index_t, const T*, T*);
PE_LINEAR_INSTANTIATE(float)
PE_LINEAR_INSTANTIATE(double)
#undef PE_LINEAR_INSTANTIATE

}  // namespace pyengine::cpu
