"""CPU LSTM kernels (see csrc/include/pyengine/lstm.h): the input projection of every step as one
GEMM, one recurrent GEMM and one fused, vectorised gate pass per step, forward and backward."""
from __future__ import annotations

import numpy as np

from .._contract.lstm import check_lstm, check_lstm_backward, check_lstm_cell, check_lstm_cell_backward
from ._ext import _C

__all__ = ["lstm_cell_forward", "lstm_cell_backward", "lstm_forward", "lstm_inference_forward",
           "lstm_backward"]


def _c(a):
    return None if a is None else np.ascontiguousarray(a)


def lstm_cell_forward(x, h, c, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step.

    x (N, I), h and c (N, H), w_ih (4H, I), w_hh (4H, H), b_ih and b_hh (4H,) or None.
    Returns (h_next (N, H), c_next (N, H), saved) with saved = (gates (N, 4H), c_next).
    """
    check_lstm_cell("lstm_cell_forward", x, h, c, w_ih, w_hh, b_ih, b_hh)
    return _C.lstm_cell_forward(_c(x), _c(h), _c(c), _c(w_ih), _c(w_hh), _c(b_ih), _c(b_hh))


def lstm_cell_backward(grad_h_next, grad_c_next, x, h, c, w_ih, w_hh, saved):
    """Gradients of one LSTM step; grad_c_next may be None (zero).

    Returns (grad_x (N, I), grad_h (N, H), grad_c (N, H), grad_w_ih (4H, I), grad_w_hh (4H, H),
    grad_b_ih (4H,), grad_b_hh (4H,)); the two bias gradients are equal.
    """
    check_lstm_cell_backward("lstm_cell_backward", grad_h_next, grad_c_next, x, h, c, w_ih, w_hh, saved)
    return _C.lstm_cell_backward(_c(grad_h_next), _c(grad_c_next), _c(x), _c(h), _c(c), _c(w_ih), _c(w_hh),
                                 tuple(_c(s) for s in saved))


def lstm_forward(x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None):
    """A whole sequence through one LSTM layer.

    x (T, N, I), h0 and c0 (N, H), w_ih (4H, I), w_hh (4H, H), b_ih and b_hh (4H,) or None.
    Returns (y (T, N, H), h_T (N, H), c_T (N, H), saved) with
    saved = (gates (T, N, 4H), cs (T, N, H) = c_1..c_T, hs = y).
    """
    check_lstm("lstm_forward", x, h0, c0, w_ih, w_hh, b_ih, b_hh)
    return _C.lstm_forward(_c(x), _c(h0), _c(c0), _c(w_ih), _c(w_hh), _c(b_ih), _c(b_hh))


def lstm_inference_forward(x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None):
    """lstm_forward for inference: returns (y (T, N, H), h_T, c_T) and keeps nothing for a backward
    (the steps' gates and cell states live in a reused workspace)."""
    check_lstm("lstm_inference_forward", x, h0, c0, w_ih, w_hh, b_ih, b_hh)
    return _C.lstm_inference_forward(_c(x), _c(h0), _c(c0), _c(w_ih), _c(w_hh), _c(b_ih), _c(b_hh))


def lstm_backward(grad_y, grad_h_T, grad_c_T, x, h0, c0, w_ih, w_hh, saved):
    """Gradients of the sequence; grad_h_T and grad_c_T may be None (zero).

    Returns (grad_x (T, N, I), grad_h0 (N, H), grad_c0 (N, H), grad_w_ih (4H, I), grad_w_hh (4H, H),
    grad_b_ih (4H,), grad_b_hh (4H,)); the two bias gradients are equal.
    """
    check_lstm_backward("lstm_backward", grad_y, grad_h_T, grad_c_T, x, h0, c0, w_ih, w_hh, saved)
    return _C.lstm_backward(_c(grad_y), _c(grad_h_T), _c(grad_c_T), _c(x), _c(h0), _c(c0), _c(w_ih), _c(w_hh),
                            tuple(_c(s) for s in saved))
