// bind_lstm.cpp — lstm_cell_forward/backward and lstm_forward/backward (see pyengine/lstm.h).
//
// Validation before any kernel: float32/float64 and one dtype for all, ranks, C-contiguity,
// w_hh (4H, H) with H ≥ 1, w_ih (4H, I) with I matching x, biases (4H,), h/c (N, H) with N
// matching x, grad arrays of their output's shape, the saved tuple's structure and shapes, and
// sizes whose products overflow. The GIL is released around the kernels.
#include "bind_util.h"
#include "pyengine/lstm.h"

namespace pyengine::bind {
namespace {

// An array handle that holds nothing (false in a boolean context); py::array() would be a real,
// empty array.
py::array absent() { return py::reinterpret_borrow<py::array>(py::handle()); }

// The argument as an array, or an absent handle for None.
py::array optional(const py::object& o) { return o.is_none() ? absent() : o.cast<py::array>(); }

template <typename T>
const T* optr(const py::array& a) { return a ? cptr<T>(a) : nullptr; }

struct Dims {
  DType dt;
  index_t T, N, I, H;
};

// Checks the weights and biases against x's dtype and feature count; fills I and H.
void check_weights(const char* fn, Dims& d, index_t x_features, const py::array& w_ih, const py::array& w_hh,
                   const py::array& b_ih, const py::array& b_hh) {
  check_array(fn, "w_ih", w_ih, 2);
  check_same_dtype(fn, "w_ih", w_ih, d.dt, "x");
  check_array(fn, "w_hh", w_hh, 2);
  check_same_dtype(fn, "w_hh", w_hh, d.dt, "x");
  const index_t H = w_hh.shape(1);
  if (H < 1 || w_hh.shape(0) != checked_mul(fn, "4*H", 4, H))
    value_error(cat(fn, ": w_hh must have shape (4*H, H) with H >= 1, got ", shape_str(w_hh)));
  if (w_ih.shape(0) != 4 * H)
    value_error(cat(fn, ": w_ih must have 4*H = ", 4 * H, " rows (H = ", H, " from w_hh), got shape ", shape_str(w_ih)));
  if (w_ih.shape(1) != x_features)
    value_error(cat(fn, ": w_ih expects ", w_ih.shape(1), " input features, x has ", x_features));
  const char* names[2] = {"b_ih", "b_hh"};
  const py::array* biases[2] = {&b_ih, &b_hh};
  for (int k = 0; k < 2; ++k) {
    if (!*biases[k]) continue;
    check_array(fn, names[k], *biases[k], 1);
    check_same_dtype(fn, names[k], *biases[k], d.dt, "x");
    check_shape(fn, names[k], *biases[k], {4 * H});
  }
  d.I = x_features;
  d.H = H;
}

void check_state(const char* fn, const char* name, const py::array& a, const Dims& d) {
  check_array(fn, name, a, 2);
  check_same_dtype(fn, name, a, d.dt, "x");
  check_shape(fn, name, a, {d.N, d.H});
}

void check_opt_state(const char* fn, const char* name, const py::array& a, const Dims& d) {
  if (a) check_state(fn, name, a, d);
}

// x (N, I) [cell] or (T, N, I) [sequence] plus every weight; T is 1 for the cell.
Dims check_inputs(const char* fn, bool sequence, const py::array& x, const py::array& w_ih, const py::array& w_hh,
                  const py::array& b_ih, const py::array& b_hh) {
  Dims d{};
  d.dt = check_array(fn, "x", x, sequence ? 3 : 2);
  d.T = sequence ? x.shape(0) : 1;
  d.N = x.shape(sequence ? 1 : 0);
  if (sequence && d.T < 1) value_error(cat(fn, ": x must have at least one time step, got shape ", shape_str(x)));
  check_weights(fn, d, x.shape(sequence ? 2 : 1), w_ih, w_hh, b_ih, b_hh);
  checked_numel(fn, "gates size T*N*4*H", {d.T, d.N, 4, d.H});
  checked_numel(fn, "x size", {d.T, d.N, d.I});
  checked_numel(fn, "w_ih size", {4, d.H, d.I});
  return d;
}

// saved must be a tuple of `count` arrays of x's dtype with the given shapes.
std::vector<py::array> check_saved(const char* fn, const py::object& saved, const Dims& d,
                                   const std::vector<std::vector<index_t>>& shapes,
                                   const std::vector<const char*>& names) {
  if (!py::isinstance<py::tuple>(saved) || py::len(saved) != shapes.size()) {
    std::string got = py::str(py::type::of(saved).attr("__name__"));
    if (py::isinstance<py::tuple>(saved)) got = cat("a tuple of length ", py::len(saved));
    type_error(cat(fn, ": saved must be the tuple of ", shapes.size(), " arrays returned by the forward, got ", got));
  }
  py::tuple t = saved.cast<py::tuple>();
  std::vector<py::array> out;
  for (size_t k = 0; k < shapes.size(); ++k) {
    if (!py::isinstance<py::array>(t[k]))
      type_error(cat(fn, ": saved[", k, "] (", names[k], ") must be an array"));
    py::array a = t[k].cast<py::array>();
    const std::string label = cat("saved[", k, "] (", names[k], ")");
    check_array(fn, label.c_str(), a, static_cast<py::ssize_t>(shapes[k].size()));
    check_same_dtype(fn, label.c_str(), a, d.dt, "x");
    check_shape(fn, label.c_str(), a, shapes[k]);
    out.push_back(a);
  }
  return out;
}

// ---- cell ----------------------------------------------------------------------------------------

template <typename T>
py::tuple cell_forward_typed(const Dims& d, const py::array& x, const py::array& h, const py::array& c,
                             const py::array& w_ih, const py::array& w_hh, const py::array& b_ih,
                             const py::array& b_hh) {
  py::array h_next = new_array<T>({d.N, d.H}), c_next = new_array<T>({d.N, d.H});
  py::array gates = new_array<T>({d.N, 4 * d.H});
  const T *px = cptr<T>(x), *ph = cptr<T>(h), *pc = cptr<T>(c), *pwi = cptr<T>(w_ih), *pwh = cptr<T>(w_hh);
  const T *pbi = optr<T>(b_ih), *pbh = optr<T>(b_hh);
  T *phn = ptr<T>(h_next), *pcn = ptr<T>(c_next), *pg = ptr<T>(gates);
  {
    py::gil_scoped_release release;
    cpu::lstm_cell_forward<T>(d.N, d.I, d.H, px, ph, pc, pwi, pwh, pbi, pbh, phn, pcn, pg);
  }
  return py::make_tuple(h_next, c_next, py::make_tuple(gates, c_next));
}

template <typename T>
py::tuple cell_backward_typed(const Dims& d, const py::array& gh, const py::array& gc, const py::array& x,
                              const py::array& h, const py::array& c, const py::array& w_ih,
                              const py::array& w_hh, const std::vector<py::array>& saved) {
  const index_t G = 4 * d.H;
  py::array gx = new_array<T>({d.N, d.I}), ghp = new_array<T>({d.N, d.H}), gcp = new_array<T>({d.N, d.H});
  py::array gwi = new_array<T>({G, d.I}), gwh = new_array<T>({G, d.H}), gb = new_array<T>({G});
  const T *pgh = cptr<T>(gh), *pgc = optr<T>(gc), *px = cptr<T>(x), *ph = cptr<T>(h), *pc = cptr<T>(c);
  const T *pwi = cptr<T>(w_ih), *pwh = cptr<T>(w_hh), *pgates = cptr<T>(saved[0]), *pcn = cptr<T>(saved[1]);
  T *pgx = ptr<T>(gx), *pghp = ptr<T>(ghp), *pgcp = ptr<T>(gcp), *pgwi = ptr<T>(gwi), *pgwh = ptr<T>(gwh),
    *pgb = ptr<T>(gb);
  {
    py::gil_scoped_release release;
    cpu::lstm_cell_backward<T>(d.N, d.I, d.H, pgh, pgc, px, ph, pc, pwi, pwh, pgates, pcn, pgx, pghp, pgcp,
                               pgwi, pgwh, pgb);
  }
  py::object gb2 = gb.attr("copy")();   // b_ih and b_hh get equal but separate arrays
  return py::make_tuple(gx, ghp, gcp, gwi, gwh, gb, gb2);
}

// ---- sequence ------------------------------------------------------------------------------------

template <typename T>
py::tuple forward_typed(const Dims& d, const py::array& x, const py::array& h0, const py::array& c0,
                        const py::array& w_ih, const py::array& w_hh, const py::array& b_ih, const py::array& b_hh) {
  py::array y = new_array<T>({d.T, d.N, d.H}), cs = new_array<T>({d.T, d.N, d.H});
  py::array gates = new_array<T>({d.T, d.N, 4 * d.H});
  py::array h_T = new_array<T>({d.N, d.H}), c_T = new_array<T>({d.N, d.H});
  const T *px = cptr<T>(x), *ph = cptr<T>(h0), *pc = cptr<T>(c0), *pwi = cptr<T>(w_ih), *pwh = cptr<T>(w_hh);
  const T *pbi = optr<T>(b_ih), *pbh = optr<T>(b_hh);
  T *py_ = ptr<T>(y), *pcs = ptr<T>(cs), *pg = ptr<T>(gates), *phT = ptr<T>(h_T), *pcT = ptr<T>(c_T);
  {
    py::gil_scoped_release release;
    cpu::lstm_forward<T>(d.T, d.N, d.I, d.H, px, ph, pc, pwi, pwh, pbi, pbh, py_, phT, pcT, pg, pcs);
  }
  return py::make_tuple(y, h_T, c_T, py::make_tuple(gates, cs, y));
}

template <typename T>
py::tuple inference_typed(const Dims& d, const py::array& x, const py::array& h0, const py::array& c0,
                          const py::array& w_ih, const py::array& w_hh, const py::array& b_ih, const py::array& b_hh) {
  py::array y = new_array<T>({d.T, d.N, d.H});
  py::array h_T = new_array<T>({d.N, d.H}), c_T = new_array<T>({d.N, d.H});
  const T *px = cptr<T>(x), *ph = cptr<T>(h0), *pc = cptr<T>(c0), *pwi = cptr<T>(w_ih), *pwh = cptr<T>(w_hh);
  const T *pbi = optr<T>(b_ih), *pbh = optr<T>(b_hh);
  T *py_ = ptr<T>(y), *phT = ptr<T>(h_T), *pcT = ptr<T>(c_T);
  {
    py::gil_scoped_release release;
    cpu::lstm_forward_inference<T>(d.T, d.N, d.I, d.H, px, ph, pc, pwi, pwh, pbi, pbh, py_, phT, pcT);
  }
  return py::make_tuple(y, h_T, c_T);
}

template <typename T>
py::tuple backward_typed(const Dims& d, const py::array& gy, const py::array& ghT, const py::array& gcT,
                         const py::array& x, const py::array& h0, const py::array& c0, const py::array& w_ih,
                         const py::array& w_hh, const std::vector<py::array>& saved) {
  const index_t G = 4 * d.H;
  py::array gx = new_array<T>({d.T, d.N, d.I}), gh0 = new_array<T>({d.N, d.H}), gc0 = new_array<T>({d.N, d.H});
  py::array gwi = new_array<T>({G, d.I}), gwh = new_array<T>({G, d.H}), gb = new_array<T>({G});
  const T *pgy = cptr<T>(gy), *pghT = optr<T>(ghT), *pgcT = optr<T>(gcT), *px = cptr<T>(x), *ph0 = cptr<T>(h0),
          *pc0 = cptr<T>(c0), *pwi = cptr<T>(w_ih), *pwh = cptr<T>(w_hh), *pgates = cptr<T>(saved[0]),
          *pcs = cptr<T>(saved[1]), *phs = cptr<T>(saved[2]);
  T *pgx = ptr<T>(gx), *pgh0 = ptr<T>(gh0), *pgc0 = ptr<T>(gc0), *pgwi = ptr<T>(gwi), *pgwh = ptr<T>(gwh),
    *pgb = ptr<T>(gb);
  {
    py::gil_scoped_release release;
    cpu::lstm_backward<T>(d.T, d.N, d.I, d.H, pgy, pghT, pgcT, px, ph0, pc0, pwi, pwh, pgates, pcs, phs, pgx,
                          pgh0, pgc0, pgwi, pgwh, pgb);
  }
  py::object gb2 = gb.attr("copy")();
  return py::make_tuple(gx, gh0, gc0, gwi, gwh, gb, gb2);
}

}  // namespace

void bind_lstm(py::module_& m) {
  m.def("lstm_cell_forward", [](const py::array& x, const py::array& h, const py::array& c, const py::array& w_ih,
                                const py::array& w_hh, const py::object& b_ih_o, const py::object& b_hh_o) {
    const char* fn = "lstm_cell_forward";
    py::array b_ih = optional(b_ih_o), b_hh = optional(b_hh_o);
    Dims d = check_inputs(fn, false, x, w_ih, w_hh, b_ih, b_hh);
    check_state(fn, "h", h, d);
    check_state(fn, "c", c, d);
    return d.dt == DType::f32 ? cell_forward_typed<float>(d, x, h, c, w_ih, w_hh, b_ih, b_hh)
                              : cell_forward_typed<double>(d, x, h, c, w_ih, w_hh, b_ih, b_hh);
  }, py::arg("x"), py::arg("h"), py::arg("c"), py::arg("w_ih"), py::arg("w_hh"), py::arg("b_ih") = py::none(),
     py::arg("b_hh") = py::none(), "One LSTM step → (h_next, c_next, saved=(gates, c_next)).");

  m.def("lstm_cell_backward", [](const py::array& grad_h_next, const py::object& grad_c_next_o, const py::array& x,
                                 const py::array& h, const py::array& c, const py::array& w_ih, const py::array& w_hh,
                                 const py::object& saved_o) {
    const char* fn = "lstm_cell_backward";
    Dims d = check_inputs(fn, false, x, w_ih, w_hh, absent(), absent());
    check_state(fn, "h", h, d);
    check_state(fn, "c", c, d);
    check_state(fn, "grad_h_next", grad_h_next, d);
    py::array grad_c_next = optional(grad_c_next_o);
    check_opt_state(fn, "grad_c_next", grad_c_next, d);
    auto saved = check_saved(fn, saved_o, d, {{d.N, 4 * d.H}, {d.N, d.H}}, {"gates", "c_next"});
    return d.dt == DType::f32 ? cell_backward_typed<float>(d, grad_h_next, grad_c_next, x, h, c, w_ih, w_hh, saved)
                              : cell_backward_typed<double>(d, grad_h_next, grad_c_next, x, h, c, w_ih, w_hh, saved);
  }, py::arg("grad_h_next"), py::arg("grad_c_next"), py::arg("x"), py::arg("h"), py::arg("c"), py::arg("w_ih"),
     py::arg("w_hh"), py::arg("saved"),
     "→ (grad_x, grad_h, grad_c, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh); grad_c_next may be None.");

  m.def("lstm_forward", [](const py::array& x, const py::array& h0, const py::array& c0, const py::array& w_ih,
                           const py::array& w_hh, const py::object& b_ih_o, const py::object& b_hh_o) {
    const char* fn = "lstm_forward";
    py::array b_ih = optional(b_ih_o), b_hh = optional(b_hh_o);
    Dims d = check_inputs(fn, true, x, w_ih, w_hh, b_ih, b_hh);
    check_state(fn, "h0", h0, d);
    check_state(fn, "c0", c0, d);
    return d.dt == DType::f32 ? forward_typed<float>(d, x, h0, c0, w_ih, w_hh, b_ih, b_hh)
                              : forward_typed<double>(d, x, h0, c0, w_ih, w_hh, b_ih, b_hh);
  }, py::arg("x"), py::arg("h0"), py::arg("c0"), py::arg("w_ih"), py::arg("w_hh"), py::arg("b_ih") = py::none(),
     py::arg("b_hh") = py::none(), "Whole sequence → (y, h_T, c_T, saved=(gates, cs, y)).");

  m.def("lstm_inference_forward", [](const py::array& x, const py::array& h0, const py::array& c0,
                                     const py::array& w_ih, const py::array& w_hh, const py::object& b_ih_o,
                                     const py::object& b_hh_o) {
    const char* fn = "lstm_inference_forward";
    py::array b_ih = optional(b_ih_o), b_hh = optional(b_hh_o);
    Dims d = check_inputs(fn, true, x, w_ih, w_hh, b_ih, b_hh);
    check_state(fn, "h0", h0, d);
    check_state(fn, "c0", c0, d);
    return d.dt == DType::f32 ? inference_typed<float>(d, x, h0, c0, w_ih, w_hh, b_ih, b_hh)
                              : inference_typed<double>(d, x, h0, c0, w_ih, w_hh, b_ih, b_hh);
  }, py::arg("x"), py::arg("h0"), py::arg("c0"), py::arg("w_ih"), py::arg("w_hh"), py::arg("b_ih") = py::none(),
     py::arg("b_hh") = py::none(), "Whole sequence → (y, h_T, c_T), nothing kept for a backward.");

  m.def("lstm_backward", [](const py::array& grad_y, const py::object& grad_h_T_o, const py::object& grad_c_T_o,
                            const py::array& x, const py::array& h0, const py::array& c0, const py::array& w_ih,
                            const py::array& w_hh, const py::object& saved_o) {
    const char* fn = "lstm_backward";
    Dims d = check_inputs(fn, true, x, w_ih, w_hh, absent(), absent());
    check_state(fn, "h0", h0, d);
    check_state(fn, "c0", c0, d);
    check_array(fn, "grad_y", grad_y, 3);
    check_same_dtype(fn, "grad_y", grad_y, d.dt, "x");
    check_shape(fn, "grad_y", grad_y, {d.T, d.N, d.H});
    py::array grad_h_T = optional(grad_h_T_o), grad_c_T = optional(grad_c_T_o);
    check_opt_state(fn, "grad_h_T", grad_h_T, d);
    check_opt_state(fn, "grad_c_T", grad_c_T, d);
    auto saved = check_saved(fn, saved_o, d, {{d.T, d.N, 4 * d.H}, {d.T, d.N, d.H}, {d.T, d.N, d.H}},
                             {"gates", "cs", "hs"});
    return d.dt == DType::f32
               ? backward_typed<float>(d, grad_y, grad_h_T, grad_c_T, x, h0, c0, w_ih, w_hh, saved)
               : backward_typed<double>(d, grad_y, grad_h_T, grad_c_T, x, h0, c0, w_ih, w_hh, saved);
  }, py::arg("grad_y"), py::arg("grad_h_T"), py::arg("grad_c_T"), py::arg("x"), py::arg("h0"), py::arg("c0"),
     py::arg("w_ih"), py::arg("w_hh"), py::arg("saved"),
     "→ (grad_x, grad_h0, grad_c0, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh); grad_h_T/grad_c_T may be None.");
}

}  // namespace pyengine::bind
