"""Reference padding modes (PyTorch's F.pad 'reflect', 'replicate', 'circular'; conv's padding_mode).

pad lists (before, after) pairs from the last axis backwards, as torch: (left, right[, top, bottom[,
front, back]]); the last k = len(pad)/2 axes (1 to 3) of an array with k + 1 or k + 2 axes are
padded. Every padded axis of length n and widths (a, b) becomes a + n + b long, output position o
reading input position src(o − a):
    reflect    the mirror without repeating the edge (…, 2, 1, 0, 1, 2, …, n−2, n−1, n−2, …), a, b < n
    replicate  clamp(i, 0, n − 1), n ≥ 1 when a + b > 0
    circular   i mod n, a, b ≤ n
Forward is one gather per padded axis; backward its adjoint, every output's gradient added onto the
input it read (np.add.at per axis, in reverse).
"""
from __future__ import annotations

import numpy as np

from ._checks import as_int, check_float_array, check_shape, checked_numel

__all__ = ["pad_forward", "pad_backward"]

MODES = ("reflect", "replicate", "circular")


def pad_source_index(n: int, before: int, after: int, mode: str) -> np.ndarray:
    """The input position each of the before + n + after output positions of one axis reads."""
    i = np.arange(-before, n + after)
    if mode == "replicate":
        return np.clip(i, 0, n - 1)
    if mode == "circular":
        return np.mod(i, n)
    if n == 1:
        return np.zeros_like(i)
    period = 2 * (n - 1)                    # reflect: a triangle wave 0..n−1..0
    i = np.mod(i, period)
    return np.where(i < n, i, period - i)


# ---- the contract, as the oracle checks it (the same messages as csrc/include/pyengine/pad.h) ----

def _pad(fn, pad):
    if not isinstance(pad, (tuple, list)):
        raise TypeError(f"{fn}: pad must be a tuple of ints, got {type(pad).__name__} {pad!r}")
    return tuple(as_int(fn, "pad", v) for v in pad)


def _mode(fn, mode):
    if not isinstance(mode, str) or mode not in MODES:
        raise ValueError(f"{fn}: mode must be 'reflect', 'replicate' or 'circular', got {mode!r}")
    return mode


def _input_shape(fn, shape):
    if not isinstance(shape, (tuple, list)):
        raise ValueError(f"{fn}: input_shape must be a sequence of ints, got {shape!r}")
    return tuple(as_int(fn, "input_shape", s, 0) for s in shape)


def _geometry(fn, name, shape, pad, mode):
    """Checks pad against shape; returns the padded shape."""
    k = len(pad) // 2
    if len(pad) % 2 or not 1 <= k <= 3:
        raise ValueError(f"{fn}: pad must hold 1, 2 or 3 (before, after) pairs, got {pad}")
    nd = len(shape)
    if nd not in (k + 1, k + 2):
        raise ValueError(f"{fn}: {name} must have {k + 1} or {k + 2} axes for pad of {2 * k} values, got "
                         f"{tuple(shape)}")
    if min(pad) < 0:
        raise ValueError(f"{fn}: pad must be >= 0, got {pad}")
    out = list(shape)
    for j in range(k):
        n, a, b = shape[nd - 1 - j], pad[2 * j], pad[2 * j + 1]
        bad = (a >= n or b >= n) if mode == "reflect" else (a > n or b > n) if mode == "circular" else (n == 0 and a + b)
        if bad:
            limit = "less than" if mode == "reflect" else "at most"
            raise ValueError(f"{fn}: mode='{mode}' needs padding {limit} the axis size, got padding ({a}, {b}) for "
                             f"axis {nd - 1 - j} of size {n} ({name} {tuple(shape)})")
        out[nd - 1 - j] += a + b
    checked_numel(fn, "output shape", out)
    return tuple(out)


def pad_forward(x, pad, mode="reflect"):
    """x (..., [D,] [H,] W) -> the padded array, pad = (left, right[, top, bottom[, front, back]])."""
    fn = "pad_forward"
    check_float_array(fn, "x", x)
    pad = _pad(fn, pad)
    mode = _mode(fn, mode)
    _geometry(fn, "x", x.shape, pad, mode)
    y = x
    for j in range(len(pad) // 2):
        axis = x.ndim - 1 - j
        y = np.take(y, pad_source_index(x.shape[axis], pad[2 * j], pad[2 * j + 1], mode), axis=axis)
    return np.ascontiguousarray(y)


def pad_backward(grad_output, input_shape, pad, mode="reflect"):
    """grad_output of the padded shape -> grad_input of input_shape: the adjoint of pad_forward."""
    fn = "pad_backward"
    check_float_array(fn, "grad_output", grad_output)
    shape = _input_shape(fn, input_shape)
    pad = _pad(fn, pad)
    mode = _mode(fn, mode)
    padded = _geometry(fn, "input_shape", shape, pad, mode)
    check_shape(fn, "grad_output", grad_output, padded)
    g = grad_output.astype(np.float64)
    for j in reversed(range(len(pad) // 2)):
        axis = len(shape) - 1 - j
        idx = pad_source_index(shape[axis], pad[2 * j], pad[2 * j + 1], mode)
        moved = np.moveaxis(g, axis, 0)
        acc = np.zeros((shape[axis],) + moved.shape[1:])
        np.add.at(acc, idx, moved)
        g = np.moveaxis(acc, 0, axis)
    return np.ascontiguousarray(g, dtype=grad_output.dtype)
