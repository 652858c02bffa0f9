"""The gradcheck entries of the tensor-op breadth (autograd.ops_math, ops_reduce, ops_index, ops_linalg):
every differentiable op, its top-level and in-place forms, in float64 through autograd and the CPU
GEMM, with inputs kept away from the op's kinks:

- sorting-like ops (sort, topk, kthvalue, median, mode, amax, cummax, maximum …) get a shuffled grid
  (every pair ≥ 0.05 apart: no ties within eps); ties themselves are tested against torch apart;
- floor/ceil/round/trunc/frac/sign and fmod/remainder keep x (or x / y) ≥ 0.1 away from integers;
- inverse-trig / log / rsqrt / logit / erfinv inputs stay inside their domains.

``CASES`` builds the AutogradCase list that ``autograd_ops.cases()`` appends; ``OPS`` names what they
cover (added to autograd_ops.TENSOR_OPS, so an op without an entry fails the completeness test).
"""
from __future__ import annotations

import numpy as np

from .autograd_ops import AutogradCase, _T, _distinct, _pos, _rn

__all__ = ["OPS", "cases"]


def _off_int(rng, *shape):
    """Values in (-3, 3) at least 0.1 from every integer and half-integer (the rounding kinks)."""
    return rng.integers(-3, 3, shape) + rng.uniform(0.1, 0.4, shape) + 0.5 * rng.integers(0, 2, shape)


def _in(lo, hi):
    return lambda rng, *shape: rng.uniform(lo, hi, shape)


_UNARY_DOMAIN = {"asin": _in(-0.9, 0.9), "acos": _in(-0.9, 0.9), "atanh": _in(-0.9, 0.9), "erfinv": _in(-0.9, 0.9),
                 "arcsin": _in(-0.9, 0.9), "arccos": _in(-0.9, 0.9), "arctanh": _in(-0.9, 0.9),
                 "acosh": _in(1.2, 3.0), "arccosh": _in(1.2, 3.0), "log1p": _in(-0.7, 2.0), "log2": _pos,
                 "log10": _pos, "rsqrt": _pos, "reciprocal": _pos, "tan": _in(-1.2, 1.2)}
_KINKED = ("sign", "sgn", "floor", "ceil", "trunc", "fix", "frac")


def cases() -> list[AutogradCase]:
    import pyengine as pe
    from ..autograd.ops_math import UNARY

    C = AutogradCase
    out: list[AutogradCase] = []
    add = out.append

    # ---- element-wise -----------------------------------------------------------------------------
    for name in sorted(UNARY):
        gen = _off_int if name in _KINKED else _UNARY_DOMAIN.get(name, _rn)
        add(C(f"unary {name} (method and pe.{name})", (name,), lambda r, g=gen: [_T(g(r, 3, 4))],
              lambda a, n=name: getattr(a, n)() * 1.5 + getattr(pe, n)(a)))
    add(C("round decimals", ("round",), lambda r: [_T(_off_int(r, 3, 4))], lambda a: a.round() + a.round(decimals=1)))
    add(C("logit eps", ("logit",), lambda r: [_T(r.uniform(0.2, 0.8, (3, 4)))],
          lambda a: a.logit() + pe.logit(a, eps=0.1)))
    add(C("nan_to_num", ("nan_to_num",), lambda r: [_T(_rn(r, 3, 4))], lambda a: a.nan_to_num(posinf=1.0)))
    grid = lambda r: [_T(_distinct(r, 3, 4)), _T(_distinct(r, 3, 4) + 0.025)]  # noqa: E731  (no ties)
    for name in ("maximum", "minimum", "fmax", "fmin"):
        add(C(name, (name,), grid, lambda a, b, n=name: getattr(pe, n)(a, b) + getattr(a, n)(b[:1])))
    add(C("atan2 hypot logaddexp logaddexp2", ("atan2", "hypot", "logaddexp", "logaddexp2", "arctan2"),
          lambda r: [_T(_rn(r, 3, 4)), _T(_rn(r, 4) + 0.2)],
          lambda a, b: pe.atan2(a, b) + a.hypot(b) + pe.logaddexp(a, b) + a.logaddexp2(b) + pe.arctan2(b, a)))
    add(C("fmod remainder (x/y off integers)", ("fmod", "remainder", "mod"),
          lambda r: [_T(np.array([[3.3, -3.3, 5.6], [-0.7, 2.2, -7.6]])), _T(np.array([1.5, -2.0, 2.5]))],
          lambda a, b: a.fmod(b) + pe.remainder(a, b) + a % 1.5 + pe.fmod(a, -2.0)))
    add(C("copysign xlogy", ("copysign", "xlogy"), lambda r: [_T(_distinct(r, 3, 4) + 0.01), _T(_pos(r, 3, 4))],
          lambda a, b: pe.copysign(a, b - 1.2) + a.xlogy(b) + pe.xlogy(b, b)))
    add(C("div rounding modes (zero gradient)", ("div",), lambda r: [_T(_off_int(r, 3, 4))],
          lambda a: a.div(1.0, rounding_mode="floor") + pe.div(a, 1.0, rounding_mode="trunc") + a / 2))
    add(C("clamp with tensor bounds", ("clamp", "clip", "clamp_min", "clamp_max"),
          lambda r: [_T(np.array([-2.0, -0.7, -0.2, 0.3, 0.8, 1.9])), _T(np.array([-1.0, -1.0, 0.0, 0.0, 0.5, 2.5])),
                     _T(np.array([1.0, -0.5, 0.5, 1.0, 1.0, 3.0]))],
          lambda x, lo, hi: x.clamp(lo, hi) + pe.clamp(x, min=lo) * 2 + x.clip(max=hi) + x.clamp_min(0.1)
          + x.clamp_max(0.45)))
    add(C("lerp scalar and tensor weight", ("lerp",), lambda r: [_T(_rn(r, 3, 4)), _T(_rn(r, 4)), _T(r.uniform(0, 1, (3, 1)))],
          lambda a, b, w: a.lerp(b.expand(3, 4), w) + pe.lerp(a, b.expand(3, 4), 0.3)))
    add(C("addcmul addcdiv", ("addcmul", "addcdiv"), lambda r: [_T(_rn(r, 3, 4)), _T(_rn(r, 4)), _T(_pos(r, 3, 4))],
          lambda a, b, c: a.addcmul(b, c, value=0.5) + pe.addcdiv(a, b, c, value=-2)))
    add(C("in-place unary, binary, clamp, lerp, pow on a non-leaf",
          ("sin_", "exp_", "clamp_", "atan2_", "lerp_", "pow_", "addcmul_", "floor_"),
          lambda r: [_T(_pos(r, 3, 4)), _T(_pos(r, 4))],
          lambda a, b: _inplace_chain(a, b)))

    # ---- reductions, scans, order statistics ------------------------------------------------------
    add(C("prod (zeros exact)", ("prod",), lambda r: [_T(np.array([[0.7, 0.0, 1.3, -0.9], [1.1, 0.0, 0.0, 2.0],
                                                                   [0.5, -1.5, 0.8, 1.2]]))],
          lambda a: a.prod(1) + a.prod(0, keepdim=True).sum() + pe.prod(a[2]) + a[0].prod()))
    add(C("cumsum cumprod (with a zero)", ("cumsum", "cumprod"),
          lambda r: [_T(np.array([[0.7, 1.2, 0.0, -0.9, 1.4], [1.1, -0.8, 1.3, 0.6, 0.9]]))],
          lambda a: a.cumsum(1) + pe.cumprod(a, 1) + a.cumprod(0).sum(0)))
    add(C("cummax cummin", ("cummax", "cummin"), lambda r: [_T(_distinct(r, 3, 5))],
          lambda a: a.cummax(1).values + pe.cummin(a, 1).values))
    add(C("logsumexp", ("logsumexp",), lambda r: [_T(_rn(r, 3, 4, 2) * 3)],
          lambda a: a.logsumexp(1) + pe.logsumexp(a, (0, 1), keepdim=True)))
    add(C("amax amin aminmax", ("amax", "amin", "aminmax"), lambda r: [_T(_distinct(r, 3, 4))],
          lambda a: a.amax(1) + pe.amin(a, 1) + a.amax() + a.aminmax(dim=1).max))
    add(C("norm p = 2, 1, 3, inf, fro over dims", ("norm",), lambda r: [_T(_distinct(r, 3, 4) + 0.01)],
          lambda a: a.norm() + a.norm(1, dim=1) + pe.norm(a, 3, dim=0).sum() + a.norm(float("inf"), dim=1)
          + a.norm("fro", dim=(0, 1)) + a.norm(0.5, dim=1, keepdim=True).sum()))
    add(C("std var_mean std_mean", ("std", "var_mean", "std_mean"), lambda r: [_T(_rn(r, 3, 5))],
          lambda a: a.std(1) + a.std(0, correction=0).sum() + pe.var_mean(a, 1)[0] + pe.std_mean(a)[1]))
    add(C("nansum nanmean", ("nansum", "nanmean"), lambda r: [_T(_rn(r, 3, 4))],
          lambda a: a.nansum(1) + pe.nanmean(a, 1)))
    add(C("sort argsort-order values", ("sort", "msort"), lambda r: [_T(_distinct(r, 3, 5))],
          lambda a: a.sort(1).values * pe.arange(5.0, dtype=pe.float64) + a.sort(0, descending=True)[0].sum(0)
          + a.msort()[0]))
    add(C("topk", ("topk",), lambda r: [_T(_distinct(r, 3, 6))],
          lambda a: a.topk(3).values + pe.topk(a, 2, dim=0, largest=False).values.sum(0)[:3]))
    add(C("kthvalue median nanmedian mode", ("kthvalue", "median", "nanmedian", "mode"),
          lambda r: [_T(_distinct(r, 3, 5))],
          lambda a: a.kthvalue(2, 1).values + a.median(1).values + a.median() + pe.nanmedian(a, 1).values
          + pe.kthvalue(a, 3, 0).values.sum()))
    add(C("diff trace", ("diff", "trace"), lambda r: [_T(_rn(r, 4, 5)), _T(_rn(r, 4, 2))],
          lambda a, p: a.diff().sum(1) + pe.diff(a, n=2, dim=0).sum() + a.diff(prepend=p).sum() + a.trace()))

    # ---- shape, copy and index ops ----------------------------------------------------------------
    idx = pe.tensor
    add(C("repeat tile repeat_interleave", ("repeat", "tile", "repeat_interleave"), lambda r: [_T(_rn(r, 2, 3))],
          lambda a: (a.repeat(2, 1, 2), pe.tile(a, (2,)), a.repeat_interleave(2, dim=0),
                     a.repeat_interleave(idx([0, 3, 1]), dim=1), a.repeat_interleave(2))))
    add(C("split chunk tensor_split unbind narrow", ("split", "chunk", "tensor_split", "unbind", "narrow"),
          lambda r: [_T(_rn(r, 5, 4))],
          lambda a: a.split(2)[1] * 2 + pe.chunk(a, 3, dim=1)[0].sum() + a.tensor_split(3)[0][:1] + a.unbind(0)[4]
          + a.narrow(0, 1, 2) + a.split([1, 3], dim=1)[1].sum(1, keepdim=True)[:2]))
    add(C("gather scatter scatter_add (repeated indices)", ("gather", "scatter", "scatter_add"),
          lambda r: [_T(_rn(r, 3, 4)), _T(_rn(r, 2, 4))],
          lambda a, s: a.gather(1, idx([[0, 0, 3], [1, 2, 2]])).sum() + a.scatter(1, idx([[0, 3, 1], [2, 1, 0]]), s)
          + pe.scatter_add(a, 0, idx([[2, 0, 2, 2], [2, 0, 0, 1]]), s) + a.scatter(0, idx([[1, 0, 2, 2]]), 2.5)))
    add(C("index_select index_add index_copy index_fill", ("index_select", "index_add", "index_copy", "index_fill"),
          lambda r: [_T(_rn(r, 4, 3)), _T(_rn(r, 2, 3)), _T(np.array(0.5))],
          lambda a, s, v: a.index_select(0, idx([3, 0, 3, 1])) + pe.index_add(a, 0, idx([1, 1]), s, alpha=2.0)
          + a.index_copy(0, idx([3, 0]), s) + a.index_fill(1, idx([0, 2, 2]), v)))
    add(C("masked_fill masked_select masked_scatter", ("masked_fill", "masked_select", "masked_scatter"),
          lambda r: [_T(_rn(r, 3, 4)), _T(np.array(0.5)), _T(_rn(r, 8))],
          lambda a, v, s: a.masked_fill(idx([True, False, True, False]), v) + a.masked_select(a > 0).sum()
          + pe.masked_scatter(a, idx([False, True, True, False]), s)))
    add(C("take take_along_dim", ("take", "take_along_dim"), lambda r: [_T(_rn(r, 3, 4))],
          lambda a: a.take(idx([[11, 0], [-1, 0]])).sum() + pe.take_along_dim(a, idx([[0, 3], [1, 1], [2, 0]]), 1).sum(1)))
    add(C("flip fliplr flipud roll rot90", ("flip", "fliplr", "flipud", "roll", "rot90"), lambda r: [_T(_rn(r, 3, 3))],
          lambda a: a.flip(0) + pe.fliplr(a) + a.flipud() * 2 + a.roll(1) + pe.roll(a, (1, 2), (0, 1)) + a.rot90()
          + pe.rot90(a, 3)))
    add(C("tril triu diag diagonal diag_embed", ("tril", "triu", "diag", "diagonal", "diag_embed"),
          lambda r: [_T(_rn(r, 3, 4)), _T(_rn(r, 2, 3))],
          lambda a, v: a.tril(-1) + pe.triu(a, 1) + a.diag(1).sum() + a.diagonal(-1).sum() + pe.diag(v[0]).sum()
          + a.diag_embed()[:, :, :1].sum(0)[:, :1].sum() + pe.diag_embed(v, 1).sum()))
    add(C("movedim swapaxes unflatten broadcast_to broadcast_tensors", ("movedim", "moveaxis", "swapaxes", "swapdims",
                                                                        "unflatten", "broadcast_to", "broadcast_tensors"),
          lambda r: [_T(_rn(r, 2, 3, 4)), _T(_rn(r, 4))],
          lambda a, b: (a.movedim(0, -1), pe.swapaxes(a, 1, 2), a.unflatten(2, (2, 2)), b.broadcast_to((3, 4)),
                        pe.broadcast_tensors(a, b)[1], a.moveaxis((2, 0), (0, 1)), a.swapdims(0, 1))))
    add(C("hstack vstack dstack column_stack meshgrid atleast", ("hstack", "vstack", "dstack", "column_stack",
                                                                 "meshgrid", "atleast_1d", "atleast_2d", "atleast_3d"),
          lambda r: [_T(_rn(r, 3)), _T(_rn(r, 3))],
          lambda a, b: pe.hstack([a, b]).sum() + pe.vstack([a, b]) + pe.dstack([a, b]).sum() + pe.column_stack([a, b]).T
          + pe.meshgrid(a, b)[0][:2] + pe.meshgrid(a, b, indexing="xy")[1][:2] + pe.atleast_3d(a).sum()))
    add(C("in-place index ops on a non-leaf", ("masked_fill_", "index_add_", "scatter_add_", "index_fill_", "triu_",
                                                "scatter_", "index_copy_", "masked_scatter_", "tril_"),
          lambda r: [_T(_rn(r, 3, 3)), _T(_rn(r, 2, 3))],
          lambda a, s: _inplace_index_chain(a, s)))

    # ---- matrix products ------------------------------------------------------------------------
    add(C("matmul broadcast batch (loop of GEMMs)", ("matmul",), lambda r: [_T(_rn(r, 2, 1, 3, 4)), _T(_rn(r, 3, 4, 2))],
          lambda a, b: a @ b))
    add(C("matmul 1-D @ batched and batched @ 1-D", ("matmul",), lambda r: [_T(_rn(r, 4)), _T(_rn(r, 2, 4, 3))],
          lambda a, b: (a @ b).sum() + b.transpose(1, 2) @ a))
    add(C("mm bmm mv dot vdot inner outer", ("mm", "bmm", "mv", "dot", "vdot", "inner", "outer", "ger"),
          lambda r: [_T(_rn(r, 3, 4)), _T(_rn(r, 4, 2)), _T(_rn(r, 2, 3, 4))],
          lambda a, b, c: pe.mm(a, b).sum() + pe.bmm(c, b.expand(2, 4, 2)).sum() + a.mv(b[:, 0]).sum()
          + pe.dot(a[0], b[:, 1]) + a[1].vdot(a[2]) + pe.inner(a, c[0]).sum() + pe.outer(a[0], b[0]).sum()
          + a[0].ger(b[1]).sum()))
    add(C("addmm addmv addr baddbmm addbmm", ("addmm", "addmv", "addr", "baddbmm", "addbmm"),
          lambda r: [_T(_rn(r, 3, 2)), _T(_rn(r, 3, 4)), _T(_rn(r, 4, 2)), _T(_rn(r, 2, 3, 4))],
          lambda z, a, b, c: (pe.addmm(z, a, b, beta=0.5, alpha=2.0), z[:, 0].addmv(a, b[:, 0], alpha=-1),
                              pe.addr(z, a[:, 0], b[0]), pe.baddbmm(z, c, b.expand(2, 4, 2)),
                              pe.addbmm(z, c, b.expand(2, 4, 2)))))
    add(C("tensordot", ("tensordot",), lambda r: [_T(_rn(r, 2, 3, 4)), _T(_rn(r, 4, 3, 2))],
          lambda a, b: pe.tensordot(a, b, dims=([1, 2], [1, 0])) + pe.tensordot(a, b, 0).sum((0, 1, 2, 3, 4))))
    for eq, shapes in (("bij,bjk->bik", [(2, 3, 4), (2, 4, 2)]), ("ii->i", [(3, 3)]), ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
                       ("...ij,...jk->...ik", [(2, 1, 3, 4), (3, 4, 2)]), ("bhqd,bhkd->bhqk", [(1, 2, 3, 4), (1, 2, 5, 4)]),
                       ("iij,jk->ik", [(2, 2, 3), (3, 2)]), ("ij,ij->i", [(3, 4), (1, 4)])):
        add(C(f"einsum {eq}", ("einsum",), lambda r, s=shapes: [_T(_rn(r, *x)) for x in s],
              lambda *xs, e=eq: pe.einsum(e, *xs)))
    return out


def _inplace_chain(a, b):
    y = a * 1.0
    y.sin_()
    y.exp_()
    y.clamp_(1.2, 2.4)
    y.atan2_(b)
    y.lerp_(b.expand(3, 4), 0.25)
    y.pow_(2)
    y.addcmul_(a, b, value=0.5)
    z = a * 3.0
    z.floor_()                 # zero gradient, away from integers (a in (0.5, 2) → 3a ... shifted)
    return y + z


def _inplace_index_chain(a, s):
    import pyengine as pe
    y = a * 2.0
    y.masked_fill_(pe.tensor([[True, False, False], [False, True, False], [False, False, False]]), 0.5)
    y.index_add_(0, pe.tensor([0, 2]), s)
    y.scatter_add_(1, pe.tensor([[0, 0, 2], [1, 1, 1]]), s)
    y.scatter_(1, pe.tensor([[2], [0]]), s[:, :1] * 1)
    y.index_fill_(1, pe.tensor([1]), -1.0)
    y.index_copy_(0, pe.tensor([1]), s[:1] * 1)
    y.masked_scatter_(pe.tensor([True, False, True]), s * 1)
    y.triu_(-1)
    y.tril_(1)
    return y


def _ops():
    from ..autograd.ops_math import UNARY
    return sorted(UNARY) + [
        "round", "logit", "nan_to_num", "maximum", "minimum", "fmax", "fmin", "atan2", "arctan2", "hypot",
        "logaddexp", "logaddexp2", "fmod", "remainder", "mod", "copysign", "xlogy", "div", "clamp", "clip",
        "clamp_min", "clamp_max", "lerp", "addcmul", "addcdiv", "sin_", "exp_", "clamp_", "atan2_", "lerp_", "pow_",
        "addcmul_", "floor_",
        "prod", "cumsum", "cumprod", "cummax", "cummin", "logsumexp", "amax", "amin", "aminmax", "norm", "std",
        "var_mean", "std_mean", "nansum", "nanmean", "sort", "msort", "topk", "kthvalue", "median", "nanmedian", "mode",
        "diff", "trace",
        "repeat", "tile", "repeat_interleave", "split", "chunk", "tensor_split", "unbind", "narrow", "gather",
        "scatter", "scatter_add", "index_select", "index_add", "index_copy", "index_fill", "masked_fill",
        "masked_select", "masked_scatter", "take", "take_along_dim", "flip", "fliplr", "flipud", "roll", "rot90",
        "tril", "triu", "diag", "diagonal", "diag_embed", "movedim", "moveaxis", "swapaxes", "swapdims", "unflatten",
        "broadcast_to", "broadcast_tensors", "hstack", "vstack", "dstack", "column_stack", "meshgrid", "atleast_1d",
        "atleast_2d", "atleast_3d", "masked_fill_", "index_add_", "scatter_add_", "index_fill_", "triu_", "scatter_",
        "index_copy_", "masked_scatter_", "tril_",
        "mm", "bmm", "mv", "dot", "vdot", "inner", "outer", "ger", "addmm", "addmv", "addr", "baddbmm", "addbmm",
        "tensordot", "einsum"]


OPS = _ops()
