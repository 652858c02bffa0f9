// bind_conv2d.cpp — im2col, col2im, conv2d_forward and its three backwards.
//
// The Python wrappers (pyengine/kernels/cpu/conv2d.py) normalise int-or-pair arguments and make
// arrays contiguous; this file re-checks everything the kernels rely on (so a direct _C call with
// bad input raises instead of crashing): dtypes, ranks, contiguity, stride/dilation ≥ 1,
// padding ≥ 0, groups dividing C and K, weight channels matching x, a kernel span that fits the
// padded input, output size ≥ 1, and sizes whose products would overflow 64-bit integers.
#include <pybind11/stl.h>

#include <limits>

#include "bind_util.h"
#include "pyengine/conv2d.h"
#include "pyengine/im2col.h"

namespace pyengine::bind {
namespace {

using cpu::ConvGeom;

index_t checked_add(const char* fn, const char* what, index_t a, index_t b) {
  if (b > 0 && a > std::numeric_limits<index_t>::max() - b)
    value_error(cat(fn, ": ", what, " overflows 64-bit integers (", a, " + ", b, ")"));
  return a + b;
}

void check_at_least(const char* fn, const char* name, index_t v, index_t minimum) {
  if (v < minimum) value_error(cat(fn, ": ", name, " must be >= ", minimum, ", got ", v));
}

// OH = (size + 2·pad − span) / stride + 1 with span = dil·(k − 1) + 1, every step overflow-checked.
index_t output_size(const char* fn, const char* what, index_t size, index_t k, index_t stride, index_t pad,
                    index_t dil) {
  const index_t span = checked_add(fn, "kernel span", checked_mul(fn, "kernel span", dil, k - 1), 1);
  const index_t padded = checked_add(fn, "padded input size", size, checked_mul(fn, "padding", 2, pad));
  if (padded < span)
    value_error(cat(fn, ": kernel ", what, " ", k, " (dilation ", dil, ", span ", span,
                    ") is larger than the padded input ", what, " ", size, " + 2*", pad, " = ", padded));
  return (padded - span) / stride + 1;
}

struct Params { index_t sh, sw, ph, pw, dh, dw, groups; };

// Checks the parameters and the agreement of x (N, C, H, W) with weight (K, Cg, R, S).
ConvGeom make_geom(const char* fn, const std::vector<index_t>& in, const std::vector<index_t>& wt, const Params& p) {
  check_at_least(fn, "stride", p.sh < p.sw ? p.sh : p.sw, 1);
  check_at_least(fn, "padding", p.ph < p.pw ? p.ph : p.pw, 0);
  check_at_least(fn, "dilation", p.dh < p.dw ? p.dh : p.dw, 1);
  check_at_least(fn, "groups", p.groups, 1);
  for (index_t v : in) if (v < 0) value_error(cat(fn, ": input shape ", shape_str(in), " has a negative size"));
  for (index_t v : wt) if (v < 0) value_error(cat(fn, ": weight shape ", shape_str(wt), " has a negative size"));
  ConvGeom g{};
  g.N = in[0]; g.C = in[1]; g.H = in[2]; g.W = in[3];
  g.K = wt[0]; g.R = wt[2]; g.S = wt[3];
  const index_t cg = wt[1];
  g.G = p.groups;
  if (g.K < 1) value_error(cat(fn, ": weight must have at least one output channel, got shape ", shape_str(wt)));
  if (g.R < 1 || g.S < 1)
    value_error(cat(fn, ": weight kernel size must be >= 1, got ", g.R, "x", g.S, " (weight shape ", shape_str(wt), ")"));
  if (g.C % g.G != 0) value_error(cat(fn, ": groups ", g.G, " does not divide the ", g.C, " input channels of x"));
  if (g.K % g.G != 0) value_error(cat(fn, ": groups ", g.G, " does not divide the ", g.K, " output channels of weight"));
  if (cg < 1 || checked_mul(fn, "weight channels", cg, g.G) != g.C) {
    const index_t expect = checked_mul(fn, "weight channels", cg, g.G);
    if (g.G != 1)
      value_error(cat(fn, ": weight expects ", expect, " input channels (", cg, " per group x ", g.G,
                      " groups), x has ", g.C));
    value_error(cat(fn, ": weight expects ", expect, " input channels, x has ", g.C));
  }
  g.sh = p.sh; g.sw = p.sw; g.ph = p.ph; g.pw = p.pw; g.dh = p.dh; g.dw = p.dw;
  g.OH = output_size(fn, "height", g.H, g.R, g.sh, g.ph, g.dh);
  g.OW = output_size(fn, "width", g.W, g.S, g.sw, g.pw, g.dw);
  checked_numel(fn, "input size", {g.N, g.C, g.H, g.W});
  checked_numel(fn, "output size", {g.N, g.K, g.OH, g.OW});
  checked_numel(fn, "column size", {g.N, g.C, g.R, g.S, g.OH, g.OW});
  checked_numel(fn, "padded input size", {g.C, g.H + 2 * g.ph, g.W + 2 * g.pw});
  checked_numel(fn, "weight size", {g.K, cg, g.R, g.S});
  return g;
}

std::vector<index_t> shape_of(const py::array& a) {
  std::vector<index_t> s;
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s.push_back(a.shape(i));
  return s;
}

std::vector<index_t> shape_arg(const char* fn, const char* name, const std::vector<index_t>& s) {
  if (s.size() != 4) value_error(cat(fn, ": ", name, " must be a sequence of 4 ints, got ", s.size()));
  for (index_t v : s) if (v < 0) value_error(cat(fn, ": ", name, " must be >= 0, got ", v));
  return s;
}

template <typename T>
py::array forward_typed(const ConvGeom& g, const py::array& x, const py::array& w, const py::array* bias,
                        bool relu) {
  py::array y = new_array<T>({g.N, g.K, g.OH, g.OW});
  const T* px = cptr<T>(x);
  const T* pw = cptr<T>(w);
  const T* pb = bias ? cptr<T>(*bias) : nullptr;
  T* py_ = ptr<T>(y);
  py::gil_scoped_release release;
  cpu::conv2d_forward<T>(g, px, pw, pb, py_, relu);
  return y;
}

template <typename T>
py::array backward_input_typed(const ConvGeom& g, const py::array& gy, const py::array& w) {
  py::array gx = new_array<T>({g.N, g.C, g.H, g.W});
  const T* pg = cptr<T>(gy);
  const T* pw = cptr<T>(w);
  T* px = ptr<T>(gx);
  py::gil_scoped_release release;
  cpu::conv2d_backward_input<T>(g, pg, pw, px);
  return gx;
}

template <typename T>
py::array backward_weight_typed(const ConvGeom& g, const py::array& gy, const py::array& x) {
  py::array gw = new_array<T>({g.K, g.C / g.G, g.R, g.S});
  const T* pg = cptr<T>(gy);
  const T* px = cptr<T>(x);
  T* pw = ptr<T>(gw);
  py::gil_scoped_release release;
  cpu::conv2d_backward_weight<T>(g, pg, px, pw);
  return gw;
}

template <typename T>
py::array backward_bias_typed(const py::array& gy) {
  const index_t N = gy.shape(0), K = gy.shape(1), L = gy.shape(2) * gy.shape(3);
  py::array gb = new_array<T>({K});
  const T* pg = cptr<T>(gy);
  T* pb = ptr<T>(gb);
  py::gil_scoped_release release;
  cpu::conv2d_backward_bias<T>(N, K, L, pg, pb);
  return gb;
}

template <typename T>
py::array im2col_typed(const ConvGeom& g, const py::array& x) {
  py::array cols = new_array<T>({g.N, g.C * g.R * g.S, g.OH * g.OW});
  const T* px = cptr<T>(x);
  T* pc = ptr<T>(cols);
  py::gil_scoped_release release;
  cpu::im2col<T>(g, px, pc);
  return cols;
}

template <typename T>
py::array col2im_typed(const ConvGeom& g, const py::array& cols) {
  py::array x = new_array<T>({g.N, g.C, g.H, g.W});
  const T* pc = cptr<T>(cols);
  T* px = ptr<T>(x);
  py::gil_scoped_release release;
  cpu::col2im<T>(g, pc, px);
  return x;
}

}  // namespace

void bind_conv2d(py::module_& m) {
  m.def("conv2d_forward", [](const py::array& x, const py::array& w, const py::object& bias, index_t sh,
                             index_t sw, index_t ph, index_t pw, index_t dh, index_t dw, index_t groups,
                             bool relu) {
    const char* fn = "conv2d_forward";
    DType dt = check_array(fn, "x", x, 4);
    check_array(fn, "weight", w, 4);
    check_same_dtype(fn, "weight", w, dt, "x");
    ConvGeom g = make_geom(fn, shape_of(x), shape_of(w), {sh, sw, ph, pw, dh, dw, groups});
    py::array b;
    if (!bias.is_none()) {
      b = bias.cast<py::array>();
      check_array(fn, "bias", b, 1);
      check_same_dtype(fn, "bias", b, dt, "x");
      check_shape(fn, "bias", b, {g.K});
    }
    const py::array* pb = bias.is_none() ? nullptr : &b;
    return dt == DType::f32 ? forward_typed<float>(g, x, w, pb, relu) : forward_typed<double>(g, x, w, pb, relu);
  }, py::arg("x"), py::arg("weight"), py::arg("bias"), py::arg("sh"), py::arg("sw"), py::arg("ph"),
     py::arg("pw"), py::arg("dh"), py::arg("dw"), py::arg("groups"), py::arg("relu") = false,
     "y (N, K, OH, OW) = conv2d(x (N, C, H, W), weight (K, C/groups, R, S)) + bias (K,) or None; "
     "relu=True applies max(y, 0) as the output is stored.");

  m.def("conv2d_backward_input", [](const py::array& gy, const py::array& w, const std::vector<index_t>& input_shape,
                                    index_t sh, index_t sw, index_t ph, index_t pw, index_t dh, index_t dw,
                                    index_t groups) {
    const char* fn = "conv2d_backward_input";
    DType dt = check_array(fn, "grad_output", gy, 4);
    check_array(fn, "weight", w, 4);
    check_same_dtype(fn, "weight", w, dt, "grad_output");
    ConvGeom g = make_geom(fn, shape_arg(fn, "input_shape", input_shape), shape_of(w),
                           {sh, sw, ph, pw, dh, dw, groups});
    check_shape(fn, "grad_output", gy, {g.N, g.K, g.OH, g.OW});
    return dt == DType::f32 ? backward_input_typed<float>(g, gy, w) : backward_input_typed<double>(g, gy, w);
  }, py::arg("grad_output"), py::arg("weight"), py::arg("input_shape"), py::arg("sh"), py::arg("sw"),
     py::arg("ph"), py::arg("pw"), py::arg("dh"), py::arg("dw"), py::arg("groups"),
     "grad_input (N, C, H, W) of conv2d from grad_output (N, K, OH, OW) and weight.");

  m.def("conv2d_backward_weight", [](const py::array& gy, const py::array& x, const std::vector<index_t>& weight_shape,
                                     index_t sh, index_t sw, index_t ph, index_t pw, index_t dh, index_t dw,
                                     index_t groups) {
    const char* fn = "conv2d_backward_weight";
    DType dt = check_array(fn, "grad_output", gy, 4);
    check_array(fn, "x", x, 4);
    check_same_dtype(fn, "x", x, dt, "grad_output");
    ConvGeom g = make_geom(fn, shape_of(x), shape_arg(fn, "weight_shape", weight_shape),
                           {sh, sw, ph, pw, dh, dw, groups});
    check_shape(fn, "grad_output", gy, {g.N, g.K, g.OH, g.OW});
    return dt == DType::f32 ? backward_weight_typed<float>(g, gy, x) : backward_weight_typed<double>(g, gy, x);
  }, py::arg("grad_output"), py::arg("x"), py::arg("weight_shape"), py::arg("sh"), py::arg("sw"),
     py::arg("ph"), py::arg("pw"), py::arg("dh"), py::arg("dw"), py::arg("groups"),
     "grad_weight (K, C/groups, R, S) of conv2d from grad_output (N, K, OH, OW) and x.");

  m.def("conv2d_backward_bias", [](const py::array& gy) {
    const char* fn = "conv2d_backward_bias";
    DType dt = check_array(fn, "grad_output", gy, 4);
    return dt == DType::f32 ? backward_bias_typed<float>(gy) : backward_bias_typed<double>(gy);
  }, py::arg("grad_output"), "grad_bias (K,) = grad_output (N, K, OH, OW) summed over N, OH, OW.");

  m.def("im2col", [](const py::array& x, index_t kh, index_t kw, index_t sh, index_t sw, index_t ph, index_t pw,
                     index_t dh, index_t dw) {
    const char* fn = "im2col";
    DType dt = check_array(fn, "x", x, 4);
    check_at_least(fn, "kernel_size", kh < kw ? kh : kw, 1);
    ConvGeom g = make_geom(fn, shape_of(x), {1, x.shape(1), kh, kw}, {sh, sw, ph, pw, dh, dw, 1});
    return dt == DType::f32 ? im2col_typed<float>(g, x) : im2col_typed<double>(g, x);
  }, py::arg("x"), py::arg("kh"), py::arg("kw"), py::arg("sh"), py::arg("sw"), py::arg("ph"), py::arg("pw"),
     py::arg("dh"), py::arg("dw"), "cols (N, C·kh·kw, OH·OW) of x (N, C, H, W).");

  m.def("col2im", [](const py::array& cols, const std::vector<index_t>& input_shape, index_t kh, index_t kw,
                     index_t sh, index_t sw, index_t ph, index_t pw, index_t dh, index_t dw) {
    const char* fn = "col2im";
    DType dt = check_array(fn, "cols", cols, 3);
    check_at_least(fn, "kernel_size", kh < kw ? kh : kw, 1);
    std::vector<index_t> in = shape_arg(fn, "input_shape", input_shape);
    ConvGeom g = make_geom(fn, in, {1, in[1], kh, kw}, {sh, sw, ph, pw, dh, dw, 1});
    check_shape(fn, "cols", cols, {g.N, checked_numel(fn, "column rows", {g.C, g.R, g.S}), g.OH * g.OW});
    return dt == DType::f32 ? col2im_typed<float>(g, cols) : col2im_typed<double>(g, cols);
  }, py::arg("cols"), py::arg("input_shape"), py::arg("kh"), py::arg("kw"), py::arg("sh"), py::arg("sw"),
     py::arg("ph"), py::arg("pw"), py::arg("dh"), py::arg("dw"),
     "x (N, C, H, W) = col2im(cols (N, C·kh·kw, OH·OW)), overlapping windows summed.");
}

}  // namespace pyengine::bind
