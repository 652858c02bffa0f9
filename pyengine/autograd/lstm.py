"""LSTM layers and cells as autograd Functions over the device's kernels (pyengine.kernels.cpu /
.cuda ``lstm_forward`` / ``lstm_backward`` over a sequence, ``lstm_cell_forward`` /
``lstm_cell_backward`` for one step). Gates i, f, g, o (PyTorch's order):

    gates = x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh      (N, 4H)
    c' = σ(f)·c + σ(i)·tanh(g),  h' = σ(o)·tanh(c')

Sequence: input (T, N, I), h0, c0 (N, H), w_ih (4H, I), w_hh (4H, H), b (4H,) -> (y (T, N, H), h_T, c_T).
The kernels keep what their backward needs (gate activations per step) in an opaque ``saved`` object.
"""
from __future__ import annotations

from .core import Function
from .device import kernels_of, xp_of

__all__ = ["LSTM", "LSTMCell", "lstm", "lstm_cell"]


class LSTM(Function):
    name = "lstm"
    torch_name = "LstmBackward0"

    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None):
        K = kernels_of(x)
        if not any(ctx.needs_input_grad):   # inference (no_grad, or nothing requires grad): keep nothing
            return K.lstm_inference_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh)
        y, h, c, saved = K.lstm_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh)
        ctx.args, ctx.saved, ctx.K = (x, h0, c0, w_ih, w_hh), saved, K
        return y, h, c

    @staticmethod
    def backward(ctx, gy, gh, gc):
        x, h0 = ctx.args[0], ctx.args[1]
        if gy is None:
            gy = xp_of(x).zeros((x.shape[0],) + h0.shape, x.dtype)
        # the kernel skips the GEMMs of the gradients nobody needs (grad_x for a one-hot input)
        return ctx.K.lstm_backward(gy, gh, gc, *ctx.args, ctx.saved, needs_input_grad=tuple(ctx.needs_input_grad))


def lstm(input, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM layer over a sequence: input (T, N, I), h0, c0 (N, H) -> (y (T, N, H), h_T, c_T)."""
    return LSTM.apply(input, h0, c0, w_ih, w_hh, b_ih, b_hh)


class LSTMCell(Function):
    name = "lstm_cell"
    torch_name = "LstmCellBackward0"

    @staticmethod
    def forward(ctx, x, h, c, w_ih, w_hh, b_ih=None, b_hh=None):
        K = kernels_of(x)
        hn, cn, saved = K.lstm_cell_forward(x, h, c, w_ih, w_hh, b_ih, b_hh)
        ctx.args, ctx.saved, ctx.K = (x, h, c, w_ih, w_hh), saved, K
        return hn, cn

    @staticmethod
    def backward(ctx, gh, gc):
        if gh is None:
            gh = xp_of(ctx.args[1]).zeros_like(ctx.args[1])
        grads = ctx.K.lstm_cell_backward(gh, gc, *ctx.args, ctx.saved)
        return tuple(v if need else None for v, need in zip(grads, ctx.needs_input_grad))


def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """input (N, I), hx = (h, c) each (N, H) -> (h', c')."""
    h, c = hx
    return LSTMCell.apply(input, h, c, w_ih, w_hh, b_ih, b_hh)
