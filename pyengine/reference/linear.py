"""Reference linear kernels: y = x·weightᵀ + bias over the last axis, maths in float64."""
from __future__ import annotations

import numpy as np

from ._checks import check_float_array, check_needs_input_grad, check_same_dtype, check_shape, checked_numel

__all__ = ["linear_forward", "linear_backward"]


# ---- the contract, as the oracle checks it (the same messages as the C++ bindings) ----

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


def check_linear_backward(fn: str, grad_output, x, weight, needs_input_grad) -> tuple[int, int, tuple]:
    """Returns (I, O, needs) after checking grad_output (*, O) against x (*, I) and weight (O, I)."""
    in_features, out_features = check_linear(fn, x, weight)
    check_float_array(fn, "grad_output", grad_output)
    check_same_dtype(fn, "x", x, grad_output=grad_output)
    check_shape(fn, "grad_output", grad_output, tuple(x.shape[:-1]) + (out_features,))
    needs = check_needs_input_grad(fn, needs_input_grad, 3)
    return in_features, out_features, needs


# ---- the kernels ----


def linear_forward(x, weight, bias=None):
    """x (*, I), weight (O, I), bias (O,) or None → y (*, O) = x·weightᵀ + bias."""
    check_linear("linear_forward", x, weight, bias)
    y = x.astype(np.float64) @ weight.astype(np.float64).T
    if bias is not None:
        y = y + bias.astype(np.float64)
    return y.astype(x.dtype)


def linear_backward(grad_output, x, weight, needs_input_grad=(True, True, True)):
    """grad_output (*, O), x (*, I), weight (O, I) → (grad_input (*, I), grad_weight (O, I), grad_bias (O,)).

    grad_input = grad_output·weight, grad_weight = Σ grad_outputᵀ·x, grad_bias = Σ grad_output over
    every leading axis; an entry is None where needs_input_grad says it is not needed.
    """
    in_features, out_features, needs = check_linear_backward("linear_backward", grad_output, x, weight,
                                                             needs_input_grad)
    g = grad_output.astype(np.float64).reshape(-1, out_features)
    x2 = x.astype(np.float64).reshape(-1, in_features)
    grad_input = (g @ weight.astype(np.float64)).reshape(x.shape).astype(x.dtype) if needs[0] else None
    grad_weight = (g.T @ x2).astype(x.dtype) if needs[1] else None
    grad_bias = g.sum(axis=0).astype(x.dtype) if needs[2] else None
    return grad_input, grad_weight, grad_bias
