// bind_image.cpp — _crop_flip_to_tensor(image, top, left, height, width, flip, mean, std) → float32
// (C, height, width) (pyengine/image.h), in pyengine._C only: the data loader's fused per-image
// transform (pyengine/data/transforms.py), not a tensor kernel (no gradient, no reference/registry
// entry, no CUDA twin — images are decoded and augmented on the host).
//
// image is uint8 (H, W) or (H, W, C), any strides (a view is read in place, no copy); mean and std
// float32 (C,). The window (top, left, height, width) may reach outside the image (zero padding).
#include <string>
#include <utility>

#include "bind.h"
#include "pyengine/image.h"

namespace pyengine::bind::image {

inline bool is_dtype(const py::array& a, const py::dtype& dt) { return a.dtype().is(dt) || a.dtype().equal(dt); }

inline std::string shape_of(const py::array& a) {
  std::vector<index_t> s(a.shape(), a.shape() + a.ndim());
  return contract::shape_str(s);
}

inline py::array crop_flip_to_tensor(const py::array& img, index_t top, index_t left, index_t height, index_t width,
                                     bool flip, const py::array& mean, const py::array& std_) {
  const char* fn = "_crop_flip_to_tensor";
  if (!is_dtype(img, py::dtype::of<std::uint8_t>()))
    type_error(fn, ": image must be uint8, got ", std::string(py::str(img.dtype())));
  if (img.ndim() != 2 && img.ndim() != 3)
    value_error(fn, ": image must be (H, W) or (H, W, C), got shape ", shape_of(img));
  const index_t H = img.shape(0), W = img.shape(1), C = img.ndim() == 3 ? img.shape(2) : 1;
  if (C < 1) value_error(fn, ": image must have at least one channel, got shape ", shape_of(img));
  if (height < 1 || width < 1) value_error(fn, ": height and width must be >= 1, got ", height, " and ", width);
  for (auto [name, a] : {std::pair<const char*, const py::array*>{"mean", &mean}, {"std", &std_}}) {
    if (!is_dtype(*a, py::dtype::of<float>()))
      type_error(fn, ": ", name, " must be float32, got ", std::string(py::str(a->dtype())));
    if (a->ndim() != 1 || a->shape(0) != C || !(a->flags() & py::array::c_style))
      value_error(fn, ": ", name, " must be contiguous of shape (", C, ",) (one value per channel), got ",
                  shape_of(*a));
  }
  contract::checked_numel(fn, "the output (C, height, width, bytes)", {C, height, width, 4});
  py::array_t<float> out({static_cast<py::ssize_t>(C), static_cast<py::ssize_t>(height),
                          static_cast<py::ssize_t>(width)});
  const auto* src = static_cast<const std::uint8_t*>(img.data());
  const auto* pm = static_cast<const float*>(mean.data());
  const auto* ps = static_cast<const float*>(std_.data());
  float* po = out.mutable_data();
  const index_t sh = img.strides(0), sw = img.strides(1), sc = img.ndim() == 3 ? img.strides(2) : 0;
  {
    py::gil_scoped_release release;
    cpu::crop_flip_to_tensor(src, H, W, C, sh, sw, sc, top, left, height, width, flip, pm, ps, po);
  }
  return out;
}

inline void bind(py::module_& m) {
  using py::arg;
  m.def("_crop_flip_to_tensor", &crop_flip_to_tensor, arg("image"), arg("top"), arg("left"), arg("height"),
        arg("width"), arg("flip"), arg("mean"), arg("std"),
        "uint8 (H, W[, C]) image → float32 (C, height, width): out[c, y, x] = (float(p)·(1/255) − mean[c]) / std[c], "
        "p = image[top + y, left + (width − 1 − x if flip else x), c], 0 outside the image.");
}

}  // namespace pyengine::bind::image

#ifndef PYENGINE_CUDA_MODULE
namespace pyengine::bind {
static const RegisterFamily pe_register_image{"image", &image::bind};
}
#endif
