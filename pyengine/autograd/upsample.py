"""Resampling (PyTorch's F.interpolate) as an autograd Function: nearest, nearest-exact, linear (3-D
input) and bilinear (4-D input), with align_corners, size or scale_factor.

Separable: each spatial axis of length n becomes one of length m by a gather and a blend,
    y[..., o] = λ0[o]·x[..., i0[o]] + λ1[o]·x[..., i1[o]]      (nearest: λ0 = 1, λ1 = 0)
with PyTorch's source positions (upsample kernels of ATen), computed in the input's dtype:
    nearest        i0 = min(floor(o·scale), n − 1)             (o when m = n, o >> 1 when m = 2n)
    nearest-exact  i0 = min(floor((o + ½)·scale), n − 1)
    linear         src = scale·o (align_corners) else max(scale·(o + ½) − ½, 0),
                   i0 = floor(src), i1 = i0 + (i0 < n − 1), λ1 = src − i0, λ0 = 1 − λ1
    scale = (n − 1)/(m − 1) with align_corners (0 when m = 1), else 1/scale_factor when a scale
    factor is given (and not recomputed), else n/m.
Backward is the adjoint per axis: i0 and i1 never decrease along o, so the gradient summed onto
each input position is a segmented sum (``add.reduceat``) over runs of equal indices — O(size),
no dense interpolation matrix.
"""
from __future__ import annotations

import math

import numpy as np

from .core import Function
from .device import xp_of

__all__ = ["Interpolate", "interpolate", "axis_plan", "MODES"]

MODES = {"nearest": None, "nearest-exact": None, "linear": 3, "bilinear": 4}


def axis_plan(n: int, m: int, mode: str, align_corners: bool, scale_factor, dtype):
    """(i0, i1, λ0, λ1) for one axis from n to m samples; i1 and λ's None for the nearest modes."""
    dtype = np.dtype(dtype)
    o = np.arange(m)
    if mode.startswith("nearest"):
        if mode == "nearest" and m == n:
            return o, None, None, None
        if mode == "nearest" and m == 2 * n:
            return o >> 1, None, None, None
        f32 = np.float32
        scale = f32(1.0 / scale_factor) if scale_factor else f32(n) / f32(m)
        pos = o.astype(f32) * scale if mode == "nearest" else (o.astype(f32) + f32(0.5)) * scale
        return np.minimum(np.floor(pos).astype(np.int64), n - 1), None, None, None
    if align_corners:
        scale = dtype.type(n - 1) / dtype.type(m - 1) if m > 1 else dtype.type(0)
        src = scale * o.astype(dtype)
    else:
        scale = dtype.type(1.0 / scale_factor) if scale_factor else dtype.type(n) / dtype.type(m)
        src = np.maximum(scale * (o.astype(dtype) + dtype.type(0.5)) - dtype.type(0.5), dtype.type(0))
    i0 = src.astype(np.int64)
    i1 = i0 + (i0 < n - 1)
    l1 = (src - i0.astype(dtype)).astype(dtype)
    return i0, i1, (dtype.type(1) - l1).astype(dtype), l1


def _gather(xp, x, axis, i0, i1, l0, l1):
    shape = [1] * x.ndim
    shape[axis] = -1
    y = xp.take(x, xp.asarray(i0), axis=axis)
    if i1 is None:
        return y
    return y * xp.asarray(l0).reshape(shape) + xp.take(x, xp.asarray(i1), axis=axis) * xp.asarray(l1).reshape(shape)


def _segment_add(xp, gx, g, idx, axis):
    """gx[..., idx[o], ...] += g[..., o, ...] along axis, idx non-decreasing."""
    starts = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]])
    lead = (slice(None),) * axis
    if xp is np:
        gx[lead + (idx[starts],)] += np.add.reduceat(g, starts, axis=axis)
    else:                                    # CuPy has no reduceat: per-run sums over device slices
        ends = np.r_[starts[1:], len(idx)]
        for a, b in zip(starts, ends):
            gx[lead + (int(idx[a]),)] += g[lead + (slice(int(a), int(b)),)].sum(axis=axis)


class Interpolate(Function):
    name = "interpolate"

    @property
    def torch_name(self):                   # UpsampleBilinear2DBackward0, UpsampleNearest2DBackward0, …
        mode, nd = self.__dict__.get("mode", "nearest"), len(self.__dict__.get("plans", ()))
        kind = {"nearest": "Nearest", "nearest-exact": "NearestExact", "linear": "Linear",
                "bilinear": "Bilinear"}[mode]
        return f"Upsample{kind}{nd}DBackward0"

    @staticmethod
    def forward(ctx, x, size, mode, align_corners, scale_factors):
        xp = xp_of(x)
        plans = []
        y = x
        for k, m in enumerate(size):
            axis = x.ndim - len(size) + k
            plan = axis_plan(x.shape[axis], m, mode, align_corners, scale_factors[k], x.dtype)
            plans.append((axis, x.shape[axis], plan))
            y = _gather(xp, y, axis, *plan)
        ctx.plans, ctx.mode = plans, mode
        return xp.ascontiguousarray(y)

    @staticmethod
    def backward(ctx, g):
        xp = xp_of(g)
        for axis, n, (i0, i1, l0, l1) in reversed(ctx.plans):
            shape = list(g.shape)
            shape[axis] = n
            gx = xp.zeros(shape, g.dtype)
            if g.size:
                if i1 is None:
                    _segment_add(xp, gx, g, i0, axis)
                else:
                    bshape = [1] * g.ndim
                    bshape[axis] = -1
                    _segment_add(xp, gx, g * xp.asarray(l0).reshape(bshape), i0, axis)
                    _segment_add(xp, gx, g * xp.asarray(l1).reshape(bshape), i1, axis)
            g = gx
        return g


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """input (N, C, L) or (N, C, H, W) -> (N, C, *size); size = floor(in · scale_factor) when a scale
    factor is given. Modes 'nearest', 'nearest-exact', 'linear' (3-D), 'bilinear' (4-D)."""
    nd = input.ndim - 2
    if mode not in MODES:
        raise ValueError(f"interpolate: mode must be one of {', '.join(map(repr, MODES))}, got {mode!r}")
    if nd not in (1, 2) or (MODES[mode] is not None and input.ndim != MODES[mode]):
        need = {3: "(N, C, L)", 4: "(N, C, H, W)"}
        want = need[MODES[mode]] if MODES[mode] else "(N, C, L) or (N, C, H, W)"
        raise ValueError(f"interpolate: mode {mode!r} expects input of shape {want}, got {tuple(input.shape)}")
    if antialias:
        raise ValueError("interpolate: antialias=True is not supported")
    if mode.startswith("nearest"):
        if align_corners is not None:
            raise ValueError("interpolate: align_corners can only be set with the interpolating modes "
                             "'linear' and 'bilinear'")
        align_corners = False
    align_corners = bool(align_corners)
    spatial = tuple(input.shape[2:])
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: " + ("only one of size or scale_factor should be defined" if size is not None
                                            else "either size or scale_factor should be defined"))
    if size is not None:
        size = (size,) * nd if isinstance(size, int) else tuple(size)
        if len(size) != nd:
            raise ValueError(f"interpolate: size {size} must give {nd} spatial sizes for input {tuple(input.shape)}")
        size = tuple(int(s) for s in size)
        scales = (None,) * nd
    else:
        sf = (scale_factor,) * nd if isinstance(scale_factor, (int, float)) else tuple(scale_factor)
        if len(sf) != nd:
            raise ValueError(f"interpolate: scale_factor {sf} must give {nd} factors for input {tuple(input.shape)}")
        if any(not isinstance(f, (int, float)) or not f > 0 or not math.isfinite(f) for f in sf):
            raise ValueError(f"interpolate: scale_factor must be finite and > 0, got {scale_factor}")
        size = tuple(int(math.floor(float(n) * float(f))) for n, f in zip(spatial, sf))
        scales = (None,) * nd if recompute_scale_factor else tuple(float(f) for f in sf)
    if min(size) < 1 or min(spatial) < 1:
        raise ValueError(f"interpolate: input and output sizes must be > 0, got input {spatial} and output {size}")
    return Interpolate.apply(input, size, mode, align_corners, scales)
