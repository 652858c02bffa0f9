"""Reference layer normalisation in float64.

x (..., *normalized_shape) is normalised over its last len(normalized_shape) dimensions, D values
per row (M rows: the product of the leading sizes):
  mean = Σx/D,  var = Σ(x − mean)²/D (biased),  rstd = 1/√(var + eps)
  x̂ = (x − mean)·rstd,  y = x̂·weight + bias   (weight 1, bias 0 when None)
mean and rstd have x's leading shape. Backward, with g = grad_output and gw = g·weight:
  grad_bias = Σ_rows g,  grad_weight = Σ_rows g·x̂,
  grad_input = rstd·(gw − mean_D(gw) − x̂·mean_D(gw·x̂))
"""
from __future__ import annotations

import numbers

import numpy as np

from ._checks import (as_int, check_float_array, check_needs_input_grad, check_same_dtype, check_shape,
                      checked_numel)

__all__ = ["layer_norm_forward", "layer_norm_backward"]


# ---- the contract, as the oracle checks it (the same messages as the C++ bindings) ----

def _normalized_shape(fn: str, value) -> tuple[int, ...]:
    if isinstance(value, (tuple, list)):
        shape = tuple(as_int(fn, "normalized_shape", v) for v in value)
    elif isinstance(value, numbers.Integral) and not isinstance(value, bool):
        shape = (as_int(fn, "normalized_shape", value),)
    else:
        raise TypeError(f"{fn}: normalized_shape must be an int or a sequence of ints, got "
                        f"{type(value).__name__} {value!r}")
    if not shape:
        raise ValueError(f"{fn}: normalized_shape must not be empty")
    if any(s < 1 for s in shape):
        raise ValueError(f"{fn}: normalized_shape must hold sizes >= 1, got {shape}")
    return shape


def _check_affine(fn: str, name: str, v, x, shape) -> None:
    if v is None:
        return
    check_float_array(fn, name, v)
    check_same_dtype(fn, "x", x, **{name: v})
    check_shape(fn, name, v, shape)


def _check_eps(fn: str, eps) -> float:
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real):
        raise TypeError(f"{fn}: eps must be a float, got {type(eps).__name__} {eps!r}")
    eps = float(eps)
    if not eps >= 0.0 or eps == float("inf"):
        raise ValueError(f"{fn}: eps must be a finite number >= 0.0, got {eps}")
    return eps


def check_layer_norm_forward(x, normalized_shape, weight, bias, eps, fn: str = "layer_norm_forward"):
    """Returns (normalized_shape as a tuple, eps as a float)."""
    check_float_array(fn, "x", x)
    shape = _normalized_shape(fn, normalized_shape)
    if x.ndim < len(shape) or tuple(x.shape[x.ndim - len(shape):]) != shape:
        want = "(*" + "".join(f", {s}" for s in shape) + ")"
        raise ValueError(f"{fn}: x must have shape {want} ending in normalized_shape {shape}, got {tuple(x.shape)}")
    checked_numel(fn, "x shape", x.shape)
    _check_affine(fn, "weight", weight, x, shape)
    _check_affine(fn, "bias", bias, x, shape)
    return shape, _check_eps(fn, eps)


def check_layer_norm_backward(grad_output, x, mean, rstd, weight, needs_input_grad, fn: str = "layer_norm_backward"):
    """Returns (normalized_shape, needs_input_grad as a tuple)."""
    check_float_array(fn, "grad_output", grad_output)
    check_float_array(fn, "x", x)
    check_same_dtype(fn, "x", x, grad_output=grad_output)
    check_shape(fn, "grad_output", grad_output, tuple(x.shape))
    for name, v in (("mean", mean), ("rstd", rstd)):
        check_float_array(fn, name, v)
        check_same_dtype(fn, "x", x, **{name: v})
        if name == "mean" and (mean.ndim >= x.ndim or tuple(x.shape[:mean.ndim]) != tuple(mean.shape)):
            raise ValueError(f"{fn}: mean must have the shape of x's leading (not normalized) dimensions, a proper "
                             f"prefix of {tuple(x.shape)}, got {tuple(mean.shape)}")
    check_shape(fn, "rstd", rstd, tuple(mean.shape))
    checked_numel(fn, "x shape", x.shape)
    shape = tuple(x.shape[mean.ndim:])
    _check_affine(fn, "weight", weight, x, shape)
    return shape, check_needs_input_grad(fn, needs_input_grad)


# ---- the kernels ----

def _rows(a, k):
    """a (..., *normalized) as (M, D) in float64, and its leading shape."""
    lead, norm = a.shape[:a.ndim - k], a.shape[a.ndim - k:]
    return np.asarray(a, dtype=np.float64).reshape(int(np.prod(lead, dtype=np.int64)), int(np.prod(norm))), lead


def layer_norm_forward(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Layer normalisation over the last len(normalized_shape) dimensions of x.

    x: (..., *normalized_shape) float; weight, bias: normalized_shape or None.
    Returns (y of x's shape, mean, rstd), mean and rstd of x's leading shape.
    """
    shape, eps = check_layer_norm_forward(x, normalized_shape, weight, bias, eps)
    xr, lead = _rows(x, len(shape))
    mean = xr.mean(axis=1) if xr.shape[0] else np.zeros(0)
    var = ((xr - mean[:, None]) ** 2).mean(axis=1) if xr.shape[0] else np.zeros(0)
    rstd = 1.0 / np.sqrt(var + eps)
    y = (xr - mean[:, None]) * rstd[:, None]
    if weight is not None:
        y = y * np.asarray(weight, np.float64).reshape(-1)
    if bias is not None:
        y = y + np.asarray(bias, np.float64).reshape(-1)
    dt = x.dtype
    return y.reshape(x.shape).astype(dt), mean.reshape(lead).astype(dt), rstd.reshape(lead).astype(dt)


def layer_norm_backward(grad_output, x, mean, rstd, weight=None, needs_input_grad=(True, True, True)):
    """Gradients of layer_norm_forward: (grad_input, grad_weight, grad_bias), None where not needed.

    mean and rstd are the forward's; their shape (x's leading shape) says which dimensions were
    normalized. grad_weight and grad_bias have the normalized shape.
    """
    shape, needs = check_layer_norm_backward(grad_output, x, mean, rstd, weight, needs_input_grad)
    k = len(shape)
    g, _ = _rows(grad_output, k)
    xr, _ = _rows(x, k)
    mu = np.asarray(mean, np.float64).reshape(-1, 1)
    rs = np.asarray(rstd, np.float64).reshape(-1, 1)
    xhat = (xr - mu) * rs
    dt = x.dtype
    gi = gw = gb = None
    if needs[0]:
        gwt = g * (np.asarray(weight, np.float64).reshape(-1) if weight is not None else 1.0)
        D = xr.shape[1]
        gi = rs * (gwt - gwt.sum(axis=1, keepdims=True) / D - xhat * (gwt * xhat).sum(axis=1, keepdims=True) / D)
        gi = gi.reshape(x.shape).astype(dt)
    if needs[1]:
        gw = (g * xhat).sum(axis=0).reshape(shape).astype(dt)
    if needs[2]:
        gb = g.sum(axis=0).reshape(shape).astype(dt)
    return gi, gw, gb
