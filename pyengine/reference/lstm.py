"""Reference LSTM kernels: one cell step and the whole sequence, PyTorch's layout, maths in float64.

Shapes: T steps, N batch, I input features, H hidden units; gates in the order i, f, g, o.
  a = x·w_ihᵀ + h·w_hhᵀ + b_ih + b_hh;  i, f, o = σ(a_i, a_f, a_o);  g = tanh(a_g)
  c_next = f·c + i·g;  h_next = o·tanh(c_next)
``saved`` holds the activated gates and the cell states (and, for the sequence, the hidden states,
which are the output y itself); backward takes it from any implementation.
"""
from __future__ import annotations

import numpy as np

from ._checks import check_float_array, check_needs_input_grad, check_same_dtype, check_shape, checked_numel
from ._recurrent import check_saved, check_state, check_weights

__all__ = ["lstm_cell_forward", "lstm_cell_backward", "lstm_forward", "lstm_inference_forward",
           "lstm_backward"]


# ---- the contract, as the oracle checks it (the same messages as the C++ bindings) ----

def check_lstm_cell(fn: str, x, h, c, w_ih, w_hh, b_ih=None, b_hh=None) -> tuple[int, int, int]:
    """Returns (N, I, H) for one step: x (N, I), h and c (N, H)."""
    check_float_array(fn, "x", x, 2)
    n, features = x.shape
    hidden = check_weights(fn, 4, x, features, w_ih, w_hh, b_ih, b_hh)
    check_state(fn, "h", h, x, n, hidden)
    check_state(fn, "c", c, x, n, hidden)
    checked_numel(fn, "gates shape", (n, 4 * hidden))
    return n, features, hidden


def check_lstm_cell_backward(fn: str, grad_h_next, grad_c_next, x, h, c, w_ih, w_hh, saved) -> tuple[int, int, int]:
    n, features, hidden = check_lstm_cell(fn, x, h, c, w_ih, w_hh)
    check_state(fn, "grad_h_next", grad_h_next, x, n, hidden)
    check_state(fn, "grad_c_next", grad_c_next, x, n, hidden, optional=True)
    check_saved(fn, saved, x, ((n, 4 * hidden), (n, hidden)), ("gates", "c_next"))
    return n, features, hidden


def check_lstm(fn: str, x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None) -> tuple[int, int, int, int]:
    """Returns (T, N, I, H) for the sequence: x (T, N, I), h0 and c0 (N, H)."""
    check_float_array(fn, "x", x, 3)
    steps, n, features = x.shape
    if steps < 1:
        raise ValueError(f"{fn}: x must have at least one time step, got shape {tuple(x.shape)}")
    hidden = check_weights(fn, 4, x, features, w_ih, w_hh, b_ih, b_hh)
    check_state(fn, "h0", h0, x, n, hidden)
    check_state(fn, "c0", c0, x, n, hidden)
    checked_numel(fn, "gates shape", (steps, n, 4 * hidden))
    return steps, n, features, hidden


def check_lstm_backward(fn: str, grad_y, grad_h_T, grad_c_T, x, h0, c0, w_ih, w_hh, saved) -> tuple[int, int, int, int]:
    steps, n, features, hidden = check_lstm(fn, x, h0, c0, w_ih, w_hh)
    check_float_array(fn, "grad_y", grad_y, 3)
    check_same_dtype(fn, "x", x, grad_y=grad_y)
    check_shape(fn, "grad_y", grad_y, (steps, n, hidden))
    check_state(fn, "grad_h_T", grad_h_T, x, n, hidden, optional=True)
    check_state(fn, "grad_c_T", grad_c_T, x, n, hidden, optional=True)
    check_saved(fn, saved, x, ((steps, n, 4 * hidden), (steps, n, hidden), (steps, n, hidden)),
                 ("gates", "cs", "hs"))
    return steps, n, features, hidden


# ---- the kernels ----


def _f64(a):
    return None if a is None else np.asarray(a, dtype=np.float64)


def _sigmoid(v):
    """σ(v) without overflow: e^−|v| never exceeds 1."""
    e = np.exp(-np.abs(v))
    return np.where(v >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _step(x, h, c, w_ih, w_hh, b_ih, b_hh):
    """One step in float64 → (h_next, c_next, gates (N, 4H) after their nonlinearities)."""
    a = x @ w_ih.T + h @ w_hh.T
    if b_ih is not None:
        a = a + b_ih
    if b_hh is not None:
        a = a + b_hh
    ai, af, ag, ao = np.split(a, 4, axis=1)
    i, f, g, o = _sigmoid(ai), _sigmoid(af), np.tanh(ag), _sigmoid(ao)
    c_next = f * c + i * g
    h_next = o * np.tanh(c_next)
    return h_next, c_next, np.concatenate([i, f, g, o], axis=1)


def _step_backward(dh, dc, gates, c_prev, c_next):
    """(∂L/∂h_next, ∂L/∂c_next or None) → (∂L/∂a (N, 4H), ∂L/∂c_prev), all float64."""
    i, f, g, o = np.split(gates, 4, axis=1)
    tc = np.tanh(c_next)
    dc_total = dh * o * (1.0 - tc * tc)
    if dc is not None:
        dc_total = dc_total + dc
    da = np.concatenate([dc_total * g * i * (1.0 - i),
                         dc_total * c_prev * f * (1.0 - f),
                         dc_total * i * (1.0 - g * g),
                         dh * tc * o * (1.0 - o)], axis=1)
    return da, dc_total * f


def lstm_cell_forward(x, h, c, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step.

    x (N, I), h and c (N, H), w_ih (4H, I), w_hh (4H, H), b_ih and b_hh (4H,) or None.
    Returns (h_next (N, H), c_next (N, H), saved) with saved = (gates (N, 4H), c_next).
    """
    check_lstm_cell("lstm_cell_forward", x, h, c, w_ih, w_hh, b_ih, b_hh)
    h_next, c_next, gates = _step(_f64(x), _f64(h), _f64(c), _f64(w_ih), _f64(w_hh), _f64(b_ih), _f64(b_hh))
    dt = x.dtype
    c_next = c_next.astype(dt)
    return h_next.astype(dt), c_next, (gates.astype(dt), c_next)


def lstm_cell_backward(grad_h_next, grad_c_next, x, h, c, w_ih, w_hh, saved):
    """Gradients of one LSTM step; grad_c_next may be None (zero).

    grad_h_next, grad_c_next (N, H); x, h, c, w_ih, w_hh as in the forward; saved from any forward.
    Returns (grad_x (N, I), grad_h (N, H), grad_c (N, H), grad_w_ih (4H, I), grad_w_hh (4H, H),
    grad_b_ih (4H,), grad_b_hh (4H,)); the two bias gradients are equal.
    """
    check_lstm_cell_backward("lstm_cell_backward", grad_h_next, grad_c_next, x, h, c, w_ih, w_hh, saved)
    gates, c_next = _f64(saved[0]), _f64(saved[1])
    da, dc = _step_backward(_f64(grad_h_next), _f64(grad_c_next), gates, _f64(c), c_next)
    dt = x.dtype
    grad_b = da.sum(axis=0)
    return ((da @ _f64(w_ih)).astype(dt), (da @ _f64(w_hh)).astype(dt), dc.astype(dt),
            (da.T @ _f64(x)).astype(dt), (da.T @ _f64(h)).astype(dt), grad_b.astype(dt), grad_b.astype(dt))


def lstm_forward(x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None):
    """A whole sequence through one LSTM layer.

    x (T, N, I), h0 and c0 (N, H), w_ih (4H, I), w_hh (4H, H), b_ih and b_hh (4H,) or None.
    Returns (y (T, N, H), h_T (N, H), c_T (N, H), saved) with
    saved = (gates (T, N, 4H), cs (T, N, H) = c_1..c_T, hs = y).
    """
    steps, n, _, hidden = check_lstm("lstm_forward", x, h0, c0, w_ih, w_hh, b_ih, b_hh)
    xs, w_ih, w_hh, b_ih, b_hh = _f64(x), _f64(w_ih), _f64(w_hh), _f64(b_ih), _f64(b_hh)
    h, c = _f64(h0), _f64(c0)
    ys = np.empty((steps, n, hidden))
    cs = np.empty((steps, n, hidden))
    gates = np.empty((steps, n, 4 * hidden))
    for t in range(steps):
        h, c, gates[t] = _step(xs[t], h, c, w_ih, w_hh, b_ih, b_hh)
        ys[t], cs[t] = h, c
    dt = x.dtype
    y = ys.astype(dt)
    return y, h.astype(dt), c.astype(dt), (gates.astype(dt), cs.astype(dt), y)


def lstm_inference_forward(x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None):
    """lstm_forward without what a backward needs: (y (T, N, H), h_T, c_T)."""
    check_lstm("lstm_inference_forward", x, h0, c0, w_ih, w_hh, b_ih, b_hh)
    y, h, c, _ = lstm_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh)
    return y, h, c


def lstm_backward(grad_y, grad_h_T, grad_c_T, x, h0, c0, w_ih, w_hh, saved,
                  needs_input_grad=(True, True, True, True, True, True, True)):
    """Gradients of the sequence; grad_h_T and grad_c_T may be None (zero).

    grad_y (T, N, H), grad_h_T and grad_c_T (N, H); the rest as in the forward; saved from any forward.
    Returns (grad_x (T, N, I), grad_h0 (N, H), grad_c0 (N, H), grad_w_ih (4H, I), grad_w_hh (4H, H),
    grad_b_ih (4H,), grad_b_hh (4H,)); the two bias gradients are equal; an entry is None where
    needs_input_grad (x, h0, c0, w_ih, w_hh, b_ih, b_hh) says it is not needed.
    """
    steps, n, features, hidden = check_lstm_backward("lstm_backward", grad_y, grad_h_T, grad_c_T, x, h0, c0,
                                                     w_ih, w_hh, saved)
    needs = check_needs_input_grad("lstm_backward", needs_input_grad, 7)
    gates, cs, hs = (_f64(s) for s in saved)
    xs, gy, w_ih, w_hh = _f64(x), _f64(grad_y), _f64(w_ih), _f64(w_hh)
    h0, c0 = _f64(h0), _f64(c0)
    dh_next = np.zeros((n, hidden)) if grad_h_T is None else _f64(grad_h_T)
    dc = None if grad_c_T is None else _f64(grad_c_T)
    grad_x = np.empty((steps, n, features))
    grad_w_ih = np.zeros((4 * hidden, features))
    grad_w_hh = np.zeros((4 * hidden, hidden))
    grad_b = np.zeros(4 * hidden)
    for t in reversed(range(steps)):
        c_prev = cs[t - 1] if t > 0 else c0
        h_prev = hs[t - 1] if t > 0 else h0
        da, dc = _step_backward(gy[t] + dh_next, dc, gates[t], c_prev, cs[t])
        grad_x[t] = da @ w_ih
        grad_w_ih += da.T @ xs[t]
        grad_w_hh += da.T @ h_prev
        grad_b += da.sum(axis=0)
        dh_next = da @ w_hh
    dt = x.dtype
    if dc is None:
        dc = np.zeros((n, hidden))
    grads = (grad_x, dh_next, dc, grad_w_ih, grad_w_hh, grad_b, grad_b)
    return tuple(g.astype(dt) if need else None for g, need in zip(grads, needs))
