// bind_linear.cpp — linear_forward(x, weight, bias) and linear_backward(grad_output, x, weight,
// needs_input_grad) over the last axis of x (pyengine/linear.h), for pyengine._C and pyengine._cuda.
// Leading axes are flattened into N rows; each product is one GEMM.
#include "bind.h"
#include "pyengine/cuda/elementwise.h"
#include "pyengine/cuda/gemm.h"
#include "pyengine/linear.h"

namespace pyengine::bind::linear {

template <class D>
py::object forward(py::handle x_obj, py::handle w_obj, py::handle b_obj) {
  const char* fn = "linear_forward";
  auto x = D::arg(fn, "x", x_obj), w = D::arg(fn, "weight", w_obj), b = D::opt(fn, "bias", b_obj);
  const contract::LinearDims d = contract::linear(fn, x.a, w.a, b.a);
  typename D::Call call(fn);
  call.inputs({&x, &w, &b});
  return with_float(x.a.dtype, [&](auto t) {
    using T = decltype(t);
    auto y = call.template empty<T>("the output", d.out_shape);
    const T *px = in<T>(x), *pw = in<T>(w), *pb = in<T>(b);
    T* py_ = out<T>(y);
    if constexpr (D::is_cuda) {
      const bool tf32 = call.tf32() && sizeof(T) == 4;
      call.run([&] {
        cuda::gemm<T>(false, true, d.N, d.O, d.I, T(1), px, d.I, pw, d.I, T(0), nullptr, py_, d.O, pb, false, tf32,
                      call.stream());
      });
    } else {
      call.run([&] { cpu::linear_forward<T>(d.N, d.I, d.O, px, pw, pb, py_); });
    }
    return y.object();
  });
}

template <class D>
py::object backward(py::handle g_obj, py::handle x_obj, py::handle w_obj, py::handle needs_obj) {
  const char* fn = "linear_backward";
  auto g = D::arg(fn, "grad_output", g_obj), x = D::arg(fn, "x", x_obj), w = D::arg(fn, "weight", w_obj);
  const contract::LinearDims d = contract::linear_backward(fn, g.a, x.a, w.a);
  const auto needs = to_needs<3>(fn, needs_obj);
  typename D::Call call(fn);
  call.inputs({&g, &x, &w});
  return with_float(x.a.dtype, [&](auto t) {
    using T = decltype(t);
    using Out = decltype(call.template empty<T>("", {}));
    Out gi, gw, gb;
    if (needs[0]) gi = call.template empty<T>("grad_input", x.a.shape);
    if (needs[1]) gw = call.template empty<T>("grad_weight", {d.O, d.I});
    if (needs[2]) gb = call.template empty<T>("grad_bias", {d.O});
    const T *pg = in<T>(g), *px = in<T>(x), *pw = in<T>(w);
    T *pgi = out<T>(gi), *pgw = out<T>(gw), *pgb = out<T>(gb);
    if constexpr (D::is_cuda) {
      const bool tf32 = call.tf32() && sizeof(T) == 4;
      call.run([&] {
        cudaStream_t s = call.stream();
        if (pgi) cuda::gemm<T>(false, false, d.N, d.I, d.O, T(1), pg, d.O, pw, d.I, T(0), nullptr, pgi, d.I, nullptr,
                               true, tf32, s);
        if (pgw) cuda::gemm<T>(true, false, d.O, d.I, d.N, T(1), pg, d.O, px, d.I, T(0), nullptr, pgw, d.I, nullptr,
                               true, tf32, s);
        if (pgb) cuda::channel_sum<T>(d.N, d.O, 1, pg, pgb, 1.0, s);
      });
    } else {
      call.run([&] {
        if (pgi) cpu::linear_backward_input<T>(d.N, d.I, d.O, pg, pw, pgi);
        if (pgw) cpu::linear_backward_weight<T>(d.N, d.I, d.O, pg, px, pgw);
        if (pgb) cpu::linear_backward_bias<T>(d.N, d.O, pg, pgb);
      });
    }
    return py::object(py::make_tuple(gi.object(), gw.object(), gb.object()));
  });
}

template <class D>
void bind(py::module_& m) {
  using py::arg;
  kernel(m, "linear_forward", &forward<D>, arg("x"), arg("weight"), arg("bias") = py::none(),
         "x (*, I), weight (O, I), bias (O,) or None → y (*, O) = x·weightᵀ + bias.");
  kernel(m, "linear_backward", &backward<D>, arg("grad_output"), arg("x"), arg("weight"),
         arg("needs_input_grad") = py::make_tuple(true, true, true),
         "grad_output (*, O), x (*, I), weight (O, I) → (grad_input (*, I), grad_weight (O, I), grad_bias (O,)); "
         "grad_input = grad_output·weight, grad_weight = grad_outputᵀ·x, grad_bias = Σ grad_output over the leading "
         "axes; an entry is None where needs_input_grad says it is not needed.");
}

}  // namespace pyengine::bind::linear

namespace pyengine::bind {
PE_BIND_FAMILY(linear)
}
