"""Contract of softmax / log_softmax over an axis and of cross-entropy from logits.

softmax family: x of any rank, ``axis`` an int in [-ndim, ndim-1] (a 0-d array counts as rank 1);
backward takes grad_output and the forward's output, same dtype and shape.
cross-entropy: logits (N, C) float, target (N,) int64 class indices with 0 <= target < C,
reduction 'none' (loss (N,)), 'mean' or 'sum' (0-d loss); grad_output has the loss's shape.
"""
from __future__ import annotations

import numpy as np

from .common import _is_array, as_int, check_float_array, check_same_dtype

REDUCTIONS = ("none", "mean", "sum")


def check_axis(fn: str, x, axis) -> int:
    """Returns axis normalised to [0, ndim) (0 for a 0-d array)."""
    axis = as_int(fn, "axis", axis)
    rank = max(x.ndim, 1)
    if not -rank <= axis < rank:
        raise ValueError(f"{fn}: axis {axis} is out of range for a {x.ndim}-D array "
                         f"(expected {-rank} <= axis <= {rank - 1})")
    return axis % rank


def check_softmax(fn: str, x, axis) -> int:
    check_float_array(fn, "x", x)
    return check_axis(fn, x, axis)


def check_softmax_backward(fn: str, grad_output, output, axis) -> int:
    check_float_array(fn, "output", output)
    check_float_array(fn, "grad_output", grad_output)
    check_same_dtype(fn, "output", output, grad_output=grad_output)
    if tuple(grad_output.shape) != tuple(output.shape):
        raise ValueError(f"{fn}: grad_output must have the shape of output {tuple(output.shape)}, "
                         f"got {tuple(grad_output.shape)}")
    return check_axis(fn, output, axis)


def check_cross_entropy(fn: str, logits, target, reduction, grad_output=None, check_grad=False) -> tuple[int, int]:
    """Returns (N, C). Every target value must be a class index in [0, C)."""
    check_float_array(fn, "logits", logits, 2)
    if not _is_array(target):
        raise TypeError(f"{fn}: target must be a numpy.ndarray of int64 class indices, got {type(target).__name__}")
    if target.dtype != np.int64:
        raise TypeError(f"{fn}: target must be int64 class indices, got {target.dtype}")
    n, c = (int(s) for s in logits.shape)
    if target.ndim != 1 or int(target.shape[0]) != n:
        raise ValueError(f"{fn}: target must have shape ({n},) to match logits {tuple(logits.shape)}, "
                         f"got {tuple(target.shape)}")
    if not isinstance(reduction, str):
        raise TypeError(f"{fn}: reduction must be a str, got {type(reduction).__name__}")
    if reduction not in REDUCTIONS:
        raise ValueError(f"{fn}: reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
    bad = (target < 0) | (target >= c)
    if n and bool(bad.any()):
        i = int(bad.argmax())
        raise ValueError(f"{fn}: target[{i}] = {int(target[i])} is out of range for {c} classes "
                         f"(expected 0 <= target < {c})")
    if check_grad:
        check_float_array(fn, "grad_output", grad_output)
        check_same_dtype(fn, "logits", logits, grad_output=grad_output)
        want = (n,) if reduction == "none" else ()
        if tuple(grad_output.shape) != want:
            raise ValueError(f"{fn}: grad_output must have shape {want} for reduction {reduction!r}, "
                             f"got {tuple(grad_output.shape)}")
    return n, c
