"""The reference's checks shared by every op family: array type and dtype, rank, int-or-pair
parameters, sizes.

The kernels' contract is checked in C++, once, by the bindings (csrc/include/pyengine/check.h and
the family headers); these are the oracle's own readable copies, with the same messages: the op
registry's error inputs (pyengine/testing/ops) hold the reference and every kernel module to the
same words. Every error names the function, the argument, what was expected and what was
received, e.g. ``conv2d_forward: weight expects 3 input channels, x has 4``.
"""
from __future__ import annotations

import numbers
import operator

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
INT64_MAX = np.iinfo(np.int64).max


def _is_array(x) -> bool:
    """NumPy arrays, and device arrays (CuPy) that carry a dtype, shape and ndim."""
    return isinstance(x, np.ndarray) or (
        hasattr(x, "__cuda_array_interface__") and hasattr(x, "dtype") and hasattr(x, "shape"))


def check_float_array(fn: str, name: str, x, ndim: int | tuple[int, ...] | None = None):
    """Returns x unchanged after checking it is a float32/float64 array of the given rank."""
    if not _is_array(x):
        raise TypeError(f"{fn}: {name} must be a numpy.ndarray, got {type(x).__name__}")
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{fn}: {name} must be float32 or float64, got {x.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else ndim
        if x.ndim not in allowed:
            want = " or ".join(f"{d}-D" for d in allowed)
            raise ValueError(f"{fn}: {name} must be {want}, got {x.ndim}-D array of shape {tuple(x.shape)}")
    return x


def check_same_dtype(fn: str, ref_name: str, ref, **others) -> None:
    """Every array in ``others`` (None allowed) must have ref's dtype: mixed dtypes are rejected."""
    for name, arr in others.items():
        if arr is not None and arr.dtype != ref.dtype:
            raise TypeError(f"{fn}: {name} has dtype {arr.dtype} but {ref_name} is {ref.dtype}; "
                            "mixed dtypes are not accepted")


def check_shape(fn: str, name: str, x, expected: tuple[int, ...]) -> None:
    if tuple(x.shape) != tuple(expected):
        raise ValueError(f"{fn}: {name} must have shape {tuple(expected)}, got {tuple(x.shape)}")


def as_bool(fn: str, name: str, value) -> bool:
    """A flag: a Python or NumPy bool (not an int, not None)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{fn}: {name} must be a bool, got {type(value).__name__} {value!r}")
    return bool(value)


def as_real(fn: str, name: str, value) -> float:
    """A real scalar parameter (Python or NumPy number, not bool) as a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{fn}: {name} must be a real number, got {type(value).__name__} {value!r}")
    return float(value)


def as_int(fn: str, name: str, value, minimum: int | None = None) -> int:
    """An integer parameter (Python or NumPy int, not bool) with an optional lower bound."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{fn}: {name} must be an int, got {type(value).__name__} {value!r}")
    value = operator.index(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{fn}: {name} must be >= {minimum}, got {value}")
    return value


def pair(fn: str, name: str, value, minimum: int | None = None) -> tuple[int, int]:
    """An int or a pair of ints, as (height, width)."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{fn}: {name} must be an int or a pair of ints, got {tuple(value)!r}")
        return as_int(fn, name, value[0], minimum), as_int(fn, name, value[1], minimum)
    v = as_int(fn, name, value, minimum)
    return v, v


def check_needs_input_grad(fn: str, needs_input_grad, count: int = 3) -> tuple[bool, ...]:
    """needs_input_grad: a sequence of ``count`` bools."""
    if not isinstance(needs_input_grad, (tuple, list)) or len(needs_input_grad) != count:
        raise ValueError(f"{fn}: needs_input_grad must be a sequence of {count} bools, got {needs_input_grad!r}")
    return tuple(as_bool(fn, "needs_input_grad", v) for v in needs_input_grad)


def check_input_shape(fn: str, name: str, shape, ndim: int) -> tuple[int, ...]:
    """A shape argument such as ``input_shape``: a sequence of ndim non-negative ints."""
    if not isinstance(shape, (tuple, list)) or len(shape) != ndim:
        raise ValueError(f"{fn}: {name} must be a sequence of {ndim} ints, got {shape!r}")
    return tuple(as_int(fn, name, s, 0) for s in shape)


def checked_numel(fn: str, what: str, shape) -> int:
    """Product of sizes, rejecting products that overflow 64-bit indexing."""
    n = 1
    for s in shape:
        n *= int(s)
        if n > INT64_MAX:
            raise ValueError(f"{fn}: {what} {tuple(int(v) for v in shape)} has more than 2**63-1 elements")
    return n


def conv_output_size(fn: str, what: str, size: int, kernel: int, stride: int, padding: int,
                     dilation: int, ceil_mode: bool = False) -> int:
    """floor((size + 2·padding − dilation·(kernel−1) − 1) / stride) + 1  (ceil with ceil_mode).

    With ceil_mode the last window must start inside the input or left padding (PyTorch's rule).
    """
    span = dilation * (kernel - 1) + 1
    if size + 2 * padding < span:
        raise ValueError(f"{fn}: kernel {what} {kernel} (dilation {dilation}, span {span}) is larger "
                         f"than the padded input {what} {size} + 2*{padding} = {size + 2 * padding}")
    numer = size + 2 * padding - span
    out = (-(-numer // stride) if ceil_mode else numer // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out
