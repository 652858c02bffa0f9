// bind_batch_norm.cpp — batch_norm_forward / batch_norm_backward over (N, C) or (N, C, H, W)
// (pyengine/batch_norm.h), for pyengine._C and pyengine._cuda.
//
// The running statistics are updated in place; a non-contiguous view of them is updated through a
// contiguous copy that is written back.
#include "bind.h"
#include "pyengine/batch_norm.h"
#include "pyengine/cuda/batch_norm.h"

namespace pyengine::bind::batch_norm {

template <class D>
py::object forward(py::handle x_obj, py::handle w_obj, py::handle b_obj, py::handle rm_obj, py::handle rv_obj,
                   py::handle training_obj, py::handle momentum_obj, py::handle eps_obj) {
  const char* fn = "batch_norm_forward";
  auto x = D::arg(fn, "x", x_obj);
  const contract::BatchNormDims d = contract::batch_norm_x(fn, x.a);
  auto w = D::opt(fn, "weight", w_obj), b = D::opt(fn, "bias", b_obj);
  auto rm = D::opt(fn, "running_mean", rm_obj), rv = D::opt(fn, "running_var", rv_obj);
  for (auto* v : {&w, &b, &rm, &rv}) contract::batch_norm_vector(fn, v->a, x.a, d.C);
  const bool training = to_bool(fn, "training", training_obj);
  const double momentum = contract::batch_norm_real(fn, "momentum", to_real(fn, "momentum", momentum_obj, "a float"));
  const double eps = contract::batch_norm_real(fn, "eps", to_real(fn, "eps", eps_obj, "a float"));
  contract::batch_norm_forward(fn, x.a, d, rm.a, rv.a, training);
  typename D::Call call(fn);
  call.inputs({&x, &w, &b});
  call.inout({&rm, &rv});
  return with_float(x.a.dtype, [&](auto t) {
    using T = decltype(t);
    auto y = call.template empty<T>("the output", x.a.shape);
    auto mean = call.template empty<T>("save_mean", {d.C});
    auto invstd = call.template empty<T>("save_invstd", {d.C});
    const T *px = in<T>(x), *pw = in<T>(w), *pb = in<T>(b);
    T *prm = out<T>(rm), *prv = out<T>(rv), *py_ = out<T>(y), *pm = out<T>(mean), *pi = out<T>(invstd);
    if constexpr (D::is_cuda)
      call.run([&] {
        cuda::batch_norm_forward<T>(d.N, d.C, d.HW, px, pw, pb, prm, prv, training, momentum, eps, py_, pm, pi,
                                    call.stream());
      });
    else
      call.run([&] { cpu::batch_norm_forward<T>(d.N, d.C, d.HW, px, pw, pb, prm, prv, training, momentum, eps, py_, pm, pi); });
    return py::object(py::make_tuple(y.object(), mean.object(), invstd.object()));
  });
}

template <class D>
py::object backward(py::handle g_obj, py::handle x_obj, py::handle w_obj, py::handle sm_obj, py::handle si_obj,
                    py::handle training_obj, py::handle needs_obj) {
  const char* fn = "batch_norm_backward";
  auto x = D::arg(fn, "x", x_obj);
  const contract::BatchNormDims d = contract::batch_norm_x(fn, x.a);
  auto g = D::arg(fn, "grad_output", g_obj);
  contract::float_array(fn, g.a);
  contract::same_dtype(fn, x.a, g.a);
  contract::shape_is(fn, g.a, x.a.shape);
  auto w = D::opt(fn, "weight", w_obj);
  contract::batch_norm_vector(fn, w.a, x.a, d.C);
  auto sm = D::arg(fn, "save_mean", sm_obj);
  contract::batch_norm_vector(fn, sm.a, x.a, d.C);
  auto si = D::arg(fn, "save_invstd", si_obj);
  contract::batch_norm_vector(fn, si.a, x.a, d.C);
  const bool training = to_bool(fn, "training", training_obj);
  const auto needs = to_needs<3>(fn, needs_obj);
  typename D::Call call(fn);
  call.inputs({&g, &x, &w, &sm, &si});
  return with_float(x.a.dtype, [&](auto t) {
    using T = decltype(t);
    using Out = decltype(call.template empty<T>("", {}));
    Out gi, gw, gb;
    if (needs[0]) gi = call.template empty<T>("grad_input", x.a.shape);
    if (needs[1]) gw = call.template empty<T>("grad_weight", {d.C});
    if (needs[2]) gb = call.template empty<T>("grad_bias", {d.C});
    const T *pg = in<T>(g), *px = in<T>(x), *pw = in<T>(w), *pm = in<T>(sm), *pi = in<T>(si);
    T *pgi = out<T>(gi), *pgw = out<T>(gw), *pgb = out<T>(gb);
    if constexpr (D::is_cuda) {
      auto sums = call.template empty<T>("the per-channel sums", {2 * d.C});
      T* ps = out<T>(sums);
      call.run([&] {
        cuda::batch_norm_backward<T>(d.N, d.C, d.HW, pg, px, pw, pm, pi, training, pgi, pgw, pgb, ps, call.stream());
      });
    } else {
      call.run([&] { cpu::batch_norm_backward<T>(d.N, d.C, d.HW, pg, px, pw, pm, pi, training, pgi, pgw, pgb); });
    }
    return py::object(py::make_tuple(gi.object(), gw.object(), gb.object()));
  });
}

template <class D>
void bind(py::module_& m) {
  using py::arg;
  kernel(m, "batch_norm_forward", &forward<D>, arg("x"), arg("weight"), arg("bias"), arg("running_mean"),
         arg("running_var"), arg("training"), arg("momentum") = 0.1, arg("eps") = 1e-5,
         "x (N, C) or (N, C, H, W); weight, bias, running_mean, running_var (C,) or None. Returns (y of x's shape, "
         "save_mean (C,), save_invstd (C,)): the statistics used to normalise (batch ones in training, with the "
         "running ones updated in place; running ones in eval).");
  kernel(m, "batch_norm_backward", &backward<D>, arg("grad_output"), arg("x"), arg("weight"), arg("save_mean"),
         arg("save_invstd"), arg("training") = true, arg("needs_input_grad") = py::make_tuple(true, true, true),
         "(grad_input, grad_weight, grad_bias) of batch_norm_forward, None where needs_input_grad is False.");
}

}  // namespace pyengine::bind::batch_norm

namespace pyengine::bind {
PE_BIND_FAMILY(batch_norm)
}
