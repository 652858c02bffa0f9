"""CPU int8 kernels: the VNNI / AVX2 / generic integer GEMMs of csrc/cpu (see
csrc/include/pyengine/quantized.h), bit-exact with ``pyengine.reference.quantized``.
"""
from __future__ import annotations

import numpy as np

from .._contract.quantized import check_quantized_conv2d, check_quantized_linear
from ._ext import _C

__all__ = ["quantized_conv2d", "quantized_linear"]


def _f32(a):
    return np.ascontiguousarray(a, dtype=np.float32)


def quantized_conv2d(x, x_zero_point, weight, bias, multiplier, y_zero_point=0, qmin=0, qmax=255, stride=1,
                     padding=0, dilation=1, groups=1, out_dtype=np.uint8):
    """Requantized int8 convolution.

    x: (N, C, H, W) uint8; weight: (K, C/groups, R, S) int8; bias: (K,) int32 or None;
    multiplier: (K,) float32. Returns (N, K, OH, OW) uint8 (or float32 with out_dtype),
    OH = floor((H + 2·ph − dh·(R − 1) − 1) / sh) + 1 (OW likewise).
    """
    geo, q = check_quantized_conv2d(x, x_zero_point, weight, bias, multiplier, y_zero_point, qmin, qmax,
                                    stride, padding, dilation, groups, out_dtype)
    (sh, sw), (ph, pw), (dh, dw) = geo.stride, geo.padding, geo.dilation
    b = None if bias is None else np.ascontiguousarray(bias)
    return _C.quantized_conv2d(np.ascontiguousarray(x), q.x_zero_point, np.ascontiguousarray(weight), b,
                               _f32(multiplier), q.y_zero_point, q.qmin, q.qmax, sh, sw, ph, pw, dh, dw, geo.G,
                               q.out_dtype.name)


def quantized_linear(x, x_zero_point, weight, bias, multiplier, y_zero_point=0, qmin=0, qmax=255,
                     out_dtype=np.uint8):
    """Requantized int8 linear layer, y = x·weightᵀ.

    x: (N, I) uint8; weight: (O, I) int8; bias: (O,) int32 or None; multiplier: (O,) float32.
    Returns (N, O) uint8 (or float32 with out_dtype).
    """
    q = check_quantized_linear(x, x_zero_point, weight, bias, multiplier, y_zero_point, qmin, qmax, out_dtype)
    b = None if bias is None else np.ascontiguousarray(bias)
    return _C.quantized_linear(np.ascontiguousarray(x), q.x_zero_point, np.ascontiguousarray(weight), b,
                               _f32(multiplier), q.y_zero_point, q.qmin, q.qmax, q.out_dtype.name)
