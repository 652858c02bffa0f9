// bind_lstm.cpp — lstm_cell_forward/backward, lstm_forward/backward and lstm_inference_forward (pyengine/lstm.h), for
// pyengine._C and pyengine._cuda. The forwards return `saved`, the tuple the backwards take back:
// (gates, c_next) for the cell, (gates, cs, hs = y) for the sequence.
#include <string>

#include "bind.h"
#include "bind_recurrent.h"
#include "pyengine/cuda/lstm.h"
#include "pyengine/lstm.h"

namespace pyengine::bind::lstm {

using contract::RnnDims;
using recurrent::state;
using recurrent::saved;
template <class D>
using Weights = recurrent::Weights<D, 4>;

template <class D>
py::object cell_forward(py::handle x_, py::handle h_, py::handle c_, py::handle wi, py::handle wh, py::handle bi,
                        py::handle bh) {
  const char* fn = "lstm_cell_forward";
  Weights<D> w(fn, false, x_, wi, wh, bi, bh);
  auto h = state<D>(fn, "h", h_, w), c = state<D>(fn, "c", c_, w);
  const RnnDims d = w.d;
  typename D::Call call(fn);
  call.inputs({&w.x, &w.w_ih, &w.w_hh, &w.b_ih, &w.b_hh, &h, &c});
  return with_float(w.x.a.dtype, [&](auto t) {
    using T = decltype(t);
    auto h_next = call.template empty<T>("h_next", {d.N, d.H}), c_next = call.template empty<T>("c_next", {d.N, d.H});
    auto gates = call.template empty<T>("the gates", {d.N, 4 * d.H});
    const T *px = in<T>(w.x), *ph = in<T>(h), *pc = in<T>(c), *pwi = in<T>(w.w_ih), *pwh = in<T>(w.w_hh),
            *pbi = in<T>(w.b_ih), *pbh = in<T>(w.b_hh);
    T *phn = out<T>(h_next), *pcn = out<T>(c_next), *pg = out<T>(gates);
    if constexpr (D::is_cuda) {
      const bool tf32 = call.tf32() && sizeof(T) == 4;
      call.run([&] {
        cuda::lstm_cell_forward<T>(d.N, d.I, d.H, px, ph, pc, pwi, pwh, pbi, pbh, phn, pcn, pg, tf32, call.stream());
      });
    } else {
      call.run([&] { cpu::lstm_cell_forward<T>(d.N, d.I, d.H, px, ph, pc, pwi, pwh, pbi, pbh, phn, pcn, pg); });
    }
    return py::object(py::make_tuple(h_next.object(), c_next.object(), py::make_tuple(gates.object(), c_next.object())));
  });
}

template <class D>
py::object cell_backward(py::handle gh_, py::handle gc_, py::handle x_, py::handle h_, py::handle c_, py::handle wi,
                         py::handle wh, py::handle saved_) {
  const char* fn = "lstm_cell_backward";
  Weights<D> w(fn, false, x_, wi, wh, py::none(), py::none());
  auto h = state<D>(fn, "h", h_, w), c = state<D>(fn, "c", c_, w);
  const RnnDims d = w.d;
  auto gh = state<D>(fn, "grad_h_next", gh_, w), gc = state<D>(fn, "grad_c_next", gc_, w, true);
  std::array<std::string, 2> labels;
  auto sv = saved<D, 2>(fn, saved_, w, {std::vector<index_t>{d.N, 4 * d.H}, {d.N, d.H}}, {"gates", "c_next"}, labels);
  typename D::Call call(fn);
  call.inputs({&w.x, &w.w_ih, &w.w_hh, &h, &c, &gh, &gc, &sv[0], &sv[1]});
  return with_float(w.x.a.dtype, [&](auto t) {
    using T = decltype(t);
    const index_t G = 4 * d.H;
    auto gx = call.template empty<T>("grad_x", {d.N, d.I}), ghp = call.template empty<T>("grad_h", {d.N, d.H});
    auto gcp = call.template empty<T>("grad_c", {d.N, d.H}), gwi = call.template empty<T>("grad_w_ih", {G, d.I});
    auto gwh = call.template empty<T>("grad_w_hh", {G, d.H}), gb = call.template empty<T>("grad_b_ih", {G});
    const T *pgh = in<T>(gh), *pgc = in<T>(gc), *px = in<T>(w.x), *ph = in<T>(h), *pc = in<T>(c),
            *pwi = in<T>(w.w_ih), *pwh = in<T>(w.w_hh), *pgates = in<T>(sv[0]), *pcn = in<T>(sv[1]);
    T *pgx = out<T>(gx), *pghp = out<T>(ghp), *pgcp = out<T>(gcp), *pgwi = out<T>(gwi), *pgwh = out<T>(gwh),
      *pgb = out<T>(gb);
    if constexpr (D::is_cuda) {
      auto dz = call.template empty<T>("the gate gradients", {d.N, G});
      T* pdz = out<T>(dz);
      const bool tf32 = call.tf32() && sizeof(T) == 4;
      call.run([&] {
        cuda::lstm_cell_backward<T>(d.N, d.I, d.H, pgh, pgc, px, ph, pc, pwi, pwh, pgates, pcn, pgx, pghp, pgcp, pgwi,
                                    pgwh, pgb, pdz, tf32, call.stream());
      });
    } else {
      call.workspace("the gate gradients", static_cast<double>(d.N) * G * sizeof(T));
      call.run([&] {
        cpu::lstm_cell_backward<T>(d.N, d.I, d.H, pgh, pgc, px, ph, pc, pwi, pwh, pgates, pcn, pgx, pghp, pgcp, pgwi,
                                   pgwh, pgb);
      });
    }
    py::object b = gb.object();   // b_ih and b_hh get equal but separate arrays
    return py::object(py::make_tuple(gx.object(), ghp.object(), gcp.object(), gwi.object(), gwh.object(), b,
                                     b.attr("copy")()));
  });
}

template <class D>
py::object forward(py::handle x_, py::handle h0_, py::handle c0_, py::handle wi, py::handle wh, py::handle bi,
                   py::handle bh) {
  const char* fn = "lstm_forward";
  Weights<D> w(fn, true, x_, wi, wh, bi, bh);
  auto h0 = state<D>(fn, "h0", h0_, w), c0 = state<D>(fn, "c0", c0_, w);
  const RnnDims d = w.d;
  typename D::Call call(fn);
  call.inputs({&w.x, &w.w_ih, &w.w_hh, &w.b_ih, &w.b_hh, &h0, &c0});
  return with_float(w.x.a.dtype, [&](auto t) {
    using T = decltype(t);
    auto gates = call.template empty<T>("the gates", {d.T, d.N, 4 * d.H});
    auto y = call.template empty<T>("the output", {d.T, d.N, d.H}), cs = call.template empty<T>("the cell states", {d.T, d.N, d.H});
    auto h_T = call.template empty<T>("h_T", {d.N, d.H}), c_T = call.template empty<T>("c_T", {d.N, d.H});
    const T *px = in<T>(w.x), *ph = in<T>(h0), *pc = in<T>(c0), *pwi = in<T>(w.w_ih), *pwh = in<T>(w.w_hh),
            *pbi = in<T>(w.b_ih), *pbh = in<T>(w.b_hh);
    T *py_ = out<T>(y), *pcs = out<T>(cs), *pg = out<T>(gates), *phT = out<T>(h_T), *pcT = out<T>(c_T);
    if constexpr (D::is_cuda) {
      const bool tf32 = call.tf32() && sizeof(T) == 4;
      call.run([&] {
        cuda::lstm_forward<T>(d.T, d.N, d.I, d.H, px, ph, pc, pwi, pwh, pbi, pbh, py_, phT, pcT, pg, pcs, tf32,
                              call.stream());
      });
    } else {
      call.workspace("the packed weights", static_cast<double>(4 * d.H + 64) * (d.H + 64) * sizeof(T) * 2);
      call.run([&] { cpu::lstm_forward<T>(d.T, d.N, d.I, d.H, px, ph, pc, pwi, pwh, pbi, pbh, py_, phT, pcT, pg, pcs); });
    }
    return py::object(py::make_tuple(y.object(), h_T.object(), c_T.object(),
                                     py::make_tuple(gates.object(), cs.object(), y.object())));
  });
}

// lstm_forward for inference: the same y, h_T, c_T, nothing kept for a backward. On the CPU float
// runs its own kernel (one fused GEMM and gate pass per step, pyengine/lstm.h) that needs only the
// packed weights and a few rows of buffers; double keeps the steps' gates and cell states in the
// thread's workspace arena; on the GPU they are pool arrays dropped when the call returns.
template <class D>
py::object inference_forward(py::handle x_, py::handle h0_, py::handle c0_, py::handle wi, py::handle wh,
                             py::handle bi, py::handle bh) {
  const char* fn = "lstm_inference_forward";
  Weights<D> w(fn, true, x_, wi, wh, bi, bh);
  auto h0 = state<D>(fn, "h0", h0_, w), c0 = state<D>(fn, "c0", c0_, w);
  const RnnDims d = w.d;
  typename D::Call call(fn);
  call.inputs({&w.x, &w.w_ih, &w.w_hh, &w.b_ih, &w.b_hh, &h0, &c0});
  return with_float(w.x.a.dtype, [&](auto t) {
    using T = decltype(t);
    auto y = call.template empty<T>("the output", {d.T, d.N, d.H});
    auto h_T = call.template empty<T>("h_T", {d.N, d.H}), c_T = call.template empty<T>("c_T", {d.N, d.H});
    const T *px = in<T>(w.x), *ph = in<T>(h0), *pc = in<T>(c0), *pwi = in<T>(w.w_ih), *pwh = in<T>(w.w_hh),
            *pbi = in<T>(w.b_ih), *pbh = in<T>(w.b_hh);
    T *py_ = out<T>(y), *phT = out<T>(h_T), *pcT = out<T>(c_T);
    if constexpr (D::is_cuda) {
      auto gates = call.template empty<T>("the gates", {d.T, d.N, 4 * d.H});
      auto cs = call.template empty<T>("the cell states", {d.T, d.N, d.H});
      T *pg = out<T>(gates), *pcs = out<T>(cs);
      const bool tf32 = call.tf32() && sizeof(T) == 4;
      call.run([&] {
        cuda::lstm_forward<T>(d.T, d.N, d.I, d.H, px, ph, pc, pwi, pwh, pbi, pbh, py_, phT, pcT, pg, pcs, tf32,
                              call.stream());
      });
    } else {
      if constexpr (sizeof(T) == 4) {
        call.workspace("the packed weights", static_cast<double>(4 * d.H + 128) * (d.I + d.H + 1) * sizeof(T));
        call.workspace("the row buffers", (static_cast<double>(d.N) + 48) * (d.I + d.H + 128) * sizeof(T));
      } else {
        call.workspace("the gates and cell states", static_cast<double>(d.T) * d.N * 5 * d.H * sizeof(T));
        call.workspace("the packed weights", static_cast<double>(4 * d.H + 64) * (d.H + 64) * sizeof(T) * 2);
      }
      call.run([&] {
        cpu::lstm_forward_inference<T>(d.T, d.N, d.I, d.H, px, ph, pc, pwi, pwh, pbi, pbh, py_, phT, pcT);
      });
    }
    return py::object(py::make_tuple(y.object(), h_T.object(), c_T.object()));
  });
}

template <class D>
py::object backward(py::handle gy_, py::handle ghT_, py::handle gcT_, py::handle x_, py::handle h0_, py::handle c0_,
                    py::handle wi, py::handle wh, py::handle saved_, py::handle needs_) {
  const char* fn = "lstm_backward";
  Weights<D> w(fn, true, x_, wi, wh, py::none(), py::none());
  auto h0 = state<D>(fn, "h0", h0_, w), c0 = state<D>(fn, "c0", c0_, w);
  const RnnDims d = w.d;
  auto gy = recurrent::grad_y<D>(fn, gy_, w);
  auto ghT = state<D>(fn, "grad_h_T", ghT_, w, true), gcT = state<D>(fn, "grad_c_T", gcT_, w, true);
  std::array<std::string, 3> labels;
  auto sv = saved<D, 3>(fn, saved_, w,
                        {std::vector<index_t>{d.T, d.N, 4 * d.H}, {d.T, d.N, d.H}, {d.T, d.N, d.H}},
                        {"gates", "cs", "hs"}, labels);
  const auto needs = to_needs<7>(fn, needs_);
  typename D::Call call(fn);
  call.inputs({&w.x, &w.w_ih, &w.w_hh, &h0, &c0, &gy, &ghT, &gcT, &sv[0], &sv[1], &sv[2]});
  return with_float(w.x.a.dtype, [&](auto t) {
    using T = decltype(t);
    using Out = decltype(call.template empty<T>("", {}));
    const index_t G = 4 * d.H;
    // The CPU kernel skips the GEMMs of grad_x, grad_w_ih, grad_w_hh and the bias sums that are not
    // needed; the CUDA kernel computes every gradient. grad_h0 and grad_c0 fall out of the recurrence.
    const bool all = D::is_cuda;
    Out gx, gwi, gwh, gb;
    if (all || needs[0]) gx = call.template empty<T>("grad_x", {d.T, d.N, d.I});
    if (all || needs[3]) gwi = call.template empty<T>("grad_w_ih", {G, d.I});
    if (all || needs[4]) gwh = call.template empty<T>("grad_w_hh", {G, d.H});
    if (all || needs[5] || needs[6]) gb = call.template empty<T>("grad_b_ih", {G});
    auto gh0 = call.template empty<T>("grad_h0", {d.N, d.H}), gc0 = call.template empty<T>("grad_c0", {d.N, d.H});
    const T *pgy = in<T>(gy), *pghT = in<T>(ghT), *pgcT = in<T>(gcT), *px = in<T>(w.x), *ph0 = in<T>(h0),
            *pc0 = in<T>(c0), *pwi = in<T>(w.w_ih), *pwh = in<T>(w.w_hh), *pgates = in<T>(sv[0]), *pcs = in<T>(sv[1]),
            *phs = in<T>(sv[2]);
    T *pgx = out<T>(gx), *pgh0 = out<T>(gh0), *pgc0 = out<T>(gc0), *pgwi = out<T>(gwi), *pgwh = out<T>(gwh),
      *pgb = out<T>(gb);
    if constexpr (D::is_cuda) {
      auto ws = call.template empty<T>("the workspace", {cuda::lstm_backward_workspace(d.T, d.N, d.H)});
      T* pws = out<T>(ws);
      const bool tf32 = call.tf32() && sizeof(T) == 4;
      call.run([&] {
        cuda::lstm_backward<T>(d.T, d.N, d.I, d.H, pgy, pghT, pgcT, px, ph0, pc0, pwi, pwh, pgates, pcs, phs, pgx,
                               pgh0, pgc0, pgwi, pgwh, pgb, pws, tf32, call.stream());
      });
    } else {
      call.workspace("the gate gradients", static_cast<double>(d.T) * d.N * G * sizeof(T));
      call.run([&] {
        cpu::lstm_backward<T>(d.T, d.N, d.I, d.H, pgy, pghT, pgcT, px, ph0, pc0, pwi, pwh, pgates, pcs, phs, pgx, pgh0,
                              pgc0, pgwi, pgwh, pgb);
      });
    }
    auto pick = [&](int k, py::object o) { return needs[k] ? o : py::object(py::none()); };
    py::object b = gb.object();
    return py::object(py::make_tuple(pick(0, gx.object()), pick(1, gh0.object()), pick(2, gc0.object()),
                                     pick(3, gwi.object()), pick(4, gwh.object()), pick(5, b),
                                     needs[6] ? b.attr("copy")() : py::object(py::none())));
  });
}

template <class D>
void bind(py::module_& m) {
  using py::arg;
  kernel(m, "lstm_cell_forward", &cell_forward<D>, arg("x"), arg("h"), arg("c"), arg("w_ih"), arg("w_hh"),
         arg("b_ih") = py::none(), arg("b_hh") = py::none(),
         "One LSTM step. x (N, I), h and c (N, H), w_ih (4H, I), w_hh (4H, H), b_ih and b_hh (4H,) or None. "
         "Returns (h_next (N, H), c_next (N, H), saved) with saved = (gates (N, 4H), c_next).");
  kernel(m, "lstm_cell_backward", &cell_backward<D>, arg("grad_h_next"), arg("grad_c_next"), arg("x"), arg("h"),
         arg("c"), arg("w_ih"), arg("w_hh"), arg("saved"),
         "Gradients of one LSTM step; grad_c_next may be None (zero). Returns (grad_x, grad_h, grad_c, grad_w_ih, "
         "grad_w_hh, grad_b_ih, grad_b_hh); the two bias gradients are equal.");
  kernel(m, "lstm_forward", &forward<D>, arg("x"), arg("h0"), arg("c0"), arg("w_ih"), arg("w_hh"),
         arg("b_ih") = py::none(), arg("b_hh") = py::none(),
         "A whole sequence through one LSTM layer. x (T, N, I), h0 and c0 (N, H). Returns (y (T, N, H), h_T, c_T, "
         "saved) with saved = (gates (T, N, 4H), cs (T, N, H) = c_1..c_T, hs = y).");
  kernel(m, "lstm_inference_forward", &inference_forward<D>, arg("x"), arg("h0"), arg("c0"), arg("w_ih"),
         arg("w_hh"), arg("b_ih") = py::none(), arg("b_hh") = py::none(),
         "lstm_forward for inference: returns (y (T, N, H), h_T, c_T) and keeps nothing for a backward.");
  kernel(m, "lstm_backward", &backward<D>, arg("grad_y"), arg("grad_h_T"), arg("grad_c_T"), arg("x"), arg("h0"),
         arg("c0"), arg("w_ih"), arg("w_hh"), arg("saved"),
         arg("needs_input_grad") = py::make_tuple(true, true, true, true, true, true, true),
         "Gradients of the sequence; grad_h_T and grad_c_T may be None (zero). Returns (grad_x (T, N, I), grad_h0, "
         "grad_c0, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh); the two bias gradients are equal; an entry is None "
         "where needs_input_grad (x, h0, c0, w_ih, w_hh, b_ih, b_hh) says it is not needed.");
}

}  // namespace pyengine::bind::lstm

namespace pyengine::bind {
PE_BIND_FAMILY(lstm)
}
