// bind.h — what every binding shares, in pyengine._C (CPU, NumPy arrays) and pyengine._cuda (GPU,
// device arrays): reading Python arguments into the contract's terms, and the two device policies.
//
// A family's binding (bind_<family>.cpp) is written once, as a template over the device policy D,
// and compiled into both modules: Host in _C, Cuda in _cuda (PYENGINE_CUDA_MODULE). For each op
// it reads its arguments — arrays as D::arg(...), which describes them as contract::Array without
// touching their data; ints, pairs, bools and reals with the to_* functions below, whose messages
// are the reference's — and hands them to the family's contract function (pyengine/<family>.h),
// which checks everything the kernels rely on and returns the geometry. Only then does it open a
// D::Call: the inputs are made C-contiguous (a copy where needed: views are accepted), the memory
// the call needs is checked against what the machine has (MemoryError before allocating), outputs
// are allocated, the GIL is released and the kernel runs. A contract::Error becomes ValueError,
// TypeError or MemoryError; a pyengine::cuda::CudaError (a std::runtime_error) a RuntimeError naming
// the kernel.
//
// Host arrays are numpy.ndarray. Device arrays are anything with __cuda_array_interface__ (CuPy,
// PyTorch, Numba) or a CUDA DLPack capsule; outputs come from CuPy's memory pool on the inputs'
// device and every launch goes on CuPy's current stream, both through the small Python runtime
// object pyengine.kernels.cuda._ext.RUNTIME (so CuPy stays an optional, lazily imported extra).
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "pyengine/check.h"

#ifdef PYENGINE_CUDA_MODULE
#include <cuda_runtime.h>

#include "pyengine/cuda_runtime_info.h"
#endif

namespace pyengine::bind {
namespace py = pybind11;
using contract::Array;
using contract::DType;
using contract::type_error;
using contract::value_error;

// ---- reading parameters (the messages are the reference's: pyengine/reference/_checks.py) --------

inline std::string type_name(py::handle obj) { return py::str(py::type::of(obj).attr("__name__")); }
inline std::string repr_of(py::handle obj) { return py::repr(obj); }

// numbers.Integral / numbers.Real, as the reference tests them (NumPy scalars included, bool not).
inline bool is_integral(py::handle obj) {
  if (PyBool_Check(obj.ptr())) return false;
  if (PyLong_CheckExact(obj.ptr())) return true;
  static py::handle integral = py::object(py::module_::import("numbers").attr("Integral")).release();
  return PyObject_IsInstance(obj.ptr(), integral.ptr()) == 1 &&
         !py::isinstance(obj, py::module_::import("numpy").attr("bool_"));
}

inline bool is_real(py::handle obj) {
  if (PyBool_Check(obj.ptr())) return false;
  if (PyFloat_CheckExact(obj.ptr()) || PyLong_CheckExact(obj.ptr())) return true;
  static py::handle real = py::object(py::module_::import("numbers").attr("Real")).release();
  return PyObject_IsInstance(obj.ptr(), real.ptr()) == 1 &&
         !py::isinstance(obj, py::module_::import("numpy").attr("bool_"));
}

// An int parameter (Python or NumPy int, not bool), at least `minimum` when check_min.
inline index_t read_int(const char* fn, const char* name, py::handle obj, bool check_min, index_t minimum) {
  if (!is_integral(obj)) type_error(fn, ": ", name, " must be an int, got ", type_name(obj), " ", repr_of(obj));
  py::int_ v = py::reinterpret_steal<py::int_>(PyNumber_Index(obj.ptr()));
  int overflow = 0;
  const long long x = PyLong_AsLongLongAndOverflow(v.ptr(), &overflow);
  if (overflow > 0) value_error(fn, ": ", name, " ", std::string(py::str(v)), " has more than 2**63-1 elements");
  if (check_min && (overflow < 0 || x < minimum))
    value_error(fn, ": ", name, " must be >= ", minimum, ", got ", std::string(py::str(v)));
  if (overflow < 0) value_error(fn, ": ", name, " ", std::string(py::str(v)), " is below -2**63");
  return x;
}

inline index_t to_int(const char* fn, const char* name, py::handle obj) { return read_int(fn, name, obj, false, 0); }
inline index_t to_int(const char* fn, const char* name, py::handle obj, index_t minimum) {
  return read_int(fn, name, obj, true, minimum);
}

// An int or a pair of ints, as (height, width), each at least `minimum`.
inline std::array<index_t, 2> to_pair(const char* fn, const char* name, py::handle obj, index_t minimum) {
  if (py::isinstance<py::tuple>(obj) || py::isinstance<py::list>(obj)) {
    py::sequence seq = py::reinterpret_borrow<py::sequence>(obj);
    if (seq.size() != 2)
      value_error(fn, ": ", name, " must be an int or a pair of ints, got ", repr_of(py::tuple(seq)));
    return {to_int(fn, name, seq[0], minimum), to_int(fn, name, seq[1], minimum)};
  }
  const index_t v = to_int(fn, name, obj, minimum);
  return {v, v};
}

// A flag: a Python or NumPy bool (not an int, not None).
inline bool to_bool(const char* fn, const char* name, py::handle obj) {
  if (PyBool_Check(obj.ptr())) return obj.ptr() == Py_True;
  if (py::isinstance(obj, py::module_::import("numpy").attr("bool_"))) return PyObject_IsTrue(obj.ptr()) == 1;
  type_error(fn, ": ", name, " must be a bool, got ", type_name(obj), " ", repr_of(obj));
}

// A real number (Python or NumPy, not bool) as a double; `kind` words the TypeError
// ("a real number", "a float").
inline double to_real(const char* fn, const char* name, py::handle obj, const char* kind = "a real number") {
  if (!is_real(obj)) type_error(fn, ": ", name, " must be ", kind, ", got ", type_name(obj), " ", repr_of(obj));
  return PyFloat_AsDouble(obj.ptr());
}

// A shape argument such as input_shape: a sequence of `ndim` non-negative ints.
inline std::vector<index_t> to_shape(const char* fn, const char* name, py::handle obj, int ndim) {
  if (!(py::isinstance<py::tuple>(obj) || py::isinstance<py::list>(obj)) || py::len(obj) != static_cast<size_t>(ndim))
    value_error(fn, ": ", name, " must be a sequence of ", ndim, " ints, got ", repr_of(obj));
  std::vector<index_t> out;
  for (py::handle v : py::reinterpret_borrow<py::sequence>(obj)) out.push_back(to_int(fn, name, v, 0));
  return out;
}

// needs_input_grad: a sequence of `count` bools.
template <size_t N>
std::array<bool, N> to_needs(const char* fn, py::handle obj) {
  if (!(py::isinstance<py::tuple>(obj) || py::isinstance<py::list>(obj)) || py::len(obj) != N)
    value_error(fn, ": needs_input_grad must be a sequence of ", N, " bools, got ", repr_of(obj));
  std::array<bool, N> out{};
  size_t i = 0;
  for (py::handle v : py::reinterpret_borrow<py::sequence>(obj)) out[i++] = to_bool(fn, "needs_input_grad", v);
  return out;
}

// ---- describing arrays -------------------------------------------------------------------------

// DType of a NumPy-style (kind, itemsize, byte order) triple.
inline DType dtype_of(char kind, int itemsize, char byteorder) {
  if (byteorder == '>') return DType::other;  // this is a little-endian machine
  if (kind == 'f' && itemsize == 4) return DType::f32;
  if (kind == 'f' && itemsize == 8) return DType::f64;
  if (kind == 'i' && itemsize == 8) return DType::i64;
  if (kind == 'u' && itemsize == 1) return DType::u8;
  return DType::other;
}

inline void set_dtype(Array& a, DType dt, const std::string& other_name) {
  a.dtype = dt;
  a.dtype_name = dt == DType::other ? other_name : contract::dtype_str(dt);
}

// Records what a call needs besides its inputs and checks the running total against the memory
// there is, so that a request beyond it raises MemoryError before anything is allocated.
class MemoryBudget {
 public:
  MemoryBudget(const char* fn, double available, const char* where) : fn_(fn), available_(available), where_(where) {}
  void need(const char* what, double bytes) {
    total_ += bytes;
    if (available_ > 0 && total_ > available_) {
      if (total_ == bytes) contract::fits_in_memory(fn_, what, bytes, available_, where_);
      contract::memory_error(fn_, ": ", what, " needs ", contract::bytes_str(bytes), " (", contract::bytes_str(total_),
                             " with the rest of the call), more than the ", contract::bytes_str(available_), " of ",
                             where_);
    }
  }

 private:
  const char* fn_;
  double available_, total_ = 0.0;
  const char* where_;
};

// ---- the host policy: NumPy arrays, the CPU kernels --------------------------------------------

struct Host {
  static constexpr bool is_cuda = false;

  // One array argument. `arr` is the caller's array until Call makes it contiguous.
  struct Arg {
    Array a;
    py::array arr;
    py::object original;   // for in-place arguments updated through a copy
    template <typename T> const T* data() const { return a.present ? static_cast<const T*>(arr.data()) : nullptr; }
    template <typename T> T* mut() { return a.present ? static_cast<T*>(arr.mutable_data()) : nullptr; }
    py::object object() const { return a.present ? py::object(arr) : py::object(py::none()); }
  };

  // `what` completes the TypeError for a non-array ("a numpy.ndarray of int64 class indices").
  static Arg arg(const char* fn, const char* name, py::handle obj, bool optional = false, const char* what = "") {
    Arg r;
    r.a.name = name;
    if (optional && obj.is_none()) return r;
    if (!py::isinstance<py::array>(obj))
      type_error(fn, ": ", name, " must be a numpy.ndarray", what, ", got ", type_name(obj));
    r.arr = py::reinterpret_borrow<py::array>(obj);
    r.a.present = true;
    const py::dtype dt = r.arr.dtype();
    const DType d = dtype_of(dt.kind(), static_cast<int>(dt.itemsize()), dt.byteorder());
    set_dtype(r.a, d, d == DType::other ? std::string(py::str(dt)) : std::string());
    r.a.shape.assign(r.arr.shape(), r.arr.shape() + r.arr.ndim());
    r.a.writeable = r.arr.writeable();
    return r;
  }
  static Arg opt(const char* fn, const char* name, py::handle obj) { return arg(fn, name, obj, true); }

  // An array argument of a call, then its outputs. Construct after the contract has passed.
  class Call {
   public:
    explicit Call(const char* fn) : fn_(fn), budget_(fn, contract::host_memory_bytes(), "memory of this machine") {}

    // Read-only inputs: a C-contiguous copy of a view (its size counted against memory first).
    void inputs(std::initializer_list<Arg*> args) {
      for (Arg* x : args) {
        if (!x->a.present || (x->arr.flags() & py::array::c_style)) continue;
        budget_.need(contract::cat("a contiguous copy of ", x->a.name).c_str(),
                     static_cast<double>(x->arr.nbytes()));
        x->arr = py::array::ensure(x->arr, py::array::c_style);
      }
    }

    // Arrays updated in place that may be views: the kernel updates a contiguous copy, which
    // finish() writes back (batch norm's running statistics).
    void inout(std::initializer_list<Arg*> args) {
      for (Arg* x : args) {
        if (!x->a.present || (x->arr.flags() & py::array::c_style)) continue;
        x->original = x->arr;
        x->arr = py::array::ensure(x->arr, py::array::c_style);
        writeback_.push_back(x);
      }
    }

    // Memory the kernel takes for itself (workspaces), checked with the outputs.
    void workspace(const char* what, double bytes) { budget_.need(what, bytes); }

    // A fresh output array (its size counted against memory first).
    template <typename T>
    Arg empty(const char* what, const std::vector<index_t>& shape) {
      double n = 1;
      for (index_t s : shape) n *= static_cast<double>(s);
      budget_.need(what, n * sizeof(T));
      Arg r;
      r.a.name = what;
      r.a.present = true;
      r.a.shape = shape;
      r.arr = py::array_t<T>(std::vector<py::ssize_t>(shape.begin(), shape.end()));
      return r;
    }

    // Runs the kernel without the GIL.
    template <typename F>
    void run(F&& f) {
      {
        py::gil_scoped_release release;
        f();
      }
      for (Arg* x : writeback_) x->original.attr("__setitem__")(py::ellipsis(), x->arr);
      writeback_.clear();
    }

   private:
    const char* fn_;
    MemoryBudget budget_;
    std::vector<Arg*> writeback_;
  };
};

// ---- the CUDA policy: device arrays, the CUDA launchers ----------------------------------------

#ifdef PYENGINE_CUDA_MODULE
// pyengine.kernels.cuda._ext.RUNTIME: CuPy's allocator, stream, contiguous copies, DLPack import.
inline py::object cuda_runtime() { return py::module_::import("pyengine.kernels.cuda._ext").attr("RUNTIME"); }

struct Cuda {
  static constexpr bool is_cuda = true;

  struct Arg {
    Array a;
    py::object obj;       // the array (a CuPy array once Call has made it contiguous)
    py::object original;  // for in-place arguments updated through a copy
    void* ptr = nullptr;
    bool contiguous = true;
    bool ptr_readonly = false;
    template <typename T> const T* data() const { return a.present ? static_cast<const T*>(ptr) : nullptr; }
    template <typename T> T* mut() { return a.present ? static_cast<T*>(ptr) : nullptr; }
    py::object object() const { return a.present ? obj : py::object(py::none()); }
  };

  // Reads __cuda_array_interface__ (version 2 or 3): dtype, shape, strides, pointer. No CUDA call.
  static void describe(const char* fn, Arg& r, py::handle obj) {
    py::dict cai = obj.attr("__cuda_array_interface__");
    const std::string ts = py::str(cai["typestr"]);
    if (ts.size() < 3) type_error(fn, ": ", r.a.name, " has an unreadable typestr ", ts);
    const int itemsize = std::atoi(ts.c_str() + 2);
    const DType d = dtype_of(ts[1], itemsize, ts[0]);
    std::string other = ts;
    if (d == DType::other) other = py::str(py::module_::import("numpy").attr("dtype")(ts));
    set_dtype(r.a, d, other);
    r.a.shape.clear();
    for (py::handle s : py::tuple(cai["shape"])) r.a.shape.push_back(s.cast<index_t>());
    for (index_t s : r.a.shape)
      if (s < 0) value_error(fn, ": ", r.a.name, " has a negative dimension");
    if (cai.contains("mask") && !cai["mask"].is_none())
      value_error(fn, ": ", r.a.name, " is a masked array; masks are not supported");
    py::tuple data = cai["data"];
    r.ptr = reinterpret_cast<void*>(data[0].cast<std::uintptr_t>());
    r.ptr_readonly = data[1].cast<bool>();
    r.a.writeable = !r.ptr_readonly;
    r.contiguous = true;
    if (cai.contains("strides") && !cai["strides"].is_none() && r.a.numel() > 0) {
      py::tuple strides = cai["strides"];
      index_t expect = itemsize;
      for (size_t i = r.a.shape.size(); i-- > 0;) {
        if (r.a.shape[i] != 1 && strides[i].cast<index_t>() != expect) r.contiguous = false;
        expect *= r.a.shape[i];
      }
    }
  }

  static Arg arg(const char* fn, const char* name, py::handle obj, bool optional = false, const char* what = "") {
    cuda_runtime().attr("require")();   // device arrays need CuPy: say so first
    Arg r;
    r.a.name = name;
    if (optional && obj.is_none()) return r;
    if (py::isinstance<py::array>(obj))
      type_error(fn, ": ", name, " must be a CUDA device array (CuPy, __cuda_array_interface__ or DLPack), got "
                 "numpy.ndarray (host memory; move it with cupy.asarray)");
    py::object o = py::reinterpret_borrow<py::object>(obj);
    if (!py::hasattr(o, "__cuda_array_interface__")) {
      if (py::hasattr(o, "__dlpack__") && py::hasattr(o, "__dlpack_device__")) {
        const int dev_type = py::tuple(o.attr("__dlpack_device__")())[0].cast<int>();
        if (dev_type != 2 && dev_type != 13)  // kDLCUDA, kDLCUDAManaged
          type_error(fn, ": ", name, " must be a CUDA device array, got a DLPack array on device type ", dev_type);
        o = cuda_runtime().attr("from_dlpack")(o);
      } else {
        type_error(fn, ": ", name, " must be a CUDA device array", what, ", got ", type_name(obj));
      }
    }
    r.obj = o;
    r.a.present = true;
    describe(fn, r, o);
    return r;
  }
  static Arg opt(const char* fn, const char* name, py::handle obj) { return arg(fn, name, obj, true); }

  class Call {
   public:
    explicit Call(const char* fn)
        : fn_(fn), rt_(cuda_runtime()), budget_(fn, 0.0, "") {}

    // Checks every input is usable device memory on one device, makes that device current and
    // takes CuPy's current stream there; then makes views contiguous (device copies).
    void inputs(std::initializer_list<Arg*> args) { add(args, false); }
    void inout(std::initializer_list<Arg*> args) { add(args, true); }

    void workspace(const char* what, double bytes) { budget().need(what, bytes); }

    // A fresh device array from CuPy's pool on the call's device; `out.data<T>()` is its pointer.
    template <typename T>
    Arg empty(const char* what, const std::vector<index_t>& shape) {
      double n = 1;
      for (index_t s : shape) n *= static_cast<double>(s);
      budget().need(what, n * sizeof(T));
      Arg r;
      r.a.name = what;
      r.a.present = true;
      r.obj = rt_.attr("empty")(py::tuple(py::cast(shape)), sizeof(T) == 4 ? "float32" : sizeof(T) == 8 ? "float64" : "?",
                                device());
      describe(fn_, r, r.obj);
      return r;
    }
    // Integer outputs (max-pool indices int64, dropout masks uint8).
    Arg empty_typed(const char* what, const std::vector<index_t>& shape, const char* dtype, int itemsize) {
      double n = 1;
      for (index_t s : shape) n *= static_cast<double>(s);
      budget().need(what, n * itemsize);
      Arg r;
      r.a.name = what;
      r.a.present = true;
      r.obj = rt_.attr("empty")(py::tuple(py::cast(shape)), dtype, device());
      describe(fn_, r, r.obj);
      return r;
    }

    int device() {
      if (device_ < 0) select(-1);
      return device_;
    }
    cudaStream_t stream() {
      if (!stream_) stream_ = reinterpret_cast<cudaStream_t>(rt_.attr("stream")(device()).cast<std::uintptr_t>());
      return stream_;
    }
    bool tf32() const { return rt_.attr("allow_tf32")().cast<bool>(); }
    bool deterministic() const { return rt_.attr("deterministic")().cast<bool>(); }
    py::object runtime() const { return rt_; }

    template <typename F>
    void run(F&& f) {
      stream();
      {
        py::gil_scoped_release release;
        f();
      }
      for (Arg* x : writeback_) x->original.attr("__setitem__")(py::ellipsis(), x->obj);
      writeback_.clear();
    }

   private:
    void usable() {
      if (cuda::device_count() < 1)
        throw std::runtime_error(std::string(fn_) + ": no usable CUDA GPU (" +
                                 (cuda::last_error().empty() ? std::string("no device") : cuda::last_error()) + ")");
    }

    int device_of(Arg& x) {
      if (x.ptr == nullptr) value_error(fn_, ": ", x.a.name, " has elements but a null data pointer");
      cudaPointerAttributes attr{};
      const cudaError_t err = cudaPointerGetAttributes(&attr, x.ptr);
      if (err != cudaSuccess) {
        cudaGetLastError();
        value_error(fn_, ": ", x.a.name, " is not usable device memory (", cudaGetErrorString(err), ")");
      }
      if (attr.type != cudaMemoryTypeDevice && attr.type != cudaMemoryTypeManaged)
        value_error(fn_, ": ", x.a.name, " is not device memory");
      return attr.device;
    }

    void add(std::initializer_list<Arg*> args, bool in_place) {
      usable();
      for (Arg* x : args) {
        if (!x->a.present || x->a.numel() == 0) continue;
        const int d = device_of(*x);
        if (device_ < 0) {
          select(d);
          first_ = x->a.name;
        } else if (d != device_) {
          value_error(fn_, ": ", first_, " is on cuda:", device_, " but ", x->a.name, " is on cuda:", d,
                      "; all arrays of one call must be on one device");
        }
      }
      for (Arg* x : args) {
        if (!x->a.present || x->contiguous) continue;
        if (in_place) x->original = x->obj;
        else budget().need(contract::cat("a contiguous copy of ", x->a.name).c_str(),
                           static_cast<double>(x->a.numel()) * contract::itemsize(x->a.dtype));
        x->obj = rt_.attr("contiguous")(x->obj);
        describe(fn_, *x, x->obj);
        if (in_place) writeback_.push_back(x);
      }
    }

    void select(int d) {
      if (d < 0) {
        usable();
        if (cudaGetDevice(&d) != cudaSuccess) {
          cudaGetLastError();
          d = 0;
        }
      }
      device_ = d;
      guard_.emplace(d);
    }

    MemoryBudget& budget() {
      if (!budget_ready_) {
        budget_ = MemoryBudget(fn_, static_cast<double>(cuda::total_memory(device())), "memory of this GPU");
        budget_ready_ = true;
      }
      return budget_;
    }

    // Makes the call's device current and restores the previous one afterwards.
    struct Guard {
      int prev = -1;
      bool restore = false;
      void emplace(int device) {
        if (cudaGetDevice(&prev) != cudaSuccess) {
          cudaGetLastError();
          prev = -1;
        }
        if (prev != device) {
          if (cudaSetDevice(device) != cudaSuccess) {
            cudaGetLastError();
            value_error("cannot make cuda:", device, " current");
          }
          restore = prev >= 0;
        }
      }
      ~Guard() {
        if (restore) cudaSetDevice(prev);
      }
    };

    const char* fn_;
    py::object rt_;
    MemoryBudget budget_;
    bool budget_ready_ = false;
    int device_ = -1;
    const char* first_ = "";
    cudaStream_t stream_ = nullptr;
    Guard guard_;
    std::vector<Arg*> writeback_;
  };
};
#endif

// ---- module assembly ---------------------------------------------------------------------------

// Binds one kernel and lists its name in the module's __kernels__ (what kernels.cpu/.cuda export).
inline std::vector<std::string>& kernel_names() {
  static std::vector<std::string> names;
  return names;
}

template <typename F, typename... Extra>
void kernel(py::module_& m, const char* name, F&& f, const Extra&... extra) {
  m.def(name, std::forward<F>(f), extra...);
  kernel_names().push_back(name);
}

// Every bind_<family>.cpp registers its binder at load time (PE_BIND_FAMILY); the module's init
// function calls them in name order.
using Binder = void (*)(py::module_&);
inline std::vector<std::pair<std::string, Binder>>& families() {
  static std::vector<std::pair<std::string, Binder>> list;
  return list;
}
struct RegisterFamily {
  RegisterFamily(const char* name, Binder b) { families().emplace_back(name, b); }
};

#ifdef PYENGINE_CUDA_MODULE
using Device = Cuda;
#else
using Device = Host;
#endif
#define PE_BIND_FAMILY(stem) \
  static const ::pyengine::bind::RegisterFamily pe_register_##stem{#stem, &stem::bind<::pyengine::bind::Device>};

// Binds every registered family, sets __kernels__, and turns contract errors into Python ones.
inline void bind_all(py::module_& m) {
  py::register_local_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const contract::Error& e) {
      PyObject* type = e.kind() == contract::Error::type     ? PyExc_TypeError
                       : e.kind() == contract::Error::memory ? PyExc_MemoryError
                                                             : PyExc_ValueError;
      PyErr_SetString(type, e.what());
    }
  });
  auto& list = families();
  std::sort(list.begin(), list.end());
  for (auto& [name, binder] : list) binder(m);
  py::list names;
  for (const auto& n : kernel_names()) names.append(n);
  m.attr("__kernels__") = names;
}

// Pointers of an argument or output, without the `.template` a dependent type would need.
template <typename T, typename A>
const T* in(const A& a) { return a.template data<T>(); }
template <typename T, typename A>
T* out(A& a) { return a.template mut<T>(); }

// The element type of a float DType, for dispatch: with_float(dt, [&](auto t) { using T = decltype(t); ... }).
using contract::with_float;

}  // namespace pyengine::bind
