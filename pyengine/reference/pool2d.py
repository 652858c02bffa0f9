"""Reference 2-D pooling: max, average and global average, forward and backward, in float64.

Each kernel loops over the kh·kw offsets (i, j) of the window and works on the whole
(N, C, OH, OW) output at once: offset (i, j) of output (oh, ow) reads input row
oh·sh − ph + i·dh and column ow·sw − pw + j·dw, or nothing when that lies in the padding.

Max pooling follows PyTorch exactly: the window is scanned row by row, a value replaces the
running maximum when it is greater or NaN, so ties keep the FIRST maximum and a NaN wins (the last
NaN of the window gives the index). Indices are flat positions h·W + w inside each input plane, or,
with window_indices, uint8 taps i·kw + j inside each window (what the CPU autograd saves: an eighth of
the bytes); the backward then takes the forward's window to turn a tap back into a position.
Average pooling divides by the window area clipped to the padded input (count_include_pad=True)
or by the number of input elements in the window (count_include_pad=False), as PyTorch does.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._checks import (as_bool, check_float_array, check_input_shape, check_shape, checked_numel,
                      conv_output_size, pair)

__all__ = ["max_pool2d_forward", "max_pool2d_backward_input", "avg_pool2d_forward", "avg_pool2d_backward_input",
           "global_avg_pool2d_forward", "global_avg_pool2d_backward_input"]


# ---- the contract, as the oracle checks it (the same messages as the C++ bindings) ----

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
    """The first output position whose window holds no input element, or -1 when every window has one.

    Only windows that start in the left padding can miss the input (one that starts inside it holds
    its first tap), so only those are looked at.
    """
    for o in range(out):
        start = o * stride - padding
        if start >= 0:
            break
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


def _check_window_indices(fn: str, g: PoolGeometry) -> None:
    if g.kh * g.kw > 256:
        raise ValueError(f"{fn}: window_indices needs a kernel of at most 256 elements (they are uint8), got "
                         f"kernel_size ({g.kh}, {g.kw})")


def check_max_pool2d_backward(grad_output, indices, input_shape, window: bool = False,
                              fn: str = "max_pool2d_backward_input"):
    """grad_output (N, C, OH, OW) float, indices (N, C, OH, OW) int64 (or uint8 window taps when the
    forward's window is given: `window`), input_shape (N, C, H, W).

    Returns input_shape as a tuple. The index values (each in [0, H·W)) are checked by the kernels.
    """
    check_float_array(fn, "grad_output", grad_output, 4)
    if not isinstance(indices, np.ndarray) and not hasattr(indices, "__cuda_array_interface__"):
        raise TypeError(f"{fn}: indices must be a numpy.ndarray, got {type(indices).__name__}")
    if indices.dtype == np.uint8 and not window:
        raise ValueError(f"{fn}: uint8 indices are window taps and need the forward's kernel_size (with its stride, "
                         "padding, dilation and ceil_mode)")
    if indices.dtype not in (np.int64, np.uint8):
        raise TypeError(f"{fn}: indices must be int64 (flat positions) or uint8 (window taps), got {indices.dtype}")
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


# ---- the kernels ----


def _positions(out: int, size: int, stride: int, padding: int, dilation: int, i: int):
    """Input positions read by offset i of each output position, clipped, and which are inside the input."""
    pos = np.arange(out) * stride - padding + i * dilation
    valid = (pos >= 0) & (pos < size)
    return np.clip(pos, 0, size - 1), valid


def max_pool2d_forward(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, window_indices=False):
    """Max over each window.

    x: (N, C, H, W). Returns (output (N, C, OH, OW) of x's dtype, indices (N, C, OH, OW) int64 with
    the flat position h·W + w of the maximum in its input plane; with window_indices, uint8 taps
    i·kw + j of the maximum inside its window, kh·kw ≤ 256).
    OH = floor((H + 2·ph − dh·(kh − 1) − 1) / sh) + 1 (ceil with ceil_mode), likewise OW;
    stride defaults to kernel_size.
    """
    fn = "max_pool2d_forward"
    g = check_max_pool2d_forward(x, kernel_size, stride, padding, dilation, ceil_mode)
    window = as_bool(fn, "window_indices", window_indices)
    if window:
        _check_window_indices(fn, g)
    xd = x.astype(np.float64)
    best = np.full((g.N, g.C, g.OH, g.OW), -np.inf)
    # the first in-input position of each window, PyTorch's index when nothing beats -inf
    first_r = np.array([next(r for r in range(oh * g.sh - g.ph, oh * g.sh - g.ph + g.kh * g.dh, g.dh) if r >= 0)
                        for oh in range(g.OH)], dtype=np.int64)
    first_c = np.array([next(c for c in range(ow * g.sw - g.pw, ow * g.sw - g.pw + g.kw * g.dw, g.dw) if c >= 0)
                        for ow in range(g.OW)], dtype=np.int64)
    index = np.broadcast_to(first_r[:, None] * g.W + first_c[None, :], best.shape).copy()
    for i in range(g.kh):
        rows, rvalid = _positions(g.OH, g.H, g.sh, g.ph, g.dh, i)
        for j in range(g.kw):
            cols, cvalid = _positions(g.OW, g.W, g.sw, g.pw, g.dw, j)
            vals = xd[:, :, rows[:, None], cols[None, :]]
            take = (rvalid[:, None] & cvalid[None, :]) & ((vals > best) | np.isnan(vals))
            best = np.where(take, vals, best)
            index = np.where(take, rows[:, None] * g.W + cols[None, :], index)
    if window:
        return best.astype(x.dtype), _taps_of(g, index).astype(np.uint8)
    return best.astype(x.dtype), index.astype(np.int64)


def _window_starts(g: PoolGeometry):
    """Row and column of each output's window start (possibly in the padding), (OH, 1) and (1, OW)."""
    return (np.arange(g.OH) * g.sh - g.ph)[:, None], (np.arange(g.OW) * g.sw - g.pw)[None, :]


def _taps_of(g: PoolGeometry, flat):
    """Flat positions → the taps i·kw + j of their windows."""
    r0, c0 = _window_starts(g)
    return (flat // g.W - r0) // g.dh * g.kw + (flat % g.W - c0) // g.dw


def max_pool2d_backward_input(grad_output, indices, input_shape, kernel_size=None, stride=None, padding=0,
                              dilation=1, ceil_mode=False):
    """grad_input[n, c].flat[indices[n, c, oh, ow]] += grad_output[n, c, oh, ow].

    grad_output, indices: (N, C, OH, OW); input_shape: (N, C, H, W). Every index must lie in [0, H·W).
    uint8 indices are window taps i·kw + j (max_pool2d_forward's window_indices) and need the
    forward's kernel_size, stride, padding, dilation and ceil_mode; each must name a tap inside the
    input. When the window is given, grad_output must have the forward's output shape.
    """
    fn = "max_pool2d_backward_input"
    window = kernel_size is not None
    n, c, h, w = check_max_pool2d_backward(grad_output, indices, input_shape, window)
    if window:
        g = _geometry(fn, (n, c, h, w), kernel_size, stride, padding, dilation, ceil_mode)
        check_shape(fn, "grad_output", grad_output, (g.N, g.C, g.OH, g.OW))
    if indices.dtype == np.uint8:
        _check_window_indices(fn, g)
        t = indices.astype(np.int64)
        r0, c0 = _window_starts(g)
        rows, cols = r0 + t // g.kw * g.dh, c0 + t % g.kw * g.dw
        ok = (t < g.kh * g.kw) & (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
        if not ok.all():
            raise ValueError(f"{fn}: window indices must be taps in [0, kh*kw) = [0, {g.kh * g.kw}) that fall inside "
                             f"the input, got values from {int(t.min())} to {int(t.max())}")
        indices = rows * w + cols
    if indices.size and (indices.min() < 0 or indices.max() >= h * w):
        raise ValueError(f"{fn}: indices must lie in [0, H*W) = [0, {h * w}), got values from "
                         f"{int(indices.min())} to {int(indices.max())}")
    grad = np.zeros((n * c, h * w))
    planes = np.repeat(np.arange(n * c), grad_output[0, 0].size if n * c else 0)
    np.add.at(grad, (planes, indices.reshape(-1)), grad_output.astype(np.float64).reshape(-1))
    return grad.reshape(n, c, h, w).astype(grad_output.dtype)


def _avg_divisor(g, count_include_pad: bool) -> np.ndarray:
    """(OH, OW) divisors: the window clipped to the padded input, or to the input alone."""
    def one_dim(out, size, k, s, p):
        start = np.arange(out) * s - p
        end = np.minimum(start + k, size + p)
        padded = end - start
        inside = np.minimum(end, size) - np.maximum(start, 0)
        return padded if count_include_pad else inside
    return (one_dim(g.OH, g.H, g.kh, g.sh, g.ph)[:, None] * one_dim(g.OW, g.W, g.kw, g.sw, g.pw)[None, :]).astype(
        np.float64)


def avg_pool2d_forward(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Mean over each window.

    x: (N, C, H, W). Returns (N, C, OH, OW), OH = floor((H + 2·ph − kh) / sh) + 1 (ceil with ceil_mode).
    Divisor: the window's area inside the padded input when count_include_pad, else the number of
    input elements it covers.
    """
    g = check_avg_pool2d_forward(x, kernel_size, stride, padding, ceil_mode, count_include_pad)
    xd = x.astype(np.float64)
    total = np.zeros((g.N, g.C, g.OH, g.OW))
    for i in range(g.kh):
        rows, rvalid = _positions(g.OH, g.H, g.sh, g.ph, 1, i)
        for j in range(g.kw):
            cols, cvalid = _positions(g.OW, g.W, g.sw, g.pw, 1, j)
            total += np.where(rvalid[:, None] & cvalid[None, :], xd[:, :, rows[:, None], cols[None, :]], 0.0)
    return (total / _avg_divisor(g, count_include_pad)).astype(x.dtype)


def avg_pool2d_backward_input(grad_output, input_shape, kernel_size, stride=None, padding=0, ceil_mode=False,
                              count_include_pad=True):
    """Each input element receives grad_output / divisor from every window that covers it.

    grad_output: (N, C, OH, OW) with OH, OW the forward's output size for input_shape (N, C, H, W).
    """
    g = check_avg_pool2d_backward(grad_output, input_shape, kernel_size, stride, padding, ceil_mode,
                                  count_include_pad)
    share = grad_output.astype(np.float64) / _avg_divisor(g, count_include_pad)
    grad = np.zeros((g.N, g.C, g.H, g.W))
    for i in range(g.kh):
        rows, rvalid = _positions(g.OH, g.H, g.sh, g.ph, 1, i)
        for j in range(g.kw):
            cols, cvalid = _positions(g.OW, g.W, g.sw, g.pw, 1, j)
            valid = rvalid[:, None] & cvalid[None, :]
            r = np.broadcast_to(rows[:, None], valid.shape)[valid]
            c = np.broadcast_to(cols[None, :], valid.shape)[valid]
            np.add.at(grad, (slice(None), slice(None), r, c), share[:, :, valid])
    return grad.astype(grad_output.dtype)


def global_avg_pool2d_forward(x):
    """Mean over each whole plane: x (N, C, H, W) → (N, C, 1, 1)."""
    check_global_avg_pool2d_forward(x)
    return x.astype(np.float64).mean(axis=(2, 3), keepdims=True).astype(x.dtype)


def global_avg_pool2d_backward_input(grad_output, input_shape):
    """grad_input[n, c, h, w] = grad_output[n, c, 0, 0] / (H·W); grad_output (N, C, 1, 1)."""
    n, c, h, w = check_global_avg_pool2d_backward(grad_output, input_shape)
    share = grad_output.astype(np.float64) / (h * w)
    return np.broadcast_to(share, (n, c, h, w)).astype(grad_output.dtype)
