"""CUDA LSTM kernels: the matrix products are calls of the tiled GEMM (csrc/cuda/gemm.cu), the gate
nonlinearities and the cell update one fused kernel per step (csrc/cuda/lstm.cu).

Sequence forward: one GEMM projects every step's input (x as (T·N, I) times W_ihᵀ, plus b_ih) into
the gates buffer; each step then adds h·W_hhᵀ + b_hh into its slice (GEMM with beta = 1) and runs
the gate kernel. Backward runs the gate-backward kernel and one recurrent GEMM per step, then three
GEMMs over all steps at once (grad_x, grad_w_ih, grad_w_hh) and one column sum (the biases).
``saved`` has the structure of the other implementations: (gates, c_next) for the cell,
(gates (T, N, 4H), cs (T, N, H), hs = y) for the sequence, gates after their nonlinearities.
"""
from __future__ import annotations

from .._contract.lstm import check_lstm, check_lstm_backward, check_lstm_cell, check_lstm_cell_backward
from . import _ext

__all__ = ["lstm_cell_forward", "lstm_cell_backward", "lstm_forward", "lstm_inference_forward",
           "lstm_backward"]


def _dev(fn, names, values):
    arrays = {n: _ext.to_device(fn, n, v, optional=True) for n, v in zip(names, values)}
    return arrays


def _tf(x):
    return _ext.tf32() and x.dtype.itemsize == 4


def lstm_cell_forward(x, h, c, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step.

    x (N, I), h and c (N, H), w_ih (4H, I), w_hh (4H, H), b_ih and b_hh (4H,) or None.
    Returns (h_next (N, H), c_next (N, H), saved) with saved = (gates (N, 4H), c_next).
    """
    fn = "lstm_cell_forward"
    a = _dev(fn, ("x", "h", "c", "w_ih", "w_hh", "b_ih", "b_hh"), (x, h, c, w_ih, w_hh, b_ih, b_hh))
    n, _, hidden = check_lstm_cell(fn, *a.values())
    with _ext.on_device(_ext.device_of(fn, **a)):
        x, h, c, w_ih, w_hh, b_ih, b_hh = (_ext.contiguous(v) for v in a.values())
        lib, s, tf = _ext.lib(), _ext.stream(), _tf(x)
        gates = _ext.empty((n, 4 * hidden), x.dtype)
        lib.gemm(x, w_ih, None, gates, False, True, 1.0, 0.0, b_ih, False, tf, s)
        lib.gemm(h, w_hh, gates, gates, False, True, 1.0, 1.0, b_hh, False, tf, s)
        h_next = _ext.empty((n, hidden), x.dtype)
        c_next = _ext.empty((n, hidden), x.dtype)
        lib.lstm_gates_forward(gates, c, gates, c_next, h_next, s)
    return h_next, c_next, (gates, c_next)


def lstm_cell_backward(grad_h_next, grad_c_next, x, h, c, w_ih, w_hh, saved):
    """Gradients of one LSTM step; grad_c_next may be None (zero).

    Returns (grad_x (N, I), grad_h (N, H), grad_c (N, H), grad_w_ih (4H, I), grad_w_hh (4H, H),
    grad_b_ih (4H,), grad_b_hh (4H,)); the two bias gradients are equal.
    """
    fn = "lstm_cell_backward"
    a = _dev(fn, ("grad_h_next", "grad_c_next", "x", "h", "c", "w_ih", "w_hh"),
             (grad_h_next, grad_c_next, x, h, c, w_ih, w_hh))
    saved = _ext.to_device_tuple(fn, "saved", saved)
    n, features, hidden = check_lstm_cell_backward(fn, *a.values(), saved)
    with _ext.on_device(_ext.device_of(fn, **a, gates=saved[0], c_next=saved[1])):
        gh, gc, x, h, c, w_ih, w_hh = (_ext.contiguous(v) for v in a.values())
        gates, c_next = (_ext.contiguous(v) for v in saved)
        lib, s, tf = _ext.lib(), _ext.stream(), _tf(x)
        dz = _ext.empty((n, 4 * hidden), x.dtype)
        grad_c = _ext.empty((n, hidden), x.dtype)
        lib.lstm_gates_backward(gh, None, gc, gates, c, c_next, dz, grad_c, s)
        grad_x = _ext.empty((n, features), x.dtype)
        grad_h = _ext.empty((n, hidden), x.dtype)
        grad_w_ih = _ext.empty((4 * hidden, features), x.dtype)
        grad_w_hh = _ext.empty((4 * hidden, hidden), x.dtype)
        grad_b = _ext.empty((4 * hidden,), x.dtype)
        lib.gemm(dz, w_ih, None, grad_x, False, False, 1.0, 0.0, None, True, tf, s)
        lib.gemm(dz, w_hh, None, grad_h, False, False, 1.0, 0.0, None, True, tf, s)
        lib.gemm(dz, x, None, grad_w_ih, True, False, 1.0, 0.0, None, True, tf, s)
        lib.gemm(dz, h, None, grad_w_hh, True, False, 1.0, 0.0, None, True, tf, s)
        lib.channel_sum(dz, grad_b, n, 4 * hidden, 1, 1.0, s)
    return grad_x, grad_h, grad_c, grad_w_ih, grad_w_hh, grad_b, grad_b.copy()


def lstm_forward(x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None):
    """A whole sequence through one LSTM layer.

    x (T, N, I), h0 and c0 (N, H), w_ih (4H, I), w_hh (4H, H), b_ih and b_hh (4H,) or None.
    Returns (y (T, N, H), h_T (N, H), c_T (N, H), saved) with
    saved = (gates (T, N, 4H), cs (T, N, H) = c_1..c_T, hs = y).
    """
    fn = "lstm_forward"
    a = _dev(fn, ("x", "h0", "c0", "w_ih", "w_hh", "b_ih", "b_hh"), (x, h0, c0, w_ih, w_hh, b_ih, b_hh))
    steps, n, features, hidden = check_lstm(fn, *a.values())
    with _ext.on_device(_ext.device_of(fn, **a)):
        x, h0, c0, w_ih, w_hh, b_ih, b_hh = (_ext.contiguous(v) for v in a.values())
        lib, s, tf = _ext.lib(), _ext.stream(), _tf(x)
        gates = _ext.empty((steps, n, 4 * hidden), x.dtype)
        # the input projection of all T steps: one GEMM
        lib.gemm(x.reshape(steps * n, features), w_ih, None, gates.reshape(steps * n, 4 * hidden), False, True,
                 1.0, 0.0, b_ih, False, tf, s)
        y = _ext.empty((steps, n, hidden), x.dtype)
        cs = _ext.empty((steps, n, hidden), x.dtype)
        for t in range(steps):
            h_prev = h0 if t == 0 else y[t - 1]
            c_prev = c0 if t == 0 else cs[t - 1]
            lib.gemm(h_prev, w_hh, gates[t], gates[t], False, True, 1.0, 1.0, b_hh, False, tf, s)
            lib.lstm_gates_forward(gates[t], c_prev, gates[t], cs[t], y[t], s)
    return y, y[steps - 1].copy(), cs[steps - 1].copy(), (gates, cs, y)


def lstm_inference_forward(x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None):
    """lstm_forward without what a backward needs: (y (T, N, H), h_T, c_T). On the GPU the saved
    gates are computed and dropped (there is no separate inference kernel)."""
    fn = "lstm_inference_forward"
    a = _dev(fn, ("x", "h0", "c0", "w_ih", "w_hh", "b_ih", "b_hh"), (x, h0, c0, w_ih, w_hh, b_ih, b_hh))
    check_lstm(fn, *a.values())
    y, h, c, _ = lstm_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh)
    return y, h, c


def lstm_backward(grad_y, grad_h_T, grad_c_T, x, h0, c0, w_ih, w_hh, saved):
    """Gradients of the sequence; grad_h_T and grad_c_T may be None (zero).

    Returns (grad_x (T, N, I), grad_h0 (N, H), grad_c0 (N, H), grad_w_ih (4H, I), grad_w_hh (4H, H),
    grad_b_ih (4H,), grad_b_hh (4H,)); the two bias gradients are equal.
    """
    fn = "lstm_backward"
    a = _dev(fn, ("grad_y", "grad_h_T", "grad_c_T", "x", "h0", "c0", "w_ih", "w_hh"),
             (grad_y, grad_h_T, grad_c_T, x, h0, c0, w_ih, w_hh))
    saved = _ext.to_device_tuple(fn, "saved", saved)
    steps, n, features, hidden = check_lstm_backward(fn, *a.values(), saved)
    cp = _ext.cupy()
    with _ext.on_device(_ext.device_of(fn, **a, gates=saved[0], cs=saved[1], hs=saved[2])):
        gy, gh_T, gc_T, x, h0, c0, w_ih, w_hh = (_ext.contiguous(v) for v in a.values())
        gates, cs, hs = (_ext.contiguous(v) for v in saved)
        lib, s, tf = _ext.lib(), _ext.stream(), _tf(x)
        dz = _ext.empty((steps, n, 4 * hidden), x.dtype)
        dh_bufs = (_ext.empty((n, hidden), x.dtype), _ext.empty((n, hidden), x.dtype))
        dc_bufs = (_ext.empty((n, hidden), x.dtype), _ext.empty((n, hidden), x.dtype))
        dh, dc = gh_T, gc_T
        for k, t in enumerate(range(steps - 1, -1, -1)):
            c_prev = c0 if t == 0 else cs[t - 1]
            dc_next = dc_bufs[k % 2]
            lib.lstm_gates_backward(gy[t], dh, dc, gates[t], c_prev, cs[t], dz[t], dc_next, s)
            dh_next = dh_bufs[k % 2]
            lib.gemm(dz[t], w_hh, None, dh_next, False, False, 1.0, 0.0, None, True, tf, s)
            dh, dc = dh_next, dc_next
        dz2 = dz.reshape(steps * n, 4 * hidden)
        grad_x = _ext.empty((steps * n, features), x.dtype)
        lib.gemm(dz2, w_ih, None, grad_x, False, False, 1.0, 0.0, None, True, tf, s)
        grad_w_ih = _ext.empty((4 * hidden, features), x.dtype)
        lib.gemm(dz2, x.reshape(steps * n, features), None, grad_w_ih, True, False, 1.0, 0.0, None, True, tf, s)
        h_prev = cp.concatenate([h0[None], hs[:-1]]).reshape(steps * n, hidden)
        grad_w_hh = _ext.empty((4 * hidden, hidden), x.dtype)
        lib.gemm(dz2, h_prev, None, grad_w_hh, True, False, 1.0, 0.0, None, True, tf, s)
        grad_b = _ext.empty((4 * hidden,), x.dtype)
        lib.channel_sum(dz2, grad_b, steps * n, 4 * hidden, 1, 1.0, s)
    return (grad_x.reshape(steps, n, features), dh.copy(), dc.copy(), grad_w_ih, grad_w_hh, grad_b,
            grad_b.copy())
