"""pyengine.tensor — the Tensor type and the functions that create tensors (torch's names and dtype
inference: Python floats become the default dtype float32, Python ints int64).

Tensor itself, with autograd, lives in the autograd core (``pyengine.autograd.core``): ``Function.apply``
creates Tensors, so the two are defined together. Ops are the Functions of ``pyengine.autograd``.
"""
from __future__ import annotations

import numbers

import numpy as np

from .autograd import ops as _ops
from .autograd.core import Tensor, _as_array as _to_array, _move, _wrap
from .autograd.device import array_module, normalize_device
from .autograd.dtype import as_dtype as _as_dtype, get_default_dtype, set_default_dtype
from .autograd.engine import root_grad as _root_grad
from .autograd.generator import Generator as _Generator, default_generator, manual_seed

__all__ = ["Tensor", "tensor", "as_tensor", "from_numpy", "from_dlpack", "zeros", "ones", "full", "empty",
           "arange", "linspace", "eye", "rand", "randn", "randint", "zeros_like", "ones_like", "full_like",
           "empty_like", "rand_like", "randn_like", "cat", "concatenate", "stack", "where", "manual_seed",
           "default_generator", "float32", "float64", "float16", "int64", "int32", "uint8", "bool_",
           "get_default_dtype", "set_default_dtype", "is_tensor"]

float32, float64, float16 = np.float32, np.float64, np.float16
int64, int32, uint8, bool_ = np.int64, np.int32, np.uint8, np.bool_


# ---- creation ---------------------------------------------------------------------------------
def _finish(a, device, requires_grad):
    t = _wrap(a)
    if device is not None:
        dev = normalize_device(device)
        if dev != "cpu":
            t = _wrap(_move(a, dev))
    if requires_grad:
        t.requires_grad_(True)
    return t


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new tensor holding a copy of data (Python numbers/lists -> float32/int64/bool as in torch)."""
    return _finish(_to_array(data, _as_dtype(dtype)), device, requires_grad)


def as_tensor(data, dtype=None, device=None):
    if isinstance(data, Tensor) and dtype is None:
        return data
    if isinstance(data, np.ndarray) and (dtype is None or np.dtype(_as_dtype(dtype)) == data.dtype):
        return _finish(data, device, False)
    return tensor(data, dtype, device)


def is_tensor(x):
    return isinstance(x, Tensor)


def from_numpy(a):
    """A tensor sharing memory with the NumPy array a."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"from_numpy: expected numpy.ndarray, got {type(a).__name__}")
    return _wrap(a)


def from_dlpack(obj):
    """Zero-copy import from any DLPack producer (NumPy, PyTorch, CuPy, JAX...)."""
    dev = obj.__dlpack_device__()[0] if hasattr(obj, "__dlpack_device__") else 1
    if dev == 1:   # kDLCPU
        return _wrap(np.from_dlpack(obj))
    return _wrap(array_module("cuda").from_dlpack(obj))


def _shape_arg(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    return tuple(int(s) for s in size)


def _dt(dtype):
    return get_default_dtype() if dtype is None else _as_dtype(dtype)


def zeros(*size, dtype=None, device=None, requires_grad=False):
    return _finish(np.zeros(_shape_arg(size), _dt(dtype)), device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False):
    return _finish(np.ones(_shape_arg(size), _dt(dtype)), device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False):
    return _finish(np.empty(_shape_arg(size), _dt(dtype)), device, requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    if dtype is None and isinstance(fill_value, bool):
        dtype = np.bool_
    elif dtype is None and isinstance(fill_value, numbers.Integral):
        dtype = np.int64
    return _finish(np.full(_shape_arg((size,)), fill_value, _dt(dtype)), device, requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    return _finish(np.eye(n, m, dtype=_dt(dtype)), device, requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    if end is None:
        start, end = 0, start
    ints = all(isinstance(v, numbers.Integral) for v in (start, end, step))
    d = _as_dtype(dtype) if dtype is not None else (np.dtype(np.int64) if ints else get_default_dtype())
    return _finish(np.arange(start, end, step).astype(d), device, requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    return _finish(np.linspace(start, end, steps).astype(_dt(dtype)), device, requires_grad)


def rand(*size, dtype=None, device=None, requires_grad=False, generator=None):
    g = (generator or default_generator).rng
    return _finish(g.random(_shape_arg(size)).astype(_dt(dtype)), device, requires_grad)


def randn(*size, dtype=None, device=None, requires_grad=False, generator=None):
    g = (generator or default_generator).rng
    return _finish(g.standard_normal(_shape_arg(size)).astype(_dt(dtype)), device, requires_grad)


def randint(low, high=None, size=(), dtype=None, device=None, generator=None):
    if high is None:
        low, high = 0, low
    g = (generator or default_generator).rng
    d = np.int64 if dtype is None else _as_dtype(dtype)
    return _finish(g.integers(low, high, size=tuple(size)).astype(d), device, False)


def _like(fn, t, dtype, device, requires_grad):
    return fn(t.shape, dtype=t.dtype if dtype is None else dtype, device=t.device if device is None else device,
              requires_grad=requires_grad)


def zeros_like(t, dtype=None, device=None, requires_grad=False):
    return _like(zeros, t, dtype, device, requires_grad)


def ones_like(t, dtype=None, device=None, requires_grad=False):
    return _like(ones, t, dtype, device, requires_grad)


def empty_like(t, dtype=None, device=None, requires_grad=False):
    return _like(empty, t, dtype, device, requires_grad)


def full_like(t, fill_value, dtype=None, device=None, requires_grad=False):
    return full(t.shape, fill_value, dtype=t.dtype if dtype is None else dtype,
                device=t.device if device is None else device, requires_grad=requires_grad)


def rand_like(t, dtype=None, device=None, requires_grad=False):
    return _like(rand, t, dtype, device, requires_grad)


def randn_like(t, dtype=None, device=None, requires_grad=False):
    return _like(randn, t, dtype, device, requires_grad)


def _tensors(seq, fn):
    seq = list(seq)
    if not seq:
        raise ValueError(f"{fn}: expected a non-empty sequence of tensors")
    return [s if isinstance(s, Tensor) else tensor(s) for s in seq]


def cat(tensors, dim=0, axis=None):
    return _ops.Cat.apply(*_tensors(tensors, "cat"), axis=dim if axis is None else axis)


concatenate = cat


def stack(tensors, dim=0, axis=None):
    return _ops.Stack.apply(*_tensors(tensors, "stack"), axis=dim if axis is None else axis)


def where(condition, x, y):
    c = condition._data if isinstance(condition, Tensor) else np.asarray(condition)
    if not isinstance(x, Tensor) and not isinstance(y, Tensor):
        x = tensor(x)
    return _ops.Where.apply(c, x, y)



