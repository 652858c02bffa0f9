// bind_softmax.cpp — softmax / log_softmax over an axis (backward from the output) and cross-entropy
// from logits with int64 class indices (pyengine/softmax.h), for pyengine._C and pyengine._cuda.
//
// Every target value is checked to be a class index before a kernel reads it: on the host by a scan,
// on the GPU by a kernel that finds the first bad one (the call then waits for the device once).
#include <limits>

#include "bind.h"
#include "pyengine/cuda/elementwise.h"
#include "pyengine/cuda/softmax.h"
#include "pyengine/softmax.h"

namespace pyengine::bind::softmax {

template <class D>
py::object forward(const char* fn, bool log, py::handle x_obj, py::handle axis_obj) {
  auto x = D::arg(fn, "x", x_obj);
  const index_t axis = to_int(fn, "axis", axis_obj);
  const contract::AxisView v = contract::softmax_forward(fn, x.a, axis);
  typename D::Call call(fn);
  call.inputs({&x});
  return with_float(x.a.dtype, [&](auto t) {
    using T = decltype(t);
    auto y = call.template empty<T>("the output", x.a.shape);
    const T* px = in<T>(x);
    T* py_ = out<T>(y);
    if constexpr (D::is_cuda)
      call.run([&] { cuda::softmax_forward<T>(log, v.outer, v.dim, v.inner, px, py_, call.stream()); });
    else if (log)
      call.run([&] { cpu::log_softmax_forward<T>(v.outer, v.dim, v.inner, px, py_); });
    else
      call.run([&] { cpu::softmax_forward<T>(v.outer, v.dim, v.inner, px, py_); });
    return y.object();
  });
}

template <class D>
py::object backward(const char* fn, bool log, py::handle g_obj, py::handle y_obj, py::handle axis_obj) {
  auto g = D::arg(fn, "grad_output", g_obj);
  auto y = D::arg(fn, "output", y_obj);
  const index_t axis = to_int(fn, "axis", axis_obj);
  const contract::AxisView v = contract::softmax_backward(fn, g.a, y.a, axis);
  typename D::Call call(fn);
  call.inputs({&g, &y});
  return with_float(y.a.dtype, [&](auto t) {
    using T = decltype(t);
    auto gx = call.template empty<T>("grad_input", y.a.shape);
    const T *pg = in<T>(g), *py_ = in<T>(y);
    T* pgx = out<T>(gx);
    if constexpr (D::is_cuda)
      call.run([&] { cuda::softmax_backward<T>(log, v.outer, v.dim, v.inner, pg, py_, pgx, call.stream()); });
    else if (log)
      call.run([&] { cpu::log_softmax_backward<T>(v.outer, v.dim, v.inner, pg, py_, pgx); });
    else
      call.run([&] { cpu::softmax_backward<T>(v.outer, v.dim, v.inner, pg, py_, pgx); });
    return gx.object();
  });
}

inline Reduction to_reduction(const char* fn, py::handle obj) {
  if (!py::isinstance<py::str>(obj)) type_error(fn, ": reduction must be a str, got ", type_name(obj));
  const std::string r = py::str(obj);
  if (r == "none") return Reduction::none;
  if (r == "mean") return Reduction::mean;
  if (r == "sum") return Reduction::sum;
  value_error(fn, ": reduction must be 'none', 'mean' or 'sum', got ", repr_of(obj));
}

// The logits, target and reduction of both cross-entropy ops, checked up to the target values.
template <class D>
struct CrossEntropyArgs {
  typename D::Arg logits, target;
  index_t N = 0, C = 0;
  Reduction r = Reduction::mean;
  CrossEntropyArgs(const char* fn, py::handle l, py::handle t, py::handle red)
      : logits(D::arg(fn, "logits", l)), target(D::arg(fn, "target", t, false, " of int64 class indices")) {
    std::tie(N, C) = contract::cross_entropy_arrays(fn, logits.a, target.a);
    r = to_reduction(fn, red);
  }
};

// Every target in [0, C): a scan on the host; on the GPU a kernel finds the first bad index.
template <class D>
void check_targets(const char* fn, typename D::Call& call, CrossEntropyArgs<D>& a) {
  if (a.N == 0) return;
  if constexpr (D::is_cuda) {
    std::int64_t value = 0;
    auto scratch = call.empty_typed("the target check", {1}, "int64", 8);
    const index_t bad = cuda::first_bad_target(a.N, a.C, in<std::int64_t>(a.target), out<std::int64_t>(scratch), &value,
                                               call.stream());
    if (bad >= 0) contract::target_out_of_range(fn, bad, value, a.C);
  } else {
    contract::cross_entropy_targets(fn, in<std::int64_t>(a.target), a.N, a.C);
  }
}

template <class D>
py::object ce_forward(py::handle l, py::handle t, py::handle red) {
  const char* fn = "cross_entropy_forward";
  CrossEntropyArgs<D> a(fn, l, t, red);
  typename D::Call call(fn);
  call.inputs({&a.logits, &a.target});
  check_targets<D>(fn, call, a);
  return with_float(a.logits.a.dtype, [&](auto tag) {
    using T = decltype(tag);
    const index_t N = a.N, C = a.C;
    const T* pl = in<T>(a.logits);
    const std::int64_t* pt = in<std::int64_t>(a.target);
    auto loss = call.template empty<T>("the loss", a.r == Reduction::none ? std::vector<index_t>{N}
                                                                          : std::vector<index_t>{});
    T* po = out<T>(loss);
    if constexpr (D::is_cuda) {
      // per-row losses, then their sum or mean (0·NaN = NaN: the mean of an empty batch)
      auto rows = a.r == Reduction::none ? loss : call.template empty<T>("the per-row losses", {N});
      T* pr = out<T>(rows);
      const double scale = a.r == Reduction::mean ? (N ? 1.0 / static_cast<double>(N)
                                                       : std::numeric_limits<double>::quiet_NaN())
                                                  : 1.0;
      call.run([&] {
        cuda::cross_entropy_forward<T>(N, C, pl, pt, pr, call.stream());
        if (a.r != Reduction::none) cuda::channel_sum<T>(1, 1, N, pr, po, scale, call.stream());
      });
    } else {
      call.run([&] { cpu::cross_entropy_forward<T>(N, C, pl, pt, a.r, po); });
    }
    return loss.object();
  });
}

template <class D>
py::object ce_backward(py::handle g_obj, py::handle l, py::handle t, py::handle red) {
  const char* fn = "cross_entropy_backward";
  CrossEntropyArgs<D> a(fn, l, t, red);
  auto g = D::arg(fn, "grad_output", g_obj);
  contract::cross_entropy_grad(fn, g.a, a.logits.a, a.r);   // before the targets: it needs no device
  typename D::Call call(fn);
  call.inputs({&a.logits, &a.target, &g});
  check_targets<D>(fn, call, a);
  return with_float(a.logits.a.dtype, [&](auto tag) {
    using T = decltype(tag);
    const index_t N = a.N, C = a.C;
    auto gl = call.template empty<T>("grad_logits", {N, C});
    const T *pg = in<T>(g), *pl = in<T>(a.logits);
    const std::int64_t* pt = in<std::int64_t>(a.target);
    T* pgl = out<T>(gl);
    if constexpr (D::is_cuda) {
      const bool per_row = a.r == Reduction::none;
      const double scale = a.r == Reduction::mean && N ? 1.0 / static_cast<double>(N) : 1.0;
      call.run([&] { cuda::cross_entropy_backward<T>(N, C, pg, per_row, scale, pl, pt, pgl, call.stream()); });
    } else {
      call.run([&] { cpu::cross_entropy_backward<T>(N, C, pg, pl, pt, a.r, pgl); });
    }
    return gl.object();
  });
}

template <class D>
void bind(py::module_& m) {
  using py::arg;
  for (bool log : {false, true}) {
    const char* f = log ? "log_softmax_forward" : "softmax_forward";
    const char* b = log ? "log_softmax_backward" : "softmax_backward";
    kernel(m, f, [f, log](py::handle x, py::handle axis) { return forward<D>(f, log, x, axis); }, arg("x"),
           arg("axis") = -1,
           log ? "(x − m) − log Σ exp(x − m) along axis, m the maximum. x: any shape."
               : "exp(x − m) / Σ exp(x − m) along axis, m the maximum. x: any shape.");
    kernel(m, b, [b, log](py::handle g, py::handle y, py::handle axis) { return backward<D>(b, log, g, y, axis); },
           arg("grad_output"), arg("output"), arg("axis") = -1,
           log ? "g − exp(y)·Σ g along axis, from the forward's output y." : "y·(g − Σ g·y) along axis, from the output y.");
  }
  kernel(m, "cross_entropy_forward", &ce_forward<D>, arg("logits"), arg("target"), arg("reduction") = "mean",
         "Cross-entropy of logits (N, C) against int64 class indices (N,): (N,) or 0-d (mean: NaN at N = 0).");
  kernel(m, "cross_entropy_backward", &ce_backward<D>, arg("grad_output"), arg("logits"), arg("target"),
         arg("reduction") = "mean",
         "grad_logits (N, C) = w_n·(softmax(logits)_n − onehot(target_n)); grad_output (N,) or 0-d.");
}

}  // namespace pyengine::bind::softmax

namespace pyengine::bind {
PE_BIND_FAMILY(softmax)
}
