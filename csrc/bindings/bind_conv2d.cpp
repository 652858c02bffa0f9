// bind_conv2d.cpp — im2col, col2im, conv2d_forward and its three backwards (pyengine/conv2d.h), for
// pyengine._C and pyengine._cuda.
//
// stride, padding and dilation are an int or a pair; every op reads them, then the arrays' shapes,
// through one geometry check (contract::conv2d). On the GPU the column workspace of the im2col +
// GEMM path comes from CuPy's pool, capped at RUNTIME.conv2d_workspace_elements (at least one
// image's columns; pyengine/kernels/cuda/_ext.py).
#include "bind.h"
#include "pyengine/conv2d.h"
#include "pyengine/cuda/conv2d.h"
#include "pyengine/cuda/elementwise.h"

namespace pyengine::bind::conv2d {

using Pair = std::array<index_t, 2>;

struct Params {
  Pair stride, padding, dilation;
  index_t groups;
  // groups: the argument, or none for im2col/col2im (one group)
  Params(const char* fn, py::handle s, py::handle p, py::handle d, const py::handle* g)
      : stride(to_pair(fn, "stride", s, 1)), padding(to_pair(fn, "padding", p, 0)), dilation(to_pair(fn, "dilation", d, 1)),
        groups(g ? to_int(fn, "groups", *g, 1) : 1) {}
};

inline ConvGeom geometry(const char* fn, const std::vector<index_t>& in, const std::vector<index_t>& wt, const Params& p) {
  return contract::conv2d(fn, in, wt, p.stride, p.padding, p.dilation, p.groups);
}

// The column workspace of the GPU's im2col path (none for 1×1 convolutions and the direct kernel).
template <class D, typename T>
auto cuda_workspace(typename D::Call& call, const ConvGeom& g, bool forward, index_t& chunk) {
  const index_t budget = call.runtime().attr("conv2d_workspace_elements").template cast<index_t>();
  chunk = cuda::conv2d_chunk(g, budget, forward);
  const index_t elems = chunk * g.C * g.R * g.S * g.OH * g.OW;
  using Out = decltype(call.template empty<T>("", {}));
  return elems > 0 ? call.template empty<T>("the column workspace", {elems}) : Out{};
}

// conv2d_forward, and conv2d_relu_forward (relu: max(y, 0) applied as the CPU kernels store each
// output tile; on the GPU a second elementwise kernel over y).
template <class D>
py::object forward(const char* fn, bool relu, py::handle x_obj, py::handle w_obj, py::handle b_obj, py::handle s,
                   py::handle p, py::handle d, py::handle gr) {
  auto x = D::arg(fn, "x", x_obj), w = D::arg(fn, "weight", w_obj);
  contract::float_array(fn, x.a, 4);
  contract::float_array(fn, w.a, 4);
  contract::same_dtype(fn, x.a, w.a);
  const ConvGeom g = geometry(fn, x.a.shape, w.a.shape, Params(fn, s, p, d, &gr));
  auto b = D::opt(fn, "bias", b_obj);
  if (b.a.present) {
    contract::float_array(fn, b.a, 1);
    contract::same_dtype(fn, x.a, b.a);
    contract::shape_is(fn, b.a, {g.K});
  }
  typename D::Call call(fn);
  call.inputs({&x, &w, &b});
  return with_float(x.a.dtype, [&](auto t) {
    using T = decltype(t);
    auto y = call.template empty<T>("the output", contract::conv2d_output_shape(g));
    const T *px = in<T>(x), *pw = in<T>(w), *pb = in<T>(b);
    T* py_ = out<T>(y);
    if constexpr (D::is_cuda) {
      index_t chunk = 0;
      auto ws = cuda_workspace<D, T>(call, g, true, chunk);
      T* pws = out<T>(ws);
      const bool tf32 = call.tf32() && sizeof(T) == 4;
      const index_t n = g.N * g.K * g.OH * g.OW;
      call.run([&] {
        cuda::conv2d_forward<T>(g, px, pw, pb, py_, pws, chunk, tf32, call.stream());
        if (relu) cuda::activation_forward<T>(cuda::Act::relu, n, py_, py_, 0.0, call.stream());
      });
    } else {
      call.workspace("the workspace", cpu::conv2d_workspace_bytes(g, sizeof(T), cpu::Conv2dPass::forward));
      call.run([&] { cpu::conv2d_forward<T>(g, px, pw, pb, py_, relu); });
    }
    return y.object();
  });
}

template <class D>
py::object backward_input(py::handle g_obj, py::handle w_obj, py::handle shape_obj, py::handle s, py::handle p,
                          py::handle d, py::handle gr) {
  const char* fn = "conv2d_backward_input";
  auto gy = D::arg(fn, "grad_output", g_obj), w = D::arg(fn, "weight", w_obj);
  contract::float_array(fn, gy.a, 4);
  contract::float_array(fn, w.a, 4);
  contract::same_dtype(fn, gy.a, w.a);
  const std::vector<index_t> in_shape = to_shape(fn, "input_shape", shape_obj, 4);
  const ConvGeom g = geometry(fn, in_shape, w.a.shape, Params(fn, s, p, d, &gr));
  contract::shape_is(fn, gy.a, contract::conv2d_output_shape(g));
  typename D::Call call(fn);
  call.inputs({&gy, &w});
  return with_float(w.a.dtype, [&](auto t) {
    using T = decltype(t);
    auto gx = call.template empty<T>("grad_input", in_shape);
    const T *pg = in<T>(gy), *pw = in<T>(w);
    T* pgx = out<T>(gx);
    if constexpr (D::is_cuda) {
      index_t chunk = 0;
      auto ws = cuda_workspace<D, T>(call, g, false, chunk);
      T* pws = out<T>(ws);
      const bool tf32 = call.tf32() && sizeof(T) == 4;
      call.run([&] { cuda::conv2d_backward_input<T>(g, pg, pw, pgx, pws, chunk, tf32, call.stream()); });
    } else {
      call.workspace("the workspace", cpu::conv2d_workspace_bytes(g, sizeof(T), cpu::Conv2dPass::backward_input));
      call.run([&] { cpu::conv2d_backward_input<T>(g, pg, pw, pgx); });
    }
    return gx.object();
  });
}

template <class D>
py::object backward_weight(py::handle g_obj, py::handle x_obj, py::handle shape_obj, py::handle s, py::handle p,
                           py::handle d, py::handle gr) {
  const char* fn = "conv2d_backward_weight";
  auto gy = D::arg(fn, "grad_output", g_obj), x = D::arg(fn, "x", x_obj);
  contract::float_array(fn, gy.a, 4);
  contract::float_array(fn, x.a, 4);
  contract::same_dtype(fn, gy.a, x.a);
  const std::vector<index_t> w_shape = to_shape(fn, "weight_shape", shape_obj, 4);
  const ConvGeom g = geometry(fn, x.a.shape, w_shape, Params(fn, s, p, d, &gr));
  contract::shape_is(fn, gy.a, contract::conv2d_output_shape(g));
  typename D::Call call(fn);
  call.inputs({&gy, &x});
  return with_float(x.a.dtype, [&](auto t) {
    using T = decltype(t);
    auto gw = call.template empty<T>("grad_weight", w_shape);
    const T *pg = in<T>(gy), *px = in<T>(x);
    T* pgw = out<T>(gw);
    if constexpr (D::is_cuda) {
      index_t chunk = 0;
      auto ws = cuda_workspace<D, T>(call, g, false, chunk);
      T* pws = out<T>(ws);
      const bool tf32 = call.tf32() && sizeof(T) == 4;
      call.run([&] { cuda::conv2d_backward_weight<T>(g, pg, px, pgw, pws, chunk, tf32, call.stream()); });
    } else {
      call.workspace("the workspace", cpu::conv2d_workspace_bytes(g, sizeof(T), cpu::Conv2dPass::backward_weight));
      call.run([&] { cpu::conv2d_backward_weight<T>(g, pg, px, pgw); });
    }
    return gw.object();
  });
}

template <class D>
py::object backward_bias(py::handle g_obj) {
  const char* fn = "conv2d_backward_bias";
  auto gy = D::arg(fn, "grad_output", g_obj);
  contract::float_array(fn, gy.a, 4);
  typename D::Call call(fn);
  call.inputs({&gy});
  const index_t N = gy.a.dim(0), K = gy.a.dim(1), L = gy.a.dim(2) * gy.a.dim(3);
  return with_float(gy.a.dtype, [&](auto t) {
    using T = decltype(t);
    auto gb = call.template empty<T>("grad_bias", {K});
    const T* pg = in<T>(gy);
    T* pgb = out<T>(gb);
    if constexpr (D::is_cuda)
      call.run([&] { cuda::channel_sum<T>(N, K, L, pg, pgb, 1.0, call.stream()); });
    else
      call.run([&] { cpu::conv2d_backward_bias<T>(N, K, L, pg, pgb); });
    return gb.object();
  });
}

template <class D>
py::object im2col(py::handle x_obj, py::handle k_obj, py::handle s, py::handle p, py::handle d) {
  const char* fn = "im2col";
  auto x = D::arg(fn, "x", x_obj);
  contract::float_array(fn, x.a, 4);
  const Pair k = to_pair(fn, "kernel_size", k_obj, 1);
  const ConvGeom g = geometry(fn, x.a.shape, {1, x.a.dim(1), k[0], k[1]}, Params(fn, s, p, d, nullptr));
  typename D::Call call(fn);
  call.inputs({&x});
  return with_float(x.a.dtype, [&](auto t) {
    using T = decltype(t);
    auto cols = call.template empty<T>("the column buffer", {g.N, g.C * g.R * g.S, g.OH * g.OW});
    const T* px = in<T>(x);
    T* pc = out<T>(cols);
    if constexpr (D::is_cuda)
      call.run([&] { cuda::im2col<T>(g, px, pc, call.stream()); });
    else
      call.run([&] { cpu::im2col<T>(g, px, pc); });
    return cols.object();
  });
}

template <class D>
py::object col2im(py::handle c_obj, py::handle shape_obj, py::handle k_obj, py::handle s, py::handle p, py::handle d) {
  const char* fn = "col2im";
  auto cols = D::arg(fn, "cols", c_obj);
  contract::float_array(fn, cols.a, 3);
  const std::vector<index_t> in_shape = to_shape(fn, "input_shape", shape_obj, 4);
  const Pair k = to_pair(fn, "kernel_size", k_obj, 1);
  const ConvGeom g = geometry(fn, in_shape, {1, in_shape[1], k[0], k[1]}, Params(fn, s, p, d, nullptr));
  contract::shape_is(fn, cols.a, {g.N, g.C * g.R * g.S, g.OH * g.OW});
  typename D::Call call(fn);
  call.inputs({&cols});
  return with_float(cols.a.dtype, [&](auto t) {
    using T = decltype(t);
    auto x = call.template empty<T>("the output", in_shape);
    const T* pc = in<T>(cols);
    T* px = out<T>(x);
    if constexpr (D::is_cuda)
      call.run([&] { cuda::col2im<T>(g, pc, px, call.stream()); });
    else
      call.run([&] { cpu::col2im<T>(g, pc, px); });
    return x.object();
  });
}

template <class D>
void bind(py::module_& m) {
  using py::arg;
  kernel(m, "im2col", &im2col<D>, arg("x"), arg("kernel_size"), arg("stride") = 1, arg("padding") = 0,
         arg("dilation") = 1,
         "Unfolds every kernel window of x (N, C, H, W) into a column: (N, C·kh·kw, OH·OW), row c·kh·kw + r·kw + s, "
         "column oh·OW + ow; padded positions are 0.");
  kernel(m, "col2im", &col2im<D>, arg("cols"), arg("input_shape"), arg("kernel_size"), arg("stride") = 1,
         arg("padding") = 0, arg("dilation") = 1,
         "The adjoint of im2col: cols (N, C·kh·kw, OH·OW) scattered back to input_shape (N, C, H, W), overlaps "
         "summed; values that fall on padding are dropped.");
  for (bool relu : {false, true}) {
    const char* name = relu ? "conv2d_relu_forward" : "conv2d_forward";
    kernel(m, name, [name, relu](py::handle x, py::handle w, py::handle b, py::handle s, py::handle p, py::handle d,
                                 py::handle g) { return forward<D>(name, relu, x, w, b, s, p, d, g); },
           arg("x"), arg("weight"), arg("bias") = py::none(), arg("stride") = 1, arg("padding") = 0, arg("dilation") = 1,
           arg("groups") = 1,
           relu ? "max(conv2d_forward(x, weight, bias, ...), 0), NaN kept: the fused conv + bias + ReLU of inference, "
                  "the ReLU applied as each output tile is stored. Shapes as conv2d_forward."
                : "2-D cross-correlation (PyTorch's conv2d). x (N, C, H, W), weight (K, C/groups, R, S), bias (K,) or "
                  "None → (N, K, OH, OW), OH = floor((H + 2·ph − dh·(R − 1) − 1) / sh) + 1 (OW likewise).");
  }
  kernel(m, "conv2d_backward_input", &backward_input<D>, arg("grad_output"), arg("weight"), arg("input_shape"),
         arg("stride") = 1, arg("padding") = 0, arg("dilation") = 1, arg("groups") = 1,
         "Gradient of conv2d_forward w.r.t. x: grad_output (N, K, OH, OW), weight → (N, C, H, W) = input_shape.");
  kernel(m, "conv2d_backward_weight", &backward_weight<D>, arg("grad_output"), arg("x"), arg("weight_shape"),
         arg("stride") = 1, arg("padding") = 0, arg("dilation") = 1, arg("groups") = 1,
         "Gradient of conv2d_forward w.r.t. weight, summed over the batch: an array of weight_shape "
         "(K, C/groups, R, S).");
  kernel(m, "conv2d_backward_bias", &backward_bias<D>, arg("grad_output"),
         "Gradient of conv2d_forward w.r.t. bias: grad_output (N, K, OH, OW) summed to (K,).");
}

}  // namespace pyengine::bind::conv2d

namespace pyengine::bind {
PE_BIND_FAMILY(conv2d)
}
