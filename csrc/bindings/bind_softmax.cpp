// bind_softmax.cpp — softmax / log_softmax over an axis (forward, backward from the output) and
// cross-entropy from logits with int64 class indices. Validates dtype, contiguity, the axis range,
// shapes, the reduction and every target value before a kernel runs; releases the GIL around it.
#include <string>
#include <vector>

#include "bind_util.h"
#include "pyengine/softmax.h"

namespace pyengine::bind {
namespace {

std::vector<index_t> shape_of(const py::array& a) { return std::vector<index_t>(a.shape(), a.shape() + a.ndim()); }

struct AxisView { index_t outer = 1, dim = 1, inner = 1; };

// Views x as (outer, dim, inner) around the axis; a 0-d array is one element on axis 0 or −1.
AxisView axis_view(const char* fn, const py::array& x, index_t axis) {
  const index_t ndim = x.ndim();
  const index_t rank = ndim == 0 ? 1 : ndim;
  if (axis < -rank || axis >= rank)
    value_error(cat(fn, ": axis ", axis, " is out of range for a ", ndim, "-D array (expected ", -rank,
                    " <= axis <= ", rank - 1, ")"));
  AxisView v;
  if (ndim == 0) return v;
  if (axis < 0) axis += ndim;
  for (index_t i = 0; i < ndim; ++i) {
    const index_t s = x.shape(i);
    if (i < axis) v.outer *= s;
    else if (i == axis) v.dim = s;
    else v.inner *= s;
  }
  return v;
}

DType check_any_rank(const char* fn, const char* name, const py::array& a) {
  DType dt = dtype_of(fn, name, a);
  check_contiguous(fn, name, a);
  return dt;
}

template <typename T, bool kLog>
py::array softmax_forward_typed(const py::array& x, const AxisView& v) {
  py::array y = new_array<T>(shape_of(x));
  const T* px = cptr<T>(x);
  T* py_ = ptr<T>(y);
  {
    py::gil_scoped_release release;
    if (kLog) cpu::log_softmax_forward<T>(v.outer, v.dim, v.inner, px, py_);
    else cpu::softmax_forward<T>(v.outer, v.dim, v.inner, px, py_);
  }
  return y;
}

template <typename T, bool kLog>
py::array softmax_backward_typed(const py::array& g, const py::array& out, const AxisView& v) {
  py::array gx = new_array<T>(shape_of(out));
  const T* pg = cptr<T>(g);
  const T* po = cptr<T>(out);
  T* pgx = ptr<T>(gx);
  {
    py::gil_scoped_release release;
    if (kLog) cpu::log_softmax_backward<T>(v.outer, v.dim, v.inner, pg, po, pgx);
    else cpu::softmax_backward<T>(v.outer, v.dim, v.inner, pg, po, pgx);
  }
  return gx;
}

template <bool kLog>
void bind_softmax_pair(py::module_& m, const char* forward_name, const char* backward_name, const char* doc) {
  m.def(forward_name, [forward_name](const py::array& x, index_t axis) -> py::array {
    DType dt = check_any_rank(forward_name, "x", x);
    const AxisView v = axis_view(forward_name, x, axis);
    return dt == DType::f32 ? softmax_forward_typed<float, kLog>(x, v) : softmax_forward_typed<double, kLog>(x, v);
  }, py::arg("x"), py::arg("axis") = -1, doc);
  m.def(backward_name, [backward_name](const py::array& g, const py::array& out, index_t axis) -> py::array {
    DType dt = check_any_rank(backward_name, "output", out);
    check_any_rank(backward_name, "grad_output", g);
    check_same_dtype(backward_name, "grad_output", g, dt, "output");
    if (shape_of(g) != shape_of(out))
      value_error(cat(backward_name, ": grad_output must have the shape of output ", shape_str(out), ", got ",
                      shape_str(g)));
    const AxisView v = axis_view(backward_name, out, axis);
    return dt == DType::f32 ? softmax_backward_typed<float, kLog>(g, out, v)
                            : softmax_backward_typed<double, kLog>(g, out, v);
  }, py::arg("grad_output"), py::arg("output"), py::arg("axis") = -1);
}

cpu::Reduction parse_reduction(const char* fn, const std::string& r) {
  if (r == "none") return cpu::Reduction::none;
  if (r == "mean") return cpu::Reduction::mean;
  if (r == "sum") return cpu::Reduction::sum;
  value_error(cat(fn, ": reduction must be 'none', 'mean' or 'sum', got '", r, "'"));
}

// Checks logits (N, C) and target (N,) int64 with every value in [0, C); returns the dtype.
DType check_cross_entropy(const char* fn, const py::array& logits, const py::array& target) {
  DType dt = check_array(fn, "logits", logits, 2);
  if (!has_dtype(target, py::dtype::of<std::int64_t>()))
    type_error(cat(fn, ": target must be int64 class indices, got ", std::string(py::str(target.dtype()))));
  check_ndim(fn, "target", target, 1);
  check_contiguous(fn, "target", target);
  const index_t N = logits.shape(0), C = logits.shape(1);
  if (target.shape(0) != N)
    value_error(cat(fn, ": target must have shape (", N, ",) to match logits ", shape_str(logits), ", got ",
                    shape_str(target)));
  const std::int64_t* t = cptr<std::int64_t>(target);
  for (index_t n = 0; n < N; ++n)
    if (t[n] < 0 || t[n] >= C)
      value_error(cat(fn, ": target[", n, "] = ", t[n], " is out of range for ", C, " classes (expected 0 <= target < ",
                      C, ")"));
  return dt;
}

template <typename T>
py::array ce_forward(const py::array& logits, const py::array& target, cpu::Reduction r) {
  const index_t N = logits.shape(0), C = logits.shape(1);
  py::array out = r == cpu::Reduction::none ? new_array<T>({N}) : new_array<T>(std::vector<index_t>{});
  const T* pl = cptr<T>(logits);
  const std::int64_t* pt = cptr<std::int64_t>(target);
  T* po = ptr<T>(out);
  {
    py::gil_scoped_release release;
    cpu::cross_entropy_forward<T>(N, C, pl, pt, r, po);
  }
  return out;
}

template <typename T>
py::array ce_backward(const py::array& g, const py::array& logits, const py::array& target, cpu::Reduction r) {
  const index_t N = logits.shape(0), C = logits.shape(1);
  py::array gl = new_array<T>({N, C});
  const T* pg = cptr<T>(g);
  const T* pl = cptr<T>(logits);
  const std::int64_t* pt = cptr<std::int64_t>(target);
  T* pgl = ptr<T>(gl);
  {
    py::gil_scoped_release release;
    cpu::cross_entropy_backward<T>(N, C, pg, pl, pt, r, pgl);
  }
  return gl;
}

}  // namespace

void bind_softmax(py::module_& m) {
  bind_softmax_pair<false>(m, "softmax_forward", "softmax_backward",
                           "exp(x − max) / Σ exp(x − max) along axis; backward from the output.");
  bind_softmax_pair<true>(m, "log_softmax_forward", "log_softmax_backward",
                          "x − max − log Σ exp(x − max) along axis; backward from the output.");
  m.def("cross_entropy_forward", [](const py::array& logits, const py::array& target, const std::string& reduction) {
    const char* fn = "cross_entropy_forward";
    DType dt = check_cross_entropy(fn, logits, target);
    const cpu::Reduction r = parse_reduction(fn, reduction);
    return dt == DType::f32 ? ce_forward<float>(logits, target, r) : ce_forward<double>(logits, target, r);
  }, py::arg("logits"), py::arg("target"), py::arg("reduction") = "mean",
     "Cross-entropy of logits (N, C) against int64 class indices (N,): (N,) or a 0-d mean/sum.");
  m.def("cross_entropy_backward", [](const py::array& g, const py::array& logits, const py::array& target,
                                     const std::string& reduction) {
    const char* fn = "cross_entropy_backward";
    DType dt = check_cross_entropy(fn, logits, target);
    const cpu::Reduction r = parse_reduction(fn, reduction);
    check_any_rank(fn, "grad_output", g);
    check_same_dtype(fn, "grad_output", g, dt, "logits");
    if (r == cpu::Reduction::none) check_shape(fn, "grad_output", g, {logits.shape(0)});
    else check_shape(fn, "grad_output", g, std::vector<index_t>{});
    return dt == DType::f32 ? ce_backward<float>(g, logits, target, r) : ce_backward<double>(g, logits, target, r);
  }, py::arg("grad_output"), py::arg("logits"), py::arg("target"), py::arg("reduction") = "mean");
}

}  // namespace pyengine::bind
