"""CPU resampling: csrc/cpu/interpolate.cpp (nearest, nearest-exact, bilinear; planes over threads).
Same names and signatures as ``pyengine.reference.interpolate``."""
from __future__ import annotations

import numpy as np

from .._contract.interpolate import check_interpolate_backward, check_interpolate_forward
from ._ext import _C

__all__ = ["interpolate_forward", "interpolate_backward"]


def interpolate_forward(x, size, mode="nearest", align_corners=False, scale_factor=None):
    """x (N, C, H, W) -> (N, C, OH, OW) for size (OH, OW); scale_factor None or (sh, sw)."""
    size, align_corners, (sh, sw) = check_interpolate_forward(x, size, mode, align_corners, scale_factor)
    return _C.interpolate_forward(np.ascontiguousarray(x), list(size), mode, align_corners, sh, sw)


def interpolate_backward(grad_output, input_shape, mode="nearest", align_corners=False, scale_factor=None):
    """grad_output (N, C, OH, OW) -> grad_input of input_shape (N, C, H, W), the adjoint of forward."""
    shape, align_corners, (sh, sw) = check_interpolate_backward(grad_output, input_shape, mode, align_corners,
                                                                scale_factor)
    return _C.interpolate_backward(np.ascontiguousarray(grad_output), list(shape), mode, align_corners, sh, sw)
