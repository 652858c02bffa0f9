// bind_pool2d.cpp — max, average and global average pooling (pyengine/pool2d.h).
//
// The binding recomputes the geometry the Python contract computes (output size, PyTorch's limits,
// windows that hold at least one input element) so a direct _C call with any arguments raises
// instead of handing a kernel something it would read out of bounds. Max-pool backward indices are
// range-checked by the kernel as it scatters (no extra pass); a bad one raises here afterwards.
#include <pybind11/stl.h>

#include <array>

#include "bind_util.h"
#include "pyengine/pool2d.h"

namespace pyengine::bind {
namespace {

using Pair = std::array<index_t, 2>;
using Shape4 = std::array<index_t, 4>;

index_t pool_out_size(const char* fn, const char* what, index_t size, index_t k, index_t s, index_t p, index_t d,
                      bool ceil_mode) {
  const index_t span = checked_mul(fn, "dilated kernel", d, k - 1) + 1;
  if (size + 2 * p < span)
    value_error(cat(fn, ": kernel ", what, " ", k, " (dilation ", d, ", span ", span, ") is larger than the padded input ",
                    what, " ", size, " + 2*", p, " = ", size + 2 * p));
  const index_t numer = size + 2 * p - span;
  index_t out = (ceil_mode ? (numer + s - 1) / s : numer / s) + 1;
  if (ceil_mode && (out - 1) * s >= size + p) --out;
  // every window must hold an input element (only a large dilation can break this)
  for (index_t o = 0; o < out; ++o) {
    const index_t start = o * s - p;
    const index_t first = start < 0 ? (-start + d - 1) / d : 0;   // the first tap at or after row 0
    if (first >= k || start + first * d >= size)
      value_error(cat(fn, ": the pooling window of output ", what == std::string("height") ? "row " : "column ", o,
                      " covers only padding (kernel ", k, ", stride ", s, ", padding ", p, ", dilation ", d,
                      ", input size ", size, ")"));
  }
  return out;
}

void check_planes(const char* fn, const char* name, const Shape4& s) {
  for (index_t v : s)
    if (v < 0) value_error(cat(fn, ": ", name, " has a negative size"));
  if (s[2] > (index_t(1) << 31) || s[3] > (index_t(1) << 31))
    value_error(cat(fn, ": ", name, " height and width above 2**31 are not supported"));
  if (s[1] < 1 || s[2] < 1 || s[3] < 1)
    value_error(cat(fn, ": ", name, " must have non-zero channels, height and width (only the batch may be empty), got ",
                    shape_str(std::vector<index_t>(s.begin(), s.end()))));
  checked_numel(fn, name, {s[0], s[1], s[2], s[3]});
}

cpu::Pool2dShape geometry(const char* fn, const Shape4& in, const Pair& k, const Pair& st, const Pair& pad,
                          const Pair& dil, bool ceil_mode) {
  check_planes(fn, "x", in);
  for (int i = 0; i < 2; ++i) {
    if (k[i] < 1) value_error(cat(fn, ": kernel_size must be >= 1, got ", k[i]));
    if (st[i] < 1) value_error(cat(fn, ": stride must be >= 1, got ", st[i]));
    if (pad[i] < 0) value_error(cat(fn, ": padding must be >= 0, got ", pad[i]));
    if (dil[i] < 1) value_error(cat(fn, ": dilation must be >= 1, got ", dil[i]));
    if (pad[i] > k[i] / 2)
      value_error(cat(fn, ": padding must be at most half the kernel size, got padding (", pad[0], ", ", pad[1],
                      ") for kernel_size (", k[0], ", ", k[1], ")"));
    if (k[i] > (index_t(1) << 31) || st[i] > (index_t(1) << 31) || dil[i] > (index_t(1) << 31) ||
        pad[i] > (index_t(1) << 31))
      value_error(cat(fn, ": pooling parameters above 2**31 are not supported"));
  }
  cpu::Pool2dShape s{};
  s.N = in[0]; s.C = in[1]; s.H = in[2]; s.W = in[3];
  s.kh = k[0]; s.kw = k[1]; s.sh = st[0]; s.sw = st[1]; s.ph = pad[0]; s.pw = pad[1]; s.dh = dil[0]; s.dw = dil[1];
  s.OH = pool_out_size(fn, "height", s.H, s.kh, s.sh, s.ph, s.dh, ceil_mode);
  s.OW = pool_out_size(fn, "width", s.W, s.kw, s.sw, s.pw, s.dw, ceil_mode);
  checked_numel(fn, "output shape", {s.N, s.C, s.OH, s.OW});
  return s;
}

Shape4 shape4(const py::array& a) { return {a.shape(0), a.shape(1), a.shape(2), a.shape(3)}; }

template <typename T>
py::tuple max_fwd(const py::array& x, const cpu::Pool2dShape& s) {
  py::array y = new_array<T>({s.N, s.C, s.OH, s.OW});
  py::array idx = new_array<std::int64_t>({s.N, s.C, s.OH, s.OW});
  const T* px = cptr<T>(x);
  T* py_ = ptr<T>(y);
  std::int64_t* pi = ptr<std::int64_t>(idx);
  {
    py::gil_scoped_release release;
    cpu::max_pool2d_forward<T>(s, px, py_, pi);
  }
  return py::make_tuple(y, idx);
}

template <typename T>
py::array max_bwd(const py::array& g, const py::array& idx, const cpu::Pool2dShape& s) {
  py::array gi = new_array<T>({s.N, s.C, s.H, s.W});
  const T* pg = cptr<T>(g);
  const std::int64_t* pidx = cptr<std::int64_t>(idx);
  T* pgi = ptr<T>(gi);
  index_t bad;
  {
    py::gil_scoped_release release;
    bad = cpu::max_pool2d_backward_input<T>(s, pg, pidx, pgi);
  }
  if (bad > 0)
    value_error(cat("max_pool2d_backward_input: indices must lie in [0, H*W) = [0, ", s.H * s.W, "), ", bad,
                    " do not"));
  return gi;
}

template <typename T>
py::array avg_fwd(const py::array& x, const cpu::Pool2dShape& s, bool cip) {
  py::array y = new_array<T>({s.N, s.C, s.OH, s.OW});
  const T* px = cptr<T>(x);
  T* py_ = ptr<T>(y);
  {
    py::gil_scoped_release release;
    cpu::avg_pool2d_forward<T>(s, cip, px, py_);
  }
  return y;
}

template <typename T>
py::array avg_bwd(const py::array& g, const cpu::Pool2dShape& s, bool cip) {
  py::array gi = new_array<T>({s.N, s.C, s.H, s.W});
  const T* pg = cptr<T>(g);
  T* pgi = ptr<T>(gi);
  {
    py::gil_scoped_release release;
    cpu::avg_pool2d_backward_input<T>(s, cip, pg, pgi);
  }
  return gi;
}

template <typename T>
py::array gap_fwd(const py::array& x, const Shape4& in) {
  py::array y = new_array<T>({in[0], in[1], 1, 1});
  const T* px = cptr<T>(x);
  T* py_ = ptr<T>(y);
  {
    py::gil_scoped_release release;
    cpu::global_avg_pool2d_forward<T>(in[0] * in[1], in[2] * in[3], px, py_);
  }
  return y;
}

template <typename T>
py::array gap_bwd(const py::array& g, const Shape4& in) {
  py::array gi = new_array<T>({in[0], in[1], in[2], in[3]});
  const T* pg = cptr<T>(g);
  T* pgi = ptr<T>(gi);
  {
    py::gil_scoped_release release;
    cpu::global_avg_pool2d_backward_input<T>(in[0] * in[1], in[2] * in[3], pg, pgi);
  }
  return gi;
}

void check_grad_shape(const char* fn, const py::array& g, const Shape4& in, index_t oh, index_t ow) {
  check_shape(fn, "grad_output", g, {in[0], in[1], oh, ow});
}

}  // namespace

void bind_pool2d(py::module_& m) {
  m.def("max_pool2d_forward", [](const py::array& x, const Pair& k, const Pair& s, const Pair& p, const Pair& d,
                                 bool ceil_mode) -> py::tuple {
    const char* fn = "max_pool2d_forward";
    DType dt = check_array(fn, "x", x, 4);
    const cpu::Pool2dShape g = geometry(fn, shape4(x), k, s, p, d, ceil_mode);
    return dt == DType::f32 ? max_fwd<float>(x, g) : max_fwd<double>(x, g);
  }, py::arg("x"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding"), py::arg("dilation"),
     py::arg("ceil_mode"), "Max pooling of a C-contiguous (N, C, H, W) array → (output, int64 indices).");

  m.def("max_pool2d_backward_input", [](const py::array& g, const py::array& idx, const Shape4& in) -> py::array {
    const char* fn = "max_pool2d_backward_input";
    DType dt = check_array(fn, "grad_output", g, 4);
    if (!has_dtype(idx, py::dtype::of<std::int64_t>()))
      type_error(cat(fn, ": indices must be int64, got ", std::string(py::str(idx.dtype()))));
    check_contiguous(fn, "indices", idx);
    check_shape(fn, "indices", idx, {g.shape(0), g.shape(1), g.shape(2), g.shape(3)});
    check_planes(fn, "input_shape", in);
    if (in[0] != g.shape(0) || in[1] != g.shape(1))
      value_error(cat(fn, ": input_shape has batch and channels (", in[0], ", ", in[1], ") but grad_output has (",
                      g.shape(0), ", ", g.shape(1), ")"));
    cpu::Pool2dShape s{};
    s.N = in[0]; s.C = in[1]; s.H = in[2]; s.W = in[3]; s.OH = g.shape(2); s.OW = g.shape(3);
    return dt == DType::f32 ? max_bwd<float>(g, idx, s) : max_bwd<double>(g, idx, s);
  }, py::arg("grad_output"), py::arg("indices"), py::arg("input_shape"),
     "Scatter of grad_output to the max positions → grad_input of input_shape.");

  m.def("avg_pool2d_forward", [](const py::array& x, const Pair& k, const Pair& s, const Pair& p, bool ceil_mode,
                                 bool count_include_pad) -> py::array {
    const char* fn = "avg_pool2d_forward";
    DType dt = check_array(fn, "x", x, 4);
    const cpu::Pool2dShape g = geometry(fn, shape4(x), k, s, p, {1, 1}, ceil_mode);
    return dt == DType::f32 ? avg_fwd<float>(x, g, count_include_pad) : avg_fwd<double>(x, g, count_include_pad);
  }, py::arg("x"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding"), py::arg("ceil_mode"),
     py::arg("count_include_pad"), "Average pooling of a C-contiguous (N, C, H, W) array.");

  m.def("avg_pool2d_backward_input", [](const py::array& g, const Shape4& in, const Pair& k, const Pair& s,
                                        const Pair& p, bool ceil_mode, bool count_include_pad) -> py::array {
    const char* fn = "avg_pool2d_backward_input";
    DType dt = check_array(fn, "grad_output", g, 4);
    const cpu::Pool2dShape geo = geometry(fn, in, k, s, p, {1, 1}, ceil_mode);
    check_grad_shape(fn, g, in, geo.OH, geo.OW);
    return dt == DType::f32 ? avg_bwd<float>(g, geo, count_include_pad) : avg_bwd<double>(g, geo, count_include_pad);
  }, py::arg("grad_output"), py::arg("input_shape"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding"),
     py::arg("ceil_mode"), py::arg("count_include_pad"), "Gradient of average pooling → grad_input of input_shape.");

  m.def("global_avg_pool2d_forward", [](const py::array& x) -> py::array {
    const char* fn = "global_avg_pool2d_forward";
    DType dt = check_array(fn, "x", x, 4);
    const Shape4 in = shape4(x);
    check_planes(fn, "x", in);
    return dt == DType::f32 ? gap_fwd<float>(x, in) : gap_fwd<double>(x, in);
  }, py::arg("x"), "Mean over each plane: (N, C, H, W) → (N, C, 1, 1).");

  m.def("global_avg_pool2d_backward_input", [](const py::array& g, const Shape4& in) -> py::array {
    const char* fn = "global_avg_pool2d_backward_input";
    DType dt = check_array(fn, "grad_output", g, 4);
    check_planes(fn, "input_shape", in);
    check_grad_shape(fn, g, in, 1, 1);
    return dt == DType::f32 ? gap_bwd<float>(g, in) : gap_bwd<double>(g, in);
  }, py::arg("grad_output"), py::arg("input_shape"), "Gradient of global average pooling → (N, C, H, W).");
}

}  // namespace pyengine::bind
