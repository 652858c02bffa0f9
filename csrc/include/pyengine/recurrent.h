// pyengine/recurrent.h — the argument contract the gated recurrent families share: the LSTM
// (pyengine/lstm.h, K = 4 gate blocks i f g o) and the GRU (pyengine/gru.h, K = 3 blocks r z n).
//
// Legend: T time steps, N batch, I input features, H hidden size, K gate blocks.
//   x (N, I) for a cell, (T, N, I) with T >= 1 for a sequence; states h, c and their gradients
//   (N, H); w_hh (K·H, H) with H >= 1; w_ih (K·H, I); b_ih, b_hh (K·H,) or None. Both families save
//   4H gate columns per batch row (the LSTM's activated i f g o; the GRU's r z n and gh_n), so the
//   saved gates are (N, 4H) for a cell and (T, N, 4H) for a sequence. Every array has x's float dtype.
// The bindings (csrc/bindings/bind_lstm.cpp, bind_gru.cpp, through bind_recurrent.h) call these
// checks once; the kernels rely on them.
#pragma once
#include "pyengine/common.h"

#if !defined(PYENGINE_ISA) && !defined(__CUDACC__)
#include "pyengine/check.h"

namespace pyengine::contract {

struct RnnDims { index_t T, N, I, H; };

// x (N, I) [cell] or (T, N, I) [sequence]; T is 1 for the cell; H is filled by rnn_weights.
inline RnnDims rnn_x(const char* fn, const Array& x, bool sequence) {
  float_array(fn, x, sequence ? 3 : 2);
  RnnDims d{sequence ? x.dim(0) : 1, x.dim(sequence ? 1 : 0), x.dim(sequence ? 2 : 1), 0};
  if (sequence && d.T < 1) value_error(fn, ": x must have at least one time step, got shape ", shape_str(x.shape));
  return d;
}

// w_ih (K·H, I), w_hh (K·H, H) with H >= 1, b_ih and b_hh (K·H,) when present; sets d.H.
inline void rnn_weights(const char* fn, int K, const Array& x, RnnDims& d, const Array& w_ih, const Array& w_hh,
                        const Array& b_ih, const Array& b_hh) {
  float_array(fn, w_ih, 2);
  same_dtype(fn, x, w_ih);
  float_array(fn, w_hh, 2);
  same_dtype(fn, x, w_hh);
  const index_t H = w_hh.dim(1);
  const std::string KH = cat(K, "*H");
  if (H < 1 || w_hh.dim(0) != checked_mul(fn, KH.c_str(), K, H))
    value_error(fn, ": w_hh must have shape (", KH, ", H) with H >= 1, got ", shape_str(w_hh.shape));
  if (w_ih.dim(0) != K * H)
    value_error(fn, ": w_ih must have ", KH, " = ", K * H, " rows (H = ", H, " from w_hh), got shape ",
                shape_str(w_ih.shape));
  if (w_ih.dim(1) != d.I) value_error(fn, ": w_ih expects ", w_ih.dim(1), " input features, x has ", d.I);
  for (const Array* b : {&b_ih, &b_hh}) {
    if (!b->present) continue;
    float_array(fn, *b, 1);
    same_dtype(fn, x, *b);
    shape_is(fn, *b, {K * H});
  }
  d.H = H;
}

// A state or its gradient: (N, H) of x's dtype (absent allowed when optional).
inline void rnn_state(const char* fn, const Array& a, const Array& x, const RnnDims& d, bool optional = false) {
  if (!a.present && optional) return;
  float_array(fn, a, 2);
  same_dtype(fn, x, a);
  shape_is(fn, a, {d.N, d.H});
}

// The saved gates' size, (N, 4H) or (T, N, 4H), must be addressable.
inline void rnn_gates_size(const char* fn, const RnnDims& d, bool sequence) {
  if (sequence) checked_numel(fn, "gates shape", {d.T, d.N, 4 * d.H});
  else checked_numel(fn, "gates shape", {d.N, 4 * d.H});
}

// An entry of the forward's saved tuple (its label "saved[k] (name)" is the array's name).
inline void rnn_saved(const char* fn, const Array& a, const Array& x, const std::vector<index_t>& shape) {
  float_array(fn, a, static_cast<int>(shape.size()));
  same_dtype(fn, x, a);
  shape_is(fn, a, shape);
}

}  // namespace pyengine::contract
#endif
