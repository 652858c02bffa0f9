"""Reference linear kernels: y = x·weightᵀ + bias over the last axis, maths in float64."""
from __future__ import annotations

import numpy as np

from ..kernels._contract.linear import check_linear, check_linear_backward

__all__ = ["linear_forward", "linear_backward"]


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
