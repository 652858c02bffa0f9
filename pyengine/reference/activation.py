"""Reference element-wise activations in float64, forward and backward.

Any shape; the output has x's shape and dtype. Branches follow PyTorch (NaN propagates, the
derivative at the kink x = 0 is the left one):

    relu        y = x (x > 0), 0 (x < 0)             dx = g·[x > 0]
    leaky_relu  y = x (x > 0), s·x                   dx = g (x > 0), s·g
    elu         y = x (x > 0), α·(eˣ − 1)            dx = g (x > 0), α·eˣ·g
    sigmoid     y = 1 / (1 + e⁻ˣ)                    dx = g·y·(1 − y)   (from the output)
    tanh        y = tanh x                           dx = g·(1 − y²)    (from the output)
"""
from __future__ import annotations

import numpy as np

from ._checks import as_real, check_float_array, check_same_dtype

__all__ = ["relu_forward", "relu_backward", "leaky_relu_forward", "leaky_relu_backward", "elu_forward",
           "elu_backward", "sigmoid_forward", "sigmoid_backward", "tanh_forward", "tanh_backward"]


# ---- the contract, as the oracle checks it (the same messages as the C++ bindings) ----

def check_unary(fn: str, x) -> None:
    check_float_array(fn, "x", x)


def check_unary_backward(fn: str, grad_output, ref, ref_name: str) -> None:
    """grad_output must match ref (x or output) in dtype and shape."""
    check_float_array(fn, ref_name, ref)
    check_float_array(fn, "grad_output", grad_output)
    check_same_dtype(fn, ref_name, ref, grad_output=grad_output)
    if tuple(grad_output.shape) != tuple(ref.shape):
        raise ValueError(f"{fn}: grad_output must have the shape of {ref_name} {tuple(ref.shape)}, "
                         f"got {tuple(grad_output.shape)}")


# ---- the kernels ----


def _f64(a):
    return np.asarray(a, dtype=np.float64)


def relu_forward(x):
    """max(x, 0) element-wise. x: any shape."""
    check_unary("relu_forward", x)
    v = _f64(x)
    return np.where(v < 0, 0.0, v).astype(x.dtype)


def relu_backward(grad_output, x):
    """grad_output·[x > 0]. grad_output, x: the same shape."""
    check_unary_backward("relu_backward", grad_output, x, "x")
    return np.where(_f64(x) <= 0, 0.0, _f64(grad_output)).astype(x.dtype)


def leaky_relu_forward(x, negative_slope=0.01):
    """x where x > 0, negative_slope·x elsewhere. x: any shape."""
    s = as_real("leaky_relu_forward", "negative_slope", negative_slope)
    check_unary("leaky_relu_forward", x)
    v = _f64(x)
    return np.where(v > 0, v, s * v).astype(x.dtype)


def leaky_relu_backward(grad_output, x, negative_slope=0.01):
    """grad_output where x > 0, negative_slope·grad_output elsewhere."""
    s = as_real("leaky_relu_backward", "negative_slope", negative_slope)
    check_unary_backward("leaky_relu_backward", grad_output, x, "x")
    g = _f64(grad_output)
    return np.where(_f64(x) > 0, g, s * g).astype(x.dtype)


def elu_forward(x, alpha=1.0):
    """x where x > 0, alpha·(exp(x) − 1) elsewhere (expm1: exact near 0). x: any shape."""
    a = as_real("elu_forward", "alpha", alpha)
    check_unary("elu_forward", x)
    v = _f64(x)
    return np.where(v > 0, v, a * np.expm1(np.minimum(v, 0.0))).astype(x.dtype)


def elu_backward(grad_output, x, alpha=1.0):
    """grad_output where x > 0, alpha·exp(x)·grad_output elsewhere."""
    a = as_real("elu_backward", "alpha", alpha)
    check_unary_backward("elu_backward", grad_output, x, "x")
    v, g = _f64(x), _f64(grad_output)
    return np.where(v > 0, g, a * np.exp(np.minimum(v, 0.0)) * g).astype(x.dtype)


def sigmoid_forward(x):
    """1 / (1 + exp(−x)), from e = exp(−|x|) so that nothing overflows: 1/(1+e) for x ≥ 0, e/(1+e) below."""
    check_unary("sigmoid_forward", x)
    v = _f64(x)
    e = np.exp(-np.abs(v))
    return np.where(v >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype)


def sigmoid_backward(grad_output, output):
    """grad_output·y·(1 − y) with y = sigmoid_forward(x) (the OUTPUT)."""
    check_unary_backward("sigmoid_backward", grad_output, output, "output")
    y = _f64(output)
    return np.asarray(_f64(grad_output) * y * (1.0 - y), dtype=output.dtype)  # 0-d stays an array


def tanh_forward(x):
    """tanh(x) element-wise. x: any shape."""
    check_unary("tanh_forward", x)
    return np.asarray(np.tanh(_f64(x)), dtype=x.dtype)  # 0-d stays an array


def tanh_backward(grad_output, output):
    """grad_output·(1 − y²) with y = tanh_forward(x) (the OUTPUT)."""
    check_unary_backward("tanh_backward", grad_output, output, "output")
    y = _f64(output)
    return np.asarray(_f64(grad_output) * (1.0 - y * y), dtype=output.dtype)  # 0-d stays an array
