// bind_gru.cpp — gru_cell_forward/backward, gru_forward/backward and gru_inference_forward
// (pyengine/gru.h), for pyengine._C and pyengine._cuda. The forwards return `saved`, the tuple the
// backwards take back: (gates,) for the cell, (gates, hs = y) for the sequence.
#include <string>

#include "bind.h"
#include "bind_recurrent.h"
#include "pyengine/cuda/gru.h"
#include "pyengine/gru.h"

namespace pyengine::bind::gru {

using contract::RnnDims;
using recurrent::state;
using recurrent::saved;
template <class D>
using Weights = recurrent::Weights<D, 3>;

template <class D>
py::object cell_forward(py::handle x_, py::handle h_, py::handle wi, py::handle wh, py::handle bi, py::handle bh) {
  const char* fn = "gru_cell_forward";
  Weights<D> w(fn, false, x_, wi, wh, bi, bh);
  auto h = state<D>(fn, "h", h_, w);
  const RnnDims d = w.d;
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
  const RnnDims d = w.d;
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
  const RnnDims d = w.d;
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
  const RnnDims d = w.d;
  auto gy = recurrent::grad_y<D>(fn, gy_, w);
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
