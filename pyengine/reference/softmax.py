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

from ..kernels._contract.softmax import check_cross_entropy, check_softmax, check_softmax_backward

__all__ = ["softmax_forward", "softmax_backward", "log_softmax_forward", "log_softmax_backward",
           "cross_entropy_forward", "cross_entropy_backward"]


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
