"""CUDA activations: one grid-stride elementwise kernel each way (csrc/cuda/elementwise.cu).

Any shape; outputs are new CuPy arrays of x's shape and dtype.
"""
from __future__ import annotations

from .._contract.activation import as_real, check_unary, check_unary_backward
from . import _ext

__all__ = ["relu_forward", "relu_backward", "leaky_relu_forward", "leaky_relu_backward", "elu_forward",
           "elu_backward", "sigmoid_forward", "sigmoid_backward", "tanh_forward", "tanh_backward"]

_RELU, _LEAKY, _ELU, _SIGMOID, _TANH = range(5)


def _forward(fn, code, x, param=0.0):
    x = _ext.to_device(fn, "x", x)
    check_unary(fn, x)
    with _ext.on_device(_ext.device_of(fn, x=x)):
        x = _ext.contiguous(x)
        y = _ext.empty(x.shape, x.dtype)
        _ext.lib().activation_forward(code, x, y, param, _ext.stream())
    return y


def _backward(fn, code, grad_output, saved, saved_name, param=0.0):
    grad_output = _ext.to_device(fn, "grad_output", grad_output)
    saved = _ext.to_device(fn, saved_name, saved)
    check_unary_backward(fn, grad_output, saved, saved_name)
    with _ext.on_device(_ext.device_of(fn, grad_output=grad_output, **{saved_name: saved})):
        g, s = _ext.contiguous(grad_output), _ext.contiguous(saved)
        dx = _ext.empty(g.shape, g.dtype)
        _ext.lib().activation_backward(code, g, s, dx, param, _ext.stream())
    return dx


def relu_forward(x):
    """max(x, 0) element-wise. x: any shape."""
    return _forward("relu_forward", _RELU, x)


def relu_backward(grad_output, x):
    """grad_output·[x > 0]. grad_output, x: the same shape."""
    return _backward("relu_backward", _RELU, grad_output, x, "x")


def leaky_relu_forward(x, negative_slope=0.01):
    """x where x > 0, negative_slope·x elsewhere. x: any shape."""
    s = as_real("leaky_relu_forward", "negative_slope", negative_slope)
    return _forward("leaky_relu_forward", _LEAKY, x, s)


def leaky_relu_backward(grad_output, x, negative_slope=0.01):
    """grad_output where x > 0, negative_slope·grad_output elsewhere."""
    s = as_real("leaky_relu_backward", "negative_slope", negative_slope)
    return _backward("leaky_relu_backward", _LEAKY, grad_output, x, "x", s)


def elu_forward(x, alpha=1.0):
    """x where x > 0, alpha·(exp(x) − 1) elsewhere. x: any shape."""
    a = as_real("elu_forward", "alpha", alpha)
    return _forward("elu_forward", _ELU, x, a)


def elu_backward(grad_output, x, alpha=1.0):
    """grad_output where x > 0, alpha·exp(x)·grad_output elsewhere."""
    a = as_real("elu_backward", "alpha", alpha)
    return _backward("elu_backward", _ELU, grad_output, x, "x", a)


def sigmoid_forward(x):
    """1 / (1 + exp(−x)). x: any shape."""
    return _forward("sigmoid_forward", _SIGMOID, x)


def sigmoid_backward(grad_output, output):
    """grad_output·y·(1 − y) with y = sigmoid_forward(x) (the OUTPUT)."""
    return _backward("sigmoid_backward", _SIGMOID, grad_output, output, "output")


def tanh_forward(x):
    """tanh(x) element-wise. x: any shape."""
    return _forward("tanh_forward", _TANH, x)


def tanh_backward(grad_output, output):
    """grad_output·(1 − y²) with y = tanh_forward(x) (the OUTPUT)."""
    return _backward("tanh_backward", _TANH, grad_output, output, "output")
