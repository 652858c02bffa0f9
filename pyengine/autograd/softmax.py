"""Softmax, log-softmax and the fused cross-entropy of class-index targets, as autograd Functions over
the device's kernels (pyengine.kernels.cpu / .cuda ``softmax_*``, ``log_softmax_*``,
``cross_entropy_*``).

softmax_i = exp(x_i − max x) / Σ_j exp(x_j − max x) along ``dim``; log_softmax by log-sum-exp; both
save their output. cross_entropy(logits (N, C), target (N,) int64) = −log_softmax(logits)[n, t_n],
reduced by ``reduction``; its backward kernel needs the logits and the targets.
"""
from __future__ import annotations

from .activation import _Act
from .core import Function
from .device import kernels_of

__all__ = ["Softmax", "LogSoftmax", "CrossEntropy", "softmax", "log_softmax"]


class Softmax(_Act):
    name, save_output = "softmax", True


class LogSoftmax(_Act):
    name, save_output = "log_softmax", True


def _dim(fn, input, dim):
    if dim is None:
        dim = 0 if input.ndim in (0, 1, 3) else 1   # torch's legacy implicit choice
    if not -input.ndim <= dim < max(input.ndim, 1):
        raise ValueError(f"{fn}: dim {dim} is out of range for input of shape {tuple(input.shape)}")
    return dim


def softmax(input, dim=None):
    return Softmax.apply(input, axis=_dim("softmax", input, dim))


def log_softmax(input, dim=None):
    return LogSoftmax.apply(input, axis=_dim("log_softmax", input, dim))


class CrossEntropy(Function):
    """logits (N, C), target (N,) int64 class indices in [0, C), reduction 'none' | 'mean' | 'sum'."""
    name = "cross_entropy"
    torch_name = "NllLossBackward0"

    @staticmethod
    def forward(ctx, logits, target, reduction):
        K = kernels_of(logits)
        ctx.logits, ctx.target, ctx.reduction, ctx.K = logits, target, reduction, K
        return K.cross_entropy_forward(logits, target, reduction)

    @staticmethod
    def backward(ctx, g):
        return ctx.K.cross_entropy_backward(g, ctx.logits, ctx.target, ctx.reduction), None
