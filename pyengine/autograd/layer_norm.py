"""Layer normalisation as an autograd Function over the device's kernels (pyengine.kernels.cpu /
.cuda ``layer_norm_forward`` / ``layer_norm_backward``).

input (..., *normalized_shape); weight and bias of normalized_shape or None. Over the normalized
dimensions of each row: y = (x − mean)·rstd·weight + bias, rstd = 1/√(biased variance + eps), as
torch.nn.functional.layer_norm. The forward keeps x, mean and rstd for the backward only when a
gradient is needed.
"""
from __future__ import annotations

from .core import Function
from .device import kernels_of

__all__ = ["LayerNorm", "layer_norm"]


class LayerNorm(Function):
    name = "layer_norm"
    torch_name = "NativeLayerNormBackward0"

    @staticmethod
    def forward(ctx, x, normalized_shape, w, b, eps):
        K = kernels_of(x)
        y, mean, rstd = K.layer_norm_forward(x, normalized_shape, w, b, eps)
        n = ctx.needs_input_grad
        if n[0] or n[2] or n[3]:
            ctx.x, ctx.w, ctx.mean, ctx.rstd, ctx.K = x, w, mean, rstd, K
        return y

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        gx, gw, gb = ctx.K.layer_norm_backward(g, ctx.x, ctx.mean, ctx.rstd, ctx.w,
                                               needs_input_grad=(n[0], n[2], n[3]))
        return gx, None, gw, gb, None


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """input (..., *normalized_shape) normalised over its last len(normalized_shape) dimensions."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    return LayerNorm.apply(input, shape, weight, bias, eps)
