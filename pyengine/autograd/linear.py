"""The fully connected layer as an autograd Function over the device's kernels (pyengine.kernels.cpu /
.cuda ``linear_forward`` / ``linear_backward``: one packed GEMM each).

x (*, I), weight (O, I), bias (O,) or None -> y (*, O) = x·weightᵀ + bias. Backward: grad_input =
g·weight, grad_weight = gᵀ·x, grad_bias = Σ g over the leading axes, each only when needed.
"""
from __future__ import annotations

from .core import Function
from .device import kernels_of

__all__ = ["Linear", "linear"]


class Linear(Function):
    name = "linear"
    torch_name = "AddmmBackward0"

    @staticmethod
    def forward(ctx, x, w, b=None):
        K = kernels_of(x)
        n = ctx.needs_input_grad
        if n[0] or n[1]:
            ctx.x, ctx.w = x, w                      # the backward kernel takes both for any gradient
        if n[0] or n[1] or n[2]:
            ctx.K = K
        return K.linear_forward(x, w, b)

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        if not (n[0] or n[1]):
            return None, None, g.reshape(-1, g.shape[-1]).sum(axis=0)
        return ctx.K.linear_backward(g, ctx.x, ctx.w, needs_input_grad=(n[0], n[1], n[2]))


def linear(input, weight, bias=None):
    """input (N, I) or (*, I), weight (O, I), bias (O,) -> input·weightᵀ + bias, shape (*, O)."""
    return Linear.apply(input, weight, bias)
