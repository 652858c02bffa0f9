"""Reference element-wise activations in float64, forward and backward.

Any shape; the output has x's shape and dtype. Branches follow PyTorch (NaN propagates, the
derivative at the kink x = 0 is the left one):

    relu        y = x (x > 0), 0 (x < 0)             dx = g·[x > 0]
    leaky_relu  y = x (x > 0), s·x                   dx = g (x > 0), s·g
    elu         y = x (x > 0), α·(eˣ − 1)            dx = g (x > 0), α·eˣ·g
    sigmoid     y = 1 / (1 + e⁻ˣ)                    dx = g·y·(1 − y)   (from the output)
    tanh        y = tanh x                           dx = g·(1 − y²)    (from the output)

and, each backward from the input x (Φ the normal CDF, φ its density, σ the sigmoid,
sp(x) = log(1 + eˣ)), with PyTorch's choices at the kinks:

    gelu         x·Φ(x) ('none'), ½x(1 + tanh(√(2/π)(x + 0.044715x³))) ('tanh')
    silu         x·σ(x)                               dx = g·σ(x)(1 + x(1 − σ(x)))
    relu6        min(max(x, 0), 6)                    dx = 0 for x ≤ 0 or x ≥ 6, else g
    hardswish    x·relu6(x + 3)/6                     dx = 0 (x ≤ −3), g·(x/3 + ½) (x < 3), g
    hardsigmoid  relu6(x + 3)/6                       dx = g/6 strictly inside (−3, 3)
    softplus     x if βx > threshold else sp(βx)/β    dx = g if βx > threshold else g·σ(βx)
    mish         x·tanh(sp(x))                        dx = g·(t + x(1 − t²)σ(x)), t = tanh(sp(x))
    logsigmoid   −sp(−x)                              dx = g·σ(−x)
"""
from __future__ import annotations

import math

import numpy as np

from ._checks import as_real, check_float_array, check_same_dtype

__all__ = ["relu_forward", "relu_backward", "leaky_relu_forward", "leaky_relu_backward", "elu_forward",
           "elu_backward", "sigmoid_forward", "sigmoid_backward", "tanh_forward", "tanh_backward",
           "gelu_forward", "gelu_backward", "silu_forward", "silu_backward", "relu6_forward", "relu6_backward",
           "hardswish_forward", "hardswish_backward", "hardsigmoid_forward", "hardsigmoid_backward",
           "softplus_forward", "softplus_backward", "mish_forward", "mish_backward", "logsigmoid_forward",
           "logsigmoid_backward"]


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


# ---- gelu .. logsigmoid: backward from x ----

_SQRT_2_OVER_PI, _INV_SQRT_2, _INV_SQRT_2PI, _CUBIC = 0.7978845608028654, 0.7071067811865476, 0.3989422804014327, 0.044715
_erf = np.vectorize(math.erf, otypes=[np.float64])


def _sig(v):
    e = np.exp(-np.abs(v))
    return np.where(v >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _sp(v):
    """log(1 + eˣ) = max(x, 0) + log1p(e^−|x|)."""
    return np.maximum(v, 0.0) + np.log1p(np.exp(-np.abs(v)))


def _unary(fn, x, f):
    check_unary(fn, x)
    with np.errstate(all="ignore"):
        return np.asarray(f(_f64(x)), dtype=x.dtype)


def _from_x(fn, grad_output, x, df):
    check_unary_backward(fn, grad_output, x, "x")
    with np.errstate(all="ignore"):
        return np.asarray(df(_f64(grad_output), _f64(x)), dtype=x.dtype)


def _approximate(fn, approximate) -> bool:
    if not isinstance(approximate, str) or approximate not in ("none", "tanh"):
        raise ValueError(f"{fn}: approximate must be 'none' or 'tanh', got {approximate!r}")
    return approximate == "tanh"


def gelu_forward(x, approximate="none"):
    """x·Φ(x) ('none') or ½x(1 + tanh(√(2/π)(x + 0.044715x³))) ('tanh')."""
    if _approximate("gelu_forward", approximate):
        return _unary("gelu_forward", x, lambda v: 0.5 * v * (1.0 + np.tanh(_SQRT_2_OVER_PI * (v + _CUBIC * v ** 3))))
    return _unary("gelu_forward", x, lambda v: 0.5 * v * (1.0 + _erf(v * _INV_SQRT_2)))


def gelu_backward(grad_output, x, approximate="none"):
    """grad_output·(Φ(x) + x·φ(x)), or the derivative of the tanh form."""
    if _approximate("gelu_backward", approximate):
        def df(g, v):
            t = np.tanh(_SQRT_2_OVER_PI * (v + _CUBIC * v ** 3))
            return g * (0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * _SQRT_2_OVER_PI * (1.0 + 3 * _CUBIC * v * v))
        return _from_x("gelu_backward", grad_output, x, df)
    return _from_x("gelu_backward", grad_output, x,
                   lambda g, v: g * (0.5 * (1.0 + _erf(v * _INV_SQRT_2)) + v * _INV_SQRT_2PI * np.exp(-0.5 * v * v)))


def silu_forward(x):
    """x·σ(x)."""
    return _unary("silu_forward", x, lambda v: v * _sig(v))


def silu_backward(grad_output, x):
    return _from_x("silu_backward", grad_output, x, lambda g, v: g * (_sig(v) * (1.0 + v * (1.0 - _sig(v)))))


def relu6_forward(x):
    """min(max(x, 0), 6); NaN stays NaN."""
    return _unary("relu6_forward", x, lambda v: np.where(v < 0, 0.0, np.where(v > 6, 6.0, v)))


def relu6_backward(grad_output, x):
    """0 where x ≤ 0 or x ≥ 6, else grad_output (torch's hardtanh: a NaN x passes the gradient)."""
    return _from_x("relu6_backward", grad_output, x, lambda g, v: np.where((v <= 0) | (v >= 6), 0.0, g))


def _relu6(v):
    return np.where(v < 0, 0.0, np.where(v > 6, 6.0, v))


def hardswish_forward(x):
    """x·relu6(x + 3)/6."""
    return _unary("hardswish_forward", x, lambda v: v * _relu6(v + 3.0) / 6.0)


def hardswish_backward(grad_output, x):
    """0 for x ≤ −3, grad_output·(x/3 + ½) for x < 3, grad_output beyond (torch's ends)."""
    return _from_x("hardswish_backward", grad_output, x,
                   lambda g, v: np.where(v <= -3.0, 0.0, np.where(v < 3.0, g * (v / 3.0 + 0.5), g)))


def hardsigmoid_forward(x):
    """relu6(x + 3)/6."""
    return _unary("hardsigmoid_forward", x, lambda v: _relu6(v + 3.0) / 6.0)


def hardsigmoid_backward(grad_output, x):
    """grad_output/6 strictly inside (−3, 3), else 0."""
    return _from_x("hardsigmoid_backward", grad_output, x, lambda g, v: np.where((v > -3.0) & (v < 3.0), g / 6.0, 0.0))


def _softplus_params(fn, beta, threshold):
    beta = as_real(fn, "beta", beta)
    if not (beta != 0.0 and math.isfinite(beta)):
        raise ValueError(f"{fn}: beta must be a finite number other than 0, got {beta}")
    return beta, as_real(fn, "threshold", threshold)


def softplus_forward(x, beta=1.0, threshold=20.0):
    """log(1 + exp(beta·x))/beta, x itself where beta·x > threshold."""
    b, t = _softplus_params("softplus_forward", beta, threshold)
    return _unary("softplus_forward", x, lambda v: np.where(v * b > t, v, _sp(v * b) / b))


def softplus_backward(grad_output, x, beta=1.0, threshold=20.0):
    """grad_output·σ(beta·x), grad_output itself where beta·x > threshold."""
    b, t = _softplus_params("softplus_backward", beta, threshold)
    return _from_x("softplus_backward", grad_output, x, lambda g, v: np.where(v * b > t, g, g * _sig(v * b)))


def mish_forward(x):
    """x·tanh(softplus(x))."""
    return _unary("mish_forward", x, lambda v: v * np.tanh(_sp(v)))


def mish_backward(grad_output, x):
    def df(g, v):
        t = np.tanh(_sp(v))
        return g * (t + v * (1.0 - t * t) * _sig(v))
    return _from_x("mish_backward", grad_output, x, df)


def logsigmoid_forward(x):
    """log σ(x) = −softplus(−x)."""
    return _unary("logsigmoid_forward", x, lambda v: -_sp(-v))


def logsigmoid_backward(grad_output, x):
    return _from_x("logsigmoid_backward", grad_output, x, lambda g, v: g * _sig(-v))
