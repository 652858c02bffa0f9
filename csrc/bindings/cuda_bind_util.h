// cuda_bind_util.h — the checks every pyengine._cuda binding runs before a launcher.
//
// Device arrays arrive as any Python object with __cuda_array_interface__ (CuPy, PyTorch, Numba):
// the binding reads its pointer, shape, dtype and strides there, and rejects what a kernel could
// not read correctly: other dtypes, non-contiguous strides, masks, a null pointer with elements,
// memory that is not device memory, arrays on different devices, outputs marked read-only, and
// shapes that disagree. The Python layer (pyengine/kernels/cuda) checks the same things first with
// friendlier messages; this second line keeps a direct _cuda call from ever faulting the GPU.
// Errors are ValueError/TypeError naming the function and the argument.
#pragma once
#include <cuda_runtime.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "pyengine/common.h"

namespace pyengine::cudabind {
namespace py = pybind11;

enum class Kind { f32, f64, i64, u8 };

template <typename... Args>
std::string cat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

[[noreturn]] inline void value_error(const std::string& msg) { throw py::value_error(msg); }
[[noreturn]] inline void type_error(const std::string& msg) { throw py::type_error(msg); }

inline const char* kind_name(Kind k) {
  switch (k) {
    case Kind::f32: return "float32";
    case Kind::f64: return "float64";
    case Kind::i64: return "int64";
    case Kind::u8: return "uint8";
  }
  return "?";
}

inline std::string shape_str(const std::vector<index_t>& s) {
  std::ostringstream os;
  os << "(";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  if (s.size() == 1) os << ",";
  os << ")";
  return os.str();
}

// One validated device array.
struct Dev {
  bool present = false;
  void* ptr = nullptr;
  std::vector<index_t> shape;
  Kind kind = Kind::f32;
  index_t numel = 0;
  bool readonly = false;
  int device = -1;

  index_t dim(size_t i) const { return shape.at(i); }
  size_t ndim() const { return shape.size(); }
  template <typename T>
  T* p() const { return static_cast<T*>(ptr); }
};

inline Dev dev(const char* fn, const char* name, py::handle obj, bool optional = false) {
  Dev d;
  if (obj.is_none()) {
    if (optional) return d;
    type_error(cat(fn, ": ", name, " must be a CUDA device array, got None"));
  }
  if (!py::hasattr(obj, "__cuda_array_interface__"))
    type_error(cat(fn, ": ", name, " must be a CUDA device array (with __cuda_array_interface__), got ",
                   std::string(py::str(py::type::of(obj).attr("__name__")))));
  py::dict cai = obj.attr("__cuda_array_interface__");
  const std::string ts = py::str(cai["typestr"]);
  if (ts == "<f4") d.kind = Kind::f32;
  else if (ts == "<f8") d.kind = Kind::f64;
  else if (ts == "<i8") d.kind = Kind::i64;
  else if (ts == "|u1" || ts == "<u1") d.kind = Kind::u8;
  else type_error(cat(fn, ": ", name, " has unsupported dtype (typestr ", ts, ")"));
  const std::size_t itemsize = d.kind == Kind::u8 ? 1 : (d.kind == Kind::f32 ? 4 : 8);

  py::tuple shape = cai["shape"];
  d.numel = 1;
  for (auto s : shape) {
    const index_t v = s.cast<index_t>();
    if (v < 0) value_error(cat(fn, ": ", name, " has a negative dimension"));
    if (v != 0 && d.numel > std::numeric_limits<index_t>::max() / v)
      value_error(cat(fn, ": ", name, " has more than 2**63-1 elements"));
    d.numel *= v;
    d.shape.push_back(v);
  }
  if (cai.contains("mask") && !cai["mask"].is_none())
    value_error(cat(fn, ": ", name, " is a masked array; masks are not supported"));
  if (cai.contains("strides") && !cai["strides"].is_none() && d.numel > 0) {
    py::tuple strides = cai["strides"];
    if (strides.size() != d.shape.size()) value_error(cat(fn, ": ", name, " has strides of the wrong rank"));
    index_t expect = static_cast<index_t>(itemsize);
    for (size_t i = d.shape.size(); i-- > 0;) {
      if (d.shape[i] != 1 && strides[i].cast<index_t>() != expect)
        value_error(cat(fn, ": ", name, " must be C-contiguous (the Python wrappers copy views first)"));
      expect *= d.shape[i];
    }
  }
  py::tuple data = cai["data"];
  d.ptr = reinterpret_cast<void*>(data[0].cast<std::uintptr_t>());
  d.readonly = data[1].cast<bool>();
  if (d.numel > 0) {
    if (d.ptr == nullptr) value_error(cat(fn, ": ", name, " has elements but a null data pointer"));
    if (reinterpret_cast<std::uintptr_t>(d.ptr) % itemsize != 0)
      value_error(cat(fn, ": ", name, " is not aligned to its element size"));
    cudaPointerAttributes attr{};
    const cudaError_t err = cudaPointerGetAttributes(&attr, d.ptr);
    if (err != cudaSuccess) {
      cudaGetLastError();
      value_error(cat(fn, ": ", name, " is not usable device memory (", cudaGetErrorString(err), ")"));
    }
    if (attr.type != cudaMemoryTypeDevice && attr.type != cudaMemoryTypeManaged)
      value_error(cat(fn, ": ", name, " is not device memory"));
    d.device = attr.device;
  }
  d.present = true;
  return d;
}

inline Kind float_kind(const char* fn, const char* name, const Dev& d) {
  if (d.kind != Kind::f32 && d.kind != Kind::f64)
    type_error(cat(fn, ": ", name, " must be float32 or float64, got ", kind_name(d.kind)));
  return d.kind;
}

inline void expect_kind(const char* fn, const char* name, const Dev& d, Kind k, const char* ref_name = nullptr) {
  if (!d.present || d.kind == k) return;
  if (ref_name != nullptr)
    type_error(cat(fn, ": ", name, " has dtype ", kind_name(d.kind), " but ", ref_name, " is ", kind_name(k),
                   "; mixed dtypes are not accepted"));
  type_error(cat(fn, ": ", name, " must be ", kind_name(k), ", got ", kind_name(d.kind)));
}

inline void expect_ndim(const char* fn, const char* name, const Dev& d, size_t ndim) {
  if (d.ndim() != ndim)
    value_error(cat(fn, ": ", name, " must be ", ndim, "-D, got ", d.ndim(), "-D array of shape ", shape_str(d.shape)));
}

inline void expect_shape(const char* fn, const char* name, const Dev& d, const std::vector<index_t>& s) {
  if (d.present && d.shape != s)
    value_error(cat(fn, ": ", name, " must have shape ", shape_str(s), ", got ", shape_str(d.shape)));
}

inline void expect_numel(const char* fn, const char* name, const Dev& d, index_t n) {
  if (d.present && d.numel != n) value_error(cat(fn, ": ", name, " must have ", n, " elements, got ", d.numel));
}

inline void expect_writable(const char* fn, const char* name, const Dev& d) {
  if (d.present && d.readonly) value_error(cat(fn, ": ", name, " is read-only but the kernel writes into it"));
}

// Every non-empty array on one device; returns it (or -1 when all are empty).
inline int common_device(const char* fn, std::initializer_list<const Dev*> arrays) {
  int device = -1;
  for (const Dev* d : arrays) {
    if (!d->present || d->numel == 0) continue;
    if (device < 0) device = d->device;
    else if (d->device != device)
      value_error(cat(fn, ": arrays are on different devices (cuda:", device, " and cuda:", d->device, ")"));
  }
  return device;
}

// Makes `device` current for the launches of one binding call and restores the previous one.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    if (device < 0) return;
    if (cudaGetDevice(&prev_) != cudaSuccess) {
      cudaGetLastError();
      prev_ = -1;
    }
    if (prev_ != device) {
      if (cudaSetDevice(device) != cudaSuccess) {
        cudaGetLastError();
        value_error(cat("cannot make cuda:", device, " current"));
      }
      restore_ = prev_ >= 0;
    }
  }
  ~DeviceGuard() {
    if (restore_) cudaSetDevice(prev_);
  }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int prev_ = -1;
  bool restore_ = false;
};

inline cudaStream_t stream_of(std::uintptr_t s) { return reinterpret_cast<cudaStream_t>(s); }

inline index_t checked_mul(const char* fn, index_t a, index_t b) {
  if (a < 0 || b < 0) value_error(cat(fn, ": negative size"));
  if (a != 0 && b > std::numeric_limits<index_t>::max() / a) value_error(cat(fn, ": sizes overflow 64-bit integers"));
  return a * b;
}

inline index_t prod(const char* fn, std::initializer_list<index_t> dims) {
  index_t n = 1;
  for (index_t d : dims) n = checked_mul(fn, n, d);
  return n;
}

inline void positive(const char* fn, const char* what, index_t v) {
  if (v < 1) value_error(cat(fn, ": ", what, " must be >= 1, got ", v));
}

inline void non_negative(const char* fn, const char* what, index_t v) {
  if (v < 0) value_error(cat(fn, ": ", what, " must be >= 0, got ", v));
}

// Calls f with a float or double null pointer tag according to kind (f32/f64 only).
template <typename F>
void dispatch(Kind k, F&& f) {
  if (k == Kind::f32) f(static_cast<float*>(nullptr));
  else f(static_cast<double*>(nullptr));
}

// The family binders (cuda_bind_*.cpp), called from cuda_module.cpp.
void bind_cuda_dense(py::module_& m);
void bind_cuda_pointwise(py::module_& m);

}  // namespace pyengine::cudabind
