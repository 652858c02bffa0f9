"""Reference optimizer updates: PyTorch's formulas (torch.optim, single-tensor path) in float64.

Each function updates param and its state buffers in place (the maths in float64, the results
written back in the arrays' dtype) and returns them as a tuple (None for absent buffers). Every
array has param's shape; see csrc/include/pyengine/optim.h for the equations.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ._checks import as_bool, as_int, check_float_array, check_same_dtype, check_shape

__all__ = ["sgd_step", "adam_step", "rmsprop_step", "adagrad_step"]


# ---- the contract, as the oracle checks it (the same messages as the C++ bindings) ----

def check_hyper(fn: str, name: str, value, minimum: float | None = None, maximum: float | None = None,
                open_max: bool = False) -> float:
    """A real, finite hyper-parameter in [minimum, maximum] (or [minimum, maximum) with open_max)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{fn}: {name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{fn}: {name} must be finite, got {value}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{fn}: {name} must be >= {minimum}, got {value}")
    if maximum is not None and (value >= maximum if open_max else value > maximum):
        bound = f"< {maximum}" if open_max else f"<= {maximum}"
        raise ValueError(f"{fn}: {name} must be {bound}, got {value}")
    return value


def check_update_arrays(fn: str, param, grad, **buffers) -> None:
    """param, grad and the state buffers (None allowed) agree in dtype and shape; the written ones
    (param and buffers) are C-contiguous and writeable."""
    check_float_array(fn, "param", param)
    check_float_array(fn, "grad", grad)
    check_same_dtype(fn, "param", param, grad=grad)
    check_shape(fn, "grad", grad, param.shape)
    for name, arr in (("param", param), *buffers.items()):
        if arr is None:
            continue
        check_float_array(fn, name, arr)
        check_same_dtype(fn, "param", param, **{name: arr})
        check_shape(fn, name, arr, param.shape)
        if not arr.flags.c_contiguous:
            raise ValueError(f"{fn}: {name} must be C-contiguous: it is updated in place")
        if not getattr(arr.flags, "writeable", True):  # CuPy arrays are always writeable
            raise ValueError(f"{fn}: {name} is read-only but the update writes into it")


def check_sgd(param, grad, momentum_buffer, lr, momentum, dampening, weight_decay, nesterov, maximize,
              first_step, fn: str = "sgd_step") -> None:
    check_update_arrays(fn, param, grad, momentum_buffer=momentum_buffer)
    check_hyper(fn, "lr", lr, 0.0)
    momentum = check_hyper(fn, "momentum", momentum, 0.0)
    dampening = check_hyper(fn, "dampening", dampening)
    check_hyper(fn, "weight_decay", weight_decay, 0.0)
    for name, flag in (("nesterov", nesterov), ("maximize", maximize), ("first_step", first_step)):
        as_bool(fn, name, flag)
    if momentum != 0 and momentum_buffer is None:
        raise ValueError(f"{fn}: momentum_buffer is required when momentum is {momentum} (not 0)")
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError(f"{fn}: nesterov needs momentum > 0 and dampening 0, got momentum {momentum}, "
                         f"dampening {dampening}")


def check_adam(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2, eps, weight_decay,
               decoupled_weight_decay, maximize, fn: str = "adam_step") -> int:
    if exp_avg is None or exp_avg_sq is None:
        raise ValueError(f"{fn}: exp_avg and exp_avg_sq are required arrays, got None")
    check_update_arrays(fn, param, grad, exp_avg=exp_avg, exp_avg_sq=exp_avg_sq, max_exp_avg_sq=max_exp_avg_sq)
    step = as_int(fn, "step", step, 1)
    check_hyper(fn, "lr", lr, 0.0)
    check_hyper(fn, "beta1", beta1, 0.0, 1.0, open_max=True)
    check_hyper(fn, "beta2", beta2, 0.0, 1.0, open_max=True)
    check_hyper(fn, "eps", eps, 0.0)
    check_hyper(fn, "weight_decay", weight_decay, 0.0)
    as_bool(fn, "decoupled_weight_decay", decoupled_weight_decay)
    as_bool(fn, "maximize", maximize)
    return step


def check_rmsprop(param, grad, square_avg, momentum_buffer, grad_avg, lr, alpha, eps, weight_decay, momentum,
                  maximize, fn: str = "rmsprop_step") -> None:
    if square_avg is None:
        raise ValueError(f"{fn}: square_avg is a required array, got None")
    check_update_arrays(fn, param, grad, square_avg=square_avg, momentum_buffer=momentum_buffer, grad_avg=grad_avg)
    check_hyper(fn, "lr", lr, 0.0)
    check_hyper(fn, "alpha", alpha, 0.0, 1.0)
    check_hyper(fn, "eps", eps, 0.0)
    check_hyper(fn, "weight_decay", weight_decay, 0.0)
    momentum = check_hyper(fn, "momentum", momentum, 0.0)
    as_bool(fn, "maximize", maximize)
    if momentum > 0 and momentum_buffer is None:
        raise ValueError(f"{fn}: momentum_buffer is required when momentum is {momentum} (> 0)")


def check_adagrad(param, grad, state_sum, step, lr, lr_decay, weight_decay, eps, maximize,
                  fn: str = "adagrad_step") -> int:
    if state_sum is None:
        raise ValueError(f"{fn}: state_sum is a required array, got None")
    check_update_arrays(fn, param, grad, state_sum=state_sum)
    step = as_int(fn, "step", step, 1)
    check_hyper(fn, "lr", lr, 0.0)
    check_hyper(fn, "lr_decay", lr_decay, 0.0)
    check_hyper(fn, "weight_decay", weight_decay, 0.0)
    check_hyper(fn, "eps", eps, 0.0)
    as_bool(fn, "maximize", maximize)
    return step


# ---- the kernels ----


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
