"""CPU softmax / log-softmax over an axis and cross-entropy (csrc/include/pyengine/softmax.h).

Softmax family: x of any rank, ``axis`` in [-ndim, ndim-1]; outputs of x's shape and dtype.
Cross-entropy: logits (N, C), int64 target (N,) in [0, C); loss (N,) for 'none', 0-d for
'mean'/'sum'; backward → grad_logits (N, C).
"""
from __future__ import annotations

import numpy as np

from .._contract.softmax import check_cross_entropy, check_softmax, check_softmax_backward
from ._ext import _C

__all__ = ["softmax_forward", "softmax_backward", "log_softmax_forward", "log_softmax_backward",
           "cross_entropy_forward", "cross_entropy_backward"]


def _c(a):
    # np.ascontiguousarray would turn a 0-d array into shape (1,)
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def softmax_forward(x, axis=-1):
    """exp(x − m) / Σ exp(x − m) along axis, m the maximum. x: any shape."""
    axis = check_softmax("softmax_forward", x, axis)
    return _C.softmax_forward(_c(x), axis)


def softmax_backward(grad_output, output, axis=-1):
    """y·(g − Σ g·y) along axis, from the forward's output y."""
    axis = check_softmax_backward("softmax_backward", grad_output, output, axis)
    return _C.softmax_backward(_c(grad_output), _c(output), axis)


def log_softmax_forward(x, axis=-1):
    """(x − m) − log Σ exp(x − m) along axis. x: any shape."""
    axis = check_softmax("log_softmax_forward", x, axis)
    return _C.log_softmax_forward(_c(x), axis)


def log_softmax_backward(grad_output, output, axis=-1):
    """g − exp(y)·Σ g along axis, from the forward's output y."""
    axis = check_softmax_backward("log_softmax_backward", grad_output, output, axis)
    return _C.log_softmax_backward(_c(grad_output), _c(output), axis)


def cross_entropy_forward(logits, target, reduction="mean"):
    """Cross-entropy of logits (N, C) against int64 class indices (N,): (N,) or 0-d (mean: NaN at N = 0)."""
    check_cross_entropy("cross_entropy_forward", logits, target, reduction)
    return _C.cross_entropy_forward(_c(logits), _c(target), reduction)


def cross_entropy_backward(grad_output, logits, target, reduction="mean"):
    """grad_logits (N, C) = w_n·(softmax(logits)_n − onehot(target_n)); grad_output (N,) or 0-d."""
    check_cross_entropy("cross_entropy_backward", logits, target, reduction, grad_output, check_grad=True)
    return _C.cross_entropy_backward(_c(grad_output), _c(logits), _c(target), reduction)
