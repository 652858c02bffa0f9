// bind_pad.cpp — pad_forward(x, pad, mode) and pad_backward(grad_output, input_shape, pad, mode)
// (pyengine/pad.h), for pyengine._C and pyengine._cuda.
#include <string>
#include <vector>

#include "bind.h"
#include "pyengine/pad.h"

namespace pyengine::bind::pad {

// pad: a tuple or list of ints (its length and values are the contract's to check).
inline std::vector<index_t> to_pad(const char* fn, py::handle obj) {
  if (!(py::isinstance<py::tuple>(obj) || py::isinstance<py::list>(obj)))
    type_error(fn, ": pad must be a tuple of ints, got ", type_name(obj), " ", repr_of(obj));
  std::vector<index_t> out;
  for (py::handle v : py::reinterpret_borrow<py::sequence>(obj)) out.push_back(to_int(fn, "pad", v));
  return out;
}

inline PadMode to_mode(const char* fn, py::handle obj) {
  const std::string s = py::isinstance<py::str>(obj) ? std::string(py::str(obj)) : std::string();
  return contract::pad_mode(fn, s, repr_of(obj));
}

// input_shape: a sequence of non-negative ints (2 to 5 of them; the contract checks the count).
inline std::vector<index_t> to_input_shape(const char* fn, py::handle obj) {
  if (!(py::isinstance<py::tuple>(obj) || py::isinstance<py::list>(obj)))
    value_error(fn, ": input_shape must be a sequence of ints, got ", repr_of(obj));
  std::vector<index_t> out;
  for (py::handle v : py::reinterpret_borrow<py::sequence>(obj)) out.push_back(to_int(fn, "input_shape", v, 0));
  return out;
}

template <class D, bool Forward>
py::object run(py::handle in_obj, py::handle shape_obj, py::handle pad_obj, py::handle mode_obj) {
  const char* fn = Forward ? "pad_forward" : "pad_backward";
  auto in_ = D::arg(fn, Forward ? "x" : "grad_output", in_obj);
  contract::float_array(fn, in_.a);
  const std::vector<index_t> in_shape = Forward ? in_.a.shape : to_input_shape(fn, shape_obj);
  const std::vector<index_t> pads = to_pad(fn, pad_obj);
  const PadMode mode = to_mode(fn, mode_obj);
  const PadDims d = contract::pad_dims(fn, Forward ? "x" : "input_shape", in_shape, pads, mode);
  const std::vector<index_t> padded = contract::pad_output_shape(in_shape, pads);
  if constexpr (!Forward) contract::shape_is(fn, in_.a, padded);
  typename D::Call call(fn);
  call.inputs({&in_});
  return with_float(in_.a.dtype, [&](auto t) {
    using T = decltype(t);
    auto out_ = call.template empty<T>(Forward ? "the output" : "grad_input", Forward ? padded : in_shape);
    const T* pin = in<T>(in_);
    T* pout = out<T>(out_);
    if constexpr (D::is_cuda) {
      if constexpr (Forward) call.run([&] { cuda::pad_forward<T>(d, pin, pout, call.stream()); });
      else call.run([&] { cuda::pad_backward<T>(d, pin, pout, call.stream()); });
    } else {
      if constexpr (Forward) call.run([&] { cpu::pad_forward<T>(d, pin, pout); });
      else call.run([&] { cpu::pad_backward<T>(d, pin, pout); });
    }
    return out_.object();
  });
}

template <class D>
py::object forward(py::handle x, py::handle pad, py::handle mode) {
  return run<D, true>(x, py::none(), pad, mode);
}

template <class D>
void bind(py::module_& m) {
  using py::arg;
  kernel(m, "pad_forward", &forward<D>, arg("x"), arg("pad"), arg("mode") = "reflect",
         "x padded on its last len(pad)/2 axes (1 to 3, x with one or two more) by pad = (left, right[, top, bottom"
         "[, front, back]]): mode 'reflect' (mirror without the edge), 'replicate' (the edge) or 'circular' (wrap).");
  kernel(m, "pad_backward", &run<D, false>, arg("grad_output"), arg("input_shape"), arg("pad"),
         arg("mode") = "reflect",
         "grad_output of the padded shape → grad_input of input_shape: every output's gradient summed onto the input "
         "it read.");
}

}  // namespace pyengine::bind::pad

namespace pyengine::bind {
PE_BIND_FAMILY(pad)
}
