"""Resampling (PyTorch's F.interpolate) as an autograd Function over the device's kernels
(pyengine.kernels.cpu / .cuda ``interpolate_forward`` / ``interpolate_backward``, the interpolate
family: csrc/cpu/interpolate.cpp, csrc/cuda/interpolate.cu): nearest, nearest-exact, linear (3-D
input) and bilinear (4-D input), with align_corners, size or scale_factor.

The kernels resample (N, C, H, W) planes; a 3-D (N, C, L) input runs as (N, C, 1, L), 'linear' as
'bilinear' (a height of 1 to 1 is the identity in both plans). Source positions, weights and the
adjoint are in pyengine/reference/interpolate.py and csrc/include/pyengine/interpolate.h.
"""
from __future__ import annotations

import math

from .core import Function
from .device import kernels_of

__all__ = ["Interpolate", "interpolate", "MODES"]

MODES = {"nearest": None, "nearest-exact": None, "linear": 3, "bilinear": 4}


class Interpolate(Function):
    name = "interpolate"

    @property
    def torch_name(self):                   # UpsampleBilinear2DBackward0, UpsampleNearest1DBackward0, …
        mode, flat = self.__dict__.get("mode", "nearest"), self.__dict__.get("flat", False)
        kind = {"nearest": "Nearest", "nearest-exact": "NearestExact", "linear": "Linear",
                "bilinear": "Bilinear"}[mode]
        return f"Upsample{kind}{1 if flat else 2}DBackward0"

    @staticmethod
    def forward(ctx, x, size, mode, align_corners, scale_factors):
        K = kernels_of(x)
        flat = x.ndim == 3
        x4 = x.reshape(x.shape[0], x.shape[1], 1, x.shape[2]) if flat else x
        size4 = (1,) + tuple(size) if flat else tuple(size)
        scales = (None,) + tuple(scale_factors) if flat else tuple(scale_factors)
        kmode = "bilinear" if mode == "linear" else mode
        scales = None if all(s is None for s in scales) else scales
        y = K.interpolate_forward(x4, size4, kmode, align_corners, scales)
        ctx.args, ctx.K, ctx.shape, ctx.shape4 = (kmode, align_corners, scales), K, x.shape, x4.shape
        ctx.mode, ctx.flat = mode, flat
        return y.reshape(y.shape[0], y.shape[1], y.shape[3]) if flat else y

    @staticmethod
    def backward(ctx, g):
        g4 = g.reshape(g.shape[0], g.shape[1], 1, g.shape[2]) if ctx.flat else g
        gx = ctx.K.interpolate_backward(g4, ctx.shape4, *ctx.args)
        return gx.reshape(ctx.shape)


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
