// bind_activation.cpp — relu, leaky_relu, elu, sigmoid, tanh, forward and backward, on arrays of any
// shape (pyengine/activation.h), for pyengine._C and pyengine._cuda alike.
//
//   <name>_forward(x[, param])                    → y of x's shape and dtype
//   <name>_backward(grad_output, x or output[, param]) → grad_input
// Views are copied to C order; the GIL is released while the kernel runs.
#include "bind.h"
#include "pyengine/activation.h"
#include "pyengine/cuda/elementwise.h"

namespace pyengine::bind::activation {

enum class Op : int { relu = 0, leaky_relu = 1, elu = 2, sigmoid = 3, tanh = 4 };  // = cuda::Act

template <typename T>
void cpu_forward(Op op, index_t n, const T* x, T p, T* y) {
  switch (op) {
    case Op::relu: cpu::relu_forward<T>(n, x, y); break;
    case Op::leaky_relu: cpu::leaky_relu_forward<T>(n, x, p, y); break;
    case Op::elu: cpu::elu_forward<T>(n, x, p, y); break;
    case Op::sigmoid: cpu::sigmoid_forward<T>(n, x, y); break;
    case Op::tanh: cpu::tanh_forward<T>(n, x, y); break;
  }
}

template <typename T>
void cpu_backward(Op op, index_t n, const T* g, const T* v, T p, T* gi) {
  switch (op) {
    case Op::relu: cpu::relu_backward<T>(n, g, v, gi); break;
    case Op::leaky_relu: cpu::leaky_relu_backward<T>(n, g, v, p, gi); break;
    case Op::elu: cpu::elu_backward<T>(n, g, v, p, gi); break;
    case Op::sigmoid: cpu::sigmoid_backward<T>(n, g, v, gi); break;
    case Op::tanh: cpu::tanh_backward<T>(n, g, v, gi); break;
  }
}

template <class D>
py::object forward(const char* fn, Op op, py::handle x_obj, double param) {
  auto x = D::arg(fn, "x", x_obj);
  const DType dt = contract::activation_forward(fn, x.a);
  typename D::Call call(fn);
  call.inputs({&x});
  return with_float(dt, [&](auto t) {
    using T = decltype(t);
    auto y = call.template empty<T>("the output", x.a.shape);
    const index_t n = x.a.numel();
    const T* px = in<T>(x);
    T* py_ = out<T>(y);
    if constexpr (D::is_cuda)
      call.run([&] { cuda::activation_forward<T>(static_cast<cuda::Act>(op), n, px, py_, param, call.stream()); });
    else
      call.run([&] { cpu_forward<T>(op, n, px, static_cast<T>(param), py_); });
    return y.object();
  });
}

template <class D>
py::object backward(const char* fn, Op op, py::handle g_obj, py::handle ref_obj, const char* ref_name, double param) {
  auto g = D::arg(fn, "grad_output", g_obj);
  auto ref = D::arg(fn, ref_name, ref_obj);
  const DType dt = contract::activation_backward(fn, g.a, ref.a);
  typename D::Call call(fn);
  call.inputs({&g, &ref});
  return with_float(dt, [&](auto t) {
    using T = decltype(t);
    auto gi = call.template empty<T>("grad_input", ref.a.shape);
    const index_t n = ref.a.numel();
    const T *pg = in<T>(g), *pr = in<T>(ref);
    T* pgi = out<T>(gi);
    if constexpr (D::is_cuda)
      call.run([&] {
        cuda::activation_backward<T>(static_cast<cuda::Act>(op), n, pg, pr, pgi, param, call.stream());
      });
    else
      call.run([&] { cpu_backward<T>(op, n, pg, pr, static_cast<T>(param), pgi); });
    return gi.object();
  });
}

template <class D>
void bind(py::module_& m) {
  using py::arg;
  // The parameterless ones: relu and sigmoid/tanh (whose backward takes the forward's output).
  struct Plain { const char* fwd; const char* bwd; Op op; const char* ref; const char* doc; };
  for (const Plain& p : {Plain{"relu_forward", "relu_backward", Op::relu, "x",
                               "max(x, 0) element-wise; NaN stays NaN. x: any shape."},
                         Plain{"sigmoid_forward", "sigmoid_backward", Op::sigmoid, "output",
                               "1 / (1 + exp(-x)), stable for any |x|. x: any shape."},
                         Plain{"tanh_forward", "tanh_backward", Op::tanh, "output", "tanh(x) element-wise."}}) {
    kernel(m, p.fwd, [p](py::handle x) { return forward<D>(p.fwd, p.op, x, 0.0); }, arg("x"), p.doc);
    kernel(m, p.bwd, [p](py::handle g, py::handle r) { return backward<D>(p.bwd, p.op, g, r, p.ref, 0.0); },
           arg("grad_output"), arg(p.ref),
           p.op == Op::relu ? "grad_output·[x > 0] (the left derivative at 0)."
                            : p.op == Op::sigmoid ? "grad_output·y·(1 − y) from the forward's output y."
                                                  : "grad_output·(1 − y²) from the forward's output y.");
  }
  // The ones with a scalar parameter (read before the arrays, as in the reference).
  struct Param { const char* fwd; const char* bwd; Op op; const char* name; double dflt; const char* doc; };
  for (const Param& p : {Param{"leaky_relu_forward", "leaky_relu_backward", Op::leaky_relu, "negative_slope", 0.01,
                               "x where x > 0, negative_slope·x elsewhere."},
                         Param{"elu_forward", "elu_backward", Op::elu, "alpha", 1.0,
                               "x where x > 0, alpha·(exp(x) − 1) elsewhere (expm1: no cancellation near 0)."}}) {
    kernel(m, p.fwd, [p](py::handle x, py::handle v) { return forward<D>(p.fwd, p.op, x, to_real(p.fwd, p.name, v)); },
           arg("x"), arg(p.name) = p.dflt, p.doc);
    kernel(m, p.bwd, [p](py::handle g, py::handle x, py::handle v) {
      return backward<D>(p.bwd, p.op, g, x, "x", to_real(p.bwd, p.name, v));
    }, arg("grad_output"), arg("x"), arg(p.name) = p.dflt, "Gradient of the forward; the derivative at 0 is the left one.");
  }
}

}  // namespace pyengine::bind::activation

namespace pyengine::bind {
PE_BIND_FAMILY(activation)
}
