"""2-D convolution (PyTorch's conv2d, a cross-correlation) as an autograd Function over the device's
kernels (pyengine.kernels.cpu / .cuda ``conv2d_forward`` and ``conv2d_backward_{input,weight,bias}``).

input (N, C, H, W), weight (K, C/groups, R, S), bias (K,) or None -> (N, K, OH, OW) with
OH = (H + 2·ph − dh·(R − 1) − 1) // sh + 1 (OW likewise). The kernel binding checks every shape and
parameter; nothing is re-checked here. Backward computes only the gradients ``needs_input_grad`` asks for.

conv1d is conv2d on (N, C, 1, L) with a (K, C/groups, 1, k) weight: reshapes are views, so the 1-D
convolution runs the 2-D kernels (their stride-1 direct path for the common case) at no copying cost.

The transposed convolution (ConvTranspose2d, the adjoint of conv2d in x) is conv2d's backward-input
kernel run forwards (GEMM + col2im): for x (N, C_in, H, W) and weight (C_in, C_out/groups, R, S),
    y = conv2d_backward_input(grad_output=x, weight, (N, C_out, OH, OW)) + bias,
    OH = (H − 1)·sh − 2·ph + dh·(R − 1) + output_padding_h + 1,
and its gradients are conv2d's other kernels with the roles swapped: grad_x = conv2d_forward(g, w),
grad_w = conv2d_backward_weight(grad_output=x, input=g), grad_b = conv2d_backward_bias(g).
output_padding ≥ stride (allowed when dilation is larger) adds output rows that no window of the
conv2d geometry reaches; x gets output_padding // stride zero rows appended so the geometries agree.
"""
from __future__ import annotations

from .core import Function
from .device import kernels_of, xp_of
from .ops import Pad

__all__ = ["Conv2d", "conv2d", "same_padding", "conv1d", "ConvTranspose2d", "conv_transpose2d",
           "transpose_output_padding"]


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


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """input (N, C, L), weight (K, C/groups, k), bias (K,) -> (N, K, OL),
    OL = (L + 2·pad − dil·(k − 1) − 1) // stride + 1; padding may be 'valid' or 'same' (stride 1)."""
    one = lambda v: v[0] if isinstance(v, (tuple, list)) else v  # noqa: E731
    if input.ndim != 3 or weight.ndim != 3:
        raise ValueError(f"conv1d: expects input (N, C, L) and weight (K, C/groups, k), got input "
                         f"{tuple(input.shape)} and weight {tuple(weight.shape)}")
    if isinstance(padding, str):
        pad2 = padding
    else:
        pad2 = (0, one(padding))
    y = conv2d(input.unsqueeze(2), weight.unsqueeze(2), bias, (1, one(stride)), pad2, (1, one(dilation)), groups)
    return y.squeeze(2)


def transpose_output_padding(fn, input_shape, output_size, kernel_size, stride, padding, dilation):
    """PyTorch's rule for ConvTranspose's forward(output_size=…): output_padding = output_size − the
    smallest output, which must lie in [smallest, smallest + stride − 1] on every axis."""
    size = tuple(output_size)[-2:]
    if len(size) != 2:
        raise ValueError(f"{fn}: output_size must give (H, W), got {tuple(output_size)}")
    out = []
    for ax in range(2):
        lo = ((input_shape[ax - 2] - 1) * stride[ax] - 2 * padding[ax] + dilation[ax] * (kernel_size[ax] - 1) + 1)
        hi = lo + stride[ax] - 1
        if not lo <= size[ax] <= hi:
            raise ValueError(f"{fn}: requested an output size of {size}, but valid sizes range from "
                             f"{lo} to {hi} on axis {ax} (for an input of {tuple(input_shape[-2:])})")
        out.append(size[ax] - lo)
    return tuple(out)


class ConvTranspose2d(Function):
    name = "conv_transpose2d"
    torch_name = "ConvolutionBackward0"

    @staticmethod
    def forward(ctx, x, w, b, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
        K = kernels_of(x)
        (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
        oph, opw = _pair(output_padding)
        if x.ndim != 4 or w.ndim != 4:
            raise ValueError(f"conv_transpose2d: expects input (N, C_in, H, W) and weight (C_in, C_out/groups, "
                             f"R, S), got input {tuple(x.shape)} and weight {tuple(w.shape)}")
        if min(sh, sw, dh, dw) < 1 or min(ph, pw, oph, opw) < 0:
            raise ValueError(f"conv_transpose2d: stride and dilation must be >= 1 and padding, output_padding "
                             f">= 0, got stride {(sh, sw)}, padding {(ph, pw)}, output_padding {(oph, opw)}, "
                             f"dilation {(dh, dw)}")
        if not (oph < sh or oph < dh) or not (opw < sw or opw < dw):
            raise ValueError(f"conv_transpose2d: output_padding must be smaller than either stride or dilation, "
                             f"got output_padding {(oph, opw)}, stride {(sh, sw)}, dilation {(dh, dw)}")
        if groups < 1 or x.shape[1] != w.shape[0] or w.shape[0] % groups:
            raise ValueError(f"conv_transpose2d: weight {tuple(w.shape)} expects {w.shape[0]} input channels "
                             f"divisible by groups={groups}, input {tuple(x.shape)} has {x.shape[1]}")
        N, _, H, W = x.shape
        R, S = w.shape[2:]
        OH = (H - 1) * sh - 2 * ph + dh * (R - 1) + oph + 1
        OW = (W - 1) * sw - 2 * pw + dw * (S - 1) + opw + 1
        if OH < 1 or OW < 1:
            raise ValueError(f"conv_transpose2d: input {tuple(x.shape)} with kernel {(R, S)}, stride {(sh, sw)}, "
                             f"padding {(ph, pw)} and dilation {(dh, dw)} gives an empty output {(OH, OW)}")
        eh, ew = oph // sh, opw // sw
        if eh or ew:                               # output_padding >= stride: rows no conv window reaches
            xp = xp_of(x)
            x = xp.pad(x, ((0, 0), (0, 0), (0, eh), (0, ew)))
        out_shape = (N, w.shape[1] * groups, OH, OW)
        args = ((sh, sw), (ph, pw), (dh, dw), groups)
        y = K.conv2d_backward_input(x, w, out_shape, *args)
        if b is not None:
            y += b.reshape(1, -1, 1, 1)
        n = ctx.needs_input_grad
        if n[0] or n[1] or n[2]:
            ctx.x = x if n[1] else None
            ctx.w = w if n[0] else None
            ctx.args, ctx.K, ctx.hw, ctx.w_shape = args, K, (H, W), w.shape
        return y

    @staticmethod
    def backward(ctx, g):
        K, n = ctx.K, ctx.needs_input_grad
        gx = None
        if n[0]:
            gx = K.conv2d_forward(g, ctx.w, None, *ctx.args)
            H, W = ctx.hw
            if gx.shape[2:] != (H, W):
                gx = xp_of(gx).ascontiguousarray(gx[:, :, :H, :W])
        return (gx,
                K.conv2d_backward_weight(ctx.x, g, ctx.w_shape, *ctx.args) if n[1] else None,
                K.conv2d_backward_bias(g) if n[2] else None)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """input (N, C_in, H, W), weight (C_in, C_out/groups, R, S), bias (C_out,) -> (N, C_out, OH, OW),
    OH = (H − 1)·stride − 2·padding + dilation·(R − 1) + output_padding + 1 (PyTorch's argument order)."""
    return ConvTranspose2d.apply(input, weight, bias, stride, padding, output_padding, groups, dilation)
