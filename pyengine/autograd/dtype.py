"""dtypes: names, the default float dtype, and PyTorch's type promotion for binary ops.

PyTorch's rule (torch.result_type), which NumPy's differs from in ways that silently change results:
operands are split into three priority classes — tensors with at least one dimension, 0-d tensors,
Python numbers — and a lower class only decides the dtype when its *category* (bool < integer <
floating) is higher than every class above it. A Python float counts as the default dtype
(float32), so ``float32_tensor * 2.5`` stays float32 and ``int_tensor + 0.5`` becomes float32
(NumPy: float64); across categories the floating type wins as it is (``float32 + int64 -> float32``;
NumPy: float64); true division of integers gives the default float dtype.
"""
from __future__ import annotations

import numbers

import numpy as np

__all__ = ["as_dtype", "get_default_dtype", "set_default_dtype", "result_type", "promote_types", "category"]

_DTYPE_NAMES = {"float": np.float32, "float32": np.float32, "double": np.float64, "float64": np.float64,
                "half": np.float16, "float16": np.float16, "long": np.int64, "int64": np.int64,
                "int": np.int32, "int32": np.int32, "uint8": np.uint8, "bool": np.bool_}
_default = [np.dtype(np.float32)]
_INT64 = np.dtype(np.int64)
_BOOL = np.dtype(np.bool_)


def get_default_dtype():
    return _default[0]


def set_default_dtype(dtype):
    d = as_dtype(dtype)
    if d.kind != "f":
        raise TypeError(f"set_default_dtype: only floating-point dtypes, got {d}")
    _default[0] = d


def as_dtype(dtype):
    """None, a NumPy dtype or type, a name ('float32', 'long', 'torch.float64') or a torch.dtype -> np.dtype."""
    if dtype is None:
        return None
    if isinstance(dtype, str):
        d = _DTYPE_NAMES.get(dtype.replace("torch.", ""))
        if d is None:
            raise TypeError(f"unknown dtype {dtype!r}")
        return np.dtype(d)
    if hasattr(dtype, "is_floating_point") and not isinstance(dtype, np.dtype):  # torch.dtype
        return as_dtype(str(dtype))
    return np.dtype(dtype)


def category(d):
    """0 for bool, 1 for integers, 2 for floating (and complex) dtypes."""
    k = d.kind
    return 2 if k in "fc" else (1 if k in "iu" else 0)


def promote_types(a, b):
    """PyTorch's promote_types: within a category the wider type (NumPy's rule); across categories the
    higher category's type unchanged (int64 with float32 -> float32)."""
    if a == b:
        return a
    ca, cb = category(a), category(b)
    if ca != cb:
        return a if ca > cb else b
    return np.promote_types(a, b)


def _combine(higher, lower):
    # torch's combine_categories: a lower priority class matters only through a higher category
    if higher is None:
        return lower
    if lower is None or category(higher) == 2:
        return higher
    if category(higher) == 0 or category(lower) == 2:
        return promote_types(higher, lower)
    return higher


def _scalar_dtype(x):
    if isinstance(x, bool):
        return _BOOL
    if isinstance(x, numbers.Integral):
        return _INT64
    return _default[0]


def result_type(*operands):
    """The dtype PyTorch gives a binary op over these operands: arrays (tensor storage; 0-d arrays
    are the 0-d class) and Python/NumPy scalars (the number class)."""
    dim = zero = num = None
    for x in operands:
        d = getattr(x, "dtype", None)
        if d is None or isinstance(x, np.generic):
            s = _scalar_dtype(x.item() if isinstance(x, np.generic) else x)
            num = s if num is None else promote_types(num, s)
        elif x.ndim == 0:
            zero = d if zero is None else promote_types(zero, d)
        else:
            dim = d if dim is None else promote_types(dim, d)
    return _combine(dim, _combine(zero, num))
