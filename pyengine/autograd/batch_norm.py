"""Batch normalisation as an autograd Function over the device's kernels (pyengine.kernels.cpu /
.cuda ``batch_norm_forward`` / ``batch_norm_backward``).

x (N, C), (N, C, L) or (N, C, H, W); weight, bias, running_mean, running_var (C,).
Training: y = (x − μ_B)·invstd·w + b with the biased batch variance, and the running statistics are
updated in place by the kernel (running_var with the unbiased variance, momentum 0.1 by default);
evaluation normalises with the running statistics. (N, C, L) runs as (N, C, L, 1).
"""
from __future__ import annotations

from .core import Function
from .device import kernels_of

__all__ = ["BatchNorm", "batch_norm"]


class BatchNorm(Function):
    name = "batch_norm"
    torch_name = "NativeBatchNormBackward0"

    @staticmethod
    def forward(ctx, x, w, b, rm, rv, training, momentum, eps):
        K = kernels_of(x)
        shape = x.shape
        if x.ndim == 3:                         # the kernel takes 2-D or 4-D
            x = x.reshape(shape + (1,))
        y, mean, invstd = K.batch_norm_forward(x, w, b, rm, rv, training, momentum, eps)
        n = ctx.needs_input_grad
        if n[0] or n[1] or n[2]:
            ctx.x, ctx.w, ctx.mean, ctx.invstd, ctx.training, ctx.K, ctx.shape = \
                x, w, mean, invstd, training, K, shape
        return y if y.shape == shape else y.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        gx, gw, gb = ctx.K.batch_norm_backward(g.reshape(ctx.x.shape), ctx.x, ctx.w, ctx.mean, ctx.invstd,
                                               ctx.training, needs_input_grad=(n[0], n[1], n[2]))
        return (gx.reshape(ctx.shape) if gx is not None else None), gw, gb


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """input (N, C), (N, C, L) or (N, C, H, W); running stats (C,) updated in place when training."""
    if not training and (running_mean is None or running_var is None):
        raise ValueError("batch_norm: evaluation mode needs running_mean and running_var")
    rm = running_mean._data if running_mean is not None else None
    rv = running_var._data if running_var is not None else None
    y = BatchNorm.apply(input, weight, bias, rm, rv, bool(training), float(momentum), float(eps))
    if training:            # the kernel wrote the running statistics in place
        if running_mean is not None:
            running_mean._bump_version()
        if running_var is not None:
            running_var._bump_version()
    return y
