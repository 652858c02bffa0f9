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

import numpy as np

from ..kernels._contract.batch_norm import check_batch_norm_backward, check_batch_norm_forward

__all__ = ["batch_norm_forward", "batch_norm_backward"]


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
