"""Reductions, scans and order statistics as Functions, with torch's signatures, dtypes, named-tuple
results and gradients.

- ``prod``: the gradient of each element is the product of the others, taken from exclusive
  cumulative products from the left and from the right, so zeros are exact (one zero: only it gets a
  gradient; two: none does) — no division by x.
- ``cumsum``: reversed cumulative sum of g. ``cumprod``: revcumsum(g·y)/x when x has no zero; with
  zeros, the recurrence S_i = g_i + x_{i+1}·S_{i+1}, grad_i = (∏_{k<i} x_k)·S_i (exact).
- ``logsumexp``: m + log Σ exp(x − m), m the maximum (0 where it is ±inf); gradient g·exp(x − y).
- ``amax``/``amin``, full ``median``: the gradient is shared evenly among tied elements (torch's);
  ``max(dim)``-like ops (``median(dim)``, ``kthvalue``, ``mode``, ``sort``, ``topk``, ``cummax``) send
  it to the returned indices.
- ``norm``/``vector_norm``: p = 2 gradient x/‖x‖ (0 where ‖x‖ = 0), p = 1 sign(x), p = ±inf shared
  among the tied extremes, p = 0 zero, other p x·|x|^(p−2)/‖x‖^(p−1).
- ``std``: (x − mean)/(den·std), 0 where std = 0 (torch's mask); ``var`` is the core's Var.
- Order statistics use a stable sort (NaN sorts as the largest value, as in torch). ``sort`` is
  always stable, so ties keep their input order (torch's ``stable=True``; torch's CPU sort is stable
  in practice for ``stable=False`` too). ``topk``/``kthvalue``/``median(dim)`` return, among tied
  values, the first in input order; torch picks by nth_element, so its tie index is implementation
  defined (the values always agree). ``mode`` returns the smallest most-frequent value and its last
  index, as torch does.
- ``unique``/``unique_consecutive``/``nonzero``/``all``/``any``/``count_nonzero``/``argsort`` are not
  differentiable and return plain tensors.

Integer inputs follow torch: sum-like ops (prod, cumsum, cumprod) accumulate in int64; mean-like and
norm-like ops (logsumexp casts to the default float dtype; norm, std raise TypeError).
"""
from __future__ import annotations

import numpy as np

from . import _args
from . import dtype as _dtype
from . import return_types as rt
from .core import Function, Tensor, _wrap
from .device import xp_of

__all__ = ["prod", "cumsum", "cumprod", "logsumexp", "amax", "amin", "aminmax", "norm", "vector_norm", "std",
           "var", "std_mean", "var_mean", "reduce_all", "reduce_any", "count_nonzero", "nonzero", "argwhere", "sort", "argsort",
           "msort", "topk", "kthvalue", "median", "nanmedian", "mode", "cummax", "cummin", "unique",
           "unique_consecutive", "nansum", "nanmean", "diff", "trace"]

_INT64 = np.dtype(np.int64)


def _accum_dtype(a, dtype):
    """The dtype a sum-like op works in: dtype when given, int64 for integers and bools (torch)."""
    if dtype is not None:
        return _dtype.as_dtype(dtype)
    return _INT64 if a.dtype.kind in "biu" else a.dtype


def _keep(y, axes, keepdim):
    """y reduced with keepdims=True, squeezed over axes unless keepdim."""
    return y if keepdim else y.reshape([s for i, s in enumerate(y.shape) if i not in axes])


def _expand(g, shape, axes, keepdim):
    """g of a reduction over axes, reshaped to broadcast against the input shape."""
    if not keepdim:
        g = g.reshape([1 if i in axes else s for i, s in enumerate(shape)])
    return g


def _nonempty(fn, a, axes):
    for ax in axes:
        if a.shape[ax] == 0:
            raise _args.DimensionError(f"{fn}(): expected reduction dim {ax} to have non-zero size, got a "
                                       f"tensor of shape {tuple(a.shape)}")
    if not axes and a.size == 0:
        raise ValueError(f"{fn}(): cannot reduce an empty tensor of shape {tuple(a.shape)}")


def _add_at(out, index, values):
    """out[index] += values with repeated indices accumulated (NumPy or CuPy)."""
    xp = xp_of(out)
    if xp is np:
        np.add.at(out, index, values)
    else:
        import cupyx
        cupyx.scatter_add(out, index, values)


def along_index(idx, axis):
    """The advanced index that picks idx[..., j, ...] along axis (a full index tuple)."""
    xp = xp_of(idx)
    grids = xp.ogrid[tuple(slice(0, s) for s in idx.shape)] if idx.ndim else []
    grids = list(grids) if idx.ndim > 1 else ([grids] if idx.ndim == 1 else [])
    grids[axis] = idx
    return tuple(grids)


# ---------------------------------------------------------------------------------------- prod, scans
def _exclusive_cumprod(x, axis, reverse=False):
    xp = xp_of(x)
    if reverse:
        x = xp.flip(x, axis)
    c = xp.cumprod(x, axis=axis)
    pad = [(0, 0)] * x.ndim
    pad[axis] = (1, 0)
    c = xp.pad(c, pad, constant_values=1)
    c = xp.take(c, xp.arange(x.shape[axis]), axis=axis)
    return xp.flip(c, axis) if reverse else c


class Prod(Function):
    name = "prod"

    @staticmethod
    def forward(ctx, a, dim=None, keepdim=False, dtype=None):
        d = _accum_dtype(a, dtype)
        a = a.astype(d) if a.dtype != d else a
        ctx.shape, ctx.dim, ctx.keepdim = a.shape, dim, keepdim
        if ctx.needs_input_grad[0]:
            ctx.a = a
        if dim is None:
            return np.asarray(a.prod())
        ctx.torch_name = "ProdBackward1"
        return np.asarray(a.prod(axis=dim, keepdims=keepdim))

    @staticmethod
    def backward(ctx, g):
        a = ctx.a
        if ctx.dim is None:
            flat = a.reshape(-1)
            others = _exclusive_cumprod(flat, 0) * _exclusive_cumprod(flat, 0, reverse=True)
            return (g * others).reshape(ctx.shape)
        ax = ctx.dim
        others = _exclusive_cumprod(a, ax) * _exclusive_cumprod(a, ax, reverse=True)
        return _expand(g, ctx.shape, (ax,), ctx.keepdim) * others


def prod(input, dim=None, keepdim=False, dtype=None):
    _args.check_tensor("prod", "input", input)
    d = None if dim is None else _args.dim("prod", dim, input.ndim)
    if input.ndim == 0:
        d = None
    return Prod.apply(input, d, _args.boolean("prod", "keepdim", keepdim), dtype)


class Cumsum(Function):
    name = "cumsum"

    @staticmethod
    def forward(ctx, a, dim, dtype=None):
        d = _accum_dtype(a, dtype)
        ctx.dim, ctx.src = dim, a.dtype
        if a.ndim == 0:
            return a.astype(d)
        return np.cumsum(a, axis=dim, dtype=d)

    @staticmethod
    def backward(ctx, g):
        if g.ndim == 0:
            return g
        xp = xp_of(g)
        return xp.flip(xp.cumsum(xp.flip(g, ctx.dim), axis=ctx.dim), ctx.dim)


def cumsum(input, dim, dtype=None):
    _args.check_tensor("cumsum", "input", input)
    return Cumsum.apply(input, _args.dim("cumsum", dim, input.ndim), dtype)


class Cumprod(Function):
    name = "cumprod"

    @staticmethod
    def forward(ctx, a, dim, dtype=None):
        d = _accum_dtype(a, dtype)
        a = a.astype(d) if a.dtype != d else a
        ctx.dim = dim
        if a.ndim == 0:
            return a.copy()
        y = np.cumprod(a, axis=dim)
        if ctx.needs_input_grad[0]:
            ctx.a, ctx.y = a, y
        return y

    @staticmethod
    def backward(ctx, g):
        if g.ndim == 0:
            return g
        a, y, ax = ctx.a, ctx.y, ctx.dim
        xp = xp_of(g)
        if not (a == 0).any():
            return xp.flip(xp.cumsum(xp.flip(g * y, ax), axis=ax), ax) / a
        # zeros: S_i = g_i + x_{i+1}·S_{i+1} from the end, grad_i = (∏_{k<i} x_k)·S_i
        am, gm = xp.moveaxis(a, ax, 0), xp.moveaxis(g, ax, 0)
        s = xp.empty_like(gm)
        s[-1] = gm[-1]
        for i in range(am.shape[0] - 2, -1, -1):
            s[i] = gm[i] + am[i + 1] * s[i + 1]
        return xp.moveaxis(s, 0, ax) * _exclusive_cumprod(a, ax)


def cumprod(input, dim, dtype=None):
    _args.check_tensor("cumprod", "input", input)
    return Cumprod.apply(input, _args.dim("cumprod", dim, input.ndim), dtype)


class _CumExtreme(Function):
    """(values, indices) of the running maximum (minimum) along dim; a tie or a NaN moves the index
    to the newer element (torch's); the gradient of each output goes to its index (accumulated)."""

    @classmethod
    def forward(cls, ctx, a, dim):
        xp = xp_of(a)
        if a.ndim == 0:
            return a.copy(), xp.zeros((), np.int64)
        am = xp.moveaxis(a, dim, 0)
        vals = xp.empty_like(am)
        idx = xp.empty(am.shape, np.int64)
        if am.shape[0]:
            cur, cur_i = am[0].copy(), xp.zeros(am.shape[1:], np.int64)
            vals[0], idx[0] = cur, cur_i
            for i in range(1, am.shape[0]):
                x = am[i]
                nan = xp.isnan(x) if x.dtype.kind == "f" else False
                with np.errstate(invalid="ignore"):
                    upd = cls._better(x, cur) | nan
                cur = xp.where(upd, x, cur)
                cur_i = xp.where(upd, i, cur_i)
                vals[i], idx[i] = cur, cur_i
        ctx.idx, ctx.shape, ctx.dim = xp.moveaxis(idx, 0, dim), a.shape, dim
        return xp.moveaxis(vals, 0, dim), ctx.idx

    @staticmethod
    def backward(ctx, g, g_idx=None):
        if g is None:
            return None
        xp = xp_of(g)
        if g.ndim == 0:
            return g
        out = xp.zeros(ctx.shape, g.dtype)
        _add_at(out, along_index(ctx.idx, ctx.dim), g)
        return out


class Cummax(_CumExtreme):
    name = "cummax"

    @staticmethod
    def _better(x, cur):
        return x >= cur


class Cummin(_CumExtreme):
    name = "cummin"

    @staticmethod
    def _better(x, cur):
        return x <= cur


def cummax(input, dim):
    _args.check_tensor("cummax", "input", input)
    return rt.cummax(*Cummax.apply(input, _args.dim("cummax", dim, input.ndim)))


def cummin(input, dim):
    _args.check_tensor("cummin", "input", input)
    return rt.cummin(*Cummin.apply(input, _args.dim("cummin", dim, input.ndim)))


# ---------------------------------------------------------------------------------------- smooth reductions
def _float(fn, a):
    if a.dtype.kind not in "fc":
        return a.astype(_dtype.get_default_dtype())
    return a


class Logsumexp(Function):
    name = "logsumexp"

    @staticmethod
    def forward(ctx, a, axes, keepdim):
        a = _float("logsumexp", a)
        xp = xp_of(a)
        kept = [1 if i in axes else s for i, s in enumerate(a.shape)]
        if any(a.shape[i] == 0 for i in axes):
            y = xp.full(kept, -np.inf, a.dtype)                 # the log of an empty sum
        elif a.size == 0:
            y = xp.zeros(kept, a.dtype)
        else:
            m = a.max(axis=axes, keepdims=True)
            m = xp.where(xp.isfinite(m), m, 0)
            with np.errstate(divide="ignore"):
                y = xp.log(xp.exp(a - m).sum(axis=axes, keepdims=True)) + m
        if ctx.needs_input_grad[0]:
            ctx.a, ctx.y = a, y
        ctx.axes, ctx.keepdim = axes, keepdim
        return _keep(y, axes, keepdim)

    @staticmethod
    def backward(ctx, g):
        g = _expand(g, ctx.a.shape, ctx.axes, ctx.keepdim)
        return g * xp_of(g).exp(ctx.a - ctx.y)


def logsumexp(input, dim, keepdim=False):
    _args.check_tensor("logsumexp", "input", input)
    axes = _args.dims("logsumexp", dim, input.ndim)
    return Logsumexp.apply(input, axes, _args.boolean("logsumexp", "keepdim", keepdim))


class _AExtreme(Function):
    """amax/amin over a set of axes; tied elements share the gradient evenly."""

    @classmethod
    def forward(cls, ctx, a, axes, keepdim):
        _nonempty(cls.name, a, axes)
        y = np.asarray(cls._f(a, axis=axes, keepdims=True))
        if ctx.needs_input_grad[0]:
            ctx.a, ctx.y = a, y
        ctx.axes, ctx.keepdim = axes, keepdim
        return _keep(y, axes, keepdim)

    @staticmethod
    def backward(ctx, g):
        a = ctx.a
        g = _expand(g, a.shape, ctx.axes, ctx.keepdim)
        mask = (a == ctx.y) | (xp_of(a).isnan(a) & xp_of(a).isnan(ctx.y)) if a.dtype.kind == "f" else (a == ctx.y)
        return g * mask / mask.sum(axis=ctx.axes, keepdims=True)


class Amax(_AExtreme):
    name = "amax"
    _f = staticmethod(np.max)


class Amin(_AExtreme):
    name = "amin"
    _f = staticmethod(np.min)


def _extreme_dims(fn, input, dim):
    if isinstance(dim, tuple) and dim == ():
        return tuple(range(input.ndim))
    if isinstance(dim, list) and not dim:
        return tuple(range(input.ndim))
    return _args.dims(fn, dim, input.ndim)


def amax(input, dim=(), keepdim=False):
    _args.check_tensor("amax", "input", input)
    return Amax.apply(input, _extreme_dims("amax", input, dim), _args.boolean("amax", "keepdim", keepdim))


def amin(input, dim=(), keepdim=False):
    _args.check_tensor("amin", "input", input)
    return Amin.apply(input, _extreme_dims("amin", input, dim), _args.boolean("amin", "keepdim", keepdim))


def aminmax(input, *, dim=None, keepdim=False):
    d = () if dim is None else dim
    return rt.aminmax(amin(input, d, keepdim), amax(input, d, keepdim))


class VectorNorm(Function):
    name = "linalg_vector_norm"

    @staticmethod
    def forward(ctx, a, ord, axes, keepdim):
        xp = xp_of(a)
        ax = np.abs(a)
        if ord == 2:
            y = xp.sqrt((a * a).sum(axis=axes, keepdims=True))
        elif ord == 1:
            y = ax.sum(axis=axes, keepdims=True)
        elif ord == np.inf or ord == -np.inf:
            if a.size == 0 and any(a.shape[i] == 0 for i in axes):
                if ord == -np.inf:
                    raise ValueError(f"norm: ord=-inf of an empty tensor of shape {tuple(a.shape)} is undefined")
                y = xp.zeros([1 if i in axes else s for i, s in enumerate(a.shape)], a.dtype)
            else:
                y = (ax.max if ord > 0 else ax.min)(axis=axes, keepdims=True)
        elif ord == 0:
            y = (a != 0).sum(axis=axes, keepdims=True).astype(a.dtype)
        else:
            with np.errstate(divide="ignore"):
                y = ((ax ** ord).sum(axis=axes, keepdims=True)) ** (1.0 / ord)
        y = xp.asarray(y, dtype=a.dtype)
        if ctx.needs_input_grad[0]:
            ctx.a, ctx.y = a, y
        ctx.ord, ctx.axes, ctx.keepdim = ord, axes, keepdim
        return _keep(y, axes, keepdim)

    @staticmethod
    def backward(ctx, g):
        a, y, p = ctx.a, ctx.y, ctx.ord
        xp = xp_of(a)
        g = _expand(g, a.shape, ctx.axes, ctx.keepdim)
        with np.errstate(all="ignore"):
            if p == 2:
                return xp.where(y == 0, 0, g * a / xp.where(y == 0, 1, y))
            if p == 1:
                return g * xp.sign(a)
            if p == np.inf or p == -np.inf:
                mask = xp.abs(a) == y
                return g * xp.sign(a) * mask / mask.sum(axis=ctx.axes, keepdims=True)
            if p == 0:
                return xp.zeros_like(a)
            d = a * xp.abs(a) ** (p - 2) / y ** (p - 1)
            return g * xp.where((a == 0) | (y == 0), 0, d)


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    _args.check_tensor("vector_norm", "x", x)
    if x.dtype.kind not in "fc":
        raise TypeError(f"vector_norm: expected a floating-point tensor, got dtype {x.dtype}")
    if isinstance(ord, bool) or not isinstance(ord, (int, float)):
        raise TypeError(f"vector_norm: ord must be a number (or inf), got {ord!r}")
    if dtype is not None:
        x = x.to(dtype)
    return VectorNorm.apply(x, float(ord), _args.dims("vector_norm", dim, x.ndim),
                            _args.boolean("vector_norm", "keepdim", keepdim))


def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """torch.norm: p 'fro' (2-norm over dim, or every element), a number or ±inf (vector norm over dim).
    The nuclear norm ('nuc') is not provided."""
    _args.check_tensor("norm", "input", input)
    if p == "fro" or p is None:
        p = 2
    elif isinstance(p, str):
        raise ValueError(f"norm: p must be 'fro', a number or inf, got {p!r} (the nuclear norm is not provided)")
    return vector_norm(input, p, dim, keepdim, dtype=dtype)


class Std(Function):
    name = "std"

    @staticmethod
    def forward(ctx, a, axes, correction, keepdim):
        n = 1
        for i in axes:
            n *= a.shape[i]
        den = max(n - correction, 0)
        xp = xp_of(a)
        with np.errstate(all="ignore"):
            mean = a.mean(axis=axes, keepdims=True) if a.size else xp.zeros(
                [1 if i in axes else s for i, s in enumerate(a.shape)], a.dtype)
            y = xp.sqrt(((a - mean) ** 2).sum(axis=axes, keepdims=True) / den).astype(a.dtype)
        if ctx.needs_input_grad[0]:
            ctx.a, ctx.y = a, y
        ctx.axes, ctx.keepdim, ctx.den = axes, keepdim, den
        return _keep(y, axes, keepdim)

    @staticmethod
    def backward(ctx, g):
        a, y = ctx.a, ctx.y
        xp = xp_of(a)
        g = _expand(g, a.shape, ctx.axes, ctx.keepdim)
        with np.errstate(all="ignore"):
            d = g * (a - a.mean(axis=ctx.axes, keepdims=True)) / (ctx.den * y)
        return xp.where(y == 0, 0, d)


def _correction(fn, unbiased, correction):
    if correction is not None:
        if unbiased is not None:
            raise ValueError(f"{fn}(): pass either 'unbiased' or 'correction', not both")
        if isinstance(correction, bool) or not isinstance(correction, (int, float)):
            raise TypeError(f"{fn}(): argument 'correction' must be a number, got {type(correction).__name__}")
        return correction
    if unbiased is None:
        return 1
    return 1 if _args.boolean(fn, "unbiased", unbiased) else 0


def _std_var_args(fn, input, dim, unbiased, keepdim, correction):
    _args.check_tensor(fn, "input", input)
    if input.dtype.kind not in "fc":
        raise TypeError(f"{fn}(): expected a floating-point tensor, got dtype {input.dtype}")
    if isinstance(dim, bool):             # std(True): the old positional 'unbiased'
        dim, unbiased = None, dim
    return (_args.dims(fn, dim, input.ndim), _correction(fn, unbiased, correction),
            _args.boolean(fn, "keepdim", keepdim))


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    axes, c, keepdim = _std_var_args("std", input, dim, unbiased, keepdim, correction)
    return Std.apply(input, axes, c, keepdim)


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    from .ops import Var
    axes, c, keepdim = _std_var_args("var", input, dim, unbiased, keepdim, correction)
    return Var.apply(input, axes, keepdim, c)


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    axes, c, keepdim = _std_var_args("std_mean", input, dim, unbiased, keepdim, correction)
    return Std.apply(input, axes, c, keepdim), input.mean(axes, keepdim=keepdim)


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    from .ops import Var
    axes, c, keepdim = _std_var_args("var_mean", input, dim, unbiased, keepdim, correction)
    return Var.apply(input, axes, keepdim, c), input.mean(axes, keepdim=keepdim)


def nansum(input, dim=None, keepdim=False, dtype=None):
    x = input
    if x.dtype.kind == "f":
        from .ops import Where
        x = Where.apply(xp_of(x._data).isnan(x._data), 0.0, x)
    out = x.sum(dim, keepdim=keepdim)
    return out if dtype is None else out.to(dtype)


def nanmean(input, dim=None, keepdim=False, dtype=None):
    if input.dtype.kind != "f":
        raise TypeError(f"nanmean(): expected a floating-point tensor, got dtype {input.dtype}")
    count = _wrap(~xp_of(input._data).isnan(input._data)).sum(dim, keepdim=keepdim)
    out = nansum(input, dim, keepdim) / count.to(input.dtype)
    return out if dtype is None else out.to(dtype)


# ---------------------------------------------------------------------------------------- logical, counts
def _bool_reduce(fn, input, dim, keepdim):
    _args.check_tensor(fn, "input", input)
    a = input._data
    axes = None if dim is None else _args.dims(fn, dim, a.ndim)
    y = getattr(a, fn)(axis=axes, keepdims=bool(keepdim))
    xp = xp_of(a)
    y = xp.asarray(y)
    return _wrap(y.astype(np.uint8) if a.dtype == np.uint8 else y)


def reduce_all(input, dim=None, keepdim=False):
    """torch.all: True where every element (along dim) is nonzero."""
    return _bool_reduce("all", input, dim, keepdim)


def reduce_any(input, dim=None, keepdim=False):
    """torch.any: True where some element (along dim) is nonzero."""
    return _bool_reduce("any", input, dim, keepdim)


def count_nonzero(input, dim=None):
    _args.check_tensor("count_nonzero", "input", input)
    a = input._data
    axes = None if dim is None else _args.dims("count_nonzero", dim, a.ndim)
    return _wrap(xp_of(a).asarray((a != 0).sum(axis=axes)).astype(np.int64))


def nonzero(input, *, as_tuple=False):
    _args.check_tensor("nonzero", "input", input)
    a = input._data
    xp = xp_of(a)
    if as_tuple:
        return tuple(_wrap(i.astype(np.int64)) for i in xp.nonzero(a if a.ndim else a.reshape(1)))
    return _wrap(xp.argwhere(a).astype(np.int64))


def argwhere(input):
    return nonzero(input)


# ---------------------------------------------------------------------------------------- sorting
def _stable_argsort(a, axis, descending):
    """Stable sort indices along axis; NaN last ascending, first descending; ties in input order."""
    xp = xp_of(a)
    if not descending:
        return xp.argsort(a, axis=axis, kind="stable")
    n = a.shape[axis]
    rev = xp.flip(a, axis)
    return (n - 1) - xp.flip(xp.argsort(rev, axis=axis, kind="stable"), axis)


class _Pick(Function):
    """values = take_along_axis(a, idx) for precomputed int64 indices idx (sort, topk, kthvalue,
    median(dim), mode): outputs (values, idx); the gradient goes back to idx (accumulated)."""
    name = "pick"

    @staticmethod
    def forward(ctx, a, idx, axis, keepdim=True, name=None):
        xp = xp_of(a)
        if name:
            ctx.torch_name = name
        if a.ndim == 0:
            return a.copy(), xp.zeros((), np.int64)
        vals = xp.take_along_axis(a, idx, axis=axis)
        ctx.idx, ctx.shape, ctx.axis, ctx.keepdim = idx, a.shape, axis, keepdim
        if not keepdim:
            vals, idx = vals.squeeze(axis), idx.squeeze(axis)
        return vals, idx

    @staticmethod
    def backward(ctx, g, g_idx=None):
        if g is None:
            return None
        if g.ndim == 0 and not ctx.__dict__.get("shape"):
            return g
        xp = xp_of(g)
        out = xp.zeros(ctx.shape, g.dtype)
        if not ctx.keepdim:
            g = xp.expand_dims(g, ctx.axis)
        _add_at(out, along_index(ctx.idx, ctx.axis), g)
        return out


def _pick(result, input, idx, axis, keepdim, torch_name):
    vals, ids = _Pick.apply(input, idx, axis, keepdim, torch_name)
    return result(vals, ids)


def sort(input, dim=-1, descending=False, stable=False):
    _args.check_tensor("sort", "input", input)
    ax = _args.dim("sort", dim, input.ndim)
    _args.boolean("sort", "descending", descending)
    _args.boolean("sort", "stable", stable)
    a = input._data
    idx = _stable_argsort(a, ax, descending) if a.ndim else None
    return _pick(rt.sort, input, idx, ax, True, "SortBackward0")


def argsort(input, dim=-1, descending=False, stable=False):
    _args.check_tensor("argsort", "input", input)
    ax = _args.dim("argsort", dim, input.ndim)
    a = input._data
    if a.ndim == 0:
        return _wrap(xp_of(a).zeros((), np.int64))
    return _wrap(_stable_argsort(a, ax, _args.boolean("argsort", "descending", descending)).astype(np.int64))


def msort(input):
    return sort(input, 0).values


def topk(input, k, dim=-1, largest=True, sorted=True):  # noqa: A002
    _args.check_tensor("topk", "input", input)
    ax = _args.dim("topk", dim, input.ndim)
    k = _args.integer("topk", "k", k)
    a = input._data
    n = a.shape[ax] if a.ndim else 1
    if not 0 <= k <= n:
        raise ValueError(f"topk(): k must be in [0, {n}] (the size of dim {ax}), got {k}")
    if a.ndim == 0:
        return _pick(rt.topk, input, None, 0, True, "TopkBackward0")
    order = _stable_argsort(a, ax, _args.boolean("topk", "largest", largest))
    idx = xp_of(a).take(order, xp_of(a).arange(k), axis=ax)
    return _pick(rt.topk, input, idx, ax, True, "TopkBackward0")


def _order_stat(fn, result, input, pos, ax, keepdim, torch_name):
    """The element at sorted position pos (a Python int) along ax."""
    a = input._data
    order = _stable_argsort(a, ax, False)
    idx = xp_of(a).take(order, [pos], axis=ax)
    return _pick(result, input, idx, ax, keepdim, torch_name)


def kthvalue(input, k, dim=-1, keepdim=False):
    _args.check_tensor("kthvalue", "input", input)
    ax = _args.dim("kthvalue", dim, input.ndim)
    k = _args.integer("kthvalue", "k", k)
    keepdim = _args.boolean("kthvalue", "keepdim", keepdim)
    n = input.shape[ax] if input.ndim else 1
    if not 1 <= k <= n:
        raise ValueError(f"kthvalue(): k must be in [1, {n}] (the size of dim {ax}), got {k}")
    if input.ndim == 0:
        return _pick(rt.kthvalue, input, None, 0, True, "KthvalueBackward0")
    return _order_stat("kthvalue", rt.kthvalue, input, k - 1, ax, keepdim, "KthvalueBackward0")


class MedianAll(Function):
    """The lower median of every element (NaN if any is NaN); tied elements share the gradient."""
    name = "median"

    @staticmethod
    def forward(ctx, a):
        if a.size == 0:
            raise ValueError(f"median(): cannot take the median of an empty tensor of shape {tuple(a.shape)}")
        xp = xp_of(a)
        flat = a.reshape(-1)
        s = xp.sort(flat)
        y = s[(flat.size - 1) // 2]
        if a.dtype.kind == "f" and xp.isnan(flat).any():
            y = xp.asarray(np.nan, a.dtype)
        y = xp.asarray(y)
        if ctx.needs_input_grad[0]:
            ctx.a, ctx.y = a, y
        return y

    @staticmethod
    def backward(ctx, g):
        a, y = ctx.a, ctx.y
        xp = xp_of(a)
        mask = xp.isnan(a) if xp.isnan(y) else (a == y)
        return g * mask / mask.sum()


def median(input, dim=None, keepdim=False):
    """median() -> the lower median; median(dim) -> (values, indices) along dim."""
    _args.check_tensor("median", "input", input)
    if dim is None:
        return MedianAll.apply(input)
    ax = _args.dim("median", dim, input.ndim)
    keepdim = _args.boolean("median", "keepdim", keepdim)
    if input.ndim == 0:
        return _pick(rt.median, input, None, 0, True, "MedianBackward1")
    n = input.shape[ax]
    if n == 0:
        raise _args.DimensionError(f"median(): expected reduction dim {ax} to have non-zero size")
    a = input._data
    xp = xp_of(a)
    order = _stable_argsort(a, ax, False)
    idx = xp.take(order, [(n - 1) // 2], axis=ax)
    if a.dtype.kind == "f":
        nan = xp.isnan(a)
        if nan.any():           # a row with a NaN has median NaN, at its first NaN
            has = nan.any(axis=ax, keepdims=True)
            first = xp.argmax(nan, axis=ax)
            idx = xp.where(has, xp.expand_dims(first, ax), idx)
    return _pick(rt.median, input, idx, ax, keepdim, "MedianBackward1")


def nanmedian(input, dim=None, keepdim=False):
    """The lower median of the non-NaN values (NaN when all are NaN)."""
    _args.check_tensor("nanmedian", "input", input)
    a = input._data
    xp = xp_of(a)
    if dim is None:
        flat = input.reshape(-1)
        keep = ~xp.isnan(flat._data) if a.dtype.kind == "f" else xp.ones(flat.shape, bool)
        if not keep.any():
            return MedianAll.apply(input)
        return MedianAll.apply(flat[xp.nonzero(keep)[0]])
    ax = _args.dim("nanmedian", dim, input.ndim)
    if input.ndim == 0:
        return _pick(rt.nanmedian, input, None, 0, True, "NanmedianBackward1")
    order = _stable_argsort(a, ax, False)                    # NaNs last
    count = (~xp.isnan(a)).sum(axis=ax, keepdims=True) if a.dtype.kind == "f" else a.shape[ax]
    pos = xp.maximum((count - 1) // 2, 0)
    idx = xp.take_along_axis(order, xp.broadcast_to(pos, order.shape[:ax] + (1,) + order.shape[ax + 1:])
                             .astype(np.int64), axis=ax)
    return _pick(rt.nanmedian, input, idx, ax, _args.boolean("nanmedian", "keepdim", keepdim),
                 "NanmedianBackward1")


def mode(input, dim=-1, keepdim=False):
    """The most frequent value along dim (the smallest among equally frequent ones) and the index of
    its last occurrence (torch's)."""
    _args.check_tensor("mode", "input", input)
    ax = _args.dim("mode", dim, input.ndim)
    keepdim = _args.boolean("mode", "keepdim", keepdim)
    a = input._data
    if a.ndim == 0:
        return _pick(rt.mode, input, None, 0, True, "ModeBackward0")
    n = a.shape[ax]
    if n == 0:
        raise _args.DimensionError(f"mode(): expected reduction dim {ax} to have non-zero size")
    xp = xp_of(a)
    rows = xp.moveaxis(a, ax, -1).reshape(-1, n)
    s = xp.sort(rows, axis=1)
    pos = xp.arange(n)
    starts = xp.ones(s.shape, bool)
    starts[:, 1:] = s[:, 1:] != s[:, :-1]
    run_start = xp.maximum.accumulate(xp.where(starts, pos, 0), axis=1)
    run_len = pos - run_start + 1
    best = xp.argmax(run_len, axis=1)                         # the end of the first longest run
    value = s[xp.arange(s.shape[0]), best]
    eq = rows == value[:, None]
    last = (n - 1) - xp.argmax(eq[:, ::-1], axis=1)
    idx = xp.moveaxis(last.reshape(xp.moveaxis(a, ax, -1).shape[:-1] + (1,)), -1, ax).astype(np.int64)
    return _pick(rt.mode, input, idx, ax, keepdim, "ModeBackward0")


# ---------------------------------------------------------------------------------------- unique
def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):  # noqa: A002
    """The distinct values (sorted; torch's CPU result is sorted even for sorted=False), with the
    inverse indices (input's shape, or dim's length) and the counts when asked for."""
    _args.check_tensor("unique", "input", input)
    a = input._data
    xp = xp_of(a)
    if dim is None:
        vals, inv, counts = xp.unique(a.reshape(-1), return_inverse=True, return_counts=True)
        inv = inv.reshape(a.shape)
    else:
        ax = _args.dim("unique", dim, a.ndim)
        vals, inv, counts = xp.unique(a, return_inverse=True, return_counts=True, axis=ax)
        inv = inv.reshape(-1)
    out = [_wrap(vals)]
    if return_inverse:
        out.append(_wrap(inv.astype(np.int64)))
    if return_counts:
        out.append(_wrap(counts.astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """Collapses runs of equal consecutive values (or slices along dim)."""
    _args.check_tensor("unique_consecutive", "input", input)
    a = input._data
    xp = xp_of(a)
    if dim is None:
        flat = a.reshape(-1)
        ax = 0
    else:
        ax = _args.dim("unique_consecutive", dim, a.ndim)
        flat = xp.moveaxis(a, ax, 0)
    n = flat.shape[0]
    if n == 0:
        starts = xp.zeros(0, bool)
    else:
        diff = flat[1:] != flat[:-1]
        if diff.ndim > 1:
            diff = diff.reshape(n - 1, -1).any(axis=1)
        starts = xp.concatenate([xp.ones(1, bool), diff])
    first = xp.nonzero(starts)[0]
    vals = flat[first] if dim is None else xp.moveaxis(flat[first], 0, ax)
    out = [_wrap(vals)]
    if return_inverse:
        inv = (xp.cumsum(starts) - 1).astype(np.int64)
        out.append(_wrap(inv.reshape(a.shape) if dim is None else inv))
    if return_counts:
        out.append(_wrap(xp.diff(xp.concatenate([first, xp.asarray([n])])).astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


# ---------------------------------------------------------------------------------------- compositions
def diff(input, n=1, dim=-1, prepend=None, append=None):
    """The n-th forward difference along dim (after concatenating prepend / append)."""
    from ..tensor import cat
    _args.check_tensor("diff", "input", input)
    n = _args.integer("diff", "n", n)
    if n < 0:
        raise ValueError(f"diff(): order n must be non-negative, got {n}")
    ax = _args.dim("diff", dim, input.ndim)
    x = input
    parts = [p for p in (prepend, x, append) if p is not None]
    if len(parts) > 1:
        x = cat(parts, ax)
    for _ in range(n):
        m = x.shape[ax]
        if m == 0:
            break
        hi = [slice(None)] * x.ndim
        lo = [slice(None)] * x.ndim
        hi[ax], lo[ax] = slice(1, m), slice(0, m - 1)
        x = (x[tuple(hi)] ^ x[tuple(lo)]) if x.dtype == np.bool_ else x[tuple(hi)] - x[tuple(lo)]
    return x


def trace(input):
    _args.check_tensor("trace", "input", input)
    if input.ndim != 2:
        raise ValueError(f"trace(): expected a 2-D tensor, got shape {tuple(input.shape)}")
    from .ops_index import diagonal
    d = diagonal(input)
    return d.sum() if input.dtype.kind not in "biu" else d.to(np.int64).sum()
