"""CPU activations: the vectorised C++ kernels of csrc/cpu (see csrc/include/pyengine/activation.h).

Any shape; outputs are new arrays of x's shape and dtype. Views are copied to C order first.
"""
from __future__ import annotations

import numpy as np

from .._contract.activation import as_real, check_unary, check_unary_backward
from ._ext import _C

__all__ = ["relu_forward", "relu_backward", "leaky_relu_forward", "leaky_relu_backward", "elu_forward",
           "elu_backward", "sigmoid_forward", "sigmoid_backward", "tanh_forward", "tanh_backward"]


def _c(a):
    # np.ascontiguousarray would turn a 0-d array into shape (1,)
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def relu_forward(x):
    """max(x, 0) element-wise. x: any shape."""
    check_unary("relu_forward", x)
    return _C.relu_forward(_c(x))


def relu_backward(grad_output, x):
    """grad_output·[x > 0]. grad_output, x: the same shape."""
    check_unary_backward("relu_backward", grad_output, x, "x")
    return _C.relu_backward(_c(grad_output), _c(x))


def leaky_relu_forward(x, negative_slope=0.01):
    """x where x > 0, negative_slope·x elsewhere. x: any shape."""
    s = as_real("leaky_relu_forward", "negative_slope", negative_slope)
    check_unary("leaky_relu_forward", x)
    return _C.leaky_relu_forward(_c(x), s)


def leaky_relu_backward(grad_output, x, negative_slope=0.01):
    """grad_output where x > 0, negative_slope·grad_output elsewhere."""
    s = as_real("leaky_relu_backward", "negative_slope", negative_slope)
    check_unary_backward("leaky_relu_backward", grad_output, x, "x")
    return _C.leaky_relu_backward(_c(grad_output), _c(x), s)


def elu_forward(x, alpha=1.0):
    """x where x > 0, alpha·(exp(x) − 1) elsewhere. x: any shape."""
    a = as_real("elu_forward", "alpha", alpha)
    check_unary("elu_forward", x)
    return _C.elu_forward(_c(x), a)


def elu_backward(grad_output, x, alpha=1.0):
    """grad_output where x > 0, alpha·exp(x)·grad_output elsewhere."""
    a = as_real("elu_backward", "alpha", alpha)
    check_unary_backward("elu_backward", grad_output, x, "x")
    return _C.elu_backward(_c(grad_output), _c(x), a)


def sigmoid_forward(x):
    """1 / (1 + exp(−x)), stable for any |x|. x: any shape."""
    check_unary("sigmoid_forward", x)
    return _C.sigmoid_forward(_c(x))


def sigmoid_backward(grad_output, output):
    """grad_output·y·(1 − y) with y = sigmoid_forward(x) (the OUTPUT)."""
    check_unary_backward("sigmoid_backward", grad_output, output, "output")
    return _C.sigmoid_backward(_c(grad_output), _c(output))


def tanh_forward(x):
    """tanh(x) element-wise. x: any shape."""
    check_unary("tanh_forward", x)
    return _C.tanh_forward(_c(x))


def tanh_backward(grad_output, output):
    """grad_output·(1 − y²) with y = tanh_forward(x) (the OUTPUT)."""
    check_unary_backward("tanh_backward", grad_output, output, "output")
    return _C.tanh_backward(_c(grad_output), _c(output))
