// bind_activation.cpp — relu, leaky_relu, elu, sigmoid, tanh: forward(x[, param]) and
// backward(grad_output, x or output[, param]) on C-contiguous float32/float64 arrays of any shape.
// Returns a new array of the input's shape; the GIL is released while the kernel runs.
#include <vector>

#include "bind_util.h"
#include "pyengine/activation.h"

namespace pyengine::bind {
namespace {

std::vector<index_t> shape_of(const py::array& a) { return std::vector<index_t>(a.shape(), a.shape() + a.ndim()); }

DType check_any_rank(const char* fn, const char* name, const py::array& a) {
  DType dt = dtype_of(fn, name, a);
  check_contiguous(fn, name, a);
  return dt;
}

// grad_output must match the forward tensor (x or output) in dtype and shape.
DType check_pair(const char* fn, const py::array& g, const py::array& ref, const char* ref_name) {
  DType dt = check_any_rank(fn, ref_name, ref);
  check_any_rank(fn, "grad_output", g);
  check_same_dtype(fn, "grad_output", g, dt, ref_name);
  if (shape_of(g) != shape_of(ref))
    value_error(cat(fn, ": grad_output must have the shape of ", ref_name, " ", shape_str(ref), ", got ", shape_str(g)));
  return dt;
}

template <typename T, typename Kernel>
py::array unary(const py::array& x, Kernel kernel) {
  py::array y = new_array<T>(shape_of(x));
  const index_t n = static_cast<index_t>(x.size());
  const T* px = cptr<T>(x);
  T* py_ = ptr<T>(y);
  {
    py::gil_scoped_release release;
    kernel(n, px, py_);
  }
  return y;
}

template <typename T, typename Kernel>
py::array binary(const py::array& g, const py::array& ref, Kernel kernel) {
  py::array out = new_array<T>(shape_of(ref));
  const index_t n = static_cast<index_t>(ref.size());
  const T* pg = cptr<T>(g);
  const T* pr = cptr<T>(ref);
  T* po = ptr<T>(out);
  {
    py::gil_scoped_release release;
    kernel(n, pg, pr, po);
  }
  return out;
}

// Binds name_forward(x) and name_backward(grad_output, <ref_name>) for a parameterless activation.
template <void (*F32)(index_t, const float*, float*), void (*F64)(index_t, const double*, double*),
          void (*B32)(index_t, const float*, const float*, float*),
          void (*B64)(index_t, const double*, const double*, double*)>
void bind_plain(py::module_& m, const char* forward_name, const char* backward_name, const char* ref_name,
                const char* doc) {
  m.def(forward_name, [forward_name](const py::array& x) -> py::array {
    return check_any_rank(forward_name, "x", x) == DType::f32 ? unary<float>(x, F32) : unary<double>(x, F64);
  }, py::arg("x"), doc);
  m.def(backward_name, [backward_name, ref_name](const py::array& g, const py::array& ref) -> py::array {
    return check_pair(backward_name, g, ref, ref_name) == DType::f32 ? binary<float>(g, ref, B32)
                                                                     : binary<double>(g, ref, B64);
  }, py::arg("grad_output"), py::arg(ref_name));
}

// The same for an activation with one scalar parameter (negative_slope, alpha).
template <void (*F32)(index_t, const float*, float, float*), void (*F64)(index_t, const double*, double, double*),
          void (*B32)(index_t, const float*, const float*, float, float*),
          void (*B64)(index_t, const double*, const double*, double, double*)>
void bind_param(py::module_& m, const char* forward_name, const char* backward_name, const char* param_name,
                const char* doc) {
  m.def(forward_name, [forward_name](const py::array& x, double p) -> py::array {
    if (check_any_rank(forward_name, "x", x) == DType::f32)
      return unary<float>(x, [p](index_t n, const float* a, float* o) { F32(n, a, static_cast<float>(p), o); });
    return unary<double>(x, [p](index_t n, const double* a, double* o) { F64(n, a, p, o); });
  }, py::arg("x"), py::arg(param_name), doc);
  m.def(backward_name, [backward_name](const py::array& g, const py::array& x, double p) -> py::array {
    if (check_pair(backward_name, g, x, "x") == DType::f32)
      return binary<float>(g, x, [p](index_t n, const float* a, const float* b, float* o) {
        B32(n, a, b, static_cast<float>(p), o);
      });
    return binary<double>(g, x, [p](index_t n, const double* a, const double* b, double* o) { B64(n, a, b, p, o); });
  }, py::arg("grad_output"), py::arg("x"), py::arg(param_name));
}

}  // namespace

void bind_activation(py::module_& m) {
  using namespace pyengine::cpu;
  bind_plain<relu_forward<float>, relu_forward<double>, relu_backward<float>, relu_backward<double>>(
      m, "relu_forward", "relu_backward", "x", "max(x, 0) element-wise; backward: grad_output·[x > 0].");
  bind_param<leaky_relu_forward<float>, leaky_relu_forward<double>, leaky_relu_backward<float>,
             leaky_relu_backward<double>>(m, "leaky_relu_forward", "leaky_relu_backward", "negative_slope",
                                          "x (x > 0) or negative_slope·x.");
  bind_param<elu_forward<float>, elu_forward<double>, elu_backward<float>, elu_backward<double>>(
      m, "elu_forward", "elu_backward", "alpha", "x (x > 0) or alpha·(exp(x) − 1).");
  bind_plain<sigmoid_forward<float>, sigmoid_forward<double>, sigmoid_backward<float>, sigmoid_backward<double>>(
      m, "sigmoid_forward", "sigmoid_backward", "output", "1 / (1 + exp(−x)); backward from the output.");
  bind_plain<tanh_forward<float>, tanh_forward<double>, tanh_backward<float>, tanh_backward<double>>(
      m, "tanh_forward", "tanh_backward", "output", "tanh(x); backward from the output.");
}

}  // namespace pyengine::bind
