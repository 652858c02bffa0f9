"""Dropout as an autograd Function over the device's kernels (pyengine.kernels.cpu / .cuda
``dropout_forward`` / ``dropout_backward``): y = x·mask/(1 − p), mask ~ Bernoulli(1 − p) drawn from a
seed of the global generator (so ``manual_seed`` fixes it); backward multiplies by the same mask.
"""
from __future__ import annotations

from .core import Function
from .device import kernels_of
from .generator import default_generator

__all__ = ["Dropout", "ChannelDropout", "dropout"]


class Dropout(Function):
    name = "dropout"
    torch_name = "NativeDropoutBackward0"

    @staticmethod
    def forward(ctx, x, p, seed):
        K = kernels_of(x)
        y, mask = K.dropout_forward(x, p, seed)
        ctx.mask, ctx.p, ctx.K = mask, p, K
        return y

    @staticmethod
    def backward(ctx, g):
        return ctx.K.dropout_backward(g, ctx.mask, ctx.p)


def dropout(input, p=0.5, training=True, inplace=False):
    """Zeroes each element with probability p and scales the rest by 1/(1−p); identity when not training."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:                      # every element dropped (the kernel contract takes p < 1)
        return input * 0.0
    return Dropout.apply(input, float(p), default_generator.next_seed())


class ChannelDropout(Function):
    """Whole channels of x (N, C, ...) zeroed: the kernels' mask (N, C), one draw per channel."""
    name = "dropout_channels"
    torch_name = "MulBackward0"

    @staticmethod
    def forward(ctx, x, p, seed):
        K = kernels_of(x)
        y, mask = K.dropout_channels_forward(x, p, seed)
        ctx.mask, ctx.p, ctx.K = mask, p, K
        return y

    @staticmethod
    def backward(ctx, g):
        return ctx.K.dropout_channels_backward(g, ctx.mask, ctx.p)
