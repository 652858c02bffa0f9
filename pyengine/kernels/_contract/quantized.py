"""Contract of the int8 family: quantized_conv2d and quantized_linear (csrc/include/pyengine/quantized.h).

Inputs: x uint8 with its zero point; weight int8 in [-127, 127] (symmetric, zero point 0); bias
int32 in the scale x_scale·w_scale[k] or None; multiplier float32, one per output channel (finite
for the uint8 output; the float32 output follows IEEE arithmetic). The uint8 output is clamp(rint(float32(acc + offset)·multiplier) + y_zero_point, qmin, qmax);
the float32 output is float32(acc + offset)·multiplier (see the header for acc and offset).
Limits: reduction length J (Cg·R·S, or I) ≤ 32768 and |bias| ≤ 2**30, so int32 sums are exact.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .common import _is_array, as_int, check_shape
from .conv2d import ConvGeometry, conv_geometry

MAX_REDUCTION = 32768
BIAS_LIMIT = 2 ** 30
OUT_DTYPES = (np.dtype(np.uint8), np.dtype(np.float32))


class QuantParams(NamedTuple):
    x_zero_point: int
    y_zero_point: int
    qmin: int
    qmax: int
    out_dtype: np.dtype


def check_int_array(fn: str, name: str, x, dtype, ndim: int):
    if not _is_array(x):
        raise TypeError(f"{fn}: {name} must be a numpy.ndarray, got {type(x).__name__}")
    if x.dtype != np.dtype(dtype):
        raise TypeError(f"{fn}: {name} must be {np.dtype(dtype)}, got {x.dtype}")
    if x.ndim != ndim:
        raise ValueError(f"{fn}: {name} must be {ndim}-D, got {x.ndim}-D array of shape {tuple(x.shape)}")
    return x


def _host(a) -> np.ndarray:
    """A small array (bias, multiplier) on the host, for the value checks (CuPy arrays copied)."""
    return a.get() if hasattr(a, "get") and not isinstance(a, np.ndarray) else np.asarray(a)


def _u8(fn: str, name: str, v) -> int:
    v = as_int(fn, name, v)
    if not 0 <= v <= 255:
        raise ValueError(f"{fn}: {name} must be in [0, 255], got {v}")
    return v


def _check_common(fn, weight, bias, multiplier, K, J, x_zero_point, y_zero_point, qmin, qmax, out_dtype):
    xz, yz = _u8(fn, "x_zero_point", x_zero_point), _u8(fn, "y_zero_point", y_zero_point)
    lo, hi = _u8(fn, "qmin", qmin), _u8(fn, "qmax", qmax)
    if lo > hi:
        raise ValueError(f"{fn}: qmin {lo} is larger than qmax {hi}")
    try:
        od = np.dtype(out_dtype)
    except TypeError:
        od = None
    if od not in OUT_DTYPES:
        raise ValueError(f"{fn}: out_dtype must be uint8 or float32, got {out_dtype!r}")
    if J > MAX_REDUCTION:
        raise ValueError(f"{fn}: the reduction length {J} (products per output) exceeds {MAX_REDUCTION}, "
                         "beyond which int32 accumulation could overflow")
    if weight.size and int(weight.min()) == -128:
        raise ValueError(f"{fn}: weight holds -128 at flat index {int(weight.reshape(-1).argmin())}; "
                         "int8 weights must lie in [-127, 127]")
    if bias is not None:
        check_int_array(fn, "bias", bias, np.int32, 1)
        check_shape(fn, "bias", bias, (K,))
        hb = _host(bias)
        bad = np.flatnonzero(np.abs(hb.astype(np.int64)) > BIAS_LIMIT)
        if bad.size:
            raise ValueError(f"{fn}: bias[{bad[0]}] = {hb[bad[0]]} is outside [-2^30, 2^30]")
    if not _is_array(multiplier):
        raise TypeError(f"{fn}: multiplier must be a numpy.ndarray, got {type(multiplier).__name__}")
    if multiplier.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"{fn}: multiplier must be float32 (float64 is rounded to float32), got {multiplier.dtype}")
    if multiplier.ndim != 1:
        raise ValueError(f"{fn}: multiplier must be 1-D, got {multiplier.ndim}-D array of shape {tuple(multiplier.shape)}")
    check_shape(fn, "multiplier", multiplier, (K,))
    if od == np.uint8:      # a float32 output follows IEEE (NaN and Inf propagate); rint needs finite values
        m32 = _host(multiplier).astype(np.float32)
        bad = np.flatnonzero(~np.isfinite(m32))
        if bad.size:
            raise ValueError(f"{fn}: multiplier[{bad[0]}] = {float(m32[bad[0]]):g} must be finite for a uint8 output")
    return QuantParams(xz, yz, lo, hi, od)


def check_quantized_conv2d(x, x_zero_point, weight, bias, multiplier, y_zero_point, qmin, qmax, stride, padding,
                           dilation, groups, out_dtype, fn: str = "quantized_conv2d"):
    """Returns (ConvGeometry, QuantParams) after every check of the contract."""
    check_int_array(fn, "x", x, np.uint8, 4)
    check_int_array(fn, "weight", weight, np.int8, 4)
    geo: ConvGeometry = conv_geometry(fn, x.shape, weight.shape, stride, padding, dilation, groups)
    J = geo.C // geo.G * geo.R * geo.S
    q = _check_common(fn, weight, bias, multiplier, geo.K, J, x_zero_point, y_zero_point, qmin, qmax, out_dtype)
    return geo, q


def check_quantized_linear(x, x_zero_point, weight, bias, multiplier, y_zero_point, qmin, qmax, out_dtype,
                           fn: str = "quantized_linear"):
    """Returns QuantParams after every check of the contract."""
    check_int_array(fn, "x", x, np.uint8, 2)
    check_int_array(fn, "weight", weight, np.int8, 2)
    if weight.shape[1] != x.shape[1]:
        raise ValueError(f"{fn}: weight expects {weight.shape[1]} input features, x has {x.shape[1]}")
    if weight.shape[0] < 1:
        raise ValueError(f"{fn}: weight must have at least one output feature, got shape {tuple(weight.shape)}")
    return _check_common(fn, weight, bias, multiplier, weight.shape[0], weight.shape[1], x_zero_point,
                         y_zero_point, qmin, qmax, out_dtype)
