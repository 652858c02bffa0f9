"""GRU layers and cells as autograd Functions over the device's kernels (pyengine.kernels.cpu /
.cuda ``gru_forward`` / ``gru_backward`` over a sequence, ``gru_cell_forward`` / ``gru_cell_backward``
for one step). Gates r, z, n (PyTorch's order), b_hn inside the reset product:

    r = σ(x·W_irᵀ + b_ir + h·W_hrᵀ + b_hr),  z = σ(x·W_izᵀ + b_iz + h·W_hzᵀ + b_hz)
    n = tanh(x·W_inᵀ + b_in + r·(h·W_hnᵀ + b_hn)),  h' = (1 − z)·n + z·h

Sequence: input (T, N, I), h0 (N, H), w_ih (3H, I), w_hh (3H, H), b (3H,) -> (y (T, N, H), h_T).
The kernels keep what their backward needs (the gates per step) in an opaque ``saved`` object; when
no input needs a gradient (no_grad, or nothing requires one) the sequence runs
``gru_inference_forward``, which keeps nothing.
"""
from __future__ import annotations

from .core import Function
from .device import kernels_of, xp_of

__all__ = ["GRU", "GRUCell", "gru", "gru_cell"]


class GRU(Function):
    name = "gru"
    torch_name = "GruBackward0"

    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih=None, b_hh=None):
        K = kernels_of(x)
        if not any(ctx.needs_input_grad):   # inference: keep nothing
            return K.gru_inference_forward(x, h0, w_ih, w_hh, b_ih, b_hh)
        y, h, saved = K.gru_forward(x, h0, w_ih, w_hh, b_ih, b_hh)
        ctx.args, ctx.saved, ctx.K = (x, h0, w_ih, w_hh), saved, K
        return y, h

    @staticmethod
    def backward(ctx, gy, gh):
        x, h0 = ctx.args[0], ctx.args[1]
        if gy is None:
            gy = xp_of(x).zeros((x.shape[0],) + h0.shape, x.dtype)
        grads = ctx.K.gru_backward(gy, gh, *ctx.args, ctx.saved)
        return tuple(v if need else None for v, need in zip(grads, ctx.needs_input_grad))


def gru(input, h0, w_ih, w_hh, b_ih=None, b_hh=None):
    """One GRU layer over a sequence: input (T, N, I), h0 (N, H) -> (y (T, N, H), h_T)."""
    return GRU.apply(input, h0, w_ih, w_hh, b_ih, b_hh)


class GRUCell(Function):
    name = "gru_cell"
    torch_name = "GruCellBackward0"

    @staticmethod
    def forward(ctx, x, h, w_ih, w_hh, b_ih=None, b_hh=None):
        K = kernels_of(x)
        hn, saved = K.gru_cell_forward(x, h, w_ih, w_hh, b_ih, b_hh)
        ctx.args, ctx.saved, ctx.K = (x, h, w_ih, w_hh), saved, K
        return hn

    @staticmethod
    def backward(ctx, gh):
        grads = ctx.K.gru_cell_backward(gh, *ctx.args, ctx.saved)
        return tuple(v if need else None for v, need in zip(grads, ctx.needs_input_grad))


def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """input (N, I), hx (N, H) -> h'."""
    return GRUCell.apply(input, hx, w_ih, w_hh, b_ih, b_hh)
