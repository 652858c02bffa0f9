// bind_adaptive_pool2d.cpp — adaptive_max_pool2d_forward(x, output_size) → (y, indices) and
// adaptive_max_pool2d_backward_input(grad_output, indices, input_shape)
// (pyengine/adaptive_pool2d.h), for pyengine._C and pyengine._cuda.
//
// The backward checks that every index lies in the bin of its cell (as the reference does): the CPU
// kernel counts the bad ones as it scatters, the GPU counts them in a check kernel first (the call
// waits for the device once).
#include "bind.h"
#include "pyengine/adaptive_pool2d.h"
#include "pyengine/parallel.h"

namespace pyengine::bind::adaptive_pool2d {

template <class D>
py::object forward(py::handle x_obj, py::handle size_obj) {
  const char* fn = "adaptive_max_pool2d_forward";
  auto x = D::arg(fn, "x", x_obj);
  contract::float_array(fn, x.a, 4);
  const auto size = to_pair(fn, "output_size", size_obj, 1);
  const AdaptivePool2dDims d = contract::adaptive_max_pool2d_forward(fn, x.a, size[0], size[1]);
  const std::vector<index_t> out_shape{x.a.shape[0], x.a.shape[1], d.OH, d.OW};
  typename D::Call call(fn);
  call.inputs({&x});
  return with_float(x.a.dtype, [&](auto t) {
    using T = decltype(t);
    auto y = call.template empty<T>("the output", out_shape);
    typename D::Arg idx;
    if constexpr (D::is_cuda) idx = call.empty_typed("the indices", out_shape, "int64", 8);
    else {
      idx = call.template empty<std::int64_t>("the indices", out_shape);
      call.workspace("the column maxima", static_cast<double>(d.W + 16) * (sizeof(T) + 8.0) * cpu::get_num_threads());
    }
    const T* px = in<T>(x);
    T* py_ = out<T>(y);
    std::int64_t* pi = out<std::int64_t>(idx);
    if constexpr (D::is_cuda) call.run([&] { cuda::adaptive_max_pool2d_forward<T>(d, px, py_, pi, call.stream()); });
    else call.run([&] { cpu::adaptive_max_pool2d_forward<T>(d, px, py_, pi); });
    return py::object(py::make_tuple(y.object(), idx.object()));
  });
}

template <class D>
py::object backward(py::handle g_obj, py::handle idx_obj, py::handle shape_obj) {
  const char* fn = "adaptive_max_pool2d_backward_input";
  auto g = D::arg(fn, "grad_output", g_obj);
  contract::float_array(fn, g.a, 4);
  auto idx = D::arg(fn, "indices", idx_obj);
  const std::vector<index_t> in_shape = to_shape(fn, "input_shape", shape_obj, 4);
  const AdaptivePool2dDims d = contract::adaptive_max_pool2d_backward(fn, g.a, idx.a, in_shape);
  typename D::Call call(fn);
  call.inputs({&g, &idx});
  return with_float(g.a.dtype, [&](auto t) {
    using T = decltype(t);
    auto gi = call.template empty<T>("grad_input", in_shape);
    const T* pg = in<T>(g);
    const std::int64_t* pi = in<std::int64_t>(idx);
    T* pgi = out<T>(gi);
    if constexpr (D::is_cuda) {
      if (d.P > 0) {
        auto scratch = call.empty_typed("the index check", {1}, "int64", 8);
        const index_t bad = cuda::adaptive_max_pool2d_bad_indices(
            d, pi, reinterpret_cast<unsigned long long*>(out<std::int64_t>(scratch)), call.stream());
        if (bad > 0) contract::adaptive_pool2d_bad_indices(fn, bad);
      }
      call.run([&] { cuda::adaptive_max_pool2d_backward<T>(d, pg, pi, pgi, call.stream()); });
    } else {
      index_t bad = 0;
      call.run([&] { bad = cpu::adaptive_max_pool2d_backward<T>(d, pg, pi, pgi); });
      if (bad > 0) contract::adaptive_pool2d_bad_indices(fn, bad);
    }
    return gi.object();
  });
}

template <class D>
void bind(py::module_& m) {
  using py::arg;
  kernel(m, "adaptive_max_pool2d_forward", &forward<D>, arg("x"), arg("output_size"),
         "x (N, C, H, W) → (y, indices), both (N, C, OH, OW): the maximum of each adaptive bin (rows "
         "[floor(i·H/OH), ceil((i+1)·H/OH)), the same for columns) and its flat position h·W + w (int64).");
  kernel(m, "adaptive_max_pool2d_backward_input", &backward<D>, arg("grad_output"), arg("indices"),
         arg("input_shape"),
         "grad_output (N, C, OH, OW), indices from the forward → grad_input of input_shape (N, C, H, W): each "
         "gradient added at its index.");
}

}  // namespace pyengine::bind::adaptive_pool2d

namespace pyengine::bind {
PE_BIND_FAMILY(adaptive_pool2d)
}
