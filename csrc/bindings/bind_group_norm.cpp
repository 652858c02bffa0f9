// bind_group_norm.cpp — group_norm_forward / group_norm_backward over (N, C, *) with num_groups
// groups of channels (pyengine/group_norm.h), for pyengine._C and pyengine._cuda.
#include "bind.h"
#include "pyengine/group_norm.h"

namespace pyengine::bind::group_norm {

template <class D>
py::object forward(py::handle x_obj, py::handle groups_obj, py::handle w_obj, py::handle b_obj, py::handle eps_obj) {
  const char* fn = "group_norm_forward";
  auto x = D::arg(fn, "x", x_obj);
  contract::float_array(fn, x.a);
  const index_t G = to_int(fn, "num_groups", groups_obj, 1);
  const GroupNormDims d = contract::group_norm_dims(fn, x.a, G);
  auto w = D::opt(fn, "weight", w_obj);
  contract::group_norm_affine(fn, w.a, x.a, d.C);
  auto b = D::opt(fn, "bias", b_obj);
  contract::group_norm_affine(fn, b.a, x.a, d.C);
  const double eps = contract::group_norm_eps(fn, to_real(fn, "eps", eps_obj, "a float"));
  typename D::Call call(fn);
  call.inputs({&x, &w, &b});
  return with_float(x.a.dtype, [&](auto t) {
    using T = decltype(t);
    auto y = call.template empty<T>("the output", x.a.shape);
    auto mean = call.template empty<T>("mean", {d.N, d.G}), rstd = call.template empty<T>("rstd", {d.N, d.G});
    const T *px = in<T>(x), *pw = in<T>(w), *pb = in<T>(b);
    T *py_ = out<T>(y), *pm = out<T>(mean), *pr = out<T>(rstd);
    if constexpr (D::is_cuda)
      call.run([&] { cuda::group_norm_forward<T>(d, px, pw, pb, eps, py_, pm, pr, call.stream()); });
    else
      call.run([&] { cpu::group_norm_forward<T>(d, px, pw, pb, eps, py_, pm, pr); });
    return py::object(py::make_tuple(y.object(), mean.object(), rstd.object()));
  });
}

template <class D>
py::object backward(py::handle g_obj, py::handle x_obj, py::handle mean_obj, py::handle rstd_obj,
                    py::handle groups_obj, py::handle w_obj, py::handle needs_obj) {
  const char* fn = "group_norm_backward";
  auto g = D::arg(fn, "grad_output", g_obj), x = D::arg(fn, "x", x_obj);
  contract::float_array(fn, g.a);
  contract::float_array(fn, x.a);
  contract::same_dtype(fn, x.a, g.a);
  contract::shape_is(fn, g.a, x.a.shape);
  const index_t G = to_int(fn, "num_groups", groups_obj, 1);
  const GroupNormDims d = contract::group_norm_dims(fn, x.a, G);
  auto mean = D::arg(fn, "mean", mean_obj), rstd = D::arg(fn, "rstd", rstd_obj);
  contract::group_norm_stat(fn, mean.a, x.a, d);
  contract::group_norm_stat(fn, rstd.a, x.a, d);
  auto w = D::opt(fn, "weight", w_obj);
  contract::group_norm_affine(fn, w.a, x.a, d.C);
  const auto needs = to_needs<3>(fn, needs_obj);
  typename D::Call call(fn);
  call.inputs({&g, &x, &mean, &rstd, &w});
  return with_float(x.a.dtype, [&](auto t) {
    using T = decltype(t);
    using Out = decltype(call.template empty<T>("", {}));
    Out gi, gw, gb;
    if (needs[0]) gi = call.template empty<T>("grad_input", x.a.shape);
    if (needs[1]) gw = call.template empty<T>("grad_weight", {d.C});
    if (needs[2]) gb = call.template empty<T>("grad_bias", {d.C});
    const T *pg = in<T>(g), *px = in<T>(x), *pm = in<T>(mean), *pr = in<T>(rstd), *pw = in<T>(w);
    T *pgi = out<T>(gi), *pgw = out<T>(gw), *pgb = out<T>(gb);
    if constexpr (D::is_cuda) {
      auto ws = call.template empty<double>("the per-channel sums", {2 * (d.N * d.C > 0 ? d.N * d.C : 1)});
      double* partial = out<double>(ws);
      call.run([&] { cuda::group_norm_backward<T>(d, pg, px, pm, pr, pw, pgi, pgw, pgb, partial, call.stream()); });
    } else {
      call.workspace("the per-channel sums", 2.0 * static_cast<double>(d.N * d.C + 1) * sizeof(double));
      call.run([&] { cpu::group_norm_backward<T>(d, pg, px, pm, pr, pw, pgi, pgw, pgb); });
    }
    return py::object(py::make_tuple(gi.object(), gw.object(), gb.object()));
  });
}

template <class D>
void bind(py::module_& m) {
  using py::arg;
  kernel(m, "group_norm_forward", &forward<D>, arg("x"), arg("num_groups"), arg("weight") = py::none(),
         arg("bias") = py::none(), arg("eps") = 1e-5,
         "x (N, C, *); weight and bias (C,) or None. Returns (y of x's shape, mean, rstd), mean and rstd "
         "(N, num_groups): y = (x − mean)·rstd·weight_c + bias_c over each group of C/num_groups channels, "
         "rstd = 1/sqrt(biased variance + eps). Instance norm is num_groups = C.");
  kernel(m, "group_norm_backward", &backward<D>, arg("grad_output"), arg("x"), arg("mean"), arg("rstd"),
         arg("num_groups"), arg("weight") = py::none(), arg("needs_input_grad") = py::make_tuple(true, true, true),
         "(grad_input, grad_weight, grad_bias) of group_norm_forward, None where needs_input_grad is False.");
}

}  // namespace pyengine::bind::group_norm

namespace pyengine::bind {
PE_BIND_FAMILY(group_norm)
}
