"""Reference dropout: the counter-based mask of kernels/_contract/dropout.py in vectorised uint64 NumPy.

y = x · mask / (1 − p) with mask[i] = 1 when element i (C order) is kept; the mask depends only on
(seed, i), so every implementation draws the same one.
"""
from __future__ import annotations

import numpy as np

from ..kernels._contract.dropout import (GOLDEN, MIX1, MIX2, SEED_SALT, check_dropout_backward,
                                         check_dropout_forward, keep_threshold, mix64)

__all__ = ["dropout_forward", "dropout_backward"]


def _mix64(z: np.ndarray) -> np.ndarray:
    z = (z ^ (z >> np.uint64(30))) * np.uint64(MIX1)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(MIX2)
    return z ^ (z >> np.uint64(31))


def _keep_mask(shape, p: float, seed: int) -> np.ndarray:
    key = np.uint64(mix64(seed ^ SEED_SALT))
    counter = np.arange(1, int(np.prod(shape, dtype=np.int64)) + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = _mix64(key + counter * np.uint64(GOLDEN))
    return ((z >> np.uint64(32)) >= np.uint64(keep_threshold(p))).astype(np.uint8).reshape(shape)


def dropout_forward(x, p, seed):
    """x: any shape. Returns (y, mask): mask uint8 of x's shape (1 = kept), y = x·mask/(1 − p)."""
    p, seed = check_dropout_forward(x, p, seed)
    mask = _keep_mask(x.shape, p, seed)
    with np.errstate(invalid="ignore"):  # a dropped inf or NaN gives NaN, as x·0 does in torch
        return np.asarray(x.astype(np.float64) * mask / (1.0 - p)).astype(x.dtype), mask


def dropout_backward(grad_output, mask, p):
    """grad_input = grad_output · mask / (1 − p); grad_output and mask (uint8) of one shape."""
    p = check_dropout_backward(grad_output, mask, p)
    with np.errstate(invalid="ignore"):
        return np.asarray(grad_output.astype(np.float64) * mask / (1.0 - p)).astype(grad_output.dtype)
