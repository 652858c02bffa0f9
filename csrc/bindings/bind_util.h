// bind_util.h — the checks every binding runs before a kernel: dtype, rank, shape, contiguity,
// sizes. Each failure raises ValueError/TypeError naming the function, the argument, what was
// expected and what was received. This is the only place besides the bindings that knows pybind11.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "pyengine/common.h"

namespace pyengine::bind {
namespace py = pybind11;

enum class DType { f32, f64 };

// Concatenates anything streamable into one message.
template <typename... Args>
std::string cat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

[[noreturn]] inline void value_error(const std::string& msg) { throw py::value_error(msg); }
[[noreturn]] inline void type_error(const std::string& msg) { throw py::type_error(msg); }

inline std::string shape_str(const py::array& a) {
  std::ostringstream os;
  os << "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) os << (i ? ", " : "") << a.shape(i);
  if (a.ndim() == 1) os << ",";
  os << ")";
  return os.str();
}

inline std::string shape_str(const std::vector<index_t>& s) {
  std::ostringstream os;
  os << "(";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  if (s.size() == 1) os << ",";
  os << ")";
  return os.str();
}

// Whether a's dtype is dt: the same object, or an equivalent one (an unpickled array, e.g. a batch
// from a DataLoader worker process, carries its own dtype object, not NumPy's singleton).
inline bool has_dtype(const py::array& a, const py::dtype& dt) {
  return a.dtype().is(dt) || a.dtype().equal(dt);
}

// The array's dtype as float32/float64; anything else is a TypeError.
inline DType dtype_of(const char* fn, const char* name, const py::array& a) {
  if (has_dtype(a, py::dtype::of<float>())) return DType::f32;
  if (has_dtype(a, py::dtype::of<double>())) return DType::f64;
  type_error(cat(fn, ": ", name, " must be float32 or float64, got ", std::string(py::str(a.dtype()))));
}

inline void check_same_dtype(const char* fn, const char* name, const py::array& a, DType expected,
                             const char* ref_name) {
  if (dtype_of(fn, name, a) != expected)
    type_error(cat(fn, ": ", name, " has dtype ", std::string(py::str(a.dtype())), " but ", ref_name,
                   " is ", expected == DType::f32 ? "float32" : "float64", "; mixed dtypes are not accepted"));
}

inline void check_ndim(const char* fn, const char* name, const py::array& a, py::ssize_t ndim) {
  if (a.ndim() != ndim)
    value_error(cat(fn, ": ", name, " must be ", ndim, "-D, got ", a.ndim(), "-D array of shape ", shape_str(a)));
}

inline void check_contiguous(const char* fn, const char* name, const py::array& a) {
  if (!(a.flags() & py::array::c_style))
    value_error(cat(fn, ": ", name, " must be C-contiguous (the Python wrappers copy views first)"));
}

inline void check_writeable(const char* fn, const char* name, const py::array& a) {
  if (!a.writeable()) value_error(cat(fn, ": ", name, " is read-only but the kernel writes into it"));
}

inline void check_shape(const char* fn, const char* name, const py::array& a, const std::vector<index_t>& expected) {
  bool ok = a.ndim() == static_cast<py::ssize_t>(expected.size());
  for (size_t i = 0; ok && i < expected.size(); ++i) ok = a.shape(i) == expected[i];
  if (!ok) value_error(cat(fn, ": ", name, " must have shape ", shape_str(expected), ", got ", shape_str(a)));
}

// Checks a float array argument in one call: dtype (matching `like` when given), rank, contiguity.
inline DType check_array(const char* fn, const char* name, const py::array& a, py::ssize_t ndim) {
  DType dt = dtype_of(fn, name, a);
  check_ndim(fn, name, a, ndim);
  check_contiguous(fn, name, a);
  return dt;
}

// a·b with overflow detection; sizes beyond int64 are rejected rather than wrapped.
inline index_t checked_mul(const char* fn, const char* what, index_t a, index_t b) {
  if (a < 0 || b < 0) value_error(cat(fn, ": ", what, " is negative"));
  if (a != 0 && b > std::numeric_limits<index_t>::max() / a)
    value_error(cat(fn, ": ", what, " overflows 64-bit integers (", a, " x ", b, ")"));
  return a * b;
}

inline index_t checked_numel(const char* fn, const char* what, std::initializer_list<index_t> dims) {
  index_t n = 1;
  for (index_t d : dims) n = checked_mul(fn, what, n, d);
  return n;
}

template <typename T>
py::array_t<T> new_array(const std::vector<index_t>& shape) {
  std::vector<py::ssize_t> s(shape.begin(), shape.end());
  return py::array_t<T>(s);
}

template <typename T>
T* ptr(py::array& a) { return static_cast<T*>(a.mutable_data()); }
template <typename T>
const T* cptr(const py::array& a) { return static_cast<const T*>(a.data()); }

// Declarations of each op family's binding (one file each in csrc/bindings/).
void bind_runtime(py::module_& m);
void bind_gemm(py::module_& m);
void bind_conv2d(py::module_& m);
void bind_pool2d(py::module_& m);
void bind_lstm(py::module_& m);
void bind_linear(py::module_& m);
void bind_activation(py::module_& m);
void bind_softmax(py::module_& m);
void bind_batch_norm(py::module_& m);
void bind_dropout(py::module_& m);
void bind_optim(py::module_& m);
void bind_quantized(py::module_& m);
void bind_bench(py::module_& m);

}  // namespace pyengine::bind
