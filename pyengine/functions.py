"""The top-level functions, torch's ``torch.<op>``: ``pe.exp(x)``, ``pe.sum(x, 1)``, ``pe.mm(a, b)``,
``pe.einsum("ij,jk->ik", a, b)``, ``pe.where(c, x, y)``, ``pe.topk(x, 3)`` …

Each is the Tensor method of the same name called on its first argument (or the op module's function
itself), so the method and the function can never disagree. The element-wise unary ones are made from
the table in ``autograd.ops_math`` (one function per name, named and documented after it).
"""
from __future__ import annotations

import numpy as np

from .autograd import _args
from .autograd import ops_index as _ix
from .autograd import ops_linalg as _la
from .autograd import ops_math as _m
from .autograd import ops_reduce as _r
from .autograd import return_types  # noqa: F401  (pe.return_types, as torch.return_types)
from .autograd.activation import relu as _relu, sigmoid as _sigmoid, tanh as _tanh
from .autograd.core import Tensor, _wrap
from .autograd.softmax import log_softmax as _log_softmax, softmax as _softmax

_UNARY_NAMES = sorted(_m.UNARY)
_BINARY_NAMES = ["atan2", "maximum", "minimum", "fmax", "fmin", "fmod", "remainder", "hypot", "copysign",
                 "xlogy", "logaddexp", "logaddexp2", "floor_divide"]

__all__ = (_UNARY_NAMES + _BINARY_NAMES + [
    "arctan2", "exp", "log", "sqrt", "abs", "absolute", "neg", "negative", "positive", "round", "logit",
    "nan_to_num", "sigmoid", "tanh", "relu", "softmax", "log_softmax", "add", "sub", "subtract", "mul",
    "multiply", "div", "divide", "true_divide", "pow", "clamp", "clip", "clamp_min", "clamp_max", "lerp",
    "addcmul", "addcdiv", "where", "isnan", "isinf", "isfinite", "isposinf", "isneginf", "signbit", "isclose",
    "allclose", "equal", "logical_and", "logical_or", "logical_xor", "logical_not", "eq", "ne", "lt", "le", "gt",
    "ge", "sum", "mean", "var", "std", "var_mean", "std_mean", "prod", "cumsum", "cumprod", "cummax", "cummin",
    "logsumexp", "amax", "amin", "aminmax", "max", "min", "argmax", "argmin", "norm", "all", "any",
    "count_nonzero", "nonzero", "argwhere", "sort", "argsort", "msort", "topk", "kthvalue", "median",
    "nanmedian", "mode", "unique", "unique_consecutive", "nansum", "nanmean", "diff", "trace", "repeat_interleave",
    "tile", "split", "chunk", "tensor_split", "unbind", "narrow", "gather", "scatter", "scatter_add",
    "index_select", "index_add", "index_copy", "index_fill", "masked_fill", "masked_select", "masked_scatter",
    "take", "take_along_dim", "flip", "fliplr", "flipud", "roll", "rot90", "tril", "triu", "diag", "diagonal",
    "diag_embed", "movedim", "moveaxis", "swapaxes", "swapdims", "transpose", "permute", "reshape", "flatten",
    "unflatten", "squeeze", "unsqueeze", "t", "broadcast_to", "broadcast_tensors", "broadcast_shapes",
    "atleast_1d", "atleast_2d", "atleast_3d", "hstack", "vstack", "dstack", "column_stack", "meshgrid", "numel",
    "clone", "matmul", "mm", "bmm", "mv", "dot", "vdot", "inner", "outer", "ger", "addmm", "addmv", "addr",
    "baddbmm", "addbmm", "tensordot", "einsum", "return_types"])


def _unary_function(name):
    def fn(input):
        return _m.unary(name, input)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"{name}(input) element-wise, as torch.{name}."
    return fn


for _name in _UNARY_NAMES:
    globals()[_name] = _unary_function(_name)


def _binary_function(name):
    def fn(input, other):
        return _m.binary(name, input, other)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"{name}(input, other) element-wise with broadcasting, as torch.{name}."
    return fn


for _name in _BINARY_NAMES:
    globals()[_name] = _binary_function(_name)
arctan2 = globals()["atan2"]


def _t(fn, input):
    return _args.check_tensor(fn, "input", input)


# ---- element-wise -------------------------------------------------------------------------------
def exp(input):
    return _t("exp", input).exp()


def log(input):
    return _t("log", input).log()


def sqrt(input):
    return _t("sqrt", input).sqrt()


def abs(input):  # noqa: A001
    return _t("abs", input).abs()


absolute = abs


def neg(input):
    return _t("neg", input).neg()


negative = neg


def positive(input):
    return _t("positive", input)


def round(input, *, decimals=0):  # noqa: A001
    return _t("round", input).round(decimals)


def logit(input, eps=None):
    return _m.logit(input, eps)


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    return _m.nan_to_num(input, nan, posinf, neginf)


def sigmoid(input):
    return _sigmoid(_t("sigmoid", input))


def tanh(input):
    return _tanh(_t("tanh", input))


def relu(input):
    return _relu(_t("relu", input))


def softmax(input, dim, dtype=None):
    x = _t("softmax", input) if dtype is None else _t("softmax", input).to(dtype)
    return _softmax(x, dim)


def log_softmax(input, dim, dtype=None):
    x = _t("log_softmax", input) if dtype is None else _t("log_softmax", input).to(dtype)
    return _log_softmax(x, dim)


def _first_tensor(fn, input, other):
    if isinstance(input, Tensor):
        return input, other
    if isinstance(other, Tensor):
        return Tensor(input), other
    raise TypeError(f"{fn}(): expected a Tensor operand, got {type(input).__name__} and {type(other).__name__}")


def add(input, other, *, alpha=1):
    a, b = _first_tensor("add", input, other)
    return a + (b if alpha == 1 else b * alpha)


def sub(input, other, *, alpha=1):
    a, b = _first_tensor("sub", input, other)
    return a - (b if alpha == 1 else b * alpha)


subtract = sub


def mul(input, other):
    a, b = _first_tensor("mul", input, other)
    return a * b


multiply = mul


def div(input, other, *, rounding_mode=None):
    a, b = _first_tensor("div", input, other)
    return _m.div(a, b, rounding_mode)


divide = div


def true_divide(input, other):
    a, b = _first_tensor("true_divide", input, other)
    return a / b


def pow(input, exponent):  # noqa: A001
    if not isinstance(input, Tensor):
        if not isinstance(exponent, Tensor):
            raise TypeError(f"pow(): expected a Tensor operand, got {type(input).__name__} and "
                            f"{type(exponent).__name__}")
        return input ** exponent
    return input ** exponent


def clamp(input, min=None, max=None):  # noqa: A002
    return _m.clamp(input, min, max)


clip = clamp


def clamp_min(input, min):  # noqa: A002
    return _m.clamp(input, min, None)


def clamp_max(input, max):  # noqa: A002
    return _m.clamp(input, None, max)


def lerp(input, end, weight):
    return _m.lerp(input, end, weight)


def addcmul(input, tensor1, tensor2, *, value=1):
    return _m.addcmul(input, tensor1, tensor2, value)


def addcdiv(input, tensor1, tensor2, *, value=1):
    return _m.addcdiv(input, tensor1, tensor2, value)


def where(condition, input=None, other=None):
    """where(condition, input, other): input where condition holds, other elsewhere (either may be a
    number; the result takes torch's promoted dtype). where(condition) is nonzero(as_tuple=True)."""
    if input is None and other is None:
        return _r.nonzero(condition, as_tuple=True)
    if input is None or other is None:
        raise TypeError("where(): expected both 'input' and 'other' (or neither)")
    return _m.where(condition, input, other)


def _pred(name):
    def fn(input):
        return getattr(_t(name, input), name)()
    fn.__name__ = fn.__qualname__ = name
    return fn


isnan, isinf, isfinite = _pred("isnan"), _pred("isinf"), _pred("isfinite")
isposinf, isneginf, signbit, logical_not = _pred("isposinf"), _pred("isneginf"), _pred("signbit"), _pred("logical_not")


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return _m.isclose(input, other, rtol, atol, equal_nan)


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return _t("allclose", input).allclose(other, rtol, atol, equal_nan)


def equal(input, other):
    return _t("equal", input).equal(other)


def logical_and(input, other):
    return _t("logical_and", input).logical_and(other)


def logical_or(input, other):
    return _t("logical_or", input).logical_or(other)


def logical_xor(input, other):
    return _t("logical_xor", input).logical_xor(other)


def eq(input, other):
    return _t("eq", input).eq(other)


def ne(input, other):
    return _t("ne", input).ne(other)


def lt(input, other):
    return _t("lt", input).lt(other)


def le(input, other):
    return _t("le", input).le(other)


def gt(input, other):
    return _t("gt", input).gt(other)


def ge(input, other):
    return _t("ge", input).ge(other)


# ---- reductions -----------------------------------------------------------------------------------
def sum(input, dim=None, keepdim=False, *, dtype=None):  # noqa: A001
    return _t("sum", input).sum(dim, keepdim, dtype=dtype)


def mean(input, dim=None, keepdim=False, *, dtype=None):
    return _t("mean", input).mean(dim, keepdim, dtype=dtype)


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return _r.var(input, dim, unbiased, keepdim, correction=correction)


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return _r.std(input, dim, unbiased, keepdim, correction=correction)


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return _r.var_mean(input, dim, unbiased, keepdim, correction=correction)


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return _r.std_mean(input, dim, unbiased, keepdim, correction=correction)


def max(input, dim=None, keepdim=False):  # noqa: A001
    """max(input) -> the largest value; max(input, dim) -> (values, indices); max(input, other) ->
    maximum(input, other)."""
    return _t("max", input).max(dim, keepdim)


def min(input, dim=None, keepdim=False):  # noqa: A001
    return _t("min", input).min(dim, keepdim)


def argmax(input, dim=None, keepdim=False):
    return _t("argmax", input).argmax(dim, keepdim)


def argmin(input, dim=None, keepdim=False):
    return _t("argmin", input).argmin(dim, keepdim)


prod, cumsum, cumprod, cummax, cummin = _r.prod, _r.cumsum, _r.cumprod, _r.cummax, _r.cummin
logsumexp, amax, amin, aminmax, norm = _r.logsumexp, _r.amax, _r.amin, _r.aminmax, _r.norm
all, any, count_nonzero, nonzero, argwhere = _r.reduce_all, _r.reduce_any, _r.count_nonzero, _r.nonzero, _r.argwhere  # noqa: A001
sort, argsort, msort, topk, kthvalue = _r.sort, _r.argsort, _r.msort, _r.topk, _r.kthvalue
median, nanmedian, mode, unique, unique_consecutive = _r.median, _r.nanmedian, _r.mode, _r.unique, \
    _r.unique_consecutive
nansum, nanmean, diff, trace = _r.nansum, _r.nanmean, _r.diff, _r.trace

# ---- shape, copy and index ops ------------------------------------------------------------------
repeat_interleave, tile, split, chunk, tensor_split = _ix.repeat_interleave, _ix.tile, _ix.split, _ix.chunk, \
    _ix.tensor_split
unbind, narrow, gather, scatter, scatter_add = _ix.unbind, _ix.narrow, _ix.gather, _ix.scatter, _ix.scatter_add
index_select, index_add, index_copy, index_fill = _ix.index_select, _ix.index_add, _ix.index_copy, _ix.index_fill
masked_fill, masked_select, masked_scatter = _ix.masked_fill, _ix.masked_select, _ix.masked_scatter
take, take_along_dim, fliplr, flipud, roll, rot90 = _ix.take, _ix.take_along_dim, _ix.fliplr, _ix.flipud, \
    _ix.roll, _ix.rot90
tril, triu, diag, diagonal, diag_embed = _ix.tril, _ix.triu, _ix.diag, _ix.diagonal, _ix.diag_embed
movedim, swapaxes, unflatten, broadcast_to, broadcast_tensors = _ix.movedim, _ix.swapaxes, _ix.unflatten, \
    _ix.broadcast_to, _ix.broadcast_tensors
moveaxis, swapdims = movedim, swapaxes
atleast_1d, atleast_2d, atleast_3d = _ix.atleast_1d, _ix.atleast_2d, _ix.atleast_3d
hstack, vstack, dstack, column_stack, meshgrid = _ix.hstack, _ix.vstack, _ix.dstack, _ix.column_stack, _ix.meshgrid


def flip(input, dims):
    return _ix.flip(input, dims)


def transpose(input, dim0, dim1):
    return _t("transpose", input).transpose(dim0, dim1)


def permute(input, dims):
    return _t("permute", input).permute(*dims)


def reshape(input, shape):
    return _t("reshape", input).reshape(shape)


def flatten(input, start_dim=0, end_dim=-1):
    return _t("flatten", input).flatten(start_dim, end_dim)


def squeeze(input, dim=None):
    return _t("squeeze", input).squeeze(dim)


def unsqueeze(input, dim):
    return _t("unsqueeze", input).unsqueeze(dim)


def t(input):
    return _t("t", input).t()


def numel(input):
    return _t("numel", input).numel()


def clone(input):
    return _t("clone", input).clone()


def broadcast_shapes(*shapes):
    try:
        return tuple(np.broadcast_shapes(*[tuple(s) if isinstance(s, (tuple, list)) else (s,) for s in shapes]))
    except ValueError:
        raise ValueError(f"broadcast_shapes(): shapes {shapes} cannot be broadcast together") from None


# ---- matrix products ------------------------------------------------------------------------------
def matmul(input, other):
    _args.check_tensor("matmul", "input", input)
    _args.check_tensor("matmul", "other", other)
    return input @ other


mm, bmm, mv, dot, vdot, inner, outer, ger = _la.mm, _la.bmm, _la.mv, _la.dot, _la.vdot, _la.inner, _la.outer, _la.ger
addmm, addmv, addr, baddbmm, addbmm = _la.addmm, _la.addmv, _la.addr, _la.baddbmm, _la.addbmm
tensordot, einsum = _la.tensordot, _la.einsum

_ = _wrap
