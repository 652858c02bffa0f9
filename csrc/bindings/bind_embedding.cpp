// bind_embedding.cpp — embedding_forward(weight, indices) and embedding_backward(grad_output,
// indices, num_weights, padding_idx, scale_grad_by_freq) (pyengine/embedding.h), for pyengine._C and
// pyengine._cuda.
//
// Both check that every index lies in [0, V) (as the reference does): the CPU kernels count the bad
// ones first, the GPU runs a min/max reduction first (the call waits for the device once).
#include "bind.h"
#include "pyengine/cuda/pool2d.h"  // cuda::index_range
#include "pyengine/embedding.h"

namespace pyengine::bind::embedding {

// The range of the indices, for the error message.
inline void host_range(index_t n, const std::int64_t* p, std::int64_t& lo, std::int64_t& hi) {
  lo = hi = n > 0 ? p[0] : 0;
  for (index_t i = 1; i < n; ++i) {
    lo = p[i] < lo ? p[i] : lo;
    hi = p[i] > hi ? p[i] : hi;
  }
}

template <class D>
void check_range(const char* fn, typename D::Call& call, const EmbeddingDims& d, const std::int64_t* p) {
  if (d.n == 0) return;
  std::int64_t range[2];
  if constexpr (D::is_cuda) {
    auto scratch = call.empty_typed("the index range", {2}, "int64", 8);
    cuda::index_range(d.n, p, out<std::int64_t>(scratch), range, call.stream());
  } else {
    host_range(d.n, p, range[0], range[1]);
  }
  if (range[0] < 0 || range[1] >= d.V) contract::embedding_bad_indices(fn, d.V, range[0], range[1]);
}

template <class D>
py::object forward(py::handle w_obj, py::handle idx_obj) {
  const char* fn = "embedding_forward";
  auto w = D::arg(fn, "weight", w_obj);
  contract::float_array(fn, w.a, 2);
  auto idx = D::arg(fn, "indices", idx_obj, false, " of int64 indices");
  const EmbeddingDims d = contract::embedding_forward(fn, w.a, idx.a);
  std::vector<index_t> out_shape = idx.a.shape;
  out_shape.push_back(d.D);
  typename D::Call call(fn);
  call.inputs({&w, &idx});
  return with_float(w.a.dtype, [&](auto t) {
    using T = decltype(t);
    const std::int64_t* pi = in<std::int64_t>(idx);
    check_range<D>(fn, call, d, pi);
    auto y = call.template empty<T>("the output", out_shape);
    const T* pw = in<T>(w);
    T* py_ = out<T>(y);
    if constexpr (D::is_cuda) call.run([&] { cuda::embedding_forward<T>(d, pw, pi, py_, call.stream()); });
    else call.run([&] { cpu::embedding_forward<T>(d, pw, pi, py_); });
    return y.object();
  });
}

template <class D>
py::object backward(py::handle g_obj, py::handle idx_obj, py::handle v_obj, py::handle pad_obj, py::handle freq_obj) {
  const char* fn = "embedding_backward";
  auto g = D::arg(fn, "grad_output", g_obj);
  contract::float_array(fn, g.a);
  auto idx = D::arg(fn, "indices", idx_obj, false, " of int64 indices");
  const index_t V = to_int(fn, "num_weights", v_obj, 0);
  const EmbeddingDims d = contract::embedding_backward(fn, g.a, idx.a, V);
  index_t pad = -1;
  if (!pad_obj.is_none()) {
    pad = to_int(fn, "padding_idx", pad_obj);
    if (pad < 0 || pad >= V)
      value_error(fn, ": padding_idx must be None or in [0, num_weights) = [0, ", V, "), got ", pad);
  }
  const bool freq = to_bool(fn, "scale_grad_by_freq", freq_obj);
  typename D::Call call(fn);
  call.inputs({&g, &idx});
  return with_float(g.a.dtype, [&](auto t) {
    using T = decltype(t);
    const std::int64_t* pi = in<std::int64_t>(idx);
    check_range<D>(fn, call, d, pi);
    auto gw = call.template empty<T>("grad_weight", {d.V, d.D});
    const T* pg = in<T>(g);
    T* pgw = out<T>(gw);
    if constexpr (D::is_cuda) {
      if (d.n > 2147483647) value_error(fn, ": the GPU sort takes at most 2**31-1 indices, got ", d.n);
      auto ws = call.empty_typed("the sort workspace", {cuda::embedding_backward_workspace(d.n, d.V)}, "uint8", 1);
      void* pws = out<std::uint8_t>(ws);
      call.run([&] { cuda::embedding_backward<T>(d, pg, pi, pad, freq, pgw, pws, call.stream()); });
    } else {
      call.workspace("the sorted positions", (static_cast<double>(d.n) + static_cast<double>(d.V) + 2.0) * 8.0);
      call.run([&] { cpu::embedding_backward<T>(d, pg, pi, pad, freq, pgw); });
    }
    return gw.object();
  });
}

template <class D>
void bind(py::module_& m) {
  using py::arg;
  kernel(m, "embedding_forward", &forward<D>, arg("weight"), arg("indices"),
         "weight (V, D), indices (*) int64 in [0, V) → (*, D): the rows of weight the indices name.");
  kernel(m, "embedding_backward", &backward<D>, arg("grad_output"), arg("indices"), arg("num_weights"),
         arg("padding_idx") = py::none(), arg("scale_grad_by_freq") = false,
         "grad_output (*, D), indices (*) → grad_weight (num_weights, D): the gradient rows added into the rows "
         "their indices name, in index order (deterministic); the padding_idx row 0; with scale_grad_by_freq "
         "each row divided by how often its index occurs.");
}

}  // namespace pyengine::bind::embedding

namespace pyengine::bind {
PE_BIND_FAMILY(embedding)
}
