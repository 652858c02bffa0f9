"""Reference GRU kernels: one cell step and the whole sequence, PyTorch's layout, maths in float64.

Shapes: T steps, N batch, I input features, H hidden units; gate blocks in the order r, z, n.
  gi = x·w_ihᵀ + b_ih,  gh = h·w_hhᵀ + b_hh            (N, 3H) each, split into r, z, n blocks
  r = σ(gi_r + gh_r);  z = σ(gi_z + gh_z);  n = tanh(gi_n + r·gh_n)
  h_next = (1 − z)·n + z·h
b_hn sits inside the reset product (PyTorch's form, ONNX's linear_before_reset=1).
``saved`` holds per step the gates after their nonlinearity and gh_n, one row [r z n gh_n] (4H)
(and, for the sequence, the hidden states, which are the output y itself); backward takes it from
any implementation. Backward, per step, from dh = ∂L/∂h_next:
  dn = dh·(1 − z);  da_n = dn·(1 − n²);  da_z = dh·(h − n)·z(1 − z);  da_r = da_n·gh_n·r(1 − r)
  ∂L/∂gi = [da_r, da_z, da_n],  ∂L/∂gh = [da_r, da_z, r·da_n]
  ∂L/∂h = dh·z + ∂L/∂gh·w_hh;  ∂L/∂x = ∂L/∂gi·w_ih;  ∂L/∂w_ih = ∂L/∂giᵀ·x;  ∂L/∂w_hh = ∂L/∂ghᵀ·h
  ∂L/∂b_ih = Σ_n ∂L/∂gi;  ∂L/∂b_hh = Σ_n ∂L/∂gh  (they differ in the n block)
"""
from __future__ import annotations

import numpy as np

from ._checks import check_float_array, check_same_dtype, check_shape, checked_numel
from ._recurrent import check_saved, check_state, check_weights

__all__ = ["gru_cell_forward", "gru_cell_backward", "gru_forward", "gru_inference_forward", "gru_backward"]


# ---- the contract, as the oracle checks it (the same messages as the C++ bindings) ----

def _check_cell(fn: str, x, h, w_ih, w_hh, b_ih=None, b_hh=None) -> tuple[int, int, int]:
    check_float_array(fn, "x", x, 2)
    n, features = x.shape
    hidden = check_weights(fn, 3, x, features, w_ih, w_hh, b_ih, b_hh)
    check_state(fn, "h", h, x, n, hidden)
    checked_numel(fn, "gates shape", (n, 4 * hidden))
    return n, features, hidden


def _check_sequence(fn: str, x, h0, w_ih, w_hh, b_ih=None, b_hh=None) -> tuple[int, int, int, int]:
    check_float_array(fn, "x", x, 3)
    steps, n, features = x.shape
    if steps < 1:
        raise ValueError(f"{fn}: x must have at least one time step, got shape {tuple(x.shape)}")
    hidden = check_weights(fn, 3, x, features, w_ih, w_hh, b_ih, b_hh)
    check_state(fn, "h0", h0, x, n, hidden)
    checked_numel(fn, "gates shape", (steps, n, 4 * hidden))
    return steps, n, features, hidden


# ---- the maths ----

def _f64(a):
    return None if a is None else np.asarray(a, dtype=np.float64)


def _sigmoid(v):
    """σ(v) without overflow: e^−|v| never exceeds 1."""
    e = np.exp(-np.abs(v))
    return np.where(v >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _step(gi, h, w_hh, b_hh):
    """One step from gi = x·w_ihᵀ + b_ih, in float64 → (h_next, saved row [r z n gh_n] (N, 4H))."""
    gh = h @ w_hh.T
    if b_hh is not None:
        gh = gh + b_hh
    i_r, i_z, i_n = np.split(gi, 3, axis=1)
    h_r, h_z, h_n = np.split(gh, 3, axis=1)
    r, z = _sigmoid(i_r + h_r), _sigmoid(i_z + h_z)
    n = np.tanh(i_n + r * h_n)
    return (1.0 - z) * n + z * h, np.concatenate([r, z, n, h_n], axis=1)


def _step_backward(dh, gates, h_prev):
    """∂L/∂h_next → (∂L/∂gi (N, 3H), ∂L/∂gh (N, 3H), the direct part dh·z of ∂L/∂h_prev)."""
    r, z, n, h_n = np.split(gates, 4, axis=1)
    da_n = dh * (1.0 - z) * (1.0 - n * n)
    da_z = dh * (h_prev - n) * z * (1.0 - z)
    da_r = da_n * h_n * r * (1.0 - r)
    return (np.concatenate([da_r, da_z, da_n], axis=1), np.concatenate([da_r, da_z, r * da_n], axis=1), dh * z)


def _input_projection(x, w_ih, b_ih):
    gi = x @ w_ih.T
    return gi if b_ih is None else gi + b_ih


def gru_cell_forward(x, h, w_ih, w_hh, b_ih=None, b_hh=None):
    """One GRU step.

    x (N, I), h (N, H), w_ih (3H, I), w_hh (3H, H), b_ih and b_hh (3H,) or None.
    Returns (h_next (N, H), saved) with saved = (gates (N, 4H) = [r z n gh_n],).
    """
    _check_cell("gru_cell_forward", x, h, w_ih, w_hh, b_ih, b_hh)
    h_next, gates = _step(_input_projection(_f64(x), _f64(w_ih), _f64(b_ih)), _f64(h), _f64(w_hh), _f64(b_hh))
    dt = x.dtype
    return h_next.astype(dt), (gates.astype(dt),)


def gru_cell_backward(grad_h_next, x, h, w_ih, w_hh, saved):
    """Gradients of one GRU step.

    grad_h_next (N, H); x, h, w_ih, w_hh as in the forward; saved from any forward.
    Returns (grad_x (N, I), grad_h (N, H), grad_w_ih (3H, I), grad_w_hh (3H, H), grad_b_ih (3H,),
    grad_b_hh (3H,)).
    """
    fn = "gru_cell_backward"
    n, _, hidden = _check_cell(fn, x, h, w_ih, w_hh)
    check_state(fn, "grad_h_next", grad_h_next, x, n, hidden)
    check_saved(fn, saved, x, ((n, 4 * hidden),), ("gates",))
    dgi, dgh, dh_direct = _step_backward(_f64(grad_h_next), _f64(saved[0]), _f64(h))
    dt = x.dtype
    return ((dgi @ _f64(w_ih)).astype(dt), (dh_direct + dgh @ _f64(w_hh)).astype(dt),
            (dgi.T @ _f64(x)).astype(dt), (dgh.T @ _f64(h)).astype(dt), dgi.sum(axis=0).astype(dt),
            dgh.sum(axis=0).astype(dt))


def gru_forward(x, h0, w_ih, w_hh, b_ih=None, b_hh=None):
    """A whole sequence through one GRU layer.

    x (T, N, I), h0 (N, H), w_ih (3H, I), w_hh (3H, H), b_ih and b_hh (3H,) or None.
    Returns (y (T, N, H), h_T (N, H), saved) with saved = (gates (T, N, 4H) = [r z n gh_n] per step, hs = y).
    """
    steps, n, _, hidden = _check_sequence("gru_forward", x, h0, w_ih, w_hh, b_ih, b_hh)
    gi = _input_projection(_f64(x), _f64(w_ih), _f64(b_ih))   # every step's input projection at once
    w_hh, b_hh = _f64(w_hh), _f64(b_hh)
    h = _f64(h0)
    ys = np.empty((steps, n, hidden))
    gates = np.empty((steps, n, 4 * hidden))
    for t in range(steps):
        h, gates[t] = _step(gi[t], h, w_hh, b_hh)
        ys[t] = h
    dt = x.dtype
    y = ys.astype(dt)
    return y, h.astype(dt), (gates.astype(dt), y)


def gru_inference_forward(x, h0, w_ih, w_hh, b_ih=None, b_hh=None):
    """gru_forward without what a backward needs: (y (T, N, H), h_T)."""
    _check_sequence("gru_inference_forward", x, h0, w_ih, w_hh, b_ih, b_hh)
    y, h, _ = gru_forward(x, h0, w_ih, w_hh, b_ih, b_hh)
    return y, h


def gru_backward(grad_y, grad_h_T, x, h0, w_ih, w_hh, saved):
    """Gradients of the sequence; grad_h_T may be None (zero).

    grad_y (T, N, H), grad_h_T (N, H); the rest as in the forward; saved from any forward.
    Returns (grad_x (T, N, I), grad_h0 (N, H), grad_w_ih (3H, I), grad_w_hh (3H, H), grad_b_ih (3H,),
    grad_b_hh (3H,)).
    """
    fn = "gru_backward"
    steps, n, features, hidden = _check_sequence(fn, x, h0, w_ih, w_hh)
    check_float_array(fn, "grad_y", grad_y, 3)
    check_same_dtype(fn, "x", x, grad_y=grad_y)
    check_shape(fn, "grad_y", grad_y, (steps, n, hidden))
    check_state(fn, "grad_h_T", grad_h_T, x, n, hidden, optional=True)
    check_saved(fn, saved, x, ((steps, n, 4 * hidden), (steps, n, hidden)), ("gates", "hs"))
    gates, hs = _f64(saved[0]), _f64(saved[1])
    xs, gy, w_ih, w_hh, h0 = _f64(x), _f64(grad_y), _f64(w_ih), _f64(w_hh), _f64(h0)
    dh_next = np.zeros((n, hidden)) if grad_h_T is None else _f64(grad_h_T)
    grad_x = np.empty((steps, n, features))
    grad_w_ih = np.zeros((3 * hidden, features))
    grad_w_hh = np.zeros((3 * hidden, hidden))
    grad_b_ih = np.zeros(3 * hidden)
    grad_b_hh = np.zeros(3 * hidden)
    for t in reversed(range(steps)):
        h_prev = hs[t - 1] if t > 0 else h0
        dgi, dgh, dh_direct = _step_backward(gy[t] + dh_next, gates[t], h_prev)
        grad_x[t] = dgi @ w_ih
        grad_w_ih += dgi.T @ xs[t]
        grad_w_hh += dgh.T @ h_prev
        grad_b_ih += dgi.sum(axis=0)
        grad_b_hh += dgh.sum(axis=0)
        dh_next = dh_direct + dgh @ w_hh
    dt = x.dtype
    return (grad_x.astype(dt), dh_next.astype(dt), grad_w_ih.astype(dt), grad_w_hh.astype(dt),
            grad_b_ih.astype(dt), grad_b_hh.astype(dt))
