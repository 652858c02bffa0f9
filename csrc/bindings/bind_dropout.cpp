// bind_dropout.cpp — dropout_forward(x, p, seed) → (y, mask), dropout_backward(grad_output, mask, p).
//
// x may have any rank; the kernel works on the flat C-order elements, which is what makes the mask a
// function of (seed, flat index) and hence identical across implementations.
#include <cmath>

#include "bind_util.h"
#include "pyengine/dropout.h"

namespace pyengine::bind {
namespace {

std::vector<index_t> dims(const char* fn, const char* name, const py::array& a) {
  std::vector<index_t> d(a.shape(), a.shape() + a.ndim());
  index_t n = 1;
  for (index_t v : d) n = checked_mul(fn, name, n, v);
  return d;
}

// new_array would read an empty shape as (1,); build 0-d arrays explicitly.
template <typename T>
py::array new_nd(const std::vector<index_t>& shape) {
  return py::array(py::dtype::of<T>(), std::vector<py::ssize_t>(shape.begin(), shape.end()));
}

void check_p(const char* fn, double p) {
  if (!(p >= 0.0 && p < 1.0)) value_error(cat(fn, ": p must be in [0, 1), got ", p));
}

template <typename T>
py::tuple forward(const py::array& x, double p, std::uint64_t seed) {
  const std::vector<index_t> shape = dims("dropout_forward", "x", x);
  py::array y = new_nd<T>(shape);
  py::array mask = new_nd<std::uint8_t>(shape);
  const index_t n = static_cast<index_t>(x.size());
  const std::uint64_t threshold = static_cast<std::uint64_t>(std::ceil(p * 4294967296.0));
  const T scale = static_cast<T>(1.0 / (1.0 - p));
  const T* px = cptr<T>(x);
  T* py_ = ptr<T>(y);
  std::uint8_t* pm = ptr<std::uint8_t>(mask);
  {
    py::gil_scoped_release release;
    cpu::dropout_forward<T>(n, px, seed, threshold, scale, py_, pm);
  }
  return py::make_tuple(y, mask);
}

template <typename T>
py::array backward(const py::array& g, const py::array& mask, double p) {
  py::array gi = new_nd<T>(dims("dropout_backward", "grad_output", g));
  const T scale = static_cast<T>(1.0 / (1.0 - p));
  const T* pg = cptr<T>(g);
  const std::uint8_t* pm = cptr<std::uint8_t>(mask);
  T* pgi = ptr<T>(gi);
  const index_t n = static_cast<index_t>(g.size());
  {
    py::gil_scoped_release release;
    cpu::dropout_backward<T>(n, pg, pm, scale, pgi);
  }
  return gi;
}

}  // namespace

void bind_dropout(py::module_& m) {
  m.def("dropout_forward", [](const py::array& x, double p, std::uint64_t seed) -> py::tuple {
    const char* fn = "dropout_forward";
    DType dt = dtype_of(fn, "x", x);
    check_contiguous(fn, "x", x);
    check_p(fn, p);
    return dt == DType::f32 ? forward<float>(x, p, seed) : forward<double>(x, p, seed);
  }, py::arg("x"), py::arg("p"), py::arg("seed"),
     "Dropout of a C-contiguous array with the counter-based mask of (seed, element) → (y, uint8 mask).");

  m.def("dropout_backward", [](const py::array& g, const py::array& mask, double p) -> py::array {
    const char* fn = "dropout_backward";
    DType dt = dtype_of(fn, "grad_output", g);
    check_contiguous(fn, "grad_output", g);
    if (!has_dtype(mask, py::dtype::of<std::uint8_t>()))
      type_error(cat(fn, ": mask must be uint8, got ", std::string(py::str(mask.dtype()))));
    check_contiguous(fn, "mask", mask);
    check_shape(fn, "mask", mask, std::vector<index_t>(g.shape(), g.shape() + g.ndim()));
    check_p(fn, p);
    return dt == DType::f32 ? backward<float>(g, mask, p) : backward<double>(g, mask, p);
  }, py::arg("grad_output"), py::arg("mask"), py::arg("p"), "grad_output·mask/(1 − p).");
}

}  // namespace pyengine::bind
