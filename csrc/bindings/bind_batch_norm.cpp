// bind_batch_norm.cpp — batch_norm_forward / batch_norm_backward (pyengine/batch_norm.h).
//
// weight, bias and the running statistics are optional (None); the running statistics are updated in
// place, so they must be writeable C-contiguous arrays of x's dtype (the Python wrapper copies a view
// in and back). x is (N, C) or (N, C, H, W), seen by the kernel as (N, C, HW).
#include <cmath>

#include "bind_util.h"
#include "pyengine/batch_norm.h"

namespace pyengine::bind {
namespace {

struct Dims {
  index_t N, C, HW;
};

Dims bn_dims(const char* fn, const py::array& x, DType& dt) {
  dt = dtype_of(fn, "x", x);
  if (x.ndim() != 2 && x.ndim() != 4)
    value_error(cat(fn, ": x must be 2-D or 4-D, got ", x.ndim(), "-D array of shape ", shape_str(x)));
  check_contiguous(fn, "x", x);
  Dims d{x.shape(0), x.shape(1), x.ndim() == 4 ? checked_mul(fn, "x spatial size", x.shape(2), x.shape(3)) : 1};
  checked_numel(fn, "x shape", {d.N, d.C, d.HW});
  return d;
}

// An optional (C,) vector: nullptr-able array handle after the checks.
py::object vec_or_none(const char* fn, const char* name, const py::object& v, DType dt, index_t C, bool writes) {
  if (v.is_none()) return v;
  if (!py::isinstance<py::array>(v)) type_error(cat(fn, ": ", name, " must be a numpy.ndarray or None"));
  py::array a = v.cast<py::array>();
  check_array(fn, name, a, 1);
  check_same_dtype(fn, name, a, dt, "x");
  if (a.shape(0) != C) value_error(cat(fn, ": ", name, " expects ", a.shape(0), " channels, x has ", C));
  if (writes) check_writeable(fn, name, a);
  return std::move(a);
}

template <typename T>
const T* opt_cptr(const py::object& v) { return v.is_none() ? nullptr : cptr<T>(v.cast<py::array>()); }
template <typename T>
T* opt_ptr(const py::object& v) {
  if (v.is_none()) return nullptr;
  py::array a = v.cast<py::array>();
  return ptr<T>(a);
}

template <typename T>
py::tuple forward(const py::array& x, const Dims& d, const py::object& w, const py::object& b, const py::object& rm,
                  const py::object& rv, bool training, double momentum, double eps) {
  py::array y = new_array<T>(std::vector<index_t>(x.shape(), x.shape() + x.ndim()));
  py::array mean = new_array<T>({d.C});
  py::array invstd = new_array<T>({d.C});
  const T* px = cptr<T>(x);
  const T *pw = opt_cptr<T>(w), *pb = opt_cptr<T>(b);
  T *prm = opt_ptr<T>(rm), *prv = opt_ptr<T>(rv);
  T *py_ = ptr<T>(y), *pm = ptr<T>(mean), *pi = ptr<T>(invstd);
  {
    py::gil_scoped_release release;
    cpu::batch_norm_forward<T>(d.N, d.C, d.HW, px, pw, pb, prm, prv, training, momentum, eps, py_, pm, pi);
  }
  return py::make_tuple(y, mean, invstd);
}

template <typename T>
py::tuple backward(const py::array& g, const py::array& x, const Dims& d, const py::object& w, const py::array& mean,
                   const py::array& invstd, bool training, bool nx, bool nw, bool nb) {
  py::object gi = py::none(), gw = py::none(), gb = py::none();
  if (nx) gi = new_array<T>(std::vector<index_t>(x.shape(), x.shape() + x.ndim()));
  if (nw) gw = new_array<T>({d.C});
  if (nb) gb = new_array<T>({d.C});
  const T *pg = cptr<T>(g), *px = cptr<T>(x), *pw = opt_cptr<T>(w);
  const T *pm = cptr<T>(mean), *pi = cptr<T>(invstd);
  T *pgi = opt_ptr<T>(gi), *pgw = opt_ptr<T>(gw), *pgb = opt_ptr<T>(gb);
  {
    py::gil_scoped_release release;
    cpu::batch_norm_backward<T>(d.N, d.C, d.HW, pg, px, pw, pm, pi, training, pgi, pgw, pgb);
  }
  return py::make_tuple(gi, gw, gb);
}

}  // namespace

void bind_batch_norm(py::module_& m) {
  m.def("batch_norm_forward", [](const py::array& x, const py::object& weight, const py::object& bias,
                                 const py::object& running_mean, const py::object& running_var, bool training,
                                 double momentum, double eps) -> py::tuple {
    const char* fn = "batch_norm_forward";
    DType dt;
    const Dims d = bn_dims(fn, x, dt);
    py::object w = vec_or_none(fn, "weight", weight, dt, d.C, false);
    py::object b = vec_or_none(fn, "bias", bias, dt, d.C, false);
    py::object rm = vec_or_none(fn, "running_mean", running_mean, dt, d.C, true);
    py::object rv = vec_or_none(fn, "running_var", running_var, dt, d.C, true);
    if (rm.is_none() != rv.is_none())
      value_error(cat(fn, ": running_mean and running_var must both be arrays or both be None"));
    if (!std::isfinite(momentum) || momentum < 0) value_error(cat(fn, ": momentum must be a finite number >= 0"));
    if (!std::isfinite(eps) || eps < 0) value_error(cat(fn, ": eps must be a finite number >= 0"));
    if (training && d.N * d.HW == 1)
      value_error(cat(fn, ": training needs more than 1 value per channel, got x of shape ", shape_str(x)));
    if (!training && rm.is_none())
      value_error(cat(fn, ": running_mean and running_var are required when training is False"));
    return dt == DType::f32 ? forward<float>(x, d, w, b, rm, rv, training, momentum, eps)
                            : forward<double>(x, d, w, b, rm, rv, training, momentum, eps);
  }, py::arg("x"), py::arg("weight"), py::arg("bias"), py::arg("running_mean"), py::arg("running_var"),
     py::arg("training"), py::arg("momentum"), py::arg("eps"),
     "Batch norm of (N, C) or (N, C, H, W) → (y, save_mean, save_invstd); running stats updated in place.");

  m.def("batch_norm_backward", [](const py::array& g, const py::array& x, const py::object& weight,
                                  const py::array& save_mean, const py::array& save_invstd, bool training,
                                  std::tuple<bool, bool, bool> needs) -> py::tuple {
    const char* fn = "batch_norm_backward";
    DType dt;
    const Dims d = bn_dims(fn, x, dt);
    check_same_dtype(fn, "grad_output", g, dt, "x");
    check_contiguous(fn, "grad_output", g);
    check_shape(fn, "grad_output", g, std::vector<index_t>(x.shape(), x.shape() + x.ndim()));
    py::object w = vec_or_none(fn, "weight", weight, dt, d.C, false);
    vec_or_none(fn, "save_mean", save_mean, dt, d.C, false);
    vec_or_none(fn, "save_invstd", save_invstd, dt, d.C, false);
    const bool nx = std::get<0>(needs), nw = std::get<1>(needs), nb = std::get<2>(needs);
    return dt == DType::f32 ? backward<float>(g, x, d, w, save_mean, save_invstd, training, nx, nw, nb)
                            : backward<double>(g, x, d, w, save_mean, save_invstd, training, nx, nw, nb);
  }, py::arg("grad_output"), py::arg("x"), py::arg("weight"), py::arg("save_mean"), py::arg("save_invstd"),
     py::arg("training"), py::arg("needs_input_grad"),
     "Gradients (grad_input, grad_weight, grad_bias) of batch norm, None where not needed.");
}

}  // namespace pyengine::bind
