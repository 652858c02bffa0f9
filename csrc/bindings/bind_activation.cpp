// bind_activation.cpp — relu, leaky_relu, elu, sigmoid, tanh, gelu, silu, relu6, hardswish,
// hardsigmoid, softplus, mish and logsigmoid, forward and backward, on arrays of any shape
// (pyengine/activation.h), for pyengine._C and pyengine._cuda alike.
//
//   <name>_forward(x[, param])                    → y of x's shape and dtype
//   <name>_backward(grad_output, x or output[, param]) → grad_input
// Views are copied to C order; the GIL is released while the kernel runs.
#include <cmath>
#include <string>

#include "bind.h"
#include "pyengine/activation.h"
#include "pyengine/cuda/elementwise.h"

namespace pyengine::bind::activation {

enum class Op : int {   // = cuda::Act
  relu = 0, leaky_relu = 1, elu = 2, sigmoid = 3, tanh = 4, gelu = 5, gelu_tanh = 6, silu = 7, relu6 = 8,
  hardswish = 9, hardsigmoid = 10, softplus = 11, mish = 12, logsigmoid = 13
};

// gelu .. logsigmoid through the generic entry: their ActOp codes follow Op's order in pairs.
inline cpu::ActOp act_op(Op op, bool backward) {
  return static_cast<cpu::ActOp>(static_cast<int>(cpu::ActOp::gelu_forward) +
                                 2 * (static_cast<int>(op) - static_cast<int>(Op::gelu)) + (backward ? 1 : 0));
}

template <typename T>
void cpu_forward(Op op, index_t n, const T* x, T p, T p2, T* y) {
  switch (op) {
    case Op::relu: cpu::relu_forward<T>(n, x, y); break;
    case Op::leaky_relu: cpu::leaky_relu_forward<T>(n, x, p, y); break;
    case Op::elu: cpu::elu_forward<T>(n, x, p, y); break;
    case Op::sigmoid: cpu::sigmoid_forward<T>(n, x, y); break;
    case Op::tanh: cpu::tanh_forward<T>(n, x, y); break;
    default: cpu::activation<T>(act_op(op, false), n, x, nullptr, p, p2, y); break;
  }
}

template <typename T>
void cpu_backward(Op op, index_t n, const T* g, const T* v, T p, T p2, T* gi) {
  switch (op) {
    case Op::relu: cpu::relu_backward<T>(n, g, v, gi); break;
    case Op::leaky_relu: cpu::leaky_relu_backward<T>(n, g, v, p, gi); break;
    case Op::elu: cpu::elu_backward<T>(n, g, v, p, gi); break;
    case Op::sigmoid: cpu::sigmoid_backward<T>(n, g, v, gi); break;
    case Op::tanh: cpu::tanh_backward<T>(n, g, v, gi); break;
    default: cpu::activation<T>(act_op(op, true), n, g, v, p, p2, gi); break;
  }
}

template <class D>
py::object forward(const char* fn, Op op, py::handle x_obj, double param, double param2 = 0.0) {
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
      call.run([&] {
        cuda::activation_forward<T>(static_cast<cuda::Act>(op), n, px, py_, param, call.stream(), param2);
      });
    else
      call.run([&] { cpu_forward<T>(op, n, px, static_cast<T>(param), static_cast<T>(param2), py_); });
    return y.object();
  });
}

template <class D>
py::object backward(const char* fn, Op op, py::handle g_obj, py::handle ref_obj, const char* ref_name, double param,
                    double param2 = 0.0) {
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
        cuda::activation_backward<T>(static_cast<cuda::Act>(op), n, pg, pr, pgi, param, call.stream(), param2);
      });
    else
      call.run([&] { cpu_backward<T>(op, n, pg, pr, static_cast<T>(param), static_cast<T>(param2), pgi); });
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
  // The smooth and piecewise-linear ones of pyengine/activation.h whose backward takes x.
  for (const Plain& p : {Plain{"silu_forward", "silu_backward", Op::silu, "x", "x·sigmoid(x)."},
                         Plain{"relu6_forward", "relu6_backward", Op::relu6, "x",
                               "min(max(x, 0), 6); the gradient passes strictly inside (0, 6)."},
                         Plain{"hardswish_forward", "hardswish_backward", Op::hardswish, "x", "x·relu6(x + 3)/6."},
                         Plain{"hardsigmoid_forward", "hardsigmoid_backward", Op::hardsigmoid, "x", "relu6(x + 3)/6."},
                         Plain{"mish_forward", "mish_backward", Op::mish, "x", "x·tanh(softplus(x))."},
                         Plain{"logsigmoid_forward", "logsigmoid_backward", Op::logsigmoid, "x",
                               "log(sigmoid(x)) = −softplus(−x), stable for any x."}}) {
    kernel(m, p.fwd, [p](py::handle x) { return forward<D>(p.fwd, p.op, x, 0.0); }, arg("x"), p.doc);
    kernel(m, p.bwd, [p](py::handle g, py::handle x) { return backward<D>(p.bwd, p.op, g, x, "x", 0.0); },
           arg("grad_output"), arg("x"), "Gradient of the forward, from its input x (PyTorch's choice at the kinks).");
  }
  // gelu: approximate 'none' (x·Φ(x), Φ the normal CDF) or 'tanh'.
  auto gelu_op = [](const char* fn, py::handle a) {
    const std::string s = py::isinstance<py::str>(a) ? std::string(py::str(a)) : std::string();
    if (s != "none" && s != "tanh") value_error(fn, ": approximate must be 'none' or 'tanh', got ", repr_of(a));
    return s == "tanh" ? Op::gelu_tanh : Op::gelu;
  };
  kernel(m, "gelu_forward", [gelu_op](py::handle x, py::handle a) {
    return forward<D>("gelu_forward", gelu_op("gelu_forward", a), x, 0.0);
  }, arg("x"), arg("approximate") = "none", "x·Φ(x) ('none'), or ½x(1 + tanh(√(2/π)(x + 0.044715x³))) ('tanh').");
  kernel(m, "gelu_backward", [gelu_op](py::handle g, py::handle x, py::handle a) {
    return backward<D>("gelu_backward", gelu_op("gelu_backward", a), g, x, "x", 0.0);
  }, arg("grad_output"), arg("x"), arg("approximate") = "none", "Gradient of gelu_forward, from its input x.");
  // softplus(beta, threshold): x where beta·x > threshold, log(1 + exp(beta·x))/beta elsewhere.
  auto softplus_beta = [](const char* fn, py::handle b) {
    const double beta = to_real(fn, "beta", b);
    if (!(beta != 0.0 && std::isfinite(beta)))
      value_error(fn, ": beta must be a finite number other than 0, got ", beta);
    return beta;
  };
  kernel(m, "softplus_forward", [softplus_beta](py::handle x, py::handle b, py::handle t) {
    const char* fn = "softplus_forward";
    const double beta = softplus_beta(fn, b), threshold = to_real(fn, "threshold", t);
    return forward<D>(fn, Op::softplus, x, beta, threshold);
  }, arg("x"), arg("beta") = 1.0, arg("threshold") = 20.0,
         "log(1 + exp(beta·x))/beta, x itself where beta·x > threshold.");
  kernel(m, "softplus_backward", [softplus_beta](py::handle g, py::handle x, py::handle b, py::handle t) {
    const char* fn = "softplus_backward";
    const double beta = softplus_beta(fn, b), threshold = to_real(fn, "threshold", t);
    return backward<D>(fn, Op::softplus, g, x, "x", beta, threshold);
  }, arg("grad_output"), arg("x"), arg("beta") = 1.0, arg("threshold") = 20.0,
         "grad_output·sigmoid(beta·x), grad_output itself where beta·x > threshold.");
  if constexpr (!D::is_cuda) {
    // Private (not a kernel of the contract): the vector functions alone, for their accuracy test.
    m.def("_vector_math", [](const std::string& name, py::handle x_obj) {
      const char* fn = "_vector_math";
      const char* names[] = {"exp", "expm1", "log1p", "tanh", "erf"};
      int code = -1;
      for (int i = 0; i < 5; ++i)
        if (name == names[i]) code = i;
      if (code < 0) value_error(fn, ": name must be exp, expm1, log1p, tanh or erf, got '", name, "'");
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
        call.run([&] {
          if constexpr (sizeof(T) == 4) cpu::vector_math_f32(code, n, px, py_);
          else cpu::vector_math_f64(code, n, px, py_);
        });
        return y.object();
      });
    }, arg("name"), arg("x"));
  }
}

}  // namespace pyengine::bind::activation

namespace pyengine::bind {
PE_BIND_FAMILY(activation)
}
