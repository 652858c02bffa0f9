"""Reference int8 kernels: quantized_conv2d and quantized_linear in NumPy integer arithmetic.

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

import numpy as np

from ..kernels._contract.quantized import check_quantized_conv2d, check_quantized_linear

__all__ = ["quantized_conv2d", "quantized_linear"]


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
