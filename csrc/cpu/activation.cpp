// activation.cpp — the activation kernels of pyengine/activation.h: each picks the ISA copy of the
// vectorised element-wise loop (csrc/cpu/isa/activation_isa.cpp) and passes its operation code.
#include "pyengine/activation.h"

namespace pyengine::cpu {

namespace {

void run(ActOp op, index_t n, const float* a, const float* b, float param, float* out) {
  activation_f32(static_cast<int>(op), n, a, b, param, 0.0f, out);
}
void run(ActOp op, index_t n, const double* a, const double* b, double param, double* out) {
  activation_f64(static_cast<int>(op), n, a, b, param, 0.0, out);
}

}  // namespace

template <typename T> void relu_forward(index_t n, const T* x, T* y) {
  run(ActOp::relu_forward, n, x, nullptr, T(0), y);
}
template <typename T> void relu_backward(index_t n, const T* g, const T* x, T* gi) {
  run(ActOp::relu_backward, n, g, x, T(0), gi);
}
template <typename T> void leaky_relu_forward(index_t n, const T* x, T s, T* y) {
  run(ActOp::leaky_relu_forward, n, x, nullptr, s, y);
}
template <typename T> void leaky_relu_backward(index_t n, const T* g, const T* x, T s, T* gi) {
  run(ActOp::leaky_relu_backward, n, g, x, s, gi);
}
template <typename T> void elu_forward(index_t n, const T* x, T alpha, T* y) {
  run(ActOp::elu_forward, n, x, nullptr, alpha, y);
}
template <typename T> void elu_backward(index_t n, const T* g, const T* x, T alpha, T* gi) {
  run(ActOp::elu_backward, n, g, x, alpha, gi);
}
template <typename T> void sigmoid_forward(index_t n, const T* x, T* y) {
  run(ActOp::sigmoid_forward, n, x, nullptr, T(0), y);
}
template <typename T> void sigmoid_backward(index_t n, const T* g, const T* y, T* gi) {
  run(ActOp::sigmoid_backward, n, g, y, T(0), gi);
}
template <typename T> void tanh_forward(index_t n, const T* x, T* y) {
  run(ActOp::tanh_forward, n, x, nullptr, T(0), y);
}
template <typename T> void tanh_backward(index_t n, const T* g, const T* y, T* gi) {
  run(ActOp::tanh_backward, n, g, y, T(0), gi);
}

#define PE_INSTANTIATE(T)                                                        \
  template void relu_forward<T>(index_t, const T*, T*);                          \
  template void relu_backward<T>(index_t, const T*, const T*, T*);               \
  template void leaky_relu_forward<T>(index_t, const T*, T, T*);                 \
  template void leaky_relu_backward<T>(index_t, const T*, const T*, T, T*);      \
  template void elu_forward<T>(index_t, const T*, T, T*);                        \
  template void elu_backward<T>(index_t, const T*, const T*, T, T*);             \
  template void sigmoid_forward<T>(index_t, const T*, T*);                       \
  template void sigmoid_backward<T>(index_t, const T*, const T*, T*);            \
  template void tanh_forward<T>(index_t, const T*, T*);                          \
  template void tanh_backward<T>(index_t, const T*, const T*, T*);
PE_INSTANTIATE(float)
PE_INSTANTIATE(double)
#undef PE_INSTANTIATE

}  // namespace pyengine::cpu
