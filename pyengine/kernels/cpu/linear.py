"""CPU linear kernels: one call of the packed GEMM each (see csrc/include/pyengine/linear.h)."""
from __future__ import annotations

import numpy as np

from .._contract.linear import check_linear, check_linear_backward
from ._ext import _C

__all__ = ["linear_forward", "linear_backward"]


def linear_forward(x, weight, bias=None):
    """x (*, I), weight (O, I), bias (O,) or None → y (*, O) = x·weightᵀ + bias."""
    in_features, out_features = check_linear("linear_forward", x, weight, bias)
    x2 = np.ascontiguousarray(x).reshape(-1, in_features)
    bias = None if bias is None else np.ascontiguousarray(bias)
    y = _C.linear_forward(x2, np.ascontiguousarray(weight), bias)
    return y.reshape(tuple(x.shape[:-1]) + (out_features,))


def linear_backward(grad_output, x, weight, needs_input_grad=(True, True, True)):
    """grad_output (*, O), x (*, I), weight (O, I) → (grad_input (*, I), grad_weight (O, I), grad_bias (O,)).

    grad_input = grad_output·weight, grad_weight = grad_outputᵀ·x and grad_bias = Σ grad_output over
    every leading axis; an entry is None where needs_input_grad says it is not needed.
    """
    in_features, out_features, needs = check_linear_backward("linear_backward", grad_output, x, weight,
                                                             needs_input_grad)
    g2 = np.ascontiguousarray(grad_output).reshape(-1, out_features)
    x2 = np.ascontiguousarray(x).reshape(-1, in_features)
    gi, gw, gb = _C.linear_backward(g2, x2, np.ascontiguousarray(weight), *needs)
    if gi is not None:
        gi = gi.reshape(x.shape)
    return gi, gw, gb
