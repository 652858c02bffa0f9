"""Reference optimizer updates: PyTorch's formulas (torch.optim, single-tensor path) in float64.

Each function updates param and its state buffers in place (the maths in float64, the results
written back in the arrays' dtype) and returns them as a tuple (None for absent buffers). Every
array has param's shape; see csrc/include/pyengine/optim.h for the equations.
"""
from __future__ import annotations

import math

import numpy as np

from ..kernels._contract.optim import check_adagrad, check_adam, check_rmsprop, check_sgd

__all__ = ["sgd_step", "adam_step", "rmsprop_step", "adagrad_step"]


def _f64(a):
    return None if a is None else np.asarray(a, dtype=np.float64)


def _grad(grad, param, maximize, weight_decay):
    g = -_f64(grad) if maximize else _f64(grad)
    return g + weight_decay * _f64(param) if weight_decay != 0 else g


def sgd_step(param, grad, momentum_buffer=None, *, lr, momentum=0.0, dampening=0.0, weight_decay=0.0,
             nesterov=False, maximize=False, first_step=False):
    """SGD with momentum (PyTorch's "sgdm"), in place.

    param, grad, momentum_buffer: same shape. buf ← g on the first step, else momentum·buf +
    (1 − dampening)·g; p ← p − lr·(nesterov ? g + momentum·buf : buf). Returns (param, momentum_buffer).
    """
    check_sgd(param, grad, momentum_buffer, lr, momentum, dampening, weight_decay, nesterov, maximize, first_step)
    g = _grad(grad, param, maximize, weight_decay)
    d = g
    if momentum != 0:
        buf = g.copy() if first_step else momentum * _f64(momentum_buffer) + (1 - dampening) * g
        momentum_buffer[...] = buf
        d = g + momentum * buf if nesterov else buf
    param[...] = _f64(param) - lr * d
    return param, momentum_buffer


def adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq=None, *, step, lr=1e-3, beta1=0.9, beta2=0.999,
              eps=1e-8, weight_decay=0.0, decoupled_weight_decay=False, maximize=False):
    """Adam (AdamW with decoupled_weight_decay; AMSGrad when max_exp_avg_sq is given), in place.

    param, grad, exp_avg (m), exp_avg_sq (v), max_exp_avg_sq: same shape; step ≥ 1 counts this
    update. Returns (param, exp_avg, exp_avg_sq, max_exp_avg_sq).
    """
    step = check_adam(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2, eps, weight_decay,
                      decoupled_weight_decay, maximize)
    p = _f64(param)
    if decoupled_weight_decay:
        p = p * (1 - lr * weight_decay)
        g = _grad(grad, p, maximize, 0.0)
    else:
        g = _grad(grad, p, maximize, weight_decay)
    m = _f64(exp_avg) + (1 - beta1) * (g - _f64(exp_avg))
    v = beta2 * _f64(exp_avg_sq) + (1 - beta2) * g * g
    exp_avg[...] = m
    exp_avg_sq[...] = v
    if max_exp_avg_sq is not None:
        v = np.maximum(_f64(max_exp_avg_sq), v)
        max_exp_avg_sq[...] = v
    bias_correction1 = 1 - beta1 ** step
    bias_correction2 = 1 - beta2 ** step
    denom = np.sqrt(v) / math.sqrt(bias_correction2) + eps
    param[...] = p - (lr / bias_correction1) * m / denom
    return param, exp_avg, exp_avg_sq, max_exp_avg_sq


def rmsprop_step(param, grad, square_avg, momentum_buffer=None, grad_avg=None, *, lr=1e-2, alpha=0.99, eps=1e-8,
                 weight_decay=0.0, momentum=0.0, maximize=False):
    """RMSprop (centered when grad_avg is given; with momentum when momentum > 0), in place.

    param, grad, square_avg, momentum_buffer, grad_avg: same shape.
    Returns (param, square_avg, momentum_buffer, grad_avg).
    """
    check_rmsprop(param, grad, square_avg, momentum_buffer, grad_avg, lr, alpha, eps, weight_decay, momentum,
                  maximize)
    g = _grad(grad, param, maximize, weight_decay)
    v = alpha * _f64(square_avg) + (1 - alpha) * g * g
    square_avg[...] = v
    if grad_avg is not None:
        ga = _f64(grad_avg) + (1 - alpha) * (g - _f64(grad_avg))
        grad_avg[...] = ga
        avg = np.sqrt(v - ga * ga) + eps
    else:
        avg = np.sqrt(v) + eps
    if momentum > 0:
        buf = momentum * _f64(momentum_buffer) + g / avg
        momentum_buffer[...] = buf
        param[...] = _f64(param) - lr * buf
    else:
        param[...] = _f64(param) - lr * g / avg
    return param, square_avg, momentum_buffer, grad_avg


def adagrad_step(param, grad, state_sum, *, step, lr=1e-2, lr_decay=0.0, weight_decay=0.0, eps=1e-10,
                 maximize=False):
    """Adagrad, in place: s ← s + g²; p ← p − lr/(1 + (step − 1)·lr_decay) · g/(√s + eps).

    param, grad, state_sum: same shape; step ≥ 1 counts this update. Returns (param, state_sum).
    """
    step = check_adagrad(param, grad, state_sum, step, lr, lr_decay, weight_decay, eps, maximize)
    g = _grad(grad, param, maximize, weight_decay)
    s = _f64(state_sum) + g * g
    state_sum[...] = s
    clr = lr / (1 + (step - 1) * lr_decay)
    param[...] = _f64(param) - clr * g / (np.sqrt(s) + eps)
    return param, state_sum
