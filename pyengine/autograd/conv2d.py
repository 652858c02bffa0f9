"""2-D convolution (PyTorch's conv2d, a cross-correlation) as an autograd Function over the device's
kernels (pyengine.kernels.cpu / .cuda ``conv2d_forward`` and ``conv2d_backward_{input,weight,bias}``).

input (N, C, H, W), weight (K, C/groups, R, S), bias (K,) or None -> (N, K, OH, OW) with
OH = (H + 2·ph − dh·(R − 1) − 1) // sh + 1 (OW likewise). The kernel binding checks every shape and
parameter; nothing is re-checked here. Backward computes only the gradients ``needs_input_grad`` asks for.
"""
from __future__ import annotations

from .core import Function
from .device import kernels_of
from .ops import Pad

__all__ = ["Conv2d", "conv2d", "same_padding"]


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


class Conv2d(Function):
    name = "conv2d"
    torch_name = "ConvolutionBackward0"

    @staticmethod
    def forward(ctx, x, w, b, stride=1, padding=0, dilation=1, groups=1):
        K = kernels_of(x)
        n = ctx.needs_input_grad
        if n[0] or n[1] or n[2]:
            ctx.x = x if n[1] else None              # d/dw needs x; d/dx needs w
            ctx.w = w if n[0] else None
            ctx.shapes, ctx.args, ctx.K = (x.shape, w.shape), (stride, padding, dilation, groups), K
        return K.conv2d_forward(x, w, b, stride, padding, dilation, groups)

    @staticmethod
    def backward(ctx, g):
        K = ctx.K
        n = ctx.needs_input_grad
        x_shape, w_shape = ctx.shapes
        return (K.conv2d_backward_input(g, ctx.w, x_shape, *ctx.args) if n[0] else None,
                K.conv2d_backward_weight(g, ctx.x, w_shape, *ctx.args) if n[1] else None,
                K.conv2d_backward_bias(g) if n[2] else None)


def same_padding(kernel_size, stride, dilation):
    """padding='same' for stride 1: (top, left) and, when the total is odd, the extra bottom/right row
    and column that PyTorch adds: returns (padding, extra_pad or None), extra_pad for F.pad."""
    if _pair(stride) != (1, 1):
        raise ValueError("conv2d: padding='same' needs stride 1")
    (dh, dw), (r, s) = _pair(dilation), _pair(kernel_size)
    th, tw = dh * (r - 1), dw * (s - 1)
    if th % 2 or tw % 2:
        return 0, (tw // 2, tw - tw // 2, th // 2, th - th // 2)
    return (th // 2, tw // 2), None


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """input (N, C, H, W), weight (K, C/groups, R, S), bias (K,) -> (N, K, OH, OW).
    padding may be an int, a pair, 'valid' or 'same' (stride 1)."""
    if isinstance(padding, str):
        if padding == "valid":
            padding = 0
        elif padding == "same":
            padding, extra = same_padding(weight.shape[2:], stride, dilation)
            if extra is not None:
                input = Pad.apply(input, [(0, 0), (0, 0), (extra[2], extra[3]), (extra[0], extra[1])], 0.0)
        else:
            raise ValueError(f"conv2d: padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
    return Conv2d.apply(input, weight, bias, stride, padding, dilation, groups)
