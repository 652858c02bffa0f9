// bind_interpolate.cpp — interpolate_forward(x, size, mode, align_corners, scale_factor) and
// interpolate_backward(grad_output, input_shape, mode, align_corners, scale_factor)
// (pyengine/interpolate.h), for pyengine._C and pyengine._cuda.
#include <string>

#include "bind.h"
#include "pyengine/interpolate.h"

namespace pyengine::bind::interpolate {

// size: a pair of ints >= 1, (height, width).
inline std::array<index_t, 2> to_size(const char* fn, py::handle obj) {
  if ((py::isinstance<py::tuple>(obj) || py::isinstance<py::list>(obj)) && py::len(obj) == 2) {
    py::sequence seq = py::reinterpret_borrow<py::sequence>(obj);
    return {to_int(fn, "size", seq[0], 1), to_int(fn, "size", seq[1], 1)};
  }
  value_error(fn, ": size must be a pair of ints (height, width), got ", repr_of(obj));
}

// mode (a str) and align_corners (a bool, True only with 'bilinear').
inline InterpMode to_mode(const char* fn, py::handle mode, py::handle align, bool& align_corners) {
  const std::string name = py::isinstance<py::str>(mode) ? std::string(py::str(mode)) : std::string();
  if (!py::isinstance<py::str>(mode))
    value_error(fn, ": mode must be one of 'nearest', 'nearest-exact', 'bilinear', got ", repr_of(mode));
  align_corners = to_bool(fn, "align_corners", align);
  return contract::interpolate_mode(fn, name, repr_of(mode), align_corners);
}

// scale_factor: None, or a pair whose entries are None or finite reals > 0; 0.0 stands for none.
inline std::array<double, 2> to_scales(const char* fn, py::handle obj) {
  if (obj.is_none()) return {0.0, 0.0};
  if (!(py::isinstance<py::tuple>(obj) || py::isinstance<py::list>(obj)) || py::len(obj) != 2)
    value_error(fn, ": scale_factor must be None or a pair of reals, got ", repr_of(obj));
  std::array<double, 2> out{};
  size_t i = 0;
  for (py::handle f : py::reinterpret_borrow<py::sequence>(obj)) {
    if (f.is_none()) {
      out[i++] = 0.0;
      continue;
    }
    if (!is_real(f)) type_error(fn, ": scale_factor must hold reals, got ", type_name(f), " ", repr_of(f));
    out[i++] = contract::interpolate_scale(fn, PyFloat_AsDouble(f.ptr()), repr_of(f));
  }
  return out;
}

template <class D, bool Forward>
py::object run(py::handle in_obj, py::handle shape_obj, py::handle mode_obj, py::handle align_obj,
               py::handle scale_obj) {
  const char* fn = Forward ? "interpolate_forward" : "interpolate_backward";
  auto in_ = D::arg(fn, Forward ? "x" : "grad_output", in_obj);
  contract::float_array(fn, in_.a, 4);
  std::array<index_t, 2> size{};
  std::vector<index_t> in_shape;
  if constexpr (Forward) size = to_size(fn, shape_obj);
  else in_shape = to_shape(fn, "input_shape", shape_obj, 4);
  bool align_corners = false;
  const InterpMode mode = to_mode(fn, mode_obj, align_obj, align_corners);
  const auto scales = to_scales(fn, scale_obj);
  const InterpolateDims d =
      Forward ? contract::interpolate_forward(fn, in_.a, size[0], size[1], mode, align_corners, scales[0], scales[1])
              : contract::interpolate_backward(fn, in_.a, in_shape, mode, align_corners, scales[0], scales[1]);
  const std::vector<index_t> out_shape =
      Forward ? std::vector<index_t>{in_.a.shape[0], in_.a.shape[1], d.OH, d.OW} : in_shape;
  typename D::Call call(fn);
  call.inputs({&in_});
  return with_float(in_.a.dtype, [&](auto t) {
    using T = decltype(t);
    if constexpr (!D::is_cuda)   // the host's per-axis plans: two indices and two weights per output row/column
      call.workspace("the resampling plans", static_cast<double>(d.OH + d.OW) * (2.0 * sizeof(index_t) + 2.0 * sizeof(T)));
    auto out_ = call.template empty<T>(Forward ? "the output" : "grad_input", out_shape);
    const T* pin = in<T>(in_);
    T* pout = out<T>(out_);
    if constexpr (D::is_cuda) {
      if constexpr (Forward) call.run([&] { cuda::interpolate_forward<T>(d, pin, pout, call.stream()); });
      else call.run([&] { cuda::interpolate_backward<T>(d, pin, pout, call.stream()); });
    } else {
      if constexpr (Forward) call.run([&] { cpu::interpolate_forward<T>(d, pin, pout); });
      else call.run([&] { cpu::interpolate_backward<T>(d, pin, pout); });
    }
    return out_.object();
  });
}

template <class D>
void bind(py::module_& m) {
  using py::arg;
  kernel(m, "interpolate_forward", &run<D, true>, arg("x"), arg("size"), arg("mode") = "nearest",
         arg("align_corners") = false, arg("scale_factor") = py::none(),
         "x (N, C, H, W) → (N, C, OH, OW) for size (OH, OW): 'nearest', 'nearest-exact' or 'bilinear' resampling "
         "with PyTorch's source positions; scale_factor None or (sh, sw), the factors that set the source step.");
  kernel(m, "interpolate_backward", &run<D, false>, arg("grad_output"), arg("input_shape"), arg("mode") = "nearest",
         arg("align_corners") = false, arg("scale_factor") = py::none(),
         "grad_output (N, C, OH, OW) → grad_input of input_shape (N, C, H, W), the adjoint of interpolate_forward.");
}

}  // namespace pyengine::bind::interpolate

namespace pyengine::bind {
PE_BIND_FAMILY(interpolate)
}
