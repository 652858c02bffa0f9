// bind_linear.cpp — linear_forward(x, weight, bias) and linear_backward(grad_output, x, weight,
// need_input, need_weight, need_bias) on C-contiguous 2-D arrays (the Python wrapper flattens
// leading dimensions). Every shape the kernels rely on is checked here; the GIL is released.
#include "bind_util.h"
#include "pyengine/linear.h"

namespace pyengine::bind {
namespace {

template <typename T>
py::array forward_typed(const py::array& x, const py::array& w, const py::object& bias_obj, index_t N,
                        index_t I, index_t O) {
  py::array y = new_array<T>({N, O});
  py::array bias;
  if (!bias_obj.is_none()) bias = bias_obj.cast<py::array>();
  const T* px = cptr<T>(x);
  const T* pw = cptr<T>(w);
  const T* pb = bias_obj.is_none() ? nullptr : cptr<T>(bias);
  T* py_ = ptr<T>(y);
  {
    py::gil_scoped_release release;
    cpu::linear_forward<T>(N, I, O, px, pw, pb, py_);
  }
  return y;
}

template <typename T>
py::tuple backward_typed(const py::array& g, const py::array& x, const py::array& w, bool need_input,
                         bool need_weight, bool need_bias, index_t N, index_t I, index_t O) {
  py::object gi = py::none(), gw = py::none(), gb = py::none();
  py::array gi_a, gw_a, gb_a;
  if (need_input) gi = gi_a = new_array<T>({N, I});
  if (need_weight) gw = gw_a = new_array<T>({O, I});
  if (need_bias) gb = gb_a = new_array<T>({O});
  const T* pg = cptr<T>(g);
  const T* px = cptr<T>(x);
  const T* pw = cptr<T>(w);
  T* pgi = need_input ? ptr<T>(gi_a) : nullptr;
  T* pgw = need_weight ? ptr<T>(gw_a) : nullptr;
  T* pgb = need_bias ? ptr<T>(gb_a) : nullptr;
  {
    py::gil_scoped_release release;
    if (pgi) cpu::linear_backward_input<T>(N, I, O, pg, pw, pgi);
    if (pgw) cpu::linear_backward_weight<T>(N, I, O, pg, px, pgw);
    if (pgb) cpu::linear_backward_bias<T>(N, O, pg, pgb);
  }
  return py::make_tuple(gi, gw, gb);
}

// weight (O, I) against x (N, I); returns the dtype.
DType check_x_weight(const char* fn, const py::array& x, const py::array& w) {
  DType dt = check_array(fn, "x", x, 2);
  check_array(fn, "weight", w, 2);
  check_same_dtype(fn, "weight", w, dt, "x");
  if (w.shape(1) != x.shape(1))
    value_error(cat(fn, ": weight expects ", w.shape(1), " input features, x has ", x.shape(1)));
  return dt;
}

}  // namespace

void bind_linear(py::module_& m) {
  m.def("linear_forward", [](const py::array& x, const py::array& weight, const py::object& bias) -> py::array {
    const char* fn = "linear_forward";
    DType dt = check_x_weight(fn, x, weight);
    const index_t N = x.shape(0), I = x.shape(1), O = weight.shape(0);
    if (!bias.is_none()) {
      py::array b = bias.cast<py::array>();
      check_array(fn, "bias", b, 1);
      check_same_dtype(fn, "bias", b, dt, "x");
      check_shape(fn, "bias", b, {O});
    }
    checked_numel(fn, "output size N*O", {N, O});
    return dt == DType::f32 ? forward_typed<float>(x, weight, bias, N, I, O)
                            : forward_typed<double>(x, weight, bias, N, I, O);
  }, py::arg("x"), py::arg("weight"), py::arg("bias") = py::none(),
     "x (N, I) · weight (O, I)ᵀ + bias (O,) → (N, O), new array.");

  m.def("linear_backward", [](const py::array& grad_output, const py::array& x, const py::array& weight,
                              bool need_input, bool need_weight, bool need_bias) -> py::tuple {
    const char* fn = "linear_backward";
    DType dt = check_x_weight(fn, x, weight);
    check_array(fn, "grad_output", grad_output, 2);
    check_same_dtype(fn, "grad_output", grad_output, dt, "x");
    const index_t N = x.shape(0), I = x.shape(1), O = weight.shape(0);
    check_shape(fn, "grad_output", grad_output, {N, O});
    checked_numel(fn, "grad_input size N*I", {N, I});
    return dt == DType::f32 ? backward_typed<float>(grad_output, x, weight, need_input, need_weight, need_bias, N, I, O)
                            : backward_typed<double>(grad_output, x, weight, need_input, need_weight, need_bias, N, I, O);
  }, py::arg("grad_output"), py::arg("x"), py::arg("weight"), py::arg("need_input") = true,
     py::arg("need_weight") = true, py::arg("need_bias") = true,
     "(grad_input (N, I), grad_weight (O, I), grad_bias (O,)), None where not needed.");
}

}  // namespace pyengine::bind
