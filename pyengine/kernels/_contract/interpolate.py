"""Contract of the interpolate family: separable resampling of (N, C, H, W) planes to (OH, OW).

    interpolate_forward(x, size, mode, align_corners, scale_factor) -> y (N, C, OH, OW)
    interpolate_backward(grad_output, input_shape, mode, align_corners, scale_factor) -> (N, C, H, W)

mode is 'nearest', 'nearest-exact' or 'bilinear' (a 1-D 'linear' is 'bilinear' over (N, C, 1, L));
align_corners only with 'bilinear'; scale_factor None or a pair of finite reals > 0, the factors
PyTorch hands its kernels (they change the source positions, see pyengine/reference/interpolate.py).
H, W, OH, OW >= 1; N and C may be 0.
"""
from __future__ import annotations

import math
import numbers

from .common import as_bool, as_int, check_float_array, check_input_shape, check_shape, checked_numel

MODES = ("nearest", "nearest-exact", "bilinear")


def _size(fn, name, value):
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return as_int(fn, name, value[0], 1), as_int(fn, name, value[1], 1)
    raise ValueError(f"{fn}: {name} must be a pair of ints (height, width), got {value!r}")


def _scales(fn, scale_factor):
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
    if mode not in MODES:
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
    """Returns ((OH, OW), align_corners, (scale_h, scale_w)), a scale of 0.0 meaning none."""
    check_float_array(fn, "x", x, 4)
    oh, ow = _size(fn, "size", size)
    align_corners = _mode(fn, mode, align_corners)
    _planes(fn, "x", x.shape)
    checked_numel(fn, "output shape", (x.shape[0], x.shape[1], oh, ow))
    return (oh, ow), align_corners, _scales(fn, scale_factor)


def check_interpolate_backward(grad_output, input_shape, mode, align_corners, scale_factor,
                               fn="interpolate_backward"):
    """Returns (input_shape, align_corners, (scale_h, scale_w))."""
    check_float_array(fn, "grad_output", grad_output, 4)
    shape = check_input_shape(fn, "input_shape", input_shape, 4)
    align_corners = _mode(fn, mode, align_corners)
    _planes(fn, "input_shape", shape)
    _planes(fn, "grad_output", grad_output.shape)
    check_shape(fn, "grad_output", grad_output, tuple(shape[:2]) + tuple(grad_output.shape[2:]))
    return tuple(shape), align_corners, _scales(fn, scale_factor)
