"""The named tuples ops return, as torch.return_types: ``x.max(1).values``, ``values, indices = x.sort()``.

``max`` and ``min`` are the autograd core's (Tensor.max/min build them); the rest are defined here.
"""
from __future__ import annotations

from collections import namedtuple

from .core import _max_result as max, _min_result as min  # noqa: A001

__all__ = ["max", "min", "sort", "topk", "kthvalue", "median", "nanmedian", "mode", "cummax", "cummin", "aminmax"]

sort = namedtuple("sort", ["values", "indices"])
topk = namedtuple("topk", ["values", "indices"])
kthvalue = namedtuple("kthvalue", ["values", "indices"])
median = namedtuple("median", ["values", "indices"])
nanmedian = namedtuple("nanmedian", ["values", "indices"])
mode = namedtuple("mode", ["values", "indices"])
cummax = namedtuple("cummax", ["values", "indices"])
cummin = namedtuple("cummin", ["values", "indices"])
aminmax = namedtuple("aminmax", ["min", "max"])
