"""Contract of the linear kernels: y = x·weightᵀ + bias over the last axis of x.

Shapes: x (*, I) with at least one axis, weight (O, I), bias (O,) or None, grad_output (*, O).
"""
from __future__ import annotations

import numpy as np

from .common import check_float_array, check_same_dtype, check_shape, checked_numel


def check_linear(fn: str, x, weight, bias=None) -> tuple[int, int]:
    """Returns (I, O) after checking x (*, I), weight (O, I), bias (O,) or None."""
    check_float_array(fn, "x", x)
    if x.ndim < 1:
        raise ValueError(f"{fn}: x must have at least 1 dimension (*, I), got a 0-D array")
    check_float_array(fn, "weight", weight, 2)
    check_same_dtype(fn, "x", x, weight=weight)
    out_features, in_features = weight.shape
    if x.shape[-1] != in_features:
        raise ValueError(f"{fn}: weight expects {in_features} input features, x has {x.shape[-1]}")
    if bias is not None:
        check_float_array(fn, "bias", bias, 1)
        check_same_dtype(fn, "x", x, bias=bias)
        check_shape(fn, "bias", bias, (out_features,))
    checked_numel(fn, "output shape", tuple(x.shape[:-1]) + (out_features,))
    return in_features, out_features


def check_needs_input_grad(fn: str, needs_input_grad, count: int) -> tuple[bool, ...]:
    """A sequence of ``count`` bools."""
    if not isinstance(needs_input_grad, (tuple, list)) or len(needs_input_grad) != count:
        raise ValueError(f"{fn}: needs_input_grad must be a tuple of {count} bools, got {needs_input_grad!r}")
    for v in needs_input_grad:
        if not isinstance(v, (bool, np.bool_)):
            raise TypeError(f"{fn}: needs_input_grad must hold bools, got {type(v).__name__} {v!r}")
    return tuple(bool(v) for v in needs_input_grad)


def check_linear_backward(fn: str, grad_output, x, weight, needs_input_grad) -> tuple[int, int, tuple]:
    """Returns (I, O, needs) after checking grad_output (*, O) against x (*, I) and weight (O, I)."""
    in_features, out_features = check_linear(fn, x, weight)
    check_float_array(fn, "grad_output", grad_output)
    check_same_dtype(fn, "x", x, grad_output=grad_output)
    check_shape(fn, "grad_output", grad_output, tuple(x.shape[:-1]) + (out_features,))
    needs = check_needs_input_grad(fn, needs_input_grad, 3)
    return in_features, out_features, needs
