"""Reference int8 kernels: quantized_conv2d, quantized_linear, quantized_max_pool2d and
quantize_per_tensor in NumPy integer arithmetic.

The oracle of csrc/include/pyengine/quantized.h, bit for bit. With x uint8, weight int8 and
bias int32 (None: zero), for output channel k and output position p:

    acc[k, p] = Σ_j weight[k, j] · x_j(p)                (int64 here; the kernels' int32 is exact)
    v[k, p]   = acc[k, p] + bias[k] − x_zero_point · Σ_j weight[k, j]
    uint8:    y = clip(rint(float32(v) · multiplier[k]) + y_zero_point, qmin, qmax)
    float32:  y = float32(v) · multiplier[k]

x_j(p) is the input under tap j of position p, x_zero_point in the padding. The float steps are
float32 operations (NumPy rounds each one to nearest even, like the SIMD instructions), so the
multiplier is used as float32 even when a float64 copy is passed.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._checks import _is_array, as_int, as_real, check_shape
from .conv2d import ConvGeometry, conv_geometry
from .pool2d import PoolGeometry, _check_planes, _geometry

__all__ = ["quantized_conv2d", "quantized_linear", "quantized_max_pool2d", "quantize_per_tensor"]


# ---- the contract, as the oracle checks it (the same messages as the C++ bindings) ----

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


def check_quantized_max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode,
                               fn: str = "quantized_max_pool2d") -> PoolGeometry:
    """The float max_pool2d's geometry (PoolGeometry) for uint8 x (N, C, H, W)."""
    check_int_array(fn, "x", x, np.uint8, 4)
    _check_planes(fn, "x", x.shape)
    return _geometry(fn, x.shape, kernel_size, stride, padding, dilation, ceil_mode)


def check_quantize_per_tensor(x, scale, zero_point, fn: str = "quantize_per_tensor"):
    """Returns (scale as float, zero_point as int) for float32 x of any shape (float64 is accepted and
    rounded to float32 first)."""
    if not _is_array(x):
        raise TypeError(f"{fn}: x must be a numpy.ndarray, got {type(x).__name__}")
    if x.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"{fn}: x must be float32, got {x.dtype}")
    scale = as_real(fn, "scale", scale)
    if not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"{fn}: scale must be finite and > 0, got {scale}")
    return scale, _u8(fn, "zero_point", zero_point)


# ---- the kernels ----


def _requantize(v, multiplier, q, channel_axis: int):
    """v int64 (any shape) with channels on channel_axis → the uint8 or float32 output."""
    shape = [1] * v.ndim
    shape[channel_axis] = -1
    m = multiplier.astype(np.float32).reshape(shape)
    f = v.astype(np.int32).astype(np.float32) * m
    if q.out_dtype == np.float32:
        return f
    return np.clip(np.rint(f) + q.y_zero_point, q.qmin, q.qmax).astype(np.uint8)


def _conv2d(x, weight, bias, multiplier, geo, q):
    (sh, sw), (ph, pw), (dh, dw) = geo.stride, geo.padding, geo.dilation
    G, Cg, Kg = geo.G, geo.C // geo.G, geo.K // geo.G
    xpad = np.pad(x.astype(np.int64), ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=q.x_zero_point)
    cols = np.empty((geo.N, geo.C, geo.R, geo.S, geo.OH, geo.OW), np.int64)
    for r in range(geo.R):
        for s in range(geo.S):
            cols[:, :, r, s] = xpad[:, :, r * dh: r * dh + sh * (geo.OH - 1) + 1: sh,
                                   s * dw: s * dw + sw * (geo.OW - 1) + 1: sw]
    cols = cols.reshape(geo.N, G, Cg * geo.R * geo.S, geo.OH * geo.OW)
    w = weight.astype(np.int64).reshape(G, Kg, Cg * geo.R * geo.S)
    acc = np.einsum("gkj,ngjl->ngkl", w, cols).reshape(geo.N, geo.K, geo.OH, geo.OW)
    offset = -q.x_zero_point * w.reshape(geo.K, -1).sum(axis=1)
    if bias is not None:
        offset = offset + bias.astype(np.int64)
    return _requantize(acc + offset[None, :, None, None], multiplier, q, 1)


def _linear(x, weight, bias, multiplier, q):
    w = weight.astype(np.int64)
    acc = x.astype(np.int64) @ w.T
    offset = -q.x_zero_point * w.sum(axis=1)
    if bias is not None:
        offset = offset + bias.astype(np.int64)
    return _requantize(acc + offset[None, :], multiplier, q, 1)


def quantized_conv2d(x, x_zero_point, weight, bias, multiplier, y_zero_point=0, qmin=0, qmax=255, stride=1,
                     padding=0, dilation=1, groups=1, out_dtype=np.uint8):
    """Requantized int8 convolution.

    x: (N, C, H, W) uint8; weight: (K, C/groups, R, S) int8; bias: (K,) int32 or None;
    multiplier: (K,) float32. Returns (N, K, OH, OW) uint8 (or float32 with out_dtype),
    OH = floor((H + 2·ph − dh·(R − 1) − 1) / sh) + 1 (OW likewise).
    """
    geo, q = check_quantized_conv2d(x, x_zero_point, weight, bias, multiplier, y_zero_point, qmin, qmax,
                                    stride, padding, dilation, groups, out_dtype)
    return _conv2d(x, weight, bias, multiplier, geo, q)


def quantized_linear(x, x_zero_point, weight, bias, multiplier, y_zero_point=0, qmin=0, qmax=255,
                     out_dtype=np.uint8):
    """Requantized int8 linear layer, y = x·weightᵀ.

    x: (N, I) uint8; weight: (O, I) int8; bias: (O,) int32 or None; multiplier: (O,) float32.
    Returns (N, O) uint8 (or float32 with out_dtype).
    """
    q = check_quantized_linear(x, x_zero_point, weight, bias, multiplier, y_zero_point, qmin, qmax, out_dtype)
    return _linear(x, weight, bias, multiplier, q)


def quantized_max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Max pooling of uint8 x (N, C, H, W) → (N, C, OH, OW) uint8, the float max_pool2d's geometry
    (padding never wins a maximum)."""
    geo = check_quantized_max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode)
    H, W = geo.H, geo.W
    xp = np.full((geo.N, geo.C, H + 2 * geo.ph + geo.dh * geo.kh + geo.sh,
                  W + 2 * geo.pw + geo.dw * geo.kw + geo.sw), -1, np.int16)
    xp[:, :, geo.ph:geo.ph + H, geo.pw:geo.pw + W] = x
    out = np.full((geo.N, geo.C, geo.OH, geo.OW), -1, np.int16)
    for r in range(geo.kh):
        for s in range(geo.kw):
            v = xp[:, :, r * geo.dh: r * geo.dh + geo.sh * (geo.OH - 1) + 1: geo.sh,
                   s * geo.dw: s * geo.dw + geo.sw * (geo.OW - 1) + 1: geo.sw]
            out = np.maximum(out, v)
    return out.astype(np.uint8)


def quantize_per_tensor(x, scale, zero_point):
    """uint8 clamp(rint(x / scale) + zero_point, 0, 255) of float32 x, in float32 (NaN → zero_point)."""
    scale, zero_point = check_quantize_per_tensor(x, scale, zero_point)
    with np.errstate(invalid="ignore"):
        q = np.clip(np.rint(x.astype(np.float32) / np.float32(scale)) + np.float32(zero_point), 0, 255)
    return np.where(np.isnan(q), zero_point, q).astype(np.uint8)
