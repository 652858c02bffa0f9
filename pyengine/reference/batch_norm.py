"""Reference batch normalisation in float64.

Per channel c over the M = N·H·W values of x (N, C) or (N, C, H, W):
  training: mean = Σx/M, var = Σ(x − mean)²/M (biased, to normalise);
            running_mean ← (1 − momentum)·running_mean + momentum·mean,
            running_var  ← (1 − momentum)·running_var  + momentum·var·M/(M − 1)   (unbiased), in place
  eval:     mean = running_mean, var = running_var
  invstd = 1/√(var + eps);  y = (x − mean)·invstd·weight + bias   (weight 1, bias 0 when None)
An empty batch (M = 0) gives an empty y, save_mean = save_invstd = 0, and leaves the running stats alone.
"""
from __future__ import annotations

import numbers

import numpy as np

from ._checks import (as_bool, check_float_array, check_needs_input_grad, check_same_dtype, check_shape,
                      checked_numel)

__all__ = ["batch_norm_forward", "batch_norm_backward"]


# ---- the contract, as the oracle checks it (the same messages as the C++ bindings) ----

def _check_real(fn: str, name: str, value, minimum: float) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{fn}: {name} must be a float, got {type(value).__name__} {value!r}")
    value = float(value)
    if not value >= minimum or value == float("inf"):
        raise ValueError(f"{fn}: {name} must be a finite number >= {minimum}, got {value}")
    return value


def _channels(fn: str, x) -> tuple[int, int]:
    """(C, M): channels and values per channel."""
    check_float_array(fn, "x", x, (2, 4))
    checked_numel(fn, "x shape", x.shape)
    c = int(x.shape[1])
    return c, (int(x.size) // c if c else 0)


def _check_vector(fn: str, name: str, v, x, c: int) -> None:
    if v is None:
        return
    check_float_array(fn, name, v, 1)
    check_same_dtype(fn, "x", x, **{name: v})
    if v.shape[0] != c:
        raise ValueError(f"{fn}: {name} expects {v.shape[0]} channels, x has {c}")


def check_batch_norm_forward(x, weight, bias, running_mean, running_var, training, momentum, eps,
                             fn: str = "batch_norm_forward") -> tuple[int, int, bool, float, float]:
    """Returns (C, M, training, momentum, eps). weight, bias, running_mean, running_var: (C,) or None."""
    c, m = _channels(fn, x)
    for name, v in (("weight", weight), ("bias", bias), ("running_mean", running_mean), ("running_var", running_var)):
        _check_vector(fn, name, v, x, c)
    training = as_bool(fn, "training", training)
    momentum = _check_real(fn, "momentum", momentum, 0.0)
    eps = _check_real(fn, "eps", eps, 0.0)
    if (running_mean is None) != (running_var is None):
        raise ValueError(f"{fn}: running_mean and running_var must both be arrays or both be None")
    for name, v in (("running_mean", running_mean), ("running_var", running_var)):
        if v is not None and not getattr(v.flags, "writeable", True):  # CuPy arrays are always writeable
            raise ValueError(f"{fn}: {name} is read-only but is updated in place")
    if training and m == 1:
        raise ValueError(f"{fn}: training needs more than 1 value per channel, got x of shape {tuple(x.shape)}")
    if not training and running_mean is None:
        raise ValueError(f"{fn}: running_mean and running_var are required when training is False")
    return c, m, training, momentum, eps


def check_batch_norm_backward(grad_output, x, weight, save_mean, save_invstd, training, needs_input_grad,
                              fn: str = "batch_norm_backward") -> tuple[int, int, bool, tuple[bool, bool, bool]]:
    """Returns (C, M, training, needs_input_grad as three bools). grad_output has x's shape."""
    c, m = _channels(fn, x)
    check_float_array(fn, "grad_output", grad_output)
    check_same_dtype(fn, "x", x, grad_output=grad_output)
    check_shape(fn, "grad_output", grad_output, tuple(x.shape))
    _check_vector(fn, "weight", weight, x, c)
    for name, v in (("save_mean", save_mean), ("save_invstd", save_invstd)):
        if v is None:
            raise TypeError(f"{fn}: {name} must be a numpy.ndarray, got NoneType")
        _check_vector(fn, name, v, x, c)
    training = as_bool(fn, "training", training)
    needs = check_needs_input_grad(fn, needs_input_grad, 3)
    return c, m, training, needs


# ---- the kernels ----


def _per_channel(v, x):
    """A (C,) vector shaped to broadcast against x."""
    return v.reshape((1, -1) + (1,) * (x.ndim - 2))


def _axes(x):
    return (0,) if x.ndim == 2 else (0, 2, 3)


def batch_norm_forward(x, weight, bias, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    """x (N, C) or (N, C, H, W); weight, bias, running_mean, running_var (C,) or None.

    Returns (y of x's shape, save_mean (C,), save_invstd (C,)); the statistics used to normalise
    (batch ones in training, running ones in eval), which batch_norm_backward takes.
    """
    c, m, training, momentum, eps = check_batch_norm_forward(x, weight, bias, running_mean, running_var,
                                                             training, momentum, eps)
    xd = x.astype(np.float64)
    if training:
        if m == 0:
            mean, invstd = np.zeros(c), np.zeros(c)
        else:
            mean = xd.mean(axis=_axes(x))
            var = ((xd - _per_channel(mean, x)) ** 2).mean(axis=_axes(x))
            invstd = 1.0 / np.sqrt(var + eps)
            if running_mean is not None:
                running_mean[...] = (1 - momentum) * running_mean.astype(np.float64) + momentum * mean
                running_var[...] = (1 - momentum) * running_var.astype(np.float64) + momentum * var * m / (m - 1)
    else:
        mean = running_mean.astype(np.float64)
        invstd = 1.0 / np.sqrt(running_var.astype(np.float64) + eps)
    w = np.ones(c) if weight is None else weight.astype(np.float64)
    b = np.zeros(c) if bias is None else bias.astype(np.float64)
    y = (xd - _per_channel(mean, x)) * _per_channel(invstd * w, x) + _per_channel(b, x)
    return y.astype(x.dtype), mean.astype(x.dtype), invstd.astype(x.dtype)


def batch_norm_backward(grad_output, x, weight, save_mean, save_invstd, training=True,
                        needs_input_grad=(True, True, True)):
    """Gradients of batch_norm_forward w.r.t. (x, weight, bias); None where needs_input_grad is False.

    grad_output, x: (N, C) or (N, C, H, W); weight (C,) or None; save_mean, save_invstd (C,) from the
    forward. With x̂ = (x − mean)·invstd, per channel over M values:
      grad_bias = Σg,  grad_weight = Σg·x̂,
      grad_input = weight·invstd·(g − grad_bias/M − x̂·grad_weight/M)   (training: batch statistics)
      grad_input = weight·invstd·g                                       (eval: constant statistics)
    """
    c, m, training, needs = check_batch_norm_backward(grad_output, x, weight, save_mean, save_invstd, training,
                                                      needs_input_grad)
    g = grad_output.astype(np.float64)
    invstd = save_invstd.astype(np.float64)
    xhat = (x.astype(np.float64) - _per_channel(save_mean.astype(np.float64), x)) * _per_channel(invstd, x)
    sum_g = g.sum(axis=_axes(x))
    sum_gx = (g * xhat).sum(axis=_axes(x))
    w = np.ones(c) if weight is None else weight.astype(np.float64)
    grad_input = grad_weight = grad_bias = None
    if needs[0]:
        if training and m > 0:
            centred = g - _per_channel(sum_g / m, x) - xhat * _per_channel(sum_gx / m, x)
        else:
            centred = g
        grad_input = (centred * _per_channel(w * invstd, x)).astype(x.dtype)
    if needs[1]:
        grad_weight = sum_gx.astype(x.dtype)
    if needs[2]:
        grad_bias = sum_g.astype(x.dtype)
    return grad_input, grad_weight, grad_bias
