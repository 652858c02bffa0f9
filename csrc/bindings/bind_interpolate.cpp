// bind_interpolate.cpp — interpolate_forward(x, size, mode, align_corners, scale_h, scale_w) and
// interpolate_backward(grad_output, input_shape, mode, align_corners, scale_h, scale_w)
// (pyengine/interpolate.h). A scale of 0 means none was given.
//
// The binding checks what the kernels rely on (4-D C-contiguous float arrays, planes of at least
// one element, sizes whose products fit 64 bits, a known mode, finite non-negative scales), so a
// direct _C call with any arguments raises instead of reading out of bounds.
#include <pybind11/stl.h>

#include <array>
#include <cmath>
#include <string>

#include "bind_util.h"
#include "pyengine/interpolate.h"

namespace pyengine::bind {
namespace {

using Pair = std::array<index_t, 2>;
using Shape4 = std::array<index_t, 4>;

cpu::InterpMode to_mode(const char* fn, const std::string& mode, bool align_corners) {
  cpu::InterpMode m;
  if (mode == "nearest") m = cpu::InterpMode::nearest;
  else if (mode == "nearest-exact") m = cpu::InterpMode::nearest_exact;
  else if (mode == "bilinear") m = cpu::InterpMode::bilinear;
  else value_error(cat(fn, ": mode must be one of 'nearest', 'nearest-exact', 'bilinear', got '", mode, "'"));
  if (align_corners && m != cpu::InterpMode::bilinear)
    value_error(cat(fn, ": align_corners=True needs mode='bilinear', got '", mode, "'"));
  return m;
}

void check_scale(const char* fn, double s) {
  if (!(std::isfinite(s) && s >= 0)) value_error(cat(fn, ": scale_factor must be finite and > 0, got ", s));
}

void check_planes(const char* fn, const char* name, index_t N, index_t C, index_t H, index_t W) {
  if (N < 0 || C < 0 || H < 1 || W < 1)
    value_error(cat(fn, ": ", name, " must have height and width >= 1, got ", shape_str(std::vector<index_t>{N, C, H, W})));
  checked_numel(fn, name, {N, C, H, W});
}

template <typename T>
py::array run(bool forward, const py::array& in, const Shape4& out_shape, cpu::InterpMode mode, bool align_corners,
              double sh, double sw) {
  // forward: in = x, out = y; backward: in = grad_y, out = grad_x. The plans always go from the
  // input planes (H, W) to the output planes (OH, OW) of the forward.
  const index_t P = out_shape[0] * out_shape[1];
  const index_t H = forward ? in.shape(2) : out_shape[2], W = forward ? in.shape(3) : out_shape[3];
  const index_t OH = forward ? out_shape[2] : in.shape(2), OW = forward ? out_shape[3] : in.shape(3);
  py::array out = new_array<T>({out_shape[0], out_shape[1], out_shape[2], out_shape[3]});
  const T* pin = cptr<T>(in);
  T* pout = static_cast<T*>(out.mutable_data());
  {
    py::gil_scoped_release release;
    const auto ph = cpu::interpolate_axis_plan<T>(H, OH, mode, align_corners, sh);
    const auto pw = cpu::interpolate_axis_plan<T>(W, OW, mode, align_corners, sw);
    const bool nearest = mode != cpu::InterpMode::bilinear;
    if (forward) cpu::interpolate_forward<T>(P, H, W, OH, OW, ph, pw, nearest, pin, pout);
    else cpu::interpolate_backward<T>(P, H, W, OH, OW, ph, pw, nearest, pin, pout);
  }
  return out;
}

}  // namespace

void bind_interpolate(py::module_& m) {
  m.def("interpolate_forward", [](const py::array& x, const Pair& size, const std::string& mode, bool align_corners,
                                  double sh, double sw) -> py::array {
    const char* fn = "interpolate_forward";
    DType dt = check_array(fn, "x", x, 4);
    const cpu::InterpMode md = to_mode(fn, mode, align_corners);
    check_scale(fn, sh);
    check_scale(fn, sw);
    check_planes(fn, "x", x.shape(0), x.shape(1), x.shape(2), x.shape(3));
    if (size[0] < 1 || size[1] < 1) value_error(cat(fn, ": size must be >= 1, got (", size[0], ", ", size[1], ")"));
    if (size[0] > (index_t(1) << 31) || size[1] > (index_t(1) << 31))
      value_error(cat(fn, ": sizes above 2**31 are not supported, got (", size[0], ", ", size[1], ")"));
    const Shape4 out{x.shape(0), x.shape(1), size[0], size[1]};
    check_planes(fn, "output shape", out[0], out[1], out[2], out[3]);
    return dt == DType::f32 ? run<float>(true, x, out, md, align_corners, sh, sw)
                            : run<double>(true, x, out, md, align_corners, sh, sw);
  }, py::arg("x"), py::arg("size"), py::arg("mode"), py::arg("align_corners"), py::arg("scale_h"),
     py::arg("scale_w"), "Resamples a C-contiguous (N, C, H, W) array to (N, C, OH, OW).");

  m.def("interpolate_backward", [](const py::array& g, const Shape4& in_shape, const std::string& mode,
                                   bool align_corners, double sh, double sw) -> py::array {
    const char* fn = "interpolate_backward";
    DType dt = check_array(fn, "grad_output", g, 4);
    const cpu::InterpMode md = to_mode(fn, mode, align_corners);
    check_scale(fn, sh);
    check_scale(fn, sw);
    check_planes(fn, "input_shape", in_shape[0], in_shape[1], in_shape[2], in_shape[3]);
    check_planes(fn, "grad_output", g.shape(0), g.shape(1), g.shape(2), g.shape(3));
    if (g.shape(0) != in_shape[0] || g.shape(1) != in_shape[1])
      value_error(cat(fn, ": grad_output ", shape_str(g), " must have the batch and channels of input_shape ",
                      shape_str(std::vector<index_t>(in_shape.begin(), in_shape.end()))));
    return dt == DType::f32 ? run<float>(false, g, in_shape, md, align_corners, sh, sw)
                            : run<double>(false, g, in_shape, md, align_corners, sh, sw);
  }, py::arg("grad_output"), py::arg("input_shape"), py::arg("mode"), py::arg("align_corners"), py::arg("scale_h"),
     py::arg("scale_w"), "The adjoint of interpolate_forward: grad_output (N, C, OH, OW) → (N, C, H, W).");
}

}  // namespace pyengine::bind
