"""Reference 2-D adaptive max pooling, forward and backward, in float64.

x (N, C, H, W) -> y, indices (N, C, OH, OW). Output cell (i, j) covers the bin of rows
[floor(i·H/OH), ceil((i+1)·H/OH)) and columns [floor(j·W/OW), ceil((j+1)·W/OW)) (PyTorch's bins;
neighbouring bins overlap when the sizes do not divide). The bin is scanned row by row and a value
replaces the running maximum when it is greater or NaN, so ties keep the FIRST maximum and the LAST
NaN wins — PyTorch's rule. indices are flat positions h·W + w inside each input plane (int64).
Backward: grad_input[n, c].flat[indices] += grad_output over every cell (an input can be the
maximum of several overlapping cells). Every index must lie in its cell's bin.
"""
from __future__ import annotations

import numpy as np

from ._checks import check_float_array, check_input_shape, check_shape, checked_numel, pair
from .pool2d import _check_planes

__all__ = ["adaptive_max_pool2d_forward", "adaptive_max_pool2d_backward_input"]


def adaptive_bin(size: int, out: int, o: int) -> tuple[int, int]:
    """[lo, hi) of output o's bin along an axis of `size` inputs and `out` outputs."""
    return o * size // out, -(-(o + 1) * size // out)


def _is_array(x) -> bool:
    return isinstance(x, np.ndarray) or hasattr(x, "__cuda_array_interface__")


def check_adaptive_max_pool2d_forward(x, output_size, fn: str = "adaptive_max_pool2d_forward"):
    check_float_array(fn, "x", x, 4)
    oh, ow = pair(fn, "output_size", output_size, 1)
    _check_planes(fn, "x", x.shape)
    checked_numel(fn, "output shape", (x.shape[0], x.shape[1], oh, ow))
    return oh, ow


def check_adaptive_max_pool2d_backward(grad_output, indices, input_shape, fn: str = "adaptive_max_pool2d_backward_input"):
    check_float_array(fn, "grad_output", grad_output, 4)
    if not _is_array(indices):
        raise TypeError(f"{fn}: indices must be a numpy.ndarray, got {type(indices).__name__}")
    shape = check_input_shape(fn, "input_shape", input_shape, 4)
    if indices.dtype != np.int64:
        raise TypeError(f"{fn}: indices must be int64, got {indices.dtype}")
    check_shape(fn, "indices", indices, tuple(grad_output.shape))
    _check_planes(fn, "input_shape", shape)
    if tuple(shape[:2]) != tuple(grad_output.shape[:2]):
        raise ValueError(f"{fn}: input_shape {shape} has batch and channels {shape[:2]} but grad_output has "
                         f"{tuple(grad_output.shape[:2])}")
    if grad_output.shape[2] < 1 or grad_output.shape[3] < 1:
        raise ValueError(f"{fn}: grad_output must have height and width >= 1, got shape {tuple(grad_output.shape)}")
    return shape


def adaptive_max_pool2d_forward(x, output_size):
    """x (N, C, H, W) -> (y, indices), both (N, C, OH, OW) for output_size (OH, OW) (an int: square)."""
    oh, ow = check_adaptive_max_pool2d_forward(x, output_size)
    N, C, H, W = x.shape
    xd = np.asarray(x, dtype=np.float64).reshape(N * C, H, W)
    y = np.empty((N * C, oh, ow))
    idx = np.empty((N * C, oh, ow), np.int64)
    for i in range(oh):
        r0, r1 = adaptive_bin(H, oh, i)
        for j in range(ow):
            c0, c1 = adaptive_bin(W, ow, j)
            best = xd[:, r0, c0].copy()
            at = np.full(N * C, r0 * W + c0, np.int64)
            for r in range(r0, r1):          # the scan, all planes at once
                for c in range(c0, c1):
                    v = xd[:, r, c]
                    take = (v > best) | np.isnan(v)
                    best = np.where(take, v, best)
                    at = np.where(take, r * W + c, at)
            y[:, i, j], idx[:, i, j] = best, at
    return y.reshape(N, C, oh, ow).astype(x.dtype), idx.reshape(N, C, oh, ow)


def adaptive_max_pool2d_backward_input(grad_output, indices, input_shape):
    """grad_output (N, C, OH, OW), indices (N, C, OH, OW) int64 -> grad_input of input_shape (N, C, H, W)."""
    fn = "adaptive_max_pool2d_backward_input"
    N, C, H, W = check_adaptive_max_pool2d_backward(grad_output, indices, input_shape)
    oh, ow = grad_output.shape[2:]
    g = np.asarray(grad_output, dtype=np.float64).reshape(N * C, oh * ow)
    idx = np.asarray(indices).reshape(N * C, oh * ow)
    rows = np.array([adaptive_bin(H, oh, i) for i in range(oh)]).reshape(oh, 1, 2)
    cols = np.array([adaptive_bin(W, ow, j) for j in range(ow)]).reshape(1, ow, 2)
    r, c = idx.reshape(N * C, oh, ow) // max(W, 1), idx.reshape(N * C, oh, ow) % max(W, 1)
    inside = ((idx.reshape(N * C, oh, ow) >= 0) & (r >= rows[..., 0]) & (r < rows[..., 1])
              & (c >= cols[..., 0]) & (c < cols[..., 1]))
    if not inside.all():
        raise ValueError(f"{fn}: indices must lie in the bin of their output cell (flat positions h*W + w, as the "
                         f"forward returns them), got {int((~inside).sum())} outside")
    gx = np.zeros((N * C, H * W))
    for q in range(oh * ow):                 # in cell order: overlapping bins add up
        np.add.at(gx, (np.arange(N * C), idx[:, q]), g[:, q])
    return gx.reshape(N, C, H, W).astype(grad_output.dtype)
