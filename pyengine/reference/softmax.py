"""Reference softmax / log-softmax over an axis and cross-entropy from logits, in float64.

    softmax      y = exp(x − m) / Σ exp(x − m),  m = max over the axis      (log-sum-exp shift)
    log_softmax  y = (x − m) − log Σ exp(x − m)
    backward     softmax: dx = y·(g − Σ g·y);  log_softmax: dx = g − exp(y)·Σ g   (from the output y)
    cross-entropy (logits (N, C), int64 target (N,)):  loss_n = −log_softmax(logits)_n,target_n,
                 reduced by 'none' (N,), 'sum' or 'mean' (0-d; mean of N = 0 is NaN, as PyTorch);
                 grad_logits = w_n·(softmax(logits)_n − onehot(target_n)), w_n the loss's weight.
The shift by the maximum keeps every exponent ≤ 0: logits of ±1e4 neither overflow nor vanish.
"""
from __future__ import annotations

import numpy as np

from ._checks import _is_array, as_int, check_float_array, check_same_dtype

__all__ = ["softmax_forward", "softmax_backward", "log_softmax_forward", "log_softmax_backward",
           "cross_entropy_forward", "cross_entropy_backward"]


# ---- the contract, as the oracle checks it (the same messages as the C++ bindings) ----

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


# ---- the kernels ----


def _shifted(x, axis):
    """(x − max, log Σ exp(x − max)) along axis, float64, keepdims."""
    v = np.asarray(x, dtype=np.float64)
    if v.size == 0:
        return v, np.zeros_like(v)
    with np.errstate(invalid="ignore"):  # inf − inf = NaN for rows holding ±inf, as IEEE says
        z = v - np.max(v, axis=axis, keepdims=True)
        return z, np.log(np.sum(np.exp(z), axis=axis, keepdims=True))


def softmax_forward(x, axis=-1):
    """exp(x − m) / Σ exp(x − m) along axis. x: any shape; output: x's shape and dtype."""
    axis = check_softmax("softmax_forward", x, axis)
    z, lse = _shifted(np.atleast_1d(x), axis)
    return np.exp(z - lse).reshape(x.shape).astype(x.dtype)


def softmax_backward(grad_output, output, axis=-1):
    """y·(g − Σ g·y) along axis, from the forward's output y. Shapes: all equal."""
    axis = check_softmax_backward("softmax_backward", grad_output, output, axis)
    g = np.atleast_1d(np.asarray(grad_output, dtype=np.float64))
    y = np.atleast_1d(np.asarray(output, dtype=np.float64))
    dx = y * (g - np.sum(g * y, axis=axis, keepdims=True))
    return dx.reshape(output.shape).astype(output.dtype)


def log_softmax_forward(x, axis=-1):
    """(x − m) − log Σ exp(x − m) along axis. x: any shape; output: x's shape and dtype."""
    axis = check_softmax("log_softmax_forward", x, axis)
    z, lse = _shifted(np.atleast_1d(x), axis)
    return (z - lse).reshape(x.shape).astype(x.dtype)


def log_softmax_backward(grad_output, output, axis=-1):
    """g − exp(y)·Σ g along axis, from the forward's output y. Shapes: all equal."""
    axis = check_softmax_backward("log_softmax_backward", grad_output, output, axis)
    g = np.atleast_1d(np.asarray(grad_output, dtype=np.float64))
    y = np.atleast_1d(np.asarray(output, dtype=np.float64))
    dx = g - np.exp(y) * np.sum(g, axis=axis, keepdims=True)
    return dx.reshape(output.shape).astype(output.dtype)


def cross_entropy_forward(logits, target, reduction="mean"):
    """Cross-entropy of logits (N, C) against int64 class indices target (N,).

    Returns loss (N,) for reduction 'none', a 0-d array for 'sum' and 'mean' (NaN when N = 0).
    """
    n, _ = check_cross_entropy("cross_entropy_forward", logits, target, reduction)
    z, lse = _shifted(logits, 1)
    loss = -(z - lse)[np.arange(n), target]
    if reduction == "none":
        return loss.astype(logits.dtype)
    total = np.sum(loss)
    if reduction == "mean":
        total = total / n if n else np.nan
    return np.asarray(total, dtype=logits.dtype)


def cross_entropy_backward(grad_output, logits, target, reduction="mean"):
    """grad_logits (N, C) = w_n·(softmax(logits)_n − onehot(target_n)).

    grad_output: (N,) for reduction 'none' (w_n = grad_output[n]), 0-d otherwise (w = grad_output,
    divided by N for 'mean').
    """
    n, c = check_cross_entropy("cross_entropy_backward", logits, target, reduction, grad_output, check_grad=True)
    z, lse = _shifted(logits, 1)
    p = np.exp(z - lse)
    p[np.arange(n), target] -= 1.0
    g = np.asarray(grad_output, dtype=np.float64)
    w = g[:, None] if reduction == "none" else (g / n if reduction == "mean" and n else g)
    return (p * w).astype(logits.dtype)
