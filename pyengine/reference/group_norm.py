"""Reference group normalisation in float64 (instance normalisation is num_groups = C).

x (N, C, *S) is viewed as (N, G, (C/G)·S): each group of C/G channels of one sample, with all of S,
is normalised on its own:
  mean = Σx/M,  var = Σ(x − mean)²/M (biased),  rstd = 1/√(var + eps),  M = (C/G)·|S|
  x̂ = (x − mean)·rstd,  y = x̂·weight_c + bias_c   (weight 1, bias 0 when None)
mean and rstd are (N, G). Backward, with g = grad_output, gw = g·weight_c and means over each group:
  grad_bias_c = Σ_{n,S} g,  grad_weight_c = Σ_{n,S} g·x̂,
  grad_input = rstd·(gw − mean(gw) − x̂·mean(gw·x̂))
A group with no elements (an empty S) has mean 0 and rstd 1/√eps.
"""
from __future__ import annotations

import numpy as np

from ._checks import as_int, check_float_array, check_needs_input_grad, check_same_dtype, check_shape, checked_numel
from .layer_norm import _check_eps

__all__ = ["group_norm_forward", "group_norm_backward"]


def _dims(fn, x, num_groups):
    G = as_int(fn, "num_groups", num_groups, 1)
    if x.ndim < 2:
        raise ValueError(f"{fn}: x must have shape (N, C, *), got {tuple(x.shape)}")
    checked_numel(fn, "x shape", x.shape)
    C = x.shape[1]
    if C < 1:
        raise ValueError(f"{fn}: x must have at least one channel, got shape {tuple(x.shape)}")
    if C % G:
        raise ValueError(f"{fn}: num_groups ({G}) must divide the number of channels ({C})")
    return x.shape[0], C, G


def _check_affine(fn, name, v, x, C):
    if v is None:
        return
    check_float_array(fn, name, v)
    check_same_dtype(fn, "x", x, **{name: v})
    check_shape(fn, name, v, (C,))


def _check_stat(fn, name, s, x, N, G):
    check_float_array(fn, name, s)
    check_same_dtype(fn, "x", x, **{name: s})
    check_shape(fn, name, s, (N, G))


def _channel(v, C, ndim, fill):
    return (np.full(C, fill) if v is None else np.asarray(v, np.float64)).reshape((1, C) + (1,) * (ndim - 2))


def group_norm_forward(x, num_groups, weight=None, bias=None, eps=1e-5):
    """x (N, C, *) -> (y of x's shape, mean (N, G), rstd (N, G))."""
    fn = "group_norm_forward"
    check_float_array(fn, "x", x)
    N, C, G = _dims(fn, x, num_groups)
    _check_affine(fn, "weight", weight, x, C)
    _check_affine(fn, "bias", bias, x, C)
    eps = _check_eps(fn, eps)
    M = (C // G) * int(np.prod(x.shape[2:], dtype=np.int64))
    xg = np.asarray(x, np.float64).reshape(N, G, M)
    if xg.shape[2]:
        mean = xg.mean(axis=2)
        var = ((xg - mean[..., None]) ** 2).mean(axis=2)
    else:
        mean = var = np.zeros((N, G))
    with np.errstate(divide="ignore"):
        rstd = 1.0 / np.sqrt(var + eps)
    xhat = ((xg - mean[..., None]) * rstd[..., None]).reshape(x.shape)
    y = xhat * _channel(weight, C, x.ndim, 1.0) + _channel(bias, C, x.ndim, 0.0)
    return y.astype(x.dtype), mean.astype(x.dtype), rstd.astype(x.dtype)


def group_norm_backward(grad_output, x, mean, rstd, num_groups, weight=None, needs_input_grad=(True, True, True)):
    """(grad_input, grad_weight, grad_bias) of group_norm_forward; None where needs_input_grad is False."""
    fn = "group_norm_backward"
    check_float_array(fn, "grad_output", grad_output)
    check_float_array(fn, "x", x)
    check_same_dtype(fn, "x", x, grad_output=grad_output)
    check_shape(fn, "grad_output", grad_output, tuple(x.shape))
    N, C, G = _dims(fn, x, num_groups)
    _check_stat(fn, "mean", mean, x, N, G)
    _check_stat(fn, "rstd", rstd, x, N, G)
    _check_affine(fn, "weight", weight, x, C)
    needs = check_needs_input_grad(fn, needs_input_grad, 3)
    g = np.asarray(grad_output, np.float64)
    mu = np.asarray(mean, np.float64)[..., None]
    rs = np.asarray(rstd, np.float64)[..., None]
    M = (C // G) * int(np.prod(x.shape[2:], dtype=np.int64))
    xhat = ((np.asarray(x, np.float64).reshape(N, G, M) - mu) * rs).reshape(x.shape)
    axes = (0,) + tuple(range(2, x.ndim))
    gi = gw = gb = None
    if needs[0]:
        gh = (g * _channel(weight, C, x.ndim, 1.0)).reshape(N, G, M)
        xg = xhat.reshape(N, G, M)
        if gh.shape[2]:
            gi = (rs * (gh - gh.mean(axis=2, keepdims=True) - xg * (gh * xg).mean(axis=2, keepdims=True)))
        else:
            gi = gh
        gi = gi.reshape(x.shape).astype(x.dtype)
    if needs[1]:
        gw = (g * xhat).sum(axis=axes).astype(x.dtype)
    if needs[2]:
        gb = g.sum(axis=axes).astype(x.dtype)
    return gi, gw, gb
