// bind_dropout.cpp — dropout_forward(x, p, seed) → (y, mask) and dropout_backward(grad_output, mask,
// p) (pyengine/dropout.h), for pyengine._C and pyengine._cuda.
//
// x may have any shape: the kernels work on the flat C-order elements, which is what makes the mask
// a function of (seed, flat index) alone, and hence the same on every implementation.
#include <cmath>

#include "bind.h"
#include "pyengine/cuda/elementwise.h"
#include "pyengine/dropout.h"

namespace pyengine::bind::dropout {

inline double to_p(const char* fn, py::handle p) { return contract::dropout_p(fn, to_real(fn, "p", p, "a float")); }

inline std::uint64_t to_seed(const char* fn, py::handle obj) {
  if (!is_integral(obj)) type_error(fn, ": seed must be an int, got ", type_name(obj), " ", repr_of(obj));
  py::int_ v = py::reinterpret_steal<py::int_>(PyNumber_Index(obj.ptr()));
  const std::uint64_t s = PyLong_AsUnsignedLongLong(v.ptr());
  if (PyErr_Occurred()) {  // negative or beyond 64 bits
    PyErr_Clear();
    value_error(fn, ": seed must be in [0, 2**64), got ", std::string(py::str(v)));
  }
  return s;
}

template <class D>
py::object forward(py::handle x_obj, py::handle p_obj, py::handle seed_obj) {
  const char* fn = "dropout_forward";
  auto x = D::arg(fn, "x", x_obj);
  contract::float_array(fn, x.a);
  const double p = to_p(fn, p_obj);
  const std::uint64_t seed = to_seed(fn, seed_obj);
  typename D::Call call(fn);
  call.inputs({&x});
  return with_float(x.a.dtype, [&](auto t) {
    using T = decltype(t);
    auto y = call.template empty<T>("the output", x.a.shape);
    const index_t n = x.a.numel();
    const T* px = in<T>(x);
    T* py_ = out<T>(y);
    if constexpr (D::is_cuda) {
      auto mask = call.empty_typed("the mask", x.a.shape, "uint8", 1);
      std::uint8_t* pm = out<std::uint8_t>(mask);
      call.run([&] { cuda::dropout_forward<T>(n, px, py_, pm, p, seed, call.stream()); });
      return py::object(py::make_tuple(y.object(), mask.object()));
    } else {
      auto mask = call.template empty<std::uint8_t>("the mask", x.a.shape);
      std::uint8_t* pm = out<std::uint8_t>(mask);
      const std::uint64_t threshold = static_cast<std::uint64_t>(std::ceil(p * 4294967296.0));
      const T scale = static_cast<T>(1.0 / (1.0 - p));
      call.run([&] { cpu::dropout_forward<T>(n, px, seed, threshold, scale, py_, pm); });
      return py::object(py::make_tuple(y.object(), mask.object()));
    }
  });
}

template <class D>
py::object backward(py::handle g_obj, py::handle mask_obj, py::handle p_obj) {
  const char* fn = "dropout_backward";
  auto g = D::arg(fn, "grad_output", g_obj);
  contract::float_array(fn, g.a);
  auto mask = D::arg(fn, "mask", mask_obj);
  contract::dropout_backward(fn, g.a, mask.a);
  const double p = to_p(fn, p_obj);
  typename D::Call call(fn);
  call.inputs({&g, &mask});
  return with_float(g.a.dtype, [&](auto t) {
    using T = decltype(t);
    auto gi = call.template empty<T>("grad_input", g.a.shape);
    const index_t n = g.a.numel();
    const T* pg = in<T>(g);
    const std::uint8_t* pm = in<std::uint8_t>(mask);
    T* pgi = out<T>(gi);
    if constexpr (D::is_cuda) {
      call.run([&] { cuda::dropout_backward<T>(n, pg, pm, pgi, p, call.stream()); });
    } else {
      const T scale = static_cast<T>(1.0 / (1.0 - p));
      call.run([&] { cpu::dropout_backward<T>(n, pg, pm, scale, pgi); });
    }
    return gi.object();
  });
}

// Channel dropout: x (N, C, ...) → (y, mask (N, C)).
template <class D>
py::object channels_forward(py::handle x_obj, py::handle p_obj, py::handle seed_obj) {
  const char* fn = "dropout_channels_forward";
  auto x = D::arg(fn, "x", x_obj);
  contract::dropout_channels_input(fn, x.a);
  const double p = to_p(fn, p_obj);
  const std::uint64_t seed = to_seed(fn, seed_obj);
  typename D::Call call(fn);
  call.inputs({&x});
  const std::vector<index_t> mshape{x.a.shape[0], x.a.shape[1]};
  const index_t channels = x.a.shape[0] * x.a.shape[1], S = channels ? x.a.numel() / channels : 0;
  return with_float(x.a.dtype, [&](auto t) {
    using T = decltype(t);
    auto y = call.template empty<T>("the output", x.a.shape);
    const T* px = in<T>(x);
    T* py_ = out<T>(y);
    if constexpr (D::is_cuda) {
      auto mask = call.empty_typed("the mask", mshape, "uint8", 1);
      std::uint8_t* pm = out<std::uint8_t>(mask);
      call.run([&] { cuda::dropout_channels_forward<T>(channels, S, px, py_, pm, p, seed, call.stream()); });
      return py::object(py::make_tuple(y.object(), mask.object()));
    } else {
      auto mask = call.template empty<std::uint8_t>("the mask", mshape);
      std::uint8_t* pm = out<std::uint8_t>(mask);
      const std::uint64_t threshold = static_cast<std::uint64_t>(std::ceil(p * 4294967296.0));
      const T scale = static_cast<T>(1.0 / (1.0 - p));
      call.run([&] { cpu::dropout_channels_forward<T>(channels, S, px, seed, threshold, scale, py_, pm); });
      return py::object(py::make_tuple(y.object(), mask.object()));
    }
  });
}

template <class D>
py::object channels_backward(py::handle g_obj, py::handle mask_obj, py::handle p_obj) {
  const char* fn = "dropout_channels_backward";
  auto g = D::arg(fn, "grad_output", g_obj);
  contract::dropout_channels_input(fn, g.a);
  auto mask = D::arg(fn, "mask", mask_obj);
  contract::dropout_channels_backward(fn, g.a, mask.a);
  const double p = to_p(fn, p_obj);
  typename D::Call call(fn);
  call.inputs({&g, &mask});
  const index_t channels = g.a.shape[0] * g.a.shape[1], S = channels ? g.a.numel() / channels : 0;
  return with_float(g.a.dtype, [&](auto t) {
    using T = decltype(t);
    auto gi = call.template empty<T>("grad_input", g.a.shape);
    const T* pg = in<T>(g);
    const std::uint8_t* pm = in<std::uint8_t>(mask);
    T* pgi = out<T>(gi);
    if constexpr (D::is_cuda) {
      call.run([&] { cuda::dropout_channels_backward<T>(channels, S, pg, pm, pgi, p, call.stream()); });
    } else {
      const T scale = static_cast<T>(1.0 / (1.0 - p));
      call.run([&] { cpu::dropout_channels_backward<T>(channels, S, pg, pm, scale, pgi); });
    }
    return gi.object();
  });
}

template <class D>
void bind(py::module_& m) {
  using py::arg;
  kernel(m, "dropout_forward", &forward<D>, arg("x"), arg("p"), arg("seed"),
         "x: any shape. Returns (y, mask): mask uint8 of x's shape (1 = kept), y = x·mask/(1 − p); the mask "
         "depends only on (seed, flat index).");
  kernel(m, "dropout_backward", &backward<D>, arg("grad_output"), arg("mask"), arg("p"),
         "grad_input = grad_output · mask / (1 − p); grad_output and mask (uint8) of one shape.");
  kernel(m, "dropout_channels_forward", &channels_forward<D>, arg("x"), arg("p"), arg("seed"),
         "x (N, C, ...): whole channels dropped. Returns (y, mask): mask uint8 (N, C), drawn as dropout_forward's "
         "for flat index n·C + c; y = x·mask[n, c]/(1 − p).");
  kernel(m, "dropout_channels_backward", &channels_backward<D>, arg("grad_output"), arg("mask"), arg("p"),
         "grad_input = grad_output · mask[n, c] / (1 − p); mask uint8 (N, C) of grad_output's first two axes.");
}

}  // namespace pyengine::bind::dropout

namespace pyengine::bind {
PE_BIND_FAMILY(dropout)
}
