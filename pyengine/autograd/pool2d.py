"""2-D pooling as autograd Functions: max and average pooling over the device's kernels
(pyengine.kernels.cpu / .cuda ``max_pool2d_*``, ``avg_pool2d_*``, ``global_avg_pool2d_*``), and
adaptive max pooling over the ``adaptive_max_pool2d_*`` kernels, and adaptive average pooling (sizes
that need not divide) in NumPy: output cell (i, j) covers rows floor(i·H/OH) .. ceil((i+1)·H/OH) − 1
and the same for columns (PyTorch's bins), one vectorised reduction over (N, C) per cell.

input (N, C, H, W) -> (N, C, OH, OW), OH = (H + 2·pad − dil·(k − 1) − 1) // stride + 1 (ceil_mode
rounds up). Max pooling keeps the index of each window's maximum (the first among ties, as PyTorch),
and its backward routes each gradient to that index only. On the CPU the index it keeps is the
uint8 tap i·kw + j inside the window (an eighth of the int64 flat position's bytes, written by the
forward and read by the backward); return_indices, and the GPU, keep PyTorch's int64 flat h·W + w.
"""
from __future__ import annotations

import numpy as np

from .core import Function, _wrap
from .device import kernels_of, xp_of

__all__ = ["MaxPool2d", "AvgPool2d", "GlobalAvgPool2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "max_pool2d",
           "avg_pool2d", "global_avg_pool2d", "adaptive_avg_pool2d", "adaptive_max_pool2d", "adaptive_bins"]


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


class MaxPool2d(Function):
    name = "max_pool2d"
    torch_name = "MaxPool2DWithIndicesBackward0"

    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding=0, dilation=1, ceil_mode=False, flat_indices=False):
        K = kernels_of(x)
        window = ctx.window = (kernel_size, stride, padding, dilation, ceil_mode)
        taps = not flat_indices and isinstance(x, np.ndarray) and _area(kernel_size) <= 256
        y, idx = K.max_pool2d_forward(x, *window, window_indices=True) if taps else K.max_pool2d_forward(x, *window)
        ctx.idx = idx                                # also read by max_pool2d(return_indices=True)
        if ctx.needs_input_grad[0]:
            ctx.shape, ctx.K = x.shape, K
        return y

    @staticmethod
    def backward(ctx, g):
        if ctx.idx.dtype == np.uint8:
            return ctx.K.max_pool2d_backward_input(g, ctx.idx, ctx.shape, *ctx.window)
        return ctx.K.max_pool2d_backward_input(g, ctx.idx, ctx.shape)


def _area(kernel_size):
    k = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
    return k[0] * k[-1] if len(k) in (1, 2) and all(isinstance(v, int) for v in k) else 0


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """input (N, C, H, W) -> (N, C, OH, OW); stride defaults to kernel_size. With return_indices, also
    the flat h·W+w position of each maximum in its input plane (int64)."""
    if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0):
        stride = kernel_size
    if return_indices:
        K = kernels_of(input._data)
        y = MaxPool2d.apply(input, kernel_size, stride, padding, dilation, ceil_mode, True)
        idx = y._grad_fn.idx if y._grad_fn is not None else \
            K.max_pool2d_forward(input._data, kernel_size, stride, padding, dilation, ceil_mode)[1]
        return y, _wrap(idx)
    return MaxPool2d.apply(input, kernel_size, stride, padding, dilation, ceil_mode)


class AvgPool2d(Function):
    name = "avg_pool2d"

    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding=0, ceil_mode=False, count_include_pad=True):
        K = kernels_of(x)
        ctx.args = (x.shape, kernel_size, stride, padding, ceil_mode, count_include_pad)
        ctx.K = K
        return K.avg_pool2d_forward(x, kernel_size, stride, padding, ceil_mode, count_include_pad)

    @staticmethod
    def backward(ctx, g):
        return ctx.K.avg_pool2d_backward_input(g, *ctx.args)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """input (N, C, H, W) -> (N, C, OH, OW), OH = (H + 2·pad − k) // stride + 1."""
    if stride is None:
        stride = kernel_size
    return AvgPool2d.apply(input, kernel_size, stride, padding, ceil_mode, count_include_pad)


class GlobalAvgPool2d(Function):
    name = "global_avg_pool2d"
    torch_name = "MeanBackward1"

    @staticmethod
    def forward(ctx, x):
        K = kernels_of(x)
        ctx.shape, ctx.K = x.shape, K
        return K.global_avg_pool2d_forward(x)

    @staticmethod
    def backward(ctx, g):
        return ctx.K.global_avg_pool2d_backward_input(g, ctx.shape)


def global_avg_pool2d(input):
    """input (N, C, H, W) -> (N, C, 1, 1), the mean over each plane."""
    return GlobalAvgPool2d.apply(input)


class AdaptiveAvgPool2d(Function):
    """Output cell (i, j) averages rows floor(i·H/OH) .. ceil((i+1)·H/OH) and the same for columns."""
    name = "adaptive_avg_pool2d"

    @staticmethod
    def forward(ctx, x, oh, ow):
        H, W = x.shape[2:]
        rows, cols = adaptive_bins(H, oh), adaptive_bins(W, ow)
        y = xp_of(x).empty(x.shape[:2] + (oh, ow), x.dtype)
        for i, (r0, r1) in enumerate(rows):
            for j, (c0, c1) in enumerate(cols):
                y[:, :, i, j] = x[:, :, r0:r1, c0:c1].mean(axis=(2, 3))
        ctx.shape, ctx.rows, ctx.cols = x.shape, rows, cols
        return y

    @staticmethod
    def backward(ctx, g):
        gx = xp_of(g).zeros(ctx.shape, g.dtype)
        for i, (r0, r1) in enumerate(ctx.rows):
            for j, (c0, c1) in enumerate(ctx.cols):
                gx[:, :, r0:r1, c0:c1] += (g[:, :, i, j] / ((r1 - r0) * (c1 - c0)))[:, :, None, None]
        return gx


def adaptive_bins(size, out):
    """The [start, end) input range of each of out adaptive-pooling cells over an axis of size."""
    return [(i * size // out, -(-(i + 1) * size // out)) for i in range(out)]


class AdaptiveMaxPool2d(Function):
    """Each output cell is the maximum of its bin (the device's adaptive_max_pool2d kernels: ties keep
    the first maximum, the last NaN wins, as PyTorch); indices are flat h·W + w positions in the input
    plane (int64), and backward adds each gradient at its position."""
    name = "adaptive_max_pool2d"
    torch_name = "AdaptiveMaxPool2DBackward0"

    @staticmethod
    def forward(ctx, x, oh, ow):
        K = kernels_of(x)
        y, idx = K.adaptive_max_pool2d_forward(x, (oh, ow))
        ctx.idx, ctx.shape, ctx.K = idx, x.shape, K
        return y

    @staticmethod
    def backward(ctx, g):
        return ctx.K.adaptive_max_pool2d_backward_input(g, ctx.idx, ctx.shape)


def _adaptive_size(fn, input, output_size):
    if input.ndim != 4:
        raise ValueError(f"{fn}: expects input of shape (N, C, H, W), got {tuple(input.shape)}")
    oh, ow = _pair(output_size)
    H, W = input.shape[2:]
    oh, ow = oh or H, ow or W
    if oh < 1 or ow < 1:
        raise ValueError(f"{fn}: output_size must be >= 1 (or None), got {output_size}")
    if H < 1 or W < 1:
        raise ValueError(f"{fn}: input {tuple(input.shape)} has an empty plane")
    return oh, ow


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """input (N, C, H, W) -> (N, C, OH, OW), each cell the maximum of its adaptive bin; with
    return_indices also the flat h·W + w input position of each maximum (int64)."""
    oh, ow = _adaptive_size("adaptive_max_pool2d", input, output_size)
    y = AdaptiveMaxPool2d.apply(input, oh, ow)
    if return_indices:
        fn = y._grad_fn
        idx = fn.idx if fn is not None else kernels_of(input._data).adaptive_max_pool2d_forward(input._data, (oh, ow))[1]
        return y, _wrap(idx)
    return y


def adaptive_avg_pool2d(input, output_size):
    """input (N, C, H, W) -> (N, C, OH, OW) for output_size (OH, OW) (None keeps that size)."""
    oh, ow = _adaptive_size("adaptive_avg_pool2d", input, output_size)
    H, W = input.shape[2:]
    if (oh, ow) == (1, 1):
        return global_avg_pool2d(input)
    if H % oh == 0 and W % ow == 0:
        k = (H // oh, W // ow)
        return avg_pool2d(input, k, k)
    return AdaptiveAvgPool2d.apply(input, oh, ow)
