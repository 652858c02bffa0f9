// module.cpp — pyengine._C: the CPU kernels. Each op family binds itself (bind_<family>.cpp).
#include "bind_util.h"

PYBIND11_MODULE(_C, m) {
  m.doc() = "pyengine CPU kernels (C++, OpenMP, AVX-512/AVX2 chosen at run time)";
  using namespace pyengine::bind;
  bind_runtime(m);
  bind_gemm(m);
  bind_conv2d(m);
  bind_pool2d(m);
  bind_lstm(m);
  bind_linear(m);
  bind_activation(m);
  bind_softmax(m);
  bind_batch_norm(m);
  bind_dropout(m);
  bind_interpolate(m);
  bind_optim(m);
  bind_quantized(m);
  bind_bench(m);
}
