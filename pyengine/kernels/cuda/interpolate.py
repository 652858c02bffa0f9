"""CUDA resampling as CuPy array operations (no kernel of our own yet): the reference's separable
gather-and-blend on the device, the backward's scatter with ``cupyx.scatter_add``. The per-axis
plans (a few hundred indices and weights) are computed on the host by the reference's axis_plan
and copied over. Same names and signatures as ``pyengine.reference.interpolate``."""
from __future__ import annotations

from .._contract.interpolate import check_interpolate_backward, check_interpolate_forward
from ...reference.interpolate import axis_plan
from . import _ext

__all__ = ["interpolate_forward", "interpolate_backward"]


def _plans(cp, in_hw, out_hw, mode, align_corners, scales, dtype):
    return [tuple(cp.asarray(a) for a in axis_plan(n, m, mode, align_corners, s, dtype))
            for n, m, s in zip(in_hw, out_hw, scales)]


def interpolate_forward(x, size, mode="nearest", align_corners=False, scale_factor=None):
    """x (N, C, H, W) -> (N, C, OH, OW) for size (OH, OW); scale_factor None or (sh, sw)."""
    fn = "interpolate_forward"
    x = _ext.to_device(fn, "x", x)
    size, align_corners, scales = check_interpolate_forward(x, size, mode, align_corners, scale_factor)
    cp = _ext.cupy()
    with _ext.on_device(_ext.device_of(fn, x=x)):
        (hi0, hi1, hl0, hl1), (wi0, wi1, wl0, wl1) = _plans(cp, x.shape[2:], size, mode, align_corners, scales,
                                                            x.dtype)
        if mode.startswith("nearest"):
            return cp.ascontiguousarray(x[:, :, hi0][:, :, :, wi0])
        t = x[:, :, :, wi0] * wl0 + x[:, :, :, wi1] * wl1
        return cp.ascontiguousarray(t[:, :, hi0, :] * hl0[:, None] + t[:, :, hi1, :] * hl1[:, None])


def interpolate_backward(grad_output, input_shape, mode="nearest", align_corners=False, scale_factor=None):
    """grad_output (N, C, OH, OW) -> grad_input of input_shape (N, C, H, W), the adjoint of forward."""
    fn = "interpolate_backward"
    g = _ext.to_device(fn, "grad_output", grad_output)
    shape, align_corners, scales = check_interpolate_backward(g, input_shape, mode, align_corners, scale_factor)
    cp = _ext.cupy()
    import cupyx
    with _ext.on_device(_ext.device_of(fn, grad_output=g)):
        (hi0, hi1, hl0, hl1), (wi0, wi1, wl0, wl1) = _plans(cp, shape[2:], g.shape[2:], mode, align_corners, scales,
                                                            g.dtype)
        gt = cp.zeros(tuple(shape[:3]) + (g.shape[3],), g.dtype)
        cupyx.scatter_add(gt, (slice(None), slice(None), hi0), g * hl0[:, None])
        cupyx.scatter_add(gt, (slice(None), slice(None), hi1), g * hl1[:, None])
        gx = cp.zeros(tuple(shape), g.dtype)
        cupyx.scatter_add(gx, (Ellipsis, wi0), gt * wl0)
        cupyx.scatter_add(gx, (Ellipsis, wi1), gt * wl1)
        return gx
