// pyengine/check.h — the vocabulary of the kernel contract: what a binding knows about an array
// argument (Array), the errors a check raises (Error), and the checks every op family shares.
//
// This layer knows neither pybind11 nor CUDA. The bindings (csrc/bindings/bind.h) describe each
// argument as an Array — from a NumPy array in pyengine._C, from __cuda_array_interface__ in
// pyengine._cuda — and call the family's contract function (pyengine/<family>.h, namespace
// pyengine::contract), which returns the family's geometry or throws Error. So the CPU and the CUDA
// binding accept and reject exactly the same inputs with the same words; the NumPy reference
// (pyengine/reference) holds its own readable copy of the checks, and the op registry's error
// inputs hold the two to the same messages. Every message starts with the function's name and
// names the argument, what was expected and what was received; numbers and shapes are printed
// as Python prints them ((2, 3), (6,), 1e-05, 0.0).
//
// Not for the per-ISA kernel files (they include the family headers with PYENGINE_ISA defined,
// which leaves the contract out) nor for nvcc.
#pragma once
#include <charconv>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>

#include "pyengine/common.h"

namespace pyengine::contract {

enum class DType : int { f32, f64, i64, u8, other };

// One array argument as the contract sees it. `present` is false for an optional argument given
// as None; `dtype_name` is NumPy's name of the dtype (for messages).
struct Array {
  const char* name = "";
  bool present = false;
  DType dtype = DType::other;
  std::string dtype_name;
  std::vector<index_t> shape;
  bool writeable = true;

  int ndim() const { return static_cast<int>(shape.size()); }
  index_t dim(int i) const { return shape[static_cast<size_t>(i < 0 ? i + ndim() : i)]; }
  index_t numel() const {
    index_t n = 1;
    for (index_t s : shape) n *= s;
    return n;
  }
  bool is_float() const { return dtype == DType::f32 || dtype == DType::f64; }
};

// What a failed check throws; the bindings raise the matching Python exception.
class Error : public std::runtime_error {
 public:
  enum Kind { value, type, memory };
  Error(Kind kind, const std::string& msg) : std::runtime_error(msg), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

// ---- message formatting --------------------------------------------------------------------

// A double as Python's repr prints it: shortest round-trip digits, fixed notation for exponents
// in [-4, 16) with at least one decimal ("0.0", "1.5"), else scientific ("1e-05", "1e+20").
inline std::string py_float(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  std::string sci(buf, res.ptr);           // e.g. "-1.2345e+17", "1e-05"
  const size_t epos = sci.find('e');
  const int exp10 = std::stoi(sci.substr(epos + 1));
  std::string sign = sci[0] == '-' ? "-" : "";
  std::string digits;                      // the significant digits, without the point
  for (size_t i = sign.size(); i < epos; ++i)
    if (sci[i] != '.') digits += sci[i];
  if (exp10 < -4 || exp10 >= 16) {
    std::string out = sign + digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char e[16];
    std::snprintf(e, sizeof(e), "e%c%02d", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
    return out + e;
  }
  std::string out;
  if (exp10 < 0) {
    out = "0." + std::string(static_cast<size_t>(-exp10 - 1), '0') + digits;
  } else {
    const size_t int_len = static_cast<size_t>(exp10) + 1;
    if (digits.size() <= int_len) out = digits + std::string(int_len - digits.size(), '0') + ".0";
    else out = digits.substr(0, int_len) + "." + digits.substr(int_len);
  }
  return sign + out;
}

namespace detail {
inline void put(std::ostringstream& os, double v) { os << py_float(v); }
inline void put(std::ostringstream& os, float v) { os << py_float(v); }
template <typename T>
void put(std::ostringstream& os, const T& v) { os << v; }
}  // namespace detail

// Concatenates its arguments into one message (doubles printed as Python prints them).
template <typename... Args>
std::string cat(const Args&... args) {
  std::ostringstream os;
  (detail::put(os, args), ...);
  return os.str();
}

// A shape as Python prints a tuple: (2, 3), (6,), ().
inline std::string shape_str(const std::vector<index_t>& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  if (s.size() == 1) out += ",";
  return out + ")";
}

template <typename... Args>
[[noreturn]] void value_error(const Args&... args) { throw Error(Error::value, cat(args...)); }
template <typename... Args>
[[noreturn]] void type_error(const Args&... args) { throw Error(Error::type, cat(args...)); }
template <typename... Args>
[[noreturn]] void memory_error(const Args&... args) { throw Error(Error::memory, cat(args...)); }

inline const char* dtype_str(DType d) {
  switch (d) {
    case DType::f32: return "float32";
    case DType::f64: return "float64";
    case DType::i64: return "int64";
    case DType::u8: return "uint8";
    default: return "?";
  }
}

inline int itemsize(DType d) { return d == DType::u8 ? 1 : d == DType::f32 ? 4 : 8; }

// ---- checks shared by every family ----------------------------------------------------------

// A float32/float64 array (of rank `ndim` when ndim >= 0); returns its dtype.
inline DType float_array(const char* fn, const Array& a, int ndim = -1) {
  if (!a.is_float()) type_error(fn, ": ", a.name, " must be float32 or float64, got ", a.dtype_name);
  if (ndim >= 0 && a.ndim() != ndim)
    value_error(fn, ": ", a.name, " must be ", ndim, "-D, got ", a.ndim(), "-D array of shape ", shape_str(a.shape));
  return a.dtype;
}

// A float array of one of two ranks ("must be 2-D or 4-D").
inline DType float_array(const char* fn, const Array& a, int rank1, int rank2) {
  if (!a.is_float()) type_error(fn, ": ", a.name, " must be float32 or float64, got ", a.dtype_name);
  if (a.ndim() != rank1 && a.ndim() != rank2)
    value_error(fn, ": ", a.name, " must be ", rank1, "-D or ", rank2, "-D, got ", a.ndim(), "-D array of shape ",
                shape_str(a.shape));
  return a.dtype;
}

// An array of an exact non-float dtype (indices int64, masks uint8).
inline void exact_dtype(const char* fn, const Array& a, DType want, const char* what = "") {
  if (a.dtype != want) type_error(fn, ": ", a.name, " must be ", what, dtype_str(want), ", got ", a.dtype_name);
}

// `a` (when present) has ref's dtype: mixed dtypes are rejected.
inline void same_dtype(const char* fn, const Array& ref, const Array& a) {
  if (a.present && a.dtype != ref.dtype)
    type_error(fn, ": ", a.name, " has dtype ", a.dtype_name, " but ", ref.name, " is ", ref.dtype_name,
               "; mixed dtypes are not accepted");
}

inline void shape_is(const char* fn, const Array& a, const std::vector<index_t>& expected) {
  if (a.present && a.shape != expected)
    value_error(fn, ": ", a.name, " must have shape ", shape_str(expected), ", got ", shape_str(a.shape));
}

inline void writeable(const char* fn, const Array& a, const char* why = "but the kernel writes into it") {
  if (a.present && !a.writeable) value_error(fn, ": ", a.name, " is read-only ", why);
}

inline index_t at_least(const char* fn, const char* name, index_t v, index_t minimum) {
  if (v < minimum) value_error(fn, ": ", name, " must be >= ", minimum, ", got ", v);
  return v;
}

// Product of sizes, multiplied left to right like Python's checked_numel; a partial product beyond
// 2**63 − 1 is an error, not a wrapped index.
inline index_t checked_numel(const char* fn, const char* what, const std::vector<index_t>& dims) {
  index_t n = 1;
  for (index_t d : dims) {
    if (d > 0 && n > std::numeric_limits<index_t>::max() / d)
      value_error(fn, ": ", what, " ", shape_str(dims), " has more than 2**63-1 elements");
    n *= d;
  }
  return n;
}

inline index_t checked_add(const char* fn, const char* what, index_t a, index_t b) {
  if ((b > 0 && a > std::numeric_limits<index_t>::max() - b) || (b < 0 && a < std::numeric_limits<index_t>::min() - b))
    value_error(fn, ": ", what, " ", a, " + ", b, " has more than 2**63-1 elements");
  return a + b;
}

inline index_t checked_mul(const char* fn, const char* what, index_t a, index_t b) {
  return checked_numel(fn, what, {a, b});
}

// The physical memory of this machine in bytes (0 when the system does not say); read once.
inline double host_memory_bytes() {
  static const double bytes = [] {
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    return pages > 0 && page > 0 ? static_cast<double>(pages) * static_cast<double>(page) : 0.0;
  }();
  return bytes;
}

// A request larger than the memory there is fails at once, before anything is allocated:
// MemoryError "conv2d_forward: the column buffer needs 1.0 TiB, more than the 23.4 GiB of memory of
// this machine". Sizes are computed in floating point, so that the estimate itself cannot overflow.
inline std::string bytes_str(double bytes) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int u = 0;
  while (bytes >= 1024.0 && u < 6) { bytes /= 1024.0; ++u; }
  char buf[64];
  std::snprintf(buf, sizeof(buf), u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
  return buf;
}

inline void fits_in_memory(const char* fn, const char* what, double bytes, double available, const char* where) {
  if (available > 0 && bytes > available)
    memory_error(fn, ": ", what, " needs ", bytes_str(bytes), ", more than the ", bytes_str(available), " of ", where);
}

// Bytes of `elems` elements of a float dtype, in double (no overflow for any request).
inline double float_bytes(DType dt, double elems) { return elems * (dt == DType::f64 ? 8.0 : 4.0); }

// The element type a DType names, for dispatch: f(float{}) or f(double{}).
template <typename F>
decltype(auto) with_float(DType dt, F&& f) {
  if (dt == DType::f64) return f(double{});
  return f(float{});
}

}  // namespace pyengine::contract
