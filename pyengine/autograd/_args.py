"""Argument checks shared by the tensor ops (ops_math, ops_reduce, ops_index, ops_linalg): each one
names the op, the argument, what it expected and what it got.

A dimension or an index out of range raises ``DimensionError`` / ``IndexOutOfRange``, which are both
IndexError (what torch raises, what ``except IndexError`` expects) and ValueError (a bad argument
value, the project's rule).
"""
from __future__ import annotations

import numbers

import numpy as np

__all__ = ["DimensionError", "IndexOutOfRange", "check_tensor", "dim", "dims", "integer", "boolean",
           "index_tensor", "shape_arg"]


class DimensionError(IndexError, ValueError):
    """A dim argument outside [-ndim, ndim - 1]."""


class IndexOutOfRange(IndexError, ValueError):
    """An index tensor holds a value outside the indexed dimension."""


def check_tensor(fn, what, v):
    from .core import Tensor
    if not isinstance(v, Tensor):
        raise TypeError(f"{fn}(): argument '{what}' must be a Tensor, got {type(v).__name__}")
    return v


def integer(fn, what, v):
    """v as a Python int (a bool or a float is refused)."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (numbers.Integral,)):
        if hasattr(v, "ndim") and getattr(v, "ndim", 1) == 0 and getattr(v, "dtype", None) is not None \
                and v.dtype.kind in "iu":
            return int(v)
        raise TypeError(f"{fn}(): argument '{what}' must be an int, got {type(v).__name__}")
    return int(v)


def boolean(fn, what, v):
    if not isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{fn}(): argument '{what}' must be a bool, got {type(v).__name__}")
    return bool(v)


def dim(fn, d, ndim, what="dim"):
    """d normalised to [0, ndim) (a 0-d tensor accepts 0 and -1, as in torch)."""
    d = integer(fn, what, d)
    n = max(ndim, 1)
    if not -n <= d < n:
        raise DimensionError(f"{fn}(): {what} {d} is out of range for a tensor with {ndim} dimensions "
                             f"(expected a value in [{-n}, {n - 1}])")
    return d % n


def dims(fn, d, ndim, what="dim"):
    """None -> every dim; an int or a sequence of ints -> a sorted tuple of distinct normalised dims."""
    if d is None:
        return tuple(range(ndim))
    if isinstance(d, (list, tuple)):
        out = tuple(dim(fn, x, ndim, what) for x in d)
        if len(set(out)) != len(out):
            raise ValueError(f"{fn}(): {what} {tuple(d)} names a dimension more than once")
        return tuple(sorted(out)) if ndim else ()
    return (dim(fn, d, ndim, what),) if ndim else ()


def index_tensor(fn, what, t, ndim=None, int64_only=True):
    """The array of an integer index Tensor (int64; int32 too when not int64_only)."""
    from .core import Tensor
    if not isinstance(t, Tensor):
        raise TypeError(f"{fn}(): argument '{what}' must be a Tensor of int64 indices, got {type(t).__name__}")
    a = t._data
    ok = a.dtype == np.int64 or (not int64_only and a.dtype.kind in "iu")
    if not ok:
        raise TypeError(f"{fn}(): argument '{what}' must have dtype int64{'' if int64_only else ' or int32'}, "
                        f"got {a.dtype}")
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{fn}(): argument '{what}' must be {ndim}-D, got shape {tuple(a.shape)}")
    return a


def in_range(fn, what, idx, size, dim_=None):
    """Raises IndexOutOfRange unless every value of idx is in [-size, size)."""
    if idx.size == 0:
        return
    lo, hi = int(idx.min()), int(idx.max())
    if lo < -size or hi >= size:
        bad = lo if lo < -size else hi
        where = f" for dim {dim_}" if dim_ is not None else ""
        raise IndexOutOfRange(f"{fn}(): {what} {bad} is out of bounds{where} with size {size}")


def shape_arg(fn, sizes, what="size"):
    """A shape given as ints or as one sequence -> a tuple of ints."""
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    elif len(sizes) == 1 and hasattr(sizes[0], "__iter__") and not hasattr(sizes[0], "_data"):
        sizes = tuple(sizes[0])
    return tuple(integer(fn, what, s) for s in sizes)
