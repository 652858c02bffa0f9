"""Contract of the fused optimizer updates (sgd_step, adam_step, rmsprop_step, adagrad_step).

The updates are in place: param and every state buffer must be writeable, C-contiguous arrays of
param's dtype and shape (a copy would silently drop the update); grad may be any float array of
that shape and dtype. Hyper-parameters are finite numbers in their documented ranges.
"""
from __future__ import annotations

import math
import numbers

from .common import as_bool, as_int, check_float_array, check_same_dtype, check_shape


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
    check_hyper(fn, "momentum", momentum, 0.0)
    check_hyper(fn, "dampening", dampening)
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
    check_hyper(fn, "momentum", momentum, 0.0)
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
