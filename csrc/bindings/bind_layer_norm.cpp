// bind_layer_norm.cpp — layer_norm_forward / layer_norm_backward over the last dimensions of x
// (pyengine/layer_norm.h), for pyengine._C and pyengine._cuda.
#include "bind.h"
#include "pyengine/layer_norm.h"

namespace pyengine::bind::layer_norm {

// normalized_shape: an int or a sequence of ints, each >= 1.
inline std::vector<index_t> to_normalized(const char* fn, py::handle obj) {
  std::vector<index_t> out;
  if (py::isinstance<py::tuple>(obj) || py::isinstance<py::list>(obj)) {
    for (py::handle v : py::reinterpret_borrow<py::sequence>(obj)) out.push_back(to_int(fn, "normalized_shape", v));
  } else if (is_integral(obj)) {
    out.push_back(to_int(fn, "normalized_shape", obj));
  } else {
    type_error(fn, ": normalized_shape must be an int or a sequence of ints, got ", type_name(obj), " ", repr_of(obj));
  }
  contract::layer_norm_normalized(fn, out);
  return out;
}

template <class D>
py::object forward(py::handle x_obj, py::handle shape_obj, py::handle w_obj, py::handle b_obj, py::handle eps_obj) {
  const char* fn = "layer_norm_forward";
  auto x = D::arg(fn, "x", x_obj);
  contract::float_array(fn, x.a);
  const std::vector<index_t> normalized = to_normalized(fn, shape_obj);
  const LayerNormDims d = contract::layer_norm_forward(fn, x.a, normalized);
  auto w = D::opt(fn, "weight", w_obj);
  contract::layer_norm_affine(fn, w.a, x.a, normalized);
  auto b = D::opt(fn, "bias", b_obj);
  contract::layer_norm_affine(fn, b.a, x.a, normalized);
  const double eps = contract::layer_norm_eps(fn, to_real(fn, "eps", eps_obj, "a float"));
  const std::vector<index_t> leading(x.a.shape.begin(), x.a.shape.end() - static_cast<std::ptrdiff_t>(normalized.size()));
  typename D::Call call(fn);
  call.inputs({&x, &w, &b});
  return with_float(x.a.dtype, [&](auto t) {
    using T = decltype(t);
    auto y = call.template empty<T>("the output", x.a.shape);
    auto mean = call.template empty<T>("mean", leading), rstd = call.template empty<T>("rstd", leading);
    const T *px = in<T>(x), *pw = in<T>(w), *pb = in<T>(b);
    T *py_ = out<T>(y), *pm = out<T>(mean), *pr = out<T>(rstd);
    if constexpr (D::is_cuda)
      call.run([&] { cuda::layer_norm_forward<T>(d.M, d.D, px, pw, pb, eps, py_, pm, pr, call.stream()); });
    else
      call.run([&] { cpu::layer_norm_forward<T>(d.M, d.D, px, pw, pb, eps, py_, pm, pr); });
    return py::object(py::make_tuple(y.object(), mean.object(), rstd.object()));
  });
}

template <class D>
py::object backward(py::handle g_obj, py::handle x_obj, py::handle mean_obj, py::handle rstd_obj, py::handle w_obj,
                    py::handle needs_obj) {
  const char* fn = "layer_norm_backward";
  auto g = D::arg(fn, "grad_output", g_obj), x = D::arg(fn, "x", x_obj);
  contract::float_array(fn, g.a);
  contract::float_array(fn, x.a);
  contract::same_dtype(fn, x.a, g.a);
  contract::shape_is(fn, g.a, x.a.shape);
  auto mean = D::arg(fn, "mean", mean_obj);
  contract::layer_norm_mean(fn, x.a, mean.a);
  auto rstd = D::arg(fn, "rstd", rstd_obj);
  const std::vector<index_t> normalized = contract::layer_norm_rstd(fn, x.a, mean.a, rstd.a);
  const LayerNormDims d = contract::layer_norm_split(fn, x.a, x.a.shape.size() - normalized.size());
  auto w = D::opt(fn, "weight", w_obj);
  contract::layer_norm_affine(fn, w.a, x.a, normalized);
  const auto needs = to_needs<3>(fn, needs_obj);
  typename D::Call call(fn);
  call.inputs({&g, &x, &mean, &rstd, &w});
  return with_float(x.a.dtype, [&](auto t) {
    using T = decltype(t);
    using Out = decltype(call.template empty<T>("", {}));
    Out gi, gw, gb;
    if (needs[0]) gi = call.template empty<T>("grad_input", x.a.shape);
    if (needs[1]) gw = call.template empty<T>("grad_weight", normalized);
    if (needs[2]) gb = call.template empty<T>("grad_bias", normalized);
    const T *pg = in<T>(g), *px = in<T>(x), *pm = in<T>(mean), *pr = in<T>(rstd), *pw = in<T>(w);
    T *pgi = out<T>(gi), *pgw = out<T>(gw), *pgb = out<T>(gb);
    if constexpr (D::is_cuda) {
      double* partial = nullptr;
      decltype(call.template empty<double>("", {})) ws;
      if (needs[1] || needs[2]) {
        ws = call.template empty<double>("the column sums", {2 * kLayerNormColumnBlocks * d.D});
        partial = out<double>(ws);
      }
      call.run([&] {
        cuda::layer_norm_backward<T>(d.M, d.D, pg, px, pm, pr, pw, pgi, pgw, pgb, partial, call.stream());
      });
    } else {
      call.workspace("the column sums", 2.0 * kLayerNormColumnBlocks * static_cast<double>(d.D) * sizeof(double));
      call.run([&] { cpu::layer_norm_backward<T>(d.M, d.D, pg, px, pm, pr, pw, pgi, pgw, pgb); });
    }
    return py::object(py::make_tuple(gi.object(), gw.object(), gb.object()));
  });
}

template <class D>
void bind(py::module_& m) {
  using py::arg;
  kernel(m, "layer_norm_forward", &forward<D>, arg("x"), arg("normalized_shape"), arg("weight") = py::none(),
         arg("bias") = py::none(), arg("eps") = 1e-5,
         "x (..., *normalized_shape); weight and bias of normalized_shape or None. Returns (y of x's shape, mean, "
         "rstd), mean and rstd of x's leading shape: y = (x − mean)·rstd·weight + bias over the normalized "
         "dimensions, rstd = 1/sqrt(biased variance + eps).");
  kernel(m, "layer_norm_backward", &backward<D>, arg("grad_output"), arg("x"), arg("mean"), arg("rstd"),
         arg("weight") = py::none(), arg("needs_input_grad") = py::make_tuple(true, true, true),
         "(grad_input, grad_weight, grad_bias) of layer_norm_forward, None where needs_input_grad is False; "
         "mean and rstd are the forward's (their shape says which dimensions were normalized).");
}

}  // namespace pyengine::bind::layer_norm

namespace pyengine::bind {
PE_BIND_FAMILY(layer_norm)
}
