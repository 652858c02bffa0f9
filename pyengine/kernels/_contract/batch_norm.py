"""Contract of batch normalisation: the checks shared by every implementation.

x is (N, C) or (N, C, H, W); statistics are per channel C over M = N·H·W values.
"""
from __future__ import annotations

import numbers

from .common import as_bool, check_float_array, check_same_dtype, check_shape, checked_numel

__all__ = ["check_batch_norm_forward", "check_batch_norm_backward"]


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
    if not isinstance(needs_input_grad, (tuple, list)) or len(needs_input_grad) != 3:
        raise ValueError(f"{fn}: needs_input_grad must be a sequence of 3 bools, got {needs_input_grad!r}")
    needs = tuple(as_bool(fn, "needs_input_grad", b) for b in needs_input_grad)
    return c, m, training, needs
