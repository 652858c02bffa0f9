"""CUDA resampling as CuPy array operations (no kernel of our own yet). The per-axis plans of the
reference (pyengine/reference/interpolate.py, a few hundred indices and weights) are computed on the
host and copied over; forward is the reference's separable gather and blend on the device; backward
applies the transposed interpolation matrices, grad_x = A_hᵀ · grad_y · A_w with A (m, n) holding
λ0 at (o, i0[o]) and λ1 at (o, i1[o]) — two batched GEMMs, deterministic (no atomic scatter).
Same names and signatures as ``pyengine.reference.interpolate``."""
from __future__ import annotations

import numpy as np

from .._contract.interpolate import check_interpolate_backward, check_interpolate_forward
from ...reference.interpolate import axis_plan
from . import _ext

__all__ = ["interpolate_forward", "interpolate_backward"]


def _matrix(n, m, mode, align_corners, scale, dtype):
    i0, i1, l0, l1 = axis_plan(n, m, mode, align_corners, scale, dtype)
    a = np.zeros((m, n), dtype)
    np.add.at(a, (np.arange(m), i0), l0)
    np.add.at(a, (np.arange(m), i1), l1)
    return a


def interpolate_forward(x, size, mode="nearest", align_corners=False, scale_factor=None):
    """x (N, C, H, W) -> (N, C, OH, OW) for size (OH, OW); scale_factor None or (sh, sw)."""
    fn = "interpolate_forward"
    x = _ext.to_device(fn, "x", x)
    size, align_corners, (sh, sw) = check_interpolate_forward(x, size, mode, align_corners, scale_factor)
    cp = _ext.cupy()
    with _ext.on_device(_ext.device_of(fn, x=x)):
        hi0, hi1, hl0, hl1 = (cp.asarray(a) for a in axis_plan(x.shape[2], size[0], mode, align_corners, sh, x.dtype))
        wi0, wi1, wl0, wl1 = (cp.asarray(a) for a in axis_plan(x.shape[3], size[1], mode, align_corners, sw, x.dtype))
        if mode.startswith("nearest"):
            return cp.ascontiguousarray(x[:, :, hi0][:, :, :, wi0])
        t = x[:, :, :, wi0] * wl0 + x[:, :, :, wi1] * wl1
        return cp.ascontiguousarray(t[:, :, hi0, :] * hl0[:, None] + t[:, :, hi1, :] * hl1[:, None])


def interpolate_backward(grad_output, input_shape, mode="nearest", align_corners=False, scale_factor=None):
    """grad_output (N, C, OH, OW) -> grad_input of input_shape (N, C, H, W), the adjoint of forward."""
    fn = "interpolate_backward"
    g = _ext.to_device(fn, "grad_output", grad_output)
    shape, align_corners, (sh, sw) = check_interpolate_backward(g, input_shape, mode, align_corners, scale_factor)
    cp = _ext.cupy()
    with _ext.on_device(_ext.device_of(fn, grad_output=g)):
        a_h = cp.asarray(_matrix(shape[2], g.shape[2], mode, align_corners, sh, g.dtype).T.copy())
        a_w = cp.asarray(_matrix(shape[3], g.shape[3], mode, align_corners, sw, g.dtype))
        return cp.ascontiguousarray(a_h @ (cp.ascontiguousarray(g) @ a_w))
