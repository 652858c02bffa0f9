"""Reference resampling (PyTorch's upsample kernels): nearest, nearest-exact and bilinear, separable.

x (N, C, H, W) -> y (N, C, OH, OW). Each axis of length n becomes one of length m by a gather and a
blend, y[..., o] = λ0[o]·x[..., i0[o]] + λ1[o]·x[..., i1[o]], with ATen's source positions:
    nearest        i0 = min(floor(o·scale), n − 1), computed in float32 (o itself when m = n,
                   o >> 1 when m = 2n)
    nearest-exact  i0 = min(floor((o + ½)·scale), n − 1), float32
    bilinear       src = scale·o (align_corners) else max(scale·(o + ½) − ½, 0), in x's dtype;
                   i0 = min(floor(src), n − 1), i1 = i0 + (i0 < n − 1), λ1 = clamp(src − i0, 0, 1), λ0 = 1 − λ1
    scale = (n − 1)/(m − 1) with align_corners (0 when m = 1), else 1/scale_factor when one is
    given, else n/m.
The width pass runs first, then the height pass (so float32 sums in ATen's order). Backward is the
adjoint of each pass in reverse: every output's gradient, times its weight, added onto its source.
"""
from __future__ import annotations

import numpy as np

import math
import numbers

from ._checks import as_bool, as_int, check_float_array, check_input_shape, check_shape, checked_numel

__all__ = ["interpolate_forward", "interpolate_backward"]

MODES = ("nearest", "nearest-exact", "bilinear")


# ---- the contract, as the oracle checks it (the same messages as csrc/include/pyengine/interpolate.h) ----

def _size(fn, name, value):
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return as_int(fn, name, value[0], 1), as_int(fn, name, value[1], 1)
    raise ValueError(f"{fn}: {name} must be a pair of ints (height, width), got {value!r}")


def _scales(fn, scale_factor):
    """(scale_h, scale_w), 0.0 where none was given."""
    if scale_factor is None:
        return (0.0, 0.0)
    if not isinstance(scale_factor, (tuple, list)) or len(scale_factor) != 2:
        raise ValueError(f"{fn}: scale_factor must be None or a pair of reals, got {scale_factor!r}")
    out = []
    for f in scale_factor:
        if f is None:
            out.append(0.0)
            continue
        if isinstance(f, bool) or not isinstance(f, numbers.Real):
            raise TypeError(f"{fn}: scale_factor must hold reals, got {type(f).__name__} {f!r}")
        if not (math.isfinite(f) and f > 0):
            raise ValueError(f"{fn}: scale_factor must be finite and > 0, got {f!r}")
        out.append(float(f))
    return tuple(out)


def _mode(fn, mode, align_corners):
    if not isinstance(mode, str) or mode not in MODES:
        raise ValueError(f"{fn}: mode must be one of {', '.join(map(repr, MODES))}, got {mode!r}")
    align_corners = as_bool(fn, "align_corners", align_corners)
    if align_corners and mode != "bilinear":
        raise ValueError(f"{fn}: align_corners=True needs mode='bilinear', got {mode!r}")
    return align_corners


def _planes(fn, name, shape):
    if shape[2] < 1 or shape[3] < 1:
        raise ValueError(f"{fn}: {name} must have height and width >= 1, got {tuple(shape)}")
    checked_numel(fn, name, shape)


def check_interpolate_forward(x, size, mode, align_corners, scale_factor, fn="interpolate_forward"):
    """Returns ((OH, OW), align_corners, (scale_h, scale_w))."""
    check_float_array(fn, "x", x, 4)
    oh, ow = _size(fn, "size", size)
    align_corners = _mode(fn, mode, align_corners)
    scales = _scales(fn, scale_factor)
    _planes(fn, "x", x.shape)
    checked_numel(fn, "output shape", (x.shape[0], x.shape[1], oh, ow))
    return (oh, ow), align_corners, scales


def check_interpolate_backward(grad_output, input_shape, mode, align_corners, scale_factor,
                               fn="interpolate_backward"):
    """Returns (input_shape, align_corners, (scale_h, scale_w))."""
    check_float_array(fn, "grad_output", grad_output, 4)
    shape = check_input_shape(fn, "input_shape", input_shape, 4)
    align_corners = _mode(fn, mode, align_corners)
    scales = _scales(fn, scale_factor)
    _planes(fn, "input_shape", shape)
    _planes(fn, "grad_output", grad_output.shape)
    check_shape(fn, "grad_output", grad_output, tuple(shape[:2]) + tuple(grad_output.shape[2:]))
    return tuple(shape), align_corners, scales


def axis_plan(n: int, m: int, mode: str, align_corners: bool, scale: float, dtype):
    """(i0, i1, λ0, λ1) for one axis from n to m samples (scale 0.0: none given); the nearest modes
    give i1 = i0 and λ = (1, 0)."""
    dtype = np.dtype(dtype)
    o = np.arange(m)
    if mode.startswith("nearest"):
        if mode == "nearest" and m == n:
            i0 = o
        elif mode == "nearest" and m == 2 * n:
            i0 = o >> 1
        else:
            f32 = np.float32
            s = f32(1.0 / scale) if scale > 0 else f32(n) / f32(m)
            pos = o.astype(f32) * s if mode == "nearest" else (o.astype(f32) + f32(0.5)) * s
            i0 = np.minimum(np.floor(pos).astype(np.int64), n - 1)
        return i0, i0, np.ones(m, dtype), np.zeros(m, dtype)
    t = dtype.type
    if align_corners:
        s = t(n - 1) / t(m - 1) if m > 1 else t(0)
        src = s * o.astype(dtype)
    else:
        s = t(1.0 / scale) if scale > 0 else t(n) / t(m)
        src = np.maximum(s * (o.astype(dtype) + t(0.5)) - t(0.5), t(0))
    i0 = np.minimum(np.floor(src).astype(np.int64), n - 1)
    i1 = i0 + (i0 < n - 1)
    l1 = np.clip(src - i0.astype(dtype), t(0), t(1)).astype(dtype)
    return i0, i1, (t(1) - l1).astype(dtype), l1


def _plans(in_hw, out_hw, mode, align_corners, scales, dtype):
    return [axis_plan(n, m, mode, align_corners, s, dtype) for n, m, s in zip(in_hw, out_hw, scales)]


def interpolate_forward(x, size, mode="nearest", align_corners=False, scale_factor=None):
    """x (N, C, H, W) -> (N, C, OH, OW) for size (OH, OW); scale_factor None or (sh, sw)."""
    size, align_corners, scales = check_interpolate_forward(x, size, mode, align_corners, scale_factor)
    ph, pw = _plans(x.shape[2:], size, mode, align_corners, scales, x.dtype)
    if mode.startswith("nearest"):                    # a pure gather (no 0·x: Inf stays Inf)
        return np.ascontiguousarray(x[:, :, ph[0]][:, :, :, pw[0]])
    i0, i1, l0, l1 = pw
    t = x[:, :, :, i0] * l0 + x[:, :, :, i1] * l1                           # width pass
    i0, i1, l0, l1 = ph
    y = t[:, :, i0, :] * l0[:, None] + t[:, :, i1, :] * l1[:, None]         # height pass
    return np.ascontiguousarray(y, dtype=x.dtype)


def interpolate_backward(grad_output, input_shape, mode="nearest", align_corners=False, scale_factor=None):
    """grad_output (N, C, OH, OW) -> grad_input of input_shape (N, C, H, W), the adjoint of forward."""
    shape, align_corners, scales = check_interpolate_backward(grad_output, input_shape, mode, align_corners,
                                                              scale_factor)
    g = grad_output
    N, C, H, W = shape
    ph, pw = _plans((H, W), g.shape[2:], mode, align_corners, scales, g.dtype)
    if mode.startswith("nearest"):
        gt = np.zeros((N, C, H, g.shape[3]), g.dtype)
        np.add.at(gt, (slice(None), slice(None), ph[0]), g)
        gx = np.zeros(shape, g.dtype)
        np.add.at(gx, (Ellipsis, pw[0]), gt)
        return gx
    i0, i1, l0, l1 = ph
    gt = np.zeros((N, C, H, g.shape[3]), g.dtype)
    np.add.at(gt, (slice(None), slice(None), i0), g * l0[:, None])
    np.add.at(gt, (slice(None), slice(None), i1), g * l1[:, None])
    i0, i1, l0, l1 = pw
    gx = np.zeros(shape, g.dtype)
    np.add.at(gx, (Ellipsis, i0), gt * l0)
    np.add.at(gx, (Ellipsis, i1), gt * l1)
    return gx
