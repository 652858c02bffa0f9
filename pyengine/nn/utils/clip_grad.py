"""Gradient clipping: clip_grad_norm_ (MATLAB's GradientThreshold with 'l2norm') and clip_grad_value_.

Both work in place on ``p.grad`` of pyengine Tensors, as torch.nn.utils does.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _grads(parameters):
    if hasattr(parameters, "_data"):
        parameters = [parameters]
    return [p.grad._data if hasattr(p.grad, "_data") else p.grad for p in parameters if p.grad is not None]


def _xp(a):
    return np if isinstance(a, np.ndarray) else __import__("cupy")


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                    foreach=None) -> float:
    """Scales every gradient by min(1, max_norm / (total_norm + 1e-6)), where total_norm is the
    norm_type-norm of all gradients taken together (inf: the largest absolute value).

    Returns the total norm before clipping (a Python float).
    """
    max_norm = float(max_norm)
    norm_type = float(norm_type)
    if not max_norm > 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be > 0, got {max_norm}")
    grads = _grads(parameters)
    if not grads:
        return 0.0
    if math.isinf(norm_type):
        total = max(float(_xp(g).abs(g).max()) if g.size else 0.0 for g in grads)
    else:
        total = sum(float((_xp(g).abs(g.astype(np.float64)) ** norm_type).sum()) for g in grads) ** (1.0 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is {total}; "
                           "set error_if_nonfinite=False to clip anyway")
    coef = max_norm / (total + 1e-6)
    if coef < 1.0:
        for g in grads:
            g *= g.dtype.type(coef)
    return total


def clip_grad_value_(parameters, clip_value: float, foreach=None) -> None:
    """Clamps every gradient element to [-clip_value, clip_value] in place."""
    clip_value = float(clip_value)
    if clip_value < 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value}")
    for g in _grads(parameters):
        _xp(g).clip(g, -clip_value, clip_value, out=g)
