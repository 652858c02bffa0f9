// bind_pool2d.cpp — max, average and global average pooling over NCHW (pyengine/pool2d.h), for
// pyengine._C and pyengine._cuda.
//
// The max-pooling backward checks that every index lies in its plane (as the reference does): the
// CPU kernel counts the bad ones as it scatters, the GPU runs a min/max reduction first (the call
// waits for the device once). Under pyengine.use_deterministic_algorithms(True) the GPU scatter,
// whose atomic additions have no fixed order, is done on the host in index order instead.
#include "bind.h"
#include "pyengine/cuda/pool2d.h"
#include "pyengine/pool2d.h"

namespace pyengine::bind::pool2d {

using Pair = std::array<index_t, 2>;

// kernel_size, stride (None: the kernel), padding, dilation, ceil_mode, as the reference reads them.
struct Window {
  Pair k, st, pad, dil;
  bool ceil_mode;
  Window(const char* fn, py::handle k_, py::handle s_, py::handle p_, py::handle d_, py::handle c_)
      : k(to_pair(fn, "kernel_size", k_, 1)),
        st(s_.is_none() ? k : to_pair(fn, "stride", s_, 1)),
        pad(to_pair(fn, "padding", p_, 0)),
        dil(d_.is_none() ? Pair{1, 1} : to_pair(fn, "dilation", d_, 1)),
        ceil_mode(to_bool(fn, "ceil_mode", c_)) {}
};

template <class D>
typename D::Arg image(const char* fn, const char* name, py::handle obj) {
  auto x = D::arg(fn, name, obj);
  contract::float_array(fn, x.a, 4);
  contract::pool2d_planes(fn, name, x.a.shape);
  return x;
}

// A backward's grad_output (any float 4-D array) and input_shape (N, C, H, W).
template <class D>
typename D::Arg grad(const char* fn, py::handle obj) {
  auto g = D::arg(fn, "grad_output", obj);
  contract::float_array(fn, g.a, 4);
  return g;
}

inline std::vector<index_t> planes_shape(const char* fn, py::handle obj) {
  std::vector<index_t> shape = to_shape(fn, "input_shape", obj, 4);
  contract::pool2d_planes(fn, "input_shape", shape);
  return shape;
}

// on::<kernel><D, T>(call, args...) runs cpu::<kernel><T>(args...) or, on the GPU,
// cuda::<kernel><T>(args..., stream): the two headers give each kernel the same name and arguments.
namespace on {
#define PE_POOL_ON_DEVICE(name)                                                                  \
  template <class D, typename T, class Call, typename... A>                                      \
  void name(Call& call, const A&... a) {                                                         \
    if constexpr (D::is_cuda)                                                                    \
      call.run([&] { ::pyengine::cuda::name<T>(a..., call.stream()); });                         \
    else                                                                                         \
      call.run([&] { ::pyengine::cpu::name<T>(a...); });                                         \
  }
PE_POOL_ON_DEVICE(max_pool2d_forward)
PE_POOL_ON_DEVICE(avg_pool2d_forward)
PE_POOL_ON_DEVICE(avg_pool2d_backward_input)
PE_POOL_ON_DEVICE(global_avg_pool2d_forward)
PE_POOL_ON_DEVICE(global_avg_pool2d_backward_input)
#undef PE_POOL_ON_DEVICE
}  // namespace on

// One float output of `shape` in `src`'s dtype: launch(T{}, src pointer, output pointer) fills it.
template <class D, class F>
py::object one_output(typename D::Call& call, const typename D::Arg& src, const char* what,
                      const std::vector<index_t>& shape, F&& launch) {
  return with_float(src.a.dtype, [&](auto t) {
    using T = decltype(t);
    auto y = call.template empty<T>(what, shape);
    launch(t, in<T>(src), out<T>(y));
    return y.object();
  });
}

template <class D>
py::object max_forward(py::handle x_obj, py::handle k, py::handle s, py::handle p, py::handle d, py::handle c,
                       py::handle window_obj) {
  const char* fn = "max_pool2d_forward";
  auto x = image<D>(fn, "x", x_obj);
  const Window w(fn, k, s, p, d, c);
  const bool window = to_bool(fn, "window_indices", window_obj);
  const Pool2dShape g = contract::pool2d(fn, x.a.shape, w.k, w.st, w.pad, w.dil, w.ceil_mode);
  if (window) contract::pool2d_window_indices(fn, g);
  if (window && D::is_cuda) value_error(fn, ": window_indices is implemented on the CPU only");
  typename D::Call call(fn);
  call.inputs({&x});
  const std::vector<index_t> out_shape{g.N, g.C, g.OH, g.OW};
  return with_float(x.a.dtype, [&](auto t) {
    using T = decltype(t);
    auto y = call.template empty<T>("the output", out_shape);
    const T* px = in<T>(x);
    T* py_ = out<T>(y);
    if constexpr (!D::is_cuda) {
      if (window) {
        auto taps = call.template empty<std::uint8_t>("the indices", out_shape);
        std::uint8_t* pt = out<std::uint8_t>(taps);
        call.run([&] { cpu::max_pool2d_forward<T>(g, px, py_, pt); });
        return py::object(py::make_tuple(y.object(), taps.object()));
      }
    }
    // int64 on both devices (the CUDA policy has no typed empty<std::int64_t>)
    typename D::Arg idx;
    if constexpr (D::is_cuda) idx = call.empty_typed("the indices", out_shape, "int64", 8);
    else idx = call.template empty<std::int64_t>("the indices", out_shape);
    on::max_pool2d_forward<D, T>(call, g, px, py_, out<std::int64_t>(idx));
    return py::object(py::make_tuple(y.object(), idx.object()));
  });
}

// The range of the indices, for the error message.
template <typename I>
void index_range(index_t n, const I* p, std::int64_t& lo, std::int64_t& hi) {
  lo = hi = n > 0 ? static_cast<std::int64_t>(p[0]) : 0;
  for (index_t i = 1; i < n; ++i) {
    const std::int64_t v = static_cast<std::int64_t>(p[i]);
    lo = v < lo ? v : lo;
    hi = v > hi ? v : hi;
  }
}

template <class D>
py::object max_backward(py::handle g_obj, py::handle idx_obj, py::handle shape_obj, py::handle k, py::handle s,
                        py::handle p, py::handle d, py::handle c) {
  const char* fn = "max_pool2d_backward_input";
  auto g = grad<D>(fn, g_obj);
  auto idx = D::arg(fn, "indices", idx_obj);
  const std::vector<index_t> in_shape = to_shape(fn, "input_shape", shape_obj, 4);
  const bool window = !k.is_none();
  contract::max_pool2d_backward(fn, g.a, idx.a, in_shape, window);
  const bool taps = idx.a.dtype == DType::u8;
  // The geometry: the forward's whole window when it is given (grad_output must then be its output),
  // else only the sizes (flat indices need no more).
  Pool2dShape geo{};
  if (window) {
    const Window w(fn, k, s, p, d, c);
    geo = contract::pool2d(fn, in_shape, w.k, w.st, w.pad, w.dil, w.ceil_mode);
    contract::shape_is(fn, g.a, {geo.N, geo.C, geo.OH, geo.OW});
    if (taps) contract::pool2d_window_indices(fn, geo);
  } else {
    geo.N = in_shape[0]; geo.C = in_shape[1]; geo.H = in_shape[2]; geo.W = in_shape[3];
    geo.OH = g.a.dim(2); geo.OW = g.a.dim(3);
  }
  if (taps && D::is_cuda) value_error(fn, ": uint8 window indices are implemented on the CPU only");
  typename D::Call call(fn);
  call.inputs({&g, &idx});
  const index_t planes = in_shape[0] * in_shape[1], hw = in_shape[2] * in_shape[3], ohw = g.a.dim(2) * g.a.dim(3);
  return with_float(g.a.dtype, [&](auto t) {
    using T = decltype(t);
    auto gi = call.template empty<T>("grad_input", in_shape);
    const T* pg = in<T>(g);
    T* pgi = out<T>(gi);
    if constexpr (D::is_cuda) {
      const std::int64_t* pidx = in<std::int64_t>(idx);
      const index_t n = idx.a.numel();
      if (n > 0) {
        auto scratch = call.empty_typed("the index range", {2}, "int64", 8);
        std::int64_t range[2];
        cuda::index_range(n, pidx, out<std::int64_t>(scratch), range, call.stream());
        if (range[0] < 0 || range[1] >= hw) contract::pool2d_bad_indices(fn, hw, range[0], range[1]);
      }
      const bool ordered = call.deterministic();
      call.run([&] {
        if (ordered) cuda::max_pool2d_backward_input_ordered<T>(planes, hw, ohw, pg, pidx, pgi, call.stream());
        else cuda::max_pool2d_backward_input<T>(planes, hw, ohw, pg, pidx, pgi, call.stream());
      });
    } else {
      index_t bad = 0;
      std::int64_t lo = 0, hi = 0;
      if (taps) {
        const std::uint8_t* pt = in<std::uint8_t>(idx);
        call.run([&] { bad = cpu::max_pool2d_backward_input<T>(geo, pg, pt, pgi); });
        if (bad > 0) {
          index_range(idx.a.numel(), pt, lo, hi);
          contract::pool2d_bad_taps(fn, geo, lo, hi);
        }
      } else {
        const std::int64_t* pidx = in<std::int64_t>(idx);
        call.run([&] { bad = cpu::max_pool2d_backward_input<T>(geo, pg, pidx, pgi); });
        if (bad > 0) {
          index_range(idx.a.numel(), pidx, lo, hi);
          contract::pool2d_bad_indices(fn, hw, lo, hi);
        }
      }
    }
    return gi.object();
  });
}

template <class D>
py::object avg_forward(py::handle x_obj, py::handle k, py::handle s, py::handle p, py::handle c, py::handle cip_obj) {
  const char* fn = "avg_pool2d_forward";
  auto x = image<D>(fn, "x", x_obj);
  const bool cip = to_bool(fn, "count_include_pad", cip_obj);
  const Window w(fn, k, s, p, py::none(), c);
  const Pool2dShape g = contract::pool2d(fn, x.a.shape, w.k, w.st, w.pad, w.dil, w.ceil_mode);
  typename D::Call call(fn);
  call.inputs({&x});
  return one_output<D>(call, x, "the output", {g.N, g.C, g.OH, g.OW}, [&](auto t, auto px, auto py_) {
    on::avg_pool2d_forward<D, decltype(t)>(call, g, cip, px, py_);
  });
}

template <class D>
py::object avg_backward(py::handle g_obj, py::handle shape_obj, py::handle k, py::handle s, py::handle p,
                        py::handle c, py::handle cip_obj) {
  const char* fn = "avg_pool2d_backward_input";
  auto g = grad<D>(fn, g_obj);
  const std::vector<index_t> in_shape = planes_shape(fn, shape_obj);
  const bool cip = to_bool(fn, "count_include_pad", cip_obj);
  const Window w(fn, k, s, p, py::none(), c);
  const Pool2dShape geo = contract::pool2d(fn, in_shape, w.k, w.st, w.pad, w.dil, w.ceil_mode);
  contract::shape_is(fn, g.a, {geo.N, geo.C, geo.OH, geo.OW});
  typename D::Call call(fn);
  call.inputs({&g});
  return one_output<D>(call, g, "grad_input", in_shape, [&](auto t, auto pg, auto pgi) {
    on::avg_pool2d_backward_input<D, decltype(t)>(call, geo, cip, pg, pgi);
  });
}

template <class D>
py::object gap_forward(py::handle x_obj) {
  const char* fn = "global_avg_pool2d_forward";
  auto x = image<D>(fn, "x", x_obj);
  typename D::Call call(fn);
  call.inputs({&x});
  const index_t planes = x.a.dim(0) * x.a.dim(1), hw = x.a.dim(2) * x.a.dim(3);
  return one_output<D>(call, x, "the output", {x.a.dim(0), x.a.dim(1), 1, 1}, [&](auto t, auto px, auto py_) {
    on::global_avg_pool2d_forward<D, decltype(t)>(call, planes, hw, px, py_);
  });
}

template <class D>
py::object gap_backward(py::handle g_obj, py::handle shape_obj) {
  const char* fn = "global_avg_pool2d_backward_input";
  auto g = grad<D>(fn, g_obj);
  const std::vector<index_t> in_shape = planes_shape(fn, shape_obj);
  contract::shape_is(fn, g.a, {in_shape[0], in_shape[1], 1, 1});
  typename D::Call call(fn);
  call.inputs({&g});
  const index_t planes = in_shape[0] * in_shape[1], hw = in_shape[2] * in_shape[3];
  return one_output<D>(call, g, "grad_input", in_shape, [&](auto t, auto pg, auto pgi) {
    on::global_avg_pool2d_backward_input<D, decltype(t)>(call, planes, hw, pg, pgi);
  });
}

template <class D>
void bind(py::module_& m) {
  using py::arg;
  kernel(m, "max_pool2d_forward", &max_forward<D>, arg("x"), arg("kernel_size"), arg("stride") = py::none(),
         arg("padding") = 0, arg("dilation") = 1, arg("ceil_mode") = false, arg("window_indices") = false,
         "Max over each window: x (N, C, H, W) → (output (N, C, OH, OW), indices int64 h·W + w per plane); ties "
         "keep the first maximum and NaN wins. OH = floor((H + 2·ph − dh·(kh − 1) − 1) / sh) + 1 (ceil with "
         "ceil_mode); stride defaults to kernel_size. window_indices (CPU): uint8 taps i·kw + j inside each "
         "window instead (kh·kw ≤ 256), for max_pool2d_backward_input with the same window.");
  kernel(m, "max_pool2d_backward_input", &max_backward<D>, arg("grad_output"), arg("indices"), arg("input_shape"),
         arg("kernel_size") = py::none(), arg("stride") = py::none(), arg("padding") = 0, arg("dilation") = 1,
         arg("ceil_mode") = false,
         "grad_input (input_shape) with grad_output (N, C, OH, OW) added at indices (N, C, OH, OW): int64 flat "
         "positions, or uint8 window taps with the forward's kernel_size, stride, padding, dilation, ceil_mode.");
  kernel(m, "avg_pool2d_forward", &avg_forward<D>, arg("x"), arg("kernel_size"), arg("stride") = py::none(),
         arg("padding") = 0, arg("ceil_mode") = false, arg("count_include_pad") = true,
         "Mean over each window: x (N, C, H, W) → (N, C, OH, OW), OH = floor((H + 2·ph − kh) / sh) + 1.");
  kernel(m, "avg_pool2d_backward_input", &avg_backward<D>, arg("grad_output"), arg("input_shape"),
         arg("kernel_size"), arg("stride") = py::none(), arg("padding") = 0, arg("ceil_mode") = false,
         arg("count_include_pad") = true,
         "Gradient of avg_pool2d_forward: grad_output (N, C, OH, OW) → grad_input of input_shape (N, C, H, W).");
  kernel(m, "global_avg_pool2d_forward", &gap_forward<D>, arg("x"), "Mean over each plane: x (N, C, H, W) → (N, C, 1, 1).");
  kernel(m, "global_avg_pool2d_backward_input", &gap_backward<D>, arg("grad_output"), arg("input_shape"),
         "grad_input (N, C, H, W) = grad_output (N, C, 1, 1) / (H·W).");
}

}  // namespace pyengine::bind::pool2d

namespace pyengine::bind {
PE_BIND_FAMILY(pool2d)
}
