// bind_quantized.cpp — quantized_conv2d and quantized_linear (pyengine/quantized.h).
//
// The Python wrappers (pyengine/kernels/cpu/quantized.py) run the contract checks of
// pyengine/kernels/_contract/quantized.py and pass plain ints; this file re-checks everything the
// kernels rely on, so a direct _C call with bad input raises instead of crashing or overflowing:
// dtypes (x uint8, weight int8, bias int32, multiplier float32), ranks, contiguity, shape agreement,
// the convolution geometry, zero points and clamp bounds in [0, 255], multipliers finite (uint8 output),
// weights in [−127, 127], |bias| ≤ 2^30 and the reduction length J ≤ 32768.
#include <cmath>
#include <string>

#include "bind_util.h"
#include "pyengine/quantized.h"

namespace pyengine::bind {
namespace {

template <typename T>
void check_typed(const char* fn, const char* name, const py::array& a, const char* tname, py::ssize_t ndim) {
  if (!a.dtype().is(py::dtype::of<T>()))
    type_error(cat(fn, ": ", name, " must be ", tname, ", got ", std::string(py::str(a.dtype()))));
  check_ndim(fn, name, a, ndim);
  check_contiguous(fn, name, a);
}

void check_u8_value(const char* fn, const char* name, index_t v) {
  if (v < 0 || v > 255) value_error(cat(fn, ": ", name, " must be in [0, 255], got ", v));
}

struct Common {
  const std::int8_t* w;
  const std::int32_t* bias;
  const float* mult;
  bool out_u8;
};

// The checks shared by both ops once K (output channels) and J (reduction length) are known.
Common check_common(const char* fn, const py::array& w, const py::object& bias_obj, py::array& bias,
                    const py::array& mult, index_t K, index_t J, index_t x_zp, index_t y_zp, index_t qmin,
                    index_t qmax, const std::string& out_dtype) {
  check_u8_value(fn, "x_zero_point", x_zp);
  check_u8_value(fn, "y_zero_point", y_zp);
  check_u8_value(fn, "qmin", qmin);
  check_u8_value(fn, "qmax", qmax);
  if (qmin > qmax) value_error(cat(fn, ": qmin ", qmin, " is larger than qmax ", qmax));
  if (out_dtype != "uint8" && out_dtype != "float32")
    value_error(cat(fn, ": out_dtype must be 'uint8' or 'float32', got '", out_dtype, "'"));
  if (J > cpu::kQuantizedMaxReduction)
    value_error(cat(fn, ": the reduction length ", J, " (products per output) exceeds ", cpu::kQuantizedMaxReduction,
                    ", beyond which int32 accumulation could overflow"));
  const std::int8_t* pw = cptr<std::int8_t>(w);
  for (index_t i = 0, n = K * J; i < n; ++i)
    if (pw[i] == -128)
      value_error(cat(fn, ": weight holds -128 at flat index ", i, "; int8 weights must lie in [-127, 127]"));
  const std::int32_t* pb = nullptr;
  if (!bias_obj.is_none()) {
    bias = bias_obj.cast<py::array>();
    check_typed<std::int32_t>(fn, "bias", bias, "int32", 1);
    check_shape(fn, "bias", bias, {K});
    pb = cptr<std::int32_t>(bias);
    for (index_t i = 0; i < K; ++i)
      if (pb[i] > (1 << 30) || pb[i] < -(1 << 30))
        value_error(cat(fn, ": bias[", i, "] = ", pb[i], " is outside [-2^30, 2^30]"));
  }
  check_typed<float>(fn, "multiplier", mult, "float32", 1);
  check_shape(fn, "multiplier", mult, {K});
  const float* pm = cptr<float>(mult);
  const bool out_u8 = out_dtype == "uint8";
  // rint of a NaN or an infinity has no integer; the float32 output follows IEEE arithmetic.
  for (index_t i = 0; out_u8 && i < K; ++i)
    if (!std::isfinite(pm[i]))
      value_error(cat(fn, ": multiplier[", i, "] = ", pm[i], " must be finite for a uint8 output"));
  return Common{pw, pb, pm, out_u8};
}

py::array new_output(bool out_u8, const std::vector<index_t>& shape) {
  if (out_u8) return new_array<std::uint8_t>(shape);
  return new_array<float>(shape);
}

index_t out_size(const char* fn, const char* what, index_t size, index_t k, index_t stride, index_t pad, index_t dil) {
  const index_t span = checked_mul(fn, "kernel span", dil, k - 1) + 1;
  const index_t padded = size + 2 * pad;
  if (padded < span)
    value_error(cat(fn, ": kernel ", what, " ", k, " (dilation ", dil, ", span ", span,
                    ") is larger than the padded input ", what, " ", size, " + 2*", pad, " = ", padded));
  return (padded - span) / stride + 1;
}

}  // namespace

void bind_quantized(py::module_& m) {
  m.def("quantized_conv2d", [](const py::array& x, index_t x_zp, const py::array& w, const py::object& bias_obj,
                               const py::array& mult, index_t y_zp, index_t qmin, index_t qmax, index_t sh, index_t sw,
                               index_t ph, index_t pw, index_t dh, index_t dw, index_t groups,
                               const std::string& out_dtype) {
    const char* fn = "quantized_conv2d";
    check_typed<std::uint8_t>(fn, "x", x, "uint8", 4);
    check_typed<std::int8_t>(fn, "weight", w, "int8", 4);
    if (sh < 1 || sw < 1) value_error(cat(fn, ": stride must be >= 1, got (", sh, ", ", sw, ")"));
    if (ph < 0 || pw < 0 || ph > (1 << 30) || pw > (1 << 30))
      value_error(cat(fn, ": padding must be in [0, 2^30], got (", ph, ", ", pw, ")"));
    if (dh < 1 || dw < 1) value_error(cat(fn, ": dilation must be >= 1, got (", dh, ", ", dw, ")"));
    if (groups < 1) value_error(cat(fn, ": groups must be >= 1, got ", groups));
    cpu::ConvGeom g{};
    g.N = x.shape(0); g.C = x.shape(1); g.H = x.shape(2); g.W = x.shape(3);
    g.K = w.shape(0); g.R = w.shape(2); g.S = w.shape(3); g.G = groups;
    if (g.K < 1 || g.R < 1 || g.S < 1 || w.shape(1) < 1)
      value_error(cat(fn, ": weight must have every size >= 1, got shape ", shape_str(w)));
    if (g.C % g.G != 0 || g.K % g.G != 0)
      value_error(cat(fn, ": groups ", g.G, " must divide the ", g.C, " input and ", g.K, " output channels"));
    if (w.shape(1) * g.G != g.C)
      value_error(cat(fn, ": weight expects ", w.shape(1) * g.G, " input channels, x has ", g.C));
    g.sh = sh; g.sw = sw; g.ph = ph; g.pw = pw; g.dh = dh; g.dw = dw;
    g.OH = out_size(fn, "height", g.H, g.R, sh, ph, dh);
    g.OW = out_size(fn, "width", g.W, g.S, sw, pw, dw);
    checked_numel(fn, "output size", {g.N, g.K, g.OH, g.OW});
    checked_numel(fn, "column size", {g.C, g.R, g.S, g.OH, g.OW});
    const index_t J = checked_numel(fn, "reduction length", {w.shape(1), g.R, g.S});
    py::array bias;
    const Common c = check_common(fn, w, bias_obj, bias, mult, g.K, J, x_zp, y_zp, qmin, qmax, out_dtype);
    py::array y = new_output(c.out_u8, {g.N, g.K, g.OH, g.OW});
    const std::uint8_t* px = cptr<std::uint8_t>(x);
    void* py_ = y.mutable_data();
    {
      py::gil_scoped_release release;
      cpu::quantized_conv2d(g, px, static_cast<std::int32_t>(x_zp), c.w, c.bias, c.mult, static_cast<std::int32_t>(y_zp),
                            static_cast<std::int32_t>(qmin), static_cast<std::int32_t>(qmax), c.out_u8, py_);
    }
    return y;
  }, py::arg("x"), py::arg("x_zero_point"), py::arg("weight"), py::arg("bias"), py::arg("multiplier"),
     py::arg("y_zero_point"), py::arg("qmin"), py::arg("qmax"), py::arg("sh"), py::arg("sw"), py::arg("ph"),
     py::arg("pw"), py::arg("dh"), py::arg("dw"), py::arg("groups"), py::arg("out_dtype"),
     "y (N, K, OH, OW) uint8 or float32 = requantized int8 conv2d of x (N, C, H, W) uint8 and weight "
     "(K, C/groups, R, S) int8 (pyengine/quantized.h).");

  m.def("quantized_linear", [](const py::array& x, index_t x_zp, const py::array& w, const py::object& bias_obj,
                               const py::array& mult, index_t y_zp, index_t qmin, index_t qmax,
                               const std::string& out_dtype) {
    const char* fn = "quantized_linear";
    check_typed<std::uint8_t>(fn, "x", x, "uint8", 2);
    check_typed<std::int8_t>(fn, "weight", w, "int8", 2);
    const index_t N = x.shape(0), I = x.shape(1), O = w.shape(0);
    if (w.shape(1) != I) value_error(cat(fn, ": weight expects ", w.shape(1), " input features, x has ", I));
    if (O < 1) value_error(cat(fn, ": weight must have at least one output feature, got shape ", shape_str(w)));
    py::array bias;
    const Common c = check_common(fn, w, bias_obj, bias, mult, O, I, x_zp, y_zp, qmin, qmax, out_dtype);
    py::array y = new_output(c.out_u8, {N, O});
    const std::uint8_t* px = cptr<std::uint8_t>(x);
    void* py_ = y.mutable_data();
    {
      py::gil_scoped_release release;
      cpu::quantized_linear(N, I, O, px, static_cast<std::int32_t>(x_zp), c.w, c.bias, c.mult,
                            static_cast<std::int32_t>(y_zp), static_cast<std::int32_t>(qmin),
                            static_cast<std::int32_t>(qmax), c.out_u8, py_);
    }
    return y;
  }, py::arg("x"), py::arg("x_zero_point"), py::arg("weight"), py::arg("bias"), py::arg("multiplier"),
     py::arg("y_zero_point"), py::arg("qmin"), py::arg("qmax"), py::arg("out_dtype"),
     "y (N, O) uint8 or float32 = requantized x (N, I) uint8 · weight (O, I) int8 transposed (pyengine/quantized.h).");

  m.def("quantized_kernel", []() { return std::string(cpu::quantized_kernel_name()); },
        "The int8 kernel the current CPU and instruction-set choice run: avx512_vnni, avx2 or generic.");
}

}  // namespace pyengine::bind
