// bind_quantized.cpp — quantized_conv2d and quantized_linear, the requantized int8 layers,
// quantized_max_pool2d and quantize_per_tensor (pyengine/quantized.h), and quantized_kernel(), the
// int8 kernel this CPU runs.
//
// pyengine._C only: there is no CUDA int8 kernel. kernels.cuda's quantized_* (pyengine/kernels/
// cuda/quantized.py) copy device arrays to the host and call these, so a model on the GPU still
// runs its quantized layers, checked by this same contract.
#include <cmath>
#include <string>
#include <vector>

#include "bind.h"
#include "pyengine/quantized.h"

namespace pyengine::bind::quantized {

using Pair = std::array<index_t, 2>;

// uint8 or float32 (any spelling numpy.dtype accepts); true for uint8.
inline bool to_out_u8(const char* fn, py::handle obj) {
  if (PyUnicode_Check(obj.ptr())) {   // the per-call path of the int8 layers passes the name
    const std::string s = py::str(obj);
    if (s == "uint8" || s == "float32") return s == "uint8";
  }
  std::string name;
  try {
    name = py::str(py::module_::import("numpy").attr("dtype")(obj));
  } catch (const py::error_already_set&) {
    name = "";
  }
  if (name != "uint8" && name != "float32")
    value_error(fn, ": out_dtype must be uint8 or float32, got ", repr_of(obj));
  return name == "uint8";
}

// What both ops check once K (output channels) and J (reduction length) are known: the
// parameters in the reference's order, then the bias and multiplier arrays and their values.
struct Common {
  index_t x_zp, y_zp, qmin, qmax;
  bool out_u8;
  Host::Arg bias, multiplier;
  py::array_t<float> m32;   // the multiplier as float32
  Common(const char* fn, const Host::Arg& w, py::handle bias_obj, py::handle mult_obj, index_t K, index_t J,
         py::handle xz, py::handle yz, py::handle lo, py::handle hi, py::handle od)
      : x_zp(contract::quantized_u8(fn, "x_zero_point", to_int(fn, "x_zero_point", xz))),
        y_zp(contract::quantized_u8(fn, "y_zero_point", to_int(fn, "y_zero_point", yz))),
        qmin(contract::quantized_u8(fn, "qmin", to_int(fn, "qmin", lo))),
        qmax(contract::quantized_u8(fn, "qmax", to_int(fn, "qmax", hi))) {
    if (qmin > qmax) value_error(fn, ": qmin ", qmin, " is larger than qmax ", qmax);
    out_u8 = to_out_u8(fn, od);
    contract::quantized_reduction(fn, J);
    const py::array wc = py::array::ensure(w.arr, py::array::c_style);
    contract::quantized_weight_values(fn, static_cast<const std::int8_t*>(wc.data()), K * J);
    bias = Host::opt(fn, "bias", bias_obj);
    contract::quantized_bias(fn, bias.a, K);
    if (bias.a.present) {
      bias.arr = py::array::ensure(bias.arr, py::array::c_style);
      contract::quantized_bias_values(fn, in<std::int32_t>(bias), K);
    }
    multiplier = Host::arg(fn, "multiplier", mult_obj);
    contract::quantized_multiplier(fn, multiplier.a, K);
    m32 = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(multiplier.arr);
    if (out_u8) contract::quantized_multiplier_values(fn, m32.data(), K);
  }
};

template <class D>
py::object conv2d(py::handle x_obj, py::handle xz, py::handle w_obj, py::handle b_obj, py::handle m_obj,
                  py::handle yz, py::handle lo, py::handle hi, py::handle s, py::handle p, py::handle d, py::handle gr,
                  py::handle od) {
  const char* fn = "quantized_conv2d";
  auto x = Host::arg(fn, "x", x_obj), w = Host::arg(fn, "weight", w_obj);
  contract::quantized_int_array(fn, x.a, "uint8", 4);
  contract::quantized_int_array(fn, w.a, "int8", 4);
  const Pair st = to_pair(fn, "stride", s, 1), pad = to_pair(fn, "padding", p, 0), dil = to_pair(fn, "dilation", d, 1);
  const ConvGeom g = contract::conv2d(fn, x.a.shape, w.a.shape, st, pad, dil, to_int(fn, "groups", gr, 1));
  const index_t J = g.C / g.G * g.R * g.S;
  Common c(fn, w, b_obj, m_obj, g.K, J, xz, yz, lo, hi, od);
  Host::Call call(fn);
  call.inputs({&x, &w});
  call.workspace("the column buffer", static_cast<double>(cpu::get_num_threads()) * (J + 4) * (g.OH * g.OW + 64));
  const std::vector<index_t> shape{g.N, g.K, g.OH, g.OW};
  auto y = c.out_u8 ? call.empty<std::uint8_t>("the output", shape) : call.empty<float>("the output", shape);
  const std::uint8_t* px = in<std::uint8_t>(x);
  const std::int8_t* pw = in<std::int8_t>(w);
  const std::int32_t* pb = in<std::int32_t>(c.bias);
  const float* pm = c.m32.data();
  void* py_ = y.arr.mutable_data();
  call.run([&] {
    cpu::quantized_conv2d(g, px, static_cast<std::int32_t>(c.x_zp), pw, pb, pm, static_cast<std::int32_t>(c.y_zp),
                          static_cast<std::int32_t>(c.qmin), static_cast<std::int32_t>(c.qmax), c.out_u8, py_);
  });
  return y.object();
}

template <class D>
py::object linear(py::handle x_obj, py::handle xz, py::handle w_obj, py::handle b_obj, py::handle m_obj,
                  py::handle yz, py::handle lo, py::handle hi, py::handle od) {
  const char* fn = "quantized_linear";
  auto x = Host::arg(fn, "x", x_obj), w = Host::arg(fn, "weight", w_obj);
  contract::quantized_int_array(fn, x.a, "uint8", 2);
  contract::quantized_int_array(fn, w.a, "int8", 2);
  const index_t N = x.a.dim(0), I = x.a.dim(1), O = w.a.dim(0);
  if (w.a.dim(1) != I) value_error(fn, ": weight expects ", w.a.dim(1), " input features, x has ", I);
  if (O < 1) value_error(fn, ": weight must have at least one output feature, got shape ", contract::shape_str(w.a.shape));
  Common c(fn, w, b_obj, m_obj, O, I, xz, yz, lo, hi, od);
  Host::Call call(fn);
  call.inputs({&x, &w});
  auto y = c.out_u8 ? call.empty<std::uint8_t>("the output", {N, O}) : call.empty<float>("the output", {N, O});
  const std::uint8_t* px = in<std::uint8_t>(x);
  const std::int8_t* pw = in<std::int8_t>(w);
  const std::int32_t* pb = in<std::int32_t>(c.bias);
  const float* pm = c.m32.data();
  void* py_ = y.arr.mutable_data();
  call.run([&] {
    cpu::quantized_linear(N, I, O, px, static_cast<std::int32_t>(c.x_zp), pw, pb, pm, static_cast<std::int32_t>(c.y_zp),
                          static_cast<std::int32_t>(c.qmin), static_cast<std::int32_t>(c.qmax), c.out_u8, py_);
  });
  return y.object();
}

template <class D>
py::object max_pool2d(py::handle x_obj, py::handle k_, py::handle s_, py::handle p_, py::handle d_, py::handle c_) {
  const char* fn = "quantized_max_pool2d";
  auto x = Host::arg(fn, "x", x_obj);
  contract::quantized_int_array(fn, x.a, "uint8", 4);
  contract::pool2d_planes(fn, "x", x.a.shape);
  const Pair k = to_pair(fn, "kernel_size", k_, 1);
  const Pair st = s_.is_none() ? k : to_pair(fn, "stride", s_, 1);
  const Pair pad = to_pair(fn, "padding", p_, 0), dil = to_pair(fn, "dilation", d_, 1);
  const Pool2dShape g = contract::pool2d(fn, x.a.shape, k, st, pad, dil, to_bool(fn, "ceil_mode", c_));
  Host::Call call(fn);
  call.inputs({&x});
  auto y = call.empty<std::uint8_t>("the output", {g.N, g.C, g.OH, g.OW});
  const std::uint8_t* px = in<std::uint8_t>(x);
  std::uint8_t* py_ = out<std::uint8_t>(y);
  call.run([&] { cpu::quantized_max_pool2d(g, px, py_); });
  return y.object();
}

template <class D>
py::object quantize(py::handle x_obj, py::handle scale_obj, py::handle zp_obj) {
  const char* fn = "quantize_per_tensor";
  auto x = Host::arg(fn, "x", x_obj);
  if (!x.a.is_float()) type_error(fn, ": x must be float32, got ", x.a.dtype_name);
  const double scale = to_real(fn, "scale", scale_obj);
  contract::quantize_scale(fn, scale);
  const index_t zp = contract::quantized_u8(fn, "zero_point", to_int(fn, "zero_point", zp_obj));
  Host::Call call(fn);
  call.inputs({&x});
  if (x.a.dtype == DType::f64) {
    call.workspace("a float32 copy of x", static_cast<double>(x.a.numel()) * sizeof(float));
    x.arr = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(x.arr);
  }
  auto y = call.empty<std::uint8_t>("the output", x.a.shape);
  const float* px = in<float>(x);
  std::uint8_t* py_ = out<std::uint8_t>(y);
  const index_t n = x.a.numel();
  call.run([&] { cpu::quantize_per_tensor(n, px, static_cast<float>(scale), static_cast<std::int32_t>(zp), py_); });
  return y.object();
}

template <class D>
void bind(py::module_& m) {
  if constexpr (D::is_cuda) {
    return;   // no CUDA int8 kernel (see above)
  } else {
    using py::arg;
    py::object u8 = py::module_::import("numpy").attr("uint8");
    kernel(m, "quantized_conv2d", &conv2d<D>, arg("x"), arg("x_zero_point"), arg("weight"), arg("bias"),
           arg("multiplier"), arg("y_zero_point") = 0, arg("qmin") = 0, arg("qmax") = 255, arg("stride") = 1,
           arg("padding") = 0, arg("dilation") = 1, arg("groups") = 1, arg("out_dtype") = u8,
           "Requantized int8 convolution. x (N, C, H, W) uint8, weight (K, C/groups, R, S) int8, bias (K,) int32 or "
           "None, multiplier (K,) float32 → (N, K, OH, OW) uint8 (or float32 with out_dtype).");
    kernel(m, "quantized_linear", &linear<D>, arg("x"), arg("x_zero_point"), arg("weight"), arg("bias"),
           arg("multiplier"), arg("y_zero_point") = 0, arg("qmin") = 0, arg("qmax") = 255, arg("out_dtype") = u8,
           "Requantized int8 linear layer, y = x·weightᵀ. x (N, I) uint8, weight (O, I) int8, bias (O,) int32 or "
           "None, multiplier (O,) float32 → (N, O) uint8 (or float32 with out_dtype).");
    kernel(m, "quantized_max_pool2d", &max_pool2d<D>, arg("x"), arg("kernel_size"), arg("stride") = py::none(),
           arg("padding") = 0, arg("dilation") = 1, arg("ceil_mode") = false,
           "Max pooling of x (N, C, H, W) uint8 → (N, C, OH, OW) uint8, the float max_pool2d's geometry (scale "
           "and zero point unchanged). stride defaults to kernel_size.");
    kernel(m, "quantize_per_tensor", &quantize<D>, arg("x"), arg("scale"), arg("zero_point"),
           "uint8 clamp(rint(x / scale) + zero_point, 0, 255) of float32 x of any shape, in float32 arithmetic "
           "(float64 x is rounded to float32 first; NaN → zero_point).");
    m.def("quantized_kernel", [] { return std::string(cpu::quantized_kernel_name()); },
          "The int8 kernel the current CPU and instruction-set choice run: avx512_vnni, avx2 or generic.");
  }
}

}  // namespace pyengine::bind::quantized

namespace pyengine::bind {
PE_BIND_FAMILY(quantized)
}
