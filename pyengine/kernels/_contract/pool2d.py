"""Contract of the 2-D pooling kernels: argument checks and output sizes shared by every implementation.

Output size per spatial dimension (PyTorch's rule)::

    OH = floor((H + 2·padding − dilation·(kernel − 1) − 1) / stride) + 1      (ceil with ceil_mode;
         with ceil_mode the last window must start inside the input or the left padding)

PyTorch's limits are kept: padding ≤ kernel // 2, stride ≥ 1, kernel ≥ 1, dilation ≥ 1, OH/OW ≥ 1,
C, H, W ≥ 1 (the batch may be empty). A max-pooling window that covers only padding (possible with
a large dilation) is rejected rather than given an index outside the input.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .common import (as_bool, check_float_array, check_input_shape, check_shape, checked_numel, conv_output_size,
                     pair)

__all__ = ["PoolGeometry", "check_max_pool2d_forward", "check_max_pool2d_backward", "check_avg_pool2d_forward",
           "check_avg_pool2d_backward", "check_global_avg_pool2d_forward", "check_global_avg_pool2d_backward"]


class PoolGeometry(NamedTuple):
    """Everything a pooling kernel needs: input (N, C, H, W), kernel, stride, padding, dilation, output."""
    N: int
    C: int
    H: int
    W: int
    kh: int
    kw: int
    sh: int
    sw: int
    ph: int
    pw: int
    dh: int
    dw: int
    OH: int
    OW: int


def _check_planes(fn: str, name: str, shape) -> None:
    n, c, h, w = shape
    if c < 1 or h < 1 or w < 1:
        raise ValueError(f"{fn}: {name} must have non-zero channels, height and width (only the batch may be "
                         f"empty), got shape {tuple(int(s) for s in shape)}")
    checked_numel(fn, f"{name} shape", shape)


def _covers_input(size: int, out: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """The first output position whose window holds no input element, or -1 when every window has one."""
    for o in range(out):
        start = o * stride - padding
        if not any(0 <= start + i * dilation < size for i in range(kernel)):
            return o
    return -1


def _geometry(fn: str, shape, kernel_size, stride, padding, dilation, ceil_mode) -> PoolGeometry:
    n, c, h, w = shape
    kh, kw = pair(fn, "kernel_size", kernel_size, 1)
    sh, sw = (kh, kw) if stride is None else pair(fn, "stride", stride, 1)
    ph, pw = pair(fn, "padding", padding, 0)
    dh, dw = pair(fn, "dilation", dilation, 1)
    ceil_mode = as_bool(fn, "ceil_mode", ceil_mode)
    if ph > kh // 2 or pw > kw // 2:
        raise ValueError(f"{fn}: padding must be at most half the kernel size, got padding ({ph}, {pw}) "
                         f"for kernel_size ({kh}, {kw})")
    oh = conv_output_size(fn, "height", h, kh, sh, ph, dh, ceil_mode)
    ow = conv_output_size(fn, "width", w, kw, sw, pw, dw, ceil_mode)
    for what, size, out, k, s, p, d in (("row", h, oh, kh, sh, ph, dh), ("column", w, ow, kw, sw, pw, dw)):
        bad = _covers_input(size, out, k, s, p, d)
        if bad >= 0:
            raise ValueError(f"{fn}: the pooling window of output {what} {bad} covers only padding (kernel {k}, "
                             f"stride {s}, padding {p}, dilation {d}, input size {size})")
    checked_numel(fn, "output shape", (n, c, oh, ow))
    return PoolGeometry(n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)


def check_max_pool2d_forward(x, kernel_size, stride, padding, dilation, ceil_mode,
                             fn: str = "max_pool2d_forward") -> PoolGeometry:
    """x (N, C, H, W) float; returns the geometry with (OH, OW)."""
    check_float_array(fn, "x", x, 4)
    _check_planes(fn, "x", x.shape)
    return _geometry(fn, x.shape, kernel_size, stride, padding, dilation, ceil_mode)


def check_max_pool2d_backward(grad_output, indices, input_shape, fn: str = "max_pool2d_backward_input"):
    """grad_output (N, C, OH, OW) float, indices (N, C, OH, OW) int64, input_shape (N, C, H, W).

    Returns input_shape as a tuple. The index values (each in [0, H·W)) are checked by the kernels.
    """
    check_float_array(fn, "grad_output", grad_output, 4)
    if not isinstance(indices, np.ndarray) and not hasattr(indices, "__cuda_array_interface__"):
        raise TypeError(f"{fn}: indices must be a numpy.ndarray, got {type(indices).__name__}")
    if indices.dtype != np.int64:
        raise TypeError(f"{fn}: indices must be int64, got {indices.dtype}")
    check_shape(fn, "indices", indices, tuple(grad_output.shape))
    shape = check_input_shape(fn, "input_shape", input_shape, 4)
    _check_planes(fn, "input_shape", shape)
    if tuple(shape[:2]) != tuple(grad_output.shape[:2]):
        raise ValueError(f"{fn}: input_shape {shape} has batch and channels {shape[:2]} but grad_output has "
                         f"{tuple(grad_output.shape[:2])}")
    return shape


def check_avg_pool2d_forward(x, kernel_size, stride, padding, ceil_mode, count_include_pad,
                             fn: str = "avg_pool2d_forward") -> PoolGeometry:
    """x (N, C, H, W) float; returns the geometry with (OH, OW)."""
    check_float_array(fn, "x", x, 4)
    _check_planes(fn, "x", x.shape)
    as_bool(fn, "count_include_pad", count_include_pad)
    return _geometry(fn, x.shape, kernel_size, stride, padding, 1, ceil_mode)


def check_avg_pool2d_backward(grad_output, input_shape, kernel_size, stride, padding, ceil_mode, count_include_pad,
                              fn: str = "avg_pool2d_backward_input") -> PoolGeometry:
    """grad_output (N, C, OH, OW) float with (OH, OW) the forward's output size for input_shape."""
    check_float_array(fn, "grad_output", grad_output, 4)
    shape = check_input_shape(fn, "input_shape", input_shape, 4)
    _check_planes(fn, "input_shape", shape)
    as_bool(fn, "count_include_pad", count_include_pad)
    geo = _geometry(fn, shape, kernel_size, stride, padding, 1, ceil_mode)
    check_shape(fn, "grad_output", grad_output, (geo.N, geo.C, geo.OH, geo.OW))
    return geo


def check_global_avg_pool2d_forward(x, fn: str = "global_avg_pool2d_forward") -> tuple[int, int, int, int]:
    """x (N, C, H, W) float; returns its shape."""
    check_float_array(fn, "x", x, 4)
    _check_planes(fn, "x", x.shape)
    return tuple(int(s) for s in x.shape)


def check_global_avg_pool2d_backward(grad_output, input_shape, fn: str = "global_avg_pool2d_backward_input"):
    """grad_output (N, C, 1, 1) float, input_shape (N, C, H, W); returns input_shape as a tuple."""
    check_float_array(fn, "grad_output", grad_output, 4)
    shape = check_input_shape(fn, "input_shape", input_shape, 4)
    _check_planes(fn, "input_shape", shape)
    check_shape(fn, "grad_output", grad_output, (shape[0], shape[1], 1, 1))
    return shape

