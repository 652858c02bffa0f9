// bind_recurrent.h — argument reading shared by the gated recurrent bindings (bind_lstm.cpp with
// K = 4 gate blocks, bind_gru.cpp with K = 3), for both device policies D (bind.h). The checks
// themselves are pyengine/recurrent.h's.
#pragma once
#include <array>
#include <string>
#include <vector>

#include "bind.h"
#include "pyengine/recurrent.h"

namespace pyengine::bind::recurrent {

using contract::RnnDims;

// x, w_ih, w_hh and the biases (the backwards pass None for them); fills every size and checks that
// the saved gates' size is addressable.
template <class D, int K>
struct Weights {
  typename D::Arg x, w_ih, w_hh, b_ih, b_hh;
  RnnDims d{};
  Weights(const char* fn, bool sequence, py::handle x_, py::handle wi, py::handle wh, py::handle bi, py::handle bh)
      : x(D::arg(fn, "x", x_)) {
    d = contract::rnn_x(fn, x.a, sequence);
    w_ih = D::arg(fn, "w_ih", wi);
    w_hh = D::arg(fn, "w_hh", wh);
    b_ih = D::opt(fn, "b_ih", bi);
    b_hh = D::opt(fn, "b_hh", bh);
    contract::rnn_weights(fn, K, x.a, d, w_ih.a, w_hh.a, b_ih.a, b_hh.a);
    contract::rnn_gates_size(fn, d, sequence);
  }
};

// A state (h, c, h0, …) or its gradient, (N, H).
template <class D, class W>
typename D::Arg state(const char* fn, const char* name, py::handle obj, const W& w, bool optional = false) {
  auto a = D::arg(fn, name, obj, optional);
  contract::rnn_state(fn, a.a, w.x.a, w.d, optional);
  return a;
}

// grad_y (T, N, H) of a sequence backward.
template <class D, class W>
typename D::Arg grad_y(const char* fn, py::handle obj, const W& w) {
  auto gy = D::arg(fn, "grad_y", obj);
  contract::float_array(fn, gy.a, 3);
  contract::same_dtype(fn, w.x.a, gy.a);
  contract::shape_is(fn, gy.a, {w.d.T, w.d.N, w.d.H});
  return gy;
}

// The forward's saved tuple, each entry checked against its shape; labels "saved[k] (name)" (kept
// alive in `labels` for the arrays' messages).
template <class D, size_t S, class W>
std::array<typename D::Arg, S> saved(const char* fn, py::handle obj, const W& w,
                                     const std::array<std::vector<index_t>, S>& shapes,
                                     const std::array<const char*, S>& names, std::array<std::string, S>& labels) {
  if (!py::isinstance<py::tuple>(obj) || py::len(obj) != S) {
    const std::string got = py::isinstance<py::tuple>(obj) ? contract::cat("a tuple of length ", py::len(obj))
                                                           : type_name(obj);
    type_error(fn, ": saved must be the tuple of ", S, " arrays returned by the forward, got ", got);
  }
  py::tuple t = py::reinterpret_borrow<py::tuple>(obj);
  std::array<typename D::Arg, S> out;
  for (size_t k = 0; k < S; ++k) {
    labels[k] = contract::cat("saved[", k, "] (", names[k], ")");
    out[k] = D::arg(fn, labels[k].c_str(), t[k]);
    contract::rnn_saved(fn, out[k].a, w.x.a, shapes[k]);
  }
  return out;
}

}  // namespace pyengine::bind::recurrent
