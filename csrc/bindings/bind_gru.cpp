// bind_gru.cpp — gru_cell_forward/backward, gru_forward/backward and gru_inference_forward
// (pyengine/gru.h), for pyengine._C and pyengine._cuda. The forwards return `saved`, the tuple the
// backwards take back: (gates,) for the cell, (gates, hs = y) for the sequence.
#include <string>

#include "bind.h"
#include "pyengine/cuda/gru.h"
#include "pyengine/gru.h"

namespace pyengine::bind::gru {

using contract::GruDims;

// x, w_ih, w_hh and the biases (the backwards have none); fills every size.
template <class D>
struct Weights {
  typename D::Arg x, w_ih, w_hh, b_ih, b_hh;
  GruDims d{};
  Weights(const char* fn, bool sequence, py::handle x_, py::handle wi, py::handle wh, py::handle bi, py::handle bh)
      : x(D::arg(fn, "x", x_)) {
    d = contract::gru_x(fn, x.a, sequence);
    w_ih = D::arg(fn, "w_ih", wi);
    w_hh = D::arg(fn, "w_hh", wh);
    b_ih = D::opt(fn, "b_ih", bi);
    b_hh = D::opt(fn, "b_hh", bh);
    contract::gru_weights(fn, x.a, d, w_ih.a, w_hh.a, b_ih.a, b_hh.a);
    contract::gru_gates_size(fn, d, sequence);
  }
};

template <class D>
typename D::Arg state(const char* fn, const char* name, py::handle obj, const Weights<D>& w, bool optional = false) {
  auto a = D::arg(fn, name, obj, optional);
  contract::gru_state(fn, a.a, w.x.a, w.d, optional);
  return a;
}

// The forward's saved tuple, each entry checked against its shape; labels "saved[k] (name)".
template <class D, size_t K>
std::array<typename D::Arg, K> saved(const char* fn, py::handle obj, const Weights<D>& w,
                                     const std::array<std::vector<index_t>, K>& shapes,
                                     const std::array<const char*, K>& names, std::array<std::string, K>& labels) {
  if (!py::isinstance<py::tuple>(obj) || py::len(obj) != K) {
    const std::string got = py::isinstance<py::tuple>(obj) ? contract::cat("a tuple of length ", py::len(obj))
                                                           : type_name(obj);
    type_error(fn, ": saved must be the tuple of ", K, " arrays returned by the forward, got ", got);
  }
  py::tuple t = py::reinterpret_borrow<py::tuple>(obj);
  std::array<typename D::Arg, K> out;
  for (size_t k = 0; k < K; ++k) {
    labels[k] = contract::cat("saved[", k, "] (", names[k], ")");
    out[k] = D::arg(fn, labels[k].c_str(), t[k]);
    contract::gru_saved(fn, out[k].a, w.x.a, shapes[k]);
  }
  return out;
}

template <class D>
py::object cell_forward(py::handle x_, py::handle h_, py::handle wi, py::handle wh, py::handle bi, py::handle bh) {
  const char* fn = "gru_cell_forward";
  Weights<D> w(fn, false, x_, wi, wh, bi, bh);
  auto h = state<D>(fn, "h", h_, w);
  const GruDims d = w.d;
  typename D::Call call(fn);
  call.inputs({&w.x, &w.w_ih, &w.w_hh, &w.b_ih, &w.b_hh, &h});
  return with_float(w.x.a.dtype, [&](auto t) {
    using T = decltype(t);
    auto h_next = call.template empty<T>("h_next", {d.N, d.H});
    auto gates = call.template empty<T>("the gates", {d.N, 4 * d.H});
    const T *px = in<T>(w.x), *ph = in<T>(h), *pwi = in<T>(w.w_ih), *pwh = in<T>(w.w_hh), *pbi = in<T>(w.b_ih),
            *pbh = in<T>(w.b_hh);
    T *phn = out<T>(h_next), *pg = out<T>(gates);
    if constexpr (D::is_cuda) {
      auto ws = call.template empty<T>("the workspace", {cuda::gru_cell_workspace(d.N, d.H)});
      T* pws = out<T>(ws);
      const bool tf32 = call.tf32() && sizeof(T) == 4;
      call.run([&] {
        cuda::gru_cell_forward<T>(d.N, d.I, d.H, px, ph, pwi, pwh, pbi, pbh, phn, pg, pws, tf32, call.stream());
      });
    } else {
      call.workspace("the recurrent projection", static_cast<double>(d.N) * 3 * d.H * sizeof(T));
      call.run([&] { cpu::gru_cell_forward<T>(d.N, d.I, d.H, px, ph, pwi, pwh, pbi, pbh, phn, pg); });
    }
    return py::object(py::make_tuple(h_next.object(), py::make_tuple(gates.object())));
  });
}

template <class D>
py::object cell_backward(py::handle gh_, py::handle x_, py::handle h_, py::handle wi, py::handle wh,
                         py::handle saved_) {
  const char* fn = "gru_cell_backward";
  Weights<D> w(fn, false, x_, wi, wh, py::none(), py::none());
  auto h = state<D>(fn, "h", h_, w);
  const GruDims d = w.d;
  auto gh = state<D>(fn, "grad_h_next", gh_, w);
  std::array<std::string, 1> labels;
  auto sv = saved<D, 1>(fn, saved_, w, {std::vector<index_t>{d.N, 4 * d.H}}, {"gates"}, labels);
  typename D::Call call(fn);
  call.inputs({&w.x, &w.w_ih, &w.w_hh, &h, &gh, &sv[0]});
  return with_float(w.x.a.dtype, [&](auto t) {
    using T = decltype(t);
    const index_t G = 3 * d.H;
    auto gx = call.template empty<T>("grad_x", {d.N, d.I}), ghp = call.template empty<T>("grad_h", {d.N, d.H});
    auto gwi = call.template empty<T>("grad_w_ih", {G, d.I}), gwh = call.template empty<T>("grad_w_hh", {G, d.H});
    auto gbi = call.template empty<T>("grad_b_ih", {G}), gbh = call.template empty<T>("grad_b_hh", {G});
    const T *pgh = in<T>(gh), *px = in<T>(w.x), *ph = in<T>(h), *pwi = in<T>(w.w_ih), *pwh = in<T>(w.w_hh),
            *pgates = in<T>(sv[0]);
    T *pgx = out<T>(gx), *pghp = out<T>(ghp), *pgwi = out<T>(gwi), *pgwh = out<T>(gwh), *pgbi = out<T>(gbi),
      *pgbh = out<T>(gbh);
    if constexpr (D::is_cuda) {
      auto ws = call.template empty<T>("the gate gradients", {2 * d.N * G});
      T* pws = out<T>(ws);
      const bool tf32 = call.tf32() && sizeof(T) == 4;
      call.run([&] {
        cuda::gru_cell_backward<T>(d.N, d.I, d.H, pgh, px, ph, pwi, pwh, pgates, pgx, pghp, pgwi, pgwh, pgbi, pgbh,
                                   pws, tf32, call.stream());
      });
    } else {
      call.workspace("the gate gradients", 2.0 * d.N * G * sizeof(T));
      call.run([&] {
        cpu::gru_cell_backward<T>(d.N, d.I, d.H, pgh, px, ph, pwi, pwh, pgates, pgx, pghp, pgwi, pgwh, pgbi, pgbh);
      });
    }
    return py::object(py::make_tuple(gx.object(), ghp.object(), gwi.object(), gwh.object(), gbi.object(),
                                     gbh.object()));
  });
}

// The sequence forward; `keep` false is gru_inference_forward (no saved tuple, nothing kept).
template <class D>
py::object sequence_forward(const char* fn, bool keep, py::handle x_, py::handle h0_, py::handle wi, py::handle wh,
                            py::handle bi, py::handle bh) {
  Weights<D> w(fn, true, x_, wi, wh, bi, bh);
  auto h0 = state<D>(fn, "h0", h0_, w);
  const GruDims d = w.d;
  typename D::Call call(fn);
  call.inputs({&w.x, &w.w_ih, &w.w_hh, &w.b_ih, &w.b_hh, &h0});
  return with_float(w.x.a.dtype, [&](auto t) {
    using T = decltype(t);
    auto y = call.template empty<T>("the output", {d.T, d.N, d.H});
    auto h_T = call.template empty<T>("h_T", {d.N, d.H});
    // The saved gates only when a backward will follow (a zero-size placeholder otherwise).
    auto gates = call.template empty<T>("the gates", keep ? std::vector<index_t>{d.T, d.N, 4 * d.H}
                                                          : std::vector<index_t>{0});
    const T *px = in<T>(w.x), *ph = in<T>(h0), *pwi = in<T>(w.w_ih), *pwh = in<T>(w.w_hh), *pbi = in<T>(w.b_ih),
            *pbh = in<T>(w.b_hh);
    T *py_ = out<T>(y), *phT = out<T>(h_T), *pg = keep ? out<T>(gates) : nullptr;
    if constexpr (D::is_cuda) {
      auto ws = call.template empty<T>("the workspace", {cuda::gru_forward_workspace(d.T, d.N, d.H)});
      T* pws = out<T>(ws);
      const bool tf32 = call.tf32() && sizeof(T) == 4;
      call.run([&] {
        cuda::gru_forward<T>(d.T, d.N, d.I, d.H, px, ph, pwi, pwh, pbi, pbh, py_, phT, pg, keep, pws, tf32,
                             call.stream());
      });
    } else {
      const double G = 3.0 * d.H;
      call.workspace("the packed weights and rows", (G + 64) * (d.H + 64) * 2 * sizeof(T) +
                                                       (d.N + 16.0) * G * (cpu::get_num_threads() + 1) * sizeof(T));
      if (!keep) call.workspace("the input projection", static_cast<double>(d.T) * d.N * G * sizeof(T));
      call.run([&] { cpu::gru_forward<T>(d.T, d.N, d.I, d.H, px, ph, pwi, pwh, pbi, pbh, py_, phT, pg); });
    }
    if (!keep) return py::object(py::make_tuple(y.object(), h_T.object()));
    return py::object(py::make_tuple(y.object(), h_T.object(), py::make_tuple(gates.object(), y.object())));
  });
}

template <class D>
py::object forward(py::handle x, py::handle h0, py::handle wi, py::handle wh, py::handle bi, py::handle bh) {
  return sequence_forward<D>("gru_forward", true, x, h0, wi, wh, bi, bh);
}

template <class D>
py::object inference_forward(py::handle x, py::handle h0, py::handle wi, py::handle wh, py::handle bi, py::handle bh) {
  return sequence_forward<D>("gru_inference_forward", false, x, h0, wi, wh, bi, bh);
}

template <class D>
py::object backward(py::handle gy_, py::handle ghT_, py::handle x_, py::handle h0_, py::handle wi, py::handle wh,
                    py::handle saved_) {
  const char* fn = "gru_backward";
  Weights<D> w(fn, true, x_, wi, wh, py::none(), py::none());
  auto h0 = state<D>(fn, "h0", h0_, w);
  const GruDims d = w.d;
  auto gy = D::arg(fn, "grad_y", gy_);
  contract::float_array(fn, gy.a, 3);
  contract::same_dtype(fn, w.x.a, gy.a);
  contract::shape_is(fn, gy.a, {d.T, d.N, d.H});
  auto ghT = state<D>(fn, "grad_h_T", ghT_, w, true);
  std::array<std::string, 2> labels;
  auto sv = saved<D, 2>(fn, saved_, w, {std::vector<index_t>{d.T, d.N, 4 * d.H}, {d.T, d.N, d.H}}, {"gates", "hs"},
                        labels);
  typename D::Call call(fn);
  call.inputs({&w.x, &w.w_ih, &w.w_hh, &h0, &gy, &ghT, &sv[0], &sv[1]});
  return with_float(w.x.a.dtype, [&](auto t) {
    using T = decltype(t);
    const index_t G = 3 * d.H;
    auto gx = call.template empty<T>("grad_x", {d.T, d.N, d.I}), gh0 = call.template empty<T>("grad_h0", {d.N, d.H});
    auto gwi = call.template empty<T>("grad_w_ih", {G, d.I}), gwh = call.template empty<T>("grad_w_hh", {G, d.H});
    auto gbi = call.template empty<T>("grad_b_ih", {G}), gbh = call.template empty<T>("grad_b_hh", {G});
    const T *pgy = in<T>(gy), *pghT = in<T>(ghT), *px = in<T>(w.x), *ph0 = in<T>(h0), *pwi = in<T>(w.w_ih),
            *pwh = in<T>(w.w_hh), *pgates = in<T>(sv[0]), *phs = in<T>(sv[1]);
    T *pgx = out<T>(gx), *pgh0 = out<T>(gh0), *pgwi = out<T>(gwi), *pgwh = out<T>(gwh), *pgbi = out<T>(gbi),
      *pgbh = out<T>(gbh);
    if constexpr (D::is_cuda) {
      auto ws = call.template empty<T>("the workspace", {cuda::gru_backward_workspace(d.T, d.N, d.H)});
      T* pws = out<T>(ws);
      const bool tf32 = call.tf32() && sizeof(T) == 4;
      call.run([&] {
        cuda::gru_backward<T>(d.T, d.N, d.I, d.H, pgy, pghT, px, ph0, pwi, pwh, pgates, phs, pgx, pgh0, pgwi, pgwh,
                              pgbi, pgbh, pws, tf32, call.stream());
      });
    } else {
      const double Gd = static_cast<double>(G);
      call.workspace("the gate gradients", 2.0 * d.T * d.N * Gd * sizeof(T));
      call.workspace("the packed weights and rows", (Gd + 64) * (d.H + 64) * 2 * sizeof(T) +
                                                       (d.N + 16.0) * Gd * (cpu::get_num_threads() + 1) * sizeof(T));
      call.run([&] {
        cpu::gru_backward<T>(d.T, d.N, d.I, d.H, pgy, pghT, px, ph0, pwi, pwh, pgates, phs, pgx, pgh0, pgwi, pgwh,
                             pgbi, pgbh);
      });
    }
    return py::object(py::make_tuple(gx.object(), gh0.object(), gwi.object(), gwh.object(), gbi.object(),
                                     gbh.object()));
  });
}

template <class D>
void bind(py::module_& m) {
  using py::arg;
  kernel(m, "gru_cell_forward", &cell_forward<D>, arg("x"), arg("h"), arg("w_ih"), arg("w_hh"),
         arg("b_ih") = py::none(), arg("b_hh") = py::none(),
         "One GRU step (gates r, z, n; b_hn inside the reset product). x (N, I), h (N, H), w_ih (3H, I), "
         "w_hh (3H, H), b_ih and b_hh (3H,) or None. Returns (h_next (N, H), saved) with saved = "
         "(gates (N, 4H) = [r z n gh_n],).");
  kernel(m, "gru_cell_backward", &cell_backward<D>, arg("grad_h_next"), arg("x"), arg("h"), arg("w_ih"), arg("w_hh"),
         arg("saved"),
         "Gradients of one GRU step. Returns (grad_x (N, I), grad_h (N, H), grad_w_ih (3H, I), grad_w_hh (3H, H), "
         "grad_b_ih (3H,), grad_b_hh (3H,)).");
  kernel(m, "gru_forward", &forward<D>, arg("x"), arg("h0"), arg("w_ih"), arg("w_hh"), arg("b_ih") = py::none(),
         arg("b_hh") = py::none(),
         "A whole sequence through one GRU layer. x (T, N, I), h0 (N, H). Returns (y (T, N, H), h_T (N, H), saved) "
         "with saved = (gates (T, N, 4H) = [r z n gh_n] per step, hs = y).");
  kernel(m, "gru_inference_forward", &inference_forward<D>, arg("x"), arg("h0"), arg("w_ih"), arg("w_hh"),
         arg("b_ih") = py::none(), arg("b_hh") = py::none(),
         "gru_forward keeping nothing for a backward: returns (y (T, N, H), h_T (N, H)).");
  kernel(m, "gru_backward", &backward<D>, arg("grad_y"), arg("grad_h_T"), arg("x"), arg("h0"), arg("w_ih"),
         arg("w_hh"), arg("saved"),
         "Gradients of the sequence; grad_h_T may be None (zero). Returns (grad_x (T, N, I), grad_h0 (N, H), "
         "grad_w_ih (3H, I), grad_w_hh (3H, H), grad_b_ih (3H,), grad_b_hh (3H,)).");
}

}  // namespace pyengine::bind::gru

namespace pyengine::bind {
PE_BIND_FAMILY(gru)
}
