"""Reference dropout in vectorised uint64 NumPy, and the counter-based mask every implementation draws.

y = x · mask / (1 − p) with mask[i] = 1 when element i (C order) is kept. The mask is a pure
function of (seed, flat element index), so this reference, the C++ kernel and the CUDA kernel give
the same mask for the same seed whatever their thread or block layout:

    key  = mix64(seed ^ 0x5DEECE66D)                        (one per call)
    z    = mix64(key + (i + 1) · 0x9E3779B97F4A7C15)        (element i of x in C order; mod 2**64)
    keep = (z >> 32) >= ceil(p · 2**32)                     (P[keep] = 1 − p to within 2**-32)

mix64 is splitmix64's finaliser: z ^= z >> 30; z *= 0xBF58476D1CE4E5B9; z ^= z >> 27;
z *= 0x94D049BB133111EB; z ^= z >> 31 (all mod 2**64).
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ._checks import check_float_array, check_shape

__all__ = ["dropout_forward", "dropout_backward", "dropout_channels_forward", "dropout_channels_backward"]


# ---- the contract, as the oracle checks it (the same messages as the C++ bindings) ----

SEED_SALT = 0x5DEECE66D
GOLDEN = 0x9E3779B97F4A7C15
MIX1 = 0xBF58476D1CE4E5B9
MIX2 = 0x94D049BB133111EB
_MASK64 = (1 << 64) - 1


def mix64(z: int) -> int:
    """splitmix64's finaliser on a Python int (mod 2**64)."""
    z &= _MASK64
    z = ((z ^ (z >> 30)) * MIX1) & _MASK64
    z = ((z ^ (z >> 27)) * MIX2) & _MASK64
    return z ^ (z >> 31)


def keep_threshold(p: float) -> int:
    """Elements whose 32-bit draw is below this are dropped: ceil(p·2**32) (exact in float64)."""
    return int(math.ceil(p * 4294967296.0))


def check_p(fn: str, p) -> float:
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(f"{fn}: p must be a float, got {type(p).__name__} {p!r}")
    p = float(p)
    if not (0.0 <= p < 1.0):
        raise ValueError(f"{fn}: p must be in [0, 1), got {p}")
    return p


def check_dropout_forward(x, p, seed, fn: str = "dropout_forward") -> tuple[float, int]:
    """x: any shape, float; p in [0, 1); seed an int in [0, 2**64). Returns (p, seed)."""
    check_float_array(fn, "x", x)
    p = check_p(fn, p)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{fn}: seed must be an int, got {type(seed).__name__} {seed!r}")
    seed = int(seed)
    if not 0 <= seed <= _MASK64:
        raise ValueError(f"{fn}: seed must be in [0, 2**64), got {seed}")
    return p, seed


def check_dropout_backward(grad_output, mask, p, fn: str = "dropout_backward") -> float:
    """grad_output: any shape, float; mask: uint8 of the same shape; p in [0, 1). Returns p."""
    check_float_array(fn, "grad_output", grad_output)
    if not isinstance(mask, np.ndarray) and not hasattr(mask, "__cuda_array_interface__"):
        raise TypeError(f"{fn}: mask must be a numpy.ndarray, got {type(mask).__name__}")
    if mask.dtype != np.uint8:
        raise TypeError(f"{fn}: mask must be uint8, got {mask.dtype}")
    check_shape(fn, "mask", mask, tuple(grad_output.shape))
    return check_p(fn, p)


# ---- the kernels ----


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


# ---- channel dropout (Dropout1d / Dropout2d / Dropout3d) ----

def _check_channels_input(fn, name, x):
    check_float_array(fn, name, x)
    if x.ndim < 2:
        raise ValueError(f"{fn}: {name} must have at least 2 axes (N, C, ...), got shape {tuple(x.shape)}")


def dropout_channels_forward(x, p, seed):
    """x (N, C, ...). Returns (y, mask): mask uint8 (N, C), the draw of dropout_forward for flat index
    n·C + c; y[n, c, ...] = x[n, c, ...]·mask[n, c]/(1 − p)."""
    fn = "dropout_channels_forward"
    _check_channels_input(fn, "x", x)
    p, seed = check_dropout_forward(x, p, seed, fn)
    mask = _keep_mask(x.shape[:2], p, seed)
    m = mask.reshape(mask.shape + (1,) * (x.ndim - 2))
    with np.errstate(invalid="ignore"):
        return np.asarray(x.astype(np.float64) * m / (1.0 - p)).astype(x.dtype), mask


def dropout_channels_backward(grad_output, mask, p):
    """grad_input = grad_output · mask[n, c] / (1 − p); mask uint8 (N, C)."""
    fn = "dropout_channels_backward"
    _check_channels_input(fn, "grad_output", grad_output)
    if not isinstance(mask, np.ndarray) and not hasattr(mask, "__cuda_array_interface__"):
        raise TypeError(f"{fn}: mask must be a numpy.ndarray, got {type(mask).__name__}")
    if mask.dtype != np.uint8:
        raise TypeError(f"{fn}: mask must be uint8, got {mask.dtype}")
    check_shape(fn, "mask", mask, tuple(grad_output.shape[:2]))
    p = check_p(fn, p)
    m = mask.reshape(mask.shape + (1,) * (grad_output.ndim - 2))
    with np.errstate(invalid="ignore"):
        return np.asarray(grad_output.astype(np.float64) * m / (1.0 - p)).astype(grad_output.dtype)
