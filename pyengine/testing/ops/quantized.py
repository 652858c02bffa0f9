"""Registry entries for the int8 family: quantized_conv2d, quantized_linear, quantized_max_pool2d and
quantize_per_tensor.

The parity test compares exactly (tolerance 0): the C++ kernels must reproduce the NumPy integer
reference bit for bit on every instruction set. The registry "dtype" of these entries is the
output dtype (uint8 requantized, or float32 dequantized); the inputs are always uint8/int8/int32.
Samples cover batch 1 and 0, odd channel counts and sizes that are not multiples of the vector
width or of the 4-tap quads, stride 2, padding, dilation, groups and depthwise, 1×1 pointwise,
zero points 0 and 255, a fused-ReLU clamp, and the extremes that saturate a naive vpmaddubsw
(x = 255 next to x = 255 under w = ±127).
"""
from __future__ import annotations

import numpy as np

from ..registry import ErrorInput, OpInfo, Sample

U8, F32 = np.dtype(np.uint8), np.dtype(np.float32)
EXACT = {U8: (0.0, 0.0), F32: (0.0, 0.0)}

# (N, C, H, W, K, R, S, stride, padding, dilation, groups)
CONV_SHAPES = [
    (1, 1, 28, 28, 8, 3, 3, 1, 1, 1, 1),       # the digit CNN's first layer, batch 1
    (2, 8, 14, 14, 16, 3, 3, 1, 1, 1, 1),
    (3, 16, 7, 7, 32, 3, 3, 1, 1, 1, 1),
    (2, 3, 9, 11, 5, 3, 2, 2, 1, 1, 1),        # odd sizes, non-square kernel, stride 2
    (1, 5, 10, 9, 7, 3, 3, 1, 2, 2, 1),        # dilation 2, padding 2
    (2, 6, 8, 8, 9, 3, 3, 2, 1, 1, 3),         # groups 3
    (2, 12, 9, 9, 12, 3, 3, 1, 1, 1, 12),      # depthwise (the VNNI row kernel)
    (2, 16, 11, 10, 16, 3, 3, 2, 1, 1, 16),    # depthwise, stride 2
    (1, 8, 9, 9, 8, 3, 3, 1, 2, 2, 8),         # depthwise, dilation 2
    (1, 40, 20, 37, 40, 3, 3, 1, 1, 1, 40),    # depthwise, rows of more than one vector
    (1, 4, 6, 6, 4, 5, 5, 1, 2, 1, 4),         # depthwise 5×5 (wider than 4 taps: the GEMM path)
    (1, 24, 5, 7, 48, 3, 3, 2, 1, 1, 24),      # depthwise, channel multiplier 2, stride 2
    (2, 37, 6, 5, 19, 1, 1, 1, 0, 1, 1),       # 1×1 pointwise (the image is the column matrix)
    (1, 3, 4, 4, 2, 1, 1, 2, 1, 1, 1),         # 1×1 with stride and padding (im2col path)
    (0, 4, 5, 5, 6, 3, 3, 1, 1, 1, 1),         # zero batch
]
# (N, I, O)
LINEAR_SHAPES = [(1, 1568, 10), (64, 1568, 10), (5, 100, 33), (3, 7, 1), (1, 1, 1), (7, 129, 65), (0, 9, 4),
                 (2, 65, 6), (9, 31, 5)]


def _weights(rng, shape):
    return rng.integers(-127, 128, shape, dtype=np.int8)


def _multiplier(rng, k, j):
    # A sum of j products w·(x − zp) spreads over about ±7600·√j: map that to about ±60, so the
    # outputs cover the uint8 range and some clamp at both ends.
    return (rng.uniform(0.5, 2.0, k) * 60 / (7600.0 * np.sqrt(j))).astype(np.float32)


def _conv_samples(rng, dtype):
    out = []
    for i, (N, C, H, W, K, R, S, st, pad, dil, g) in enumerate(CONV_SHAPES):
        x = rng.integers(0, 256, (N, C, H, W), dtype=np.uint8)
        w = _weights(rng, (K, C // g, R, S))
        bias = rng.integers(-20000, 20000, K, dtype=np.int32) if i % 3 != 2 else None
        m = _multiplier(rng, K, C // g * R * S)
        xz, yz = int(rng.integers(0, 256)), int(rng.integers(0, 256))
        out.append(Sample((x, xz, w, bias, m, yz, 0, 255, st, pad, dil, g), dict(out_dtype=dtype),
                          f"x {x.shape} w {w.shape} stride {st} pad {pad} dil {dil} groups {g}"))
    x = rng.integers(0, 256, (2, 8, 9, 9), dtype=np.uint8)
    w = _weights(rng, (11, 8, 3, 3))
    m = _multiplier(rng, 11, 72)
    out.append(Sample((x, 0, w, None, m, 3, 3, 200, 1, 1, 1, 1), dict(out_dtype=dtype), "fused ReLU clamp [3, 200]"))
    out.append(Sample((x, 255, w, None, m, 255, 0, 255, 1, 1, 1, 1), dict(out_dtype=dtype), "zero points 255"))
    out.append(Sample((x[:, :, ::2, ::2], 5, w, None, m, 7, 0, 255, 1, 1, 1, 1), dict(out_dtype=dtype),
                      "non-contiguous x"))
    # Saturation of a naive vpmaddubsw: adjacent taps 255·127 + 255·127 > 32767 (and the negative).
    x = np.full((1, 4, 6, 6), 255, np.uint8)
    for sign in (1, -1):
        w = np.full((3, 4, 3, 3), 127 * sign, np.int8)
        out.append(Sample((x, 0, w, None, np.full(3, 1e-6, np.float32), 128, 0, 255, 1, 0, 1, 1),
                          dict(out_dtype=dtype), f"x = 255 everywhere, w = {127 * sign} (int16 pair overflow)"))
    return out


def _linear_samples(rng, dtype):
    out = []
    for i, (N, I, O) in enumerate(LINEAR_SHAPES):
        x = rng.integers(0, 256, (N, I), dtype=np.uint8)
        w = _weights(rng, (O, I))
        bias = rng.integers(-(2 ** 20), 2 ** 20, O, dtype=np.int32) if i % 2 == 0 else None
        xz, yz = int(rng.integers(0, 256)), int(rng.integers(0, 256))
        out.append(Sample((x, xz, w, bias, _multiplier(rng, O, I), yz, 0, 255), dict(out_dtype=dtype),
                          f"x {x.shape} O {O}"))
    x = rng.integers(0, 256, (4, 40), dtype=np.uint8)
    w = _weights(rng, (6, 40))
    out.append(Sample((x, 9, w, np.full(6, 2 ** 30, np.int32), np.full(6, 1e-9, np.float32), 0, 0, 255),
                      dict(out_dtype=dtype), "bias at the limit 2^30"))
    out.append(Sample((np.asfortranarray(x), 9, w, None, _multiplier(rng, 6, 40), 1, 1, 254),
                      dict(out_dtype=dtype), "Fortran-ordered x, clamp [1, 254]"))
    for sign in (1, -1):
        out.append(Sample((np.full((3, 96), 255, np.uint8), 0, np.full((5, 96), 127 * sign, np.int8), None,
                           np.full(5, 1e-6, np.float32), 128, 0, 255), dict(out_dtype=dtype),
                          f"x = 255, w = {127 * sign} (int16 pair overflow)"))
    x = rng.integers(0, 256, (2, 32768), dtype=np.uint8)
    w = np.where(x[:1] > 127, 127, -127).astype(np.int8).repeat(3, axis=0)
    out.append(Sample((x, 0, w, None, np.full(3, 1e-9, np.float32), 0, 0, 255), dict(out_dtype=dtype),
                      "reduction length at the limit 32768"))
    return out


def _conv_errors(rng):
    x = rng.integers(0, 256, (1, 2, 5, 5), dtype=np.uint8)
    w = rng.integers(-127, 128, (3, 2, 3, 3), dtype=np.int8)
    m = np.full(3, 1e-3, np.float32)
    b = np.zeros(3, np.int32)
    fn = "quantized_conv2d"
    bad_w = w.copy()
    bad_w[1, 0, 2, 2] = -128
    return [
        ErrorInput((x.astype(np.float32), 0, w, b, m), {}, TypeError, rf"{fn}: x must be uint8, got float32", "float x"),
        ErrorInput((x, 0, w.astype(np.uint8), b, m), {}, TypeError, rf"{fn}: weight must be int8, got uint8", "u8 w"),
        ErrorInput((x, 0, w, b.astype(np.int64), m), {}, TypeError, rf"{fn}: bias must be int32, got int64", "i64 bias"),
        ErrorInput((x, 0, w, b[:2], m), {}, ValueError, rf"{fn}: bias must have shape \(3,\), got \(2,\)", "bias shape"),
        ErrorInput((x, 0, w, b, m[:2]), {}, ValueError, rf"{fn}: multiplier must have shape \(3,\), got \(2,\)", "mult shape"),
        ErrorInput((x, 0, w, b, m.astype(np.int32)), {}, TypeError, rf"{fn}: multiplier must be float32", "int mult"),
        ErrorInput((x, 0, w, b, m.astype(np.float16)), {}, TypeError, rf"{fn}: multiplier must be float32", "f16"),
        ErrorInput((x, 0, w, b, np.array([1e-3, np.inf, 1e-3], np.float32)), {}, ValueError,
                   rf"{fn}: multiplier\[1\] = inf must be finite for a uint8 output", "inf multiplier"),
        ErrorInput((x, 0, w, b, np.array([1e-3, 1e-3, np.nan], np.float32)), {}, ValueError,
                   rf"{fn}: multiplier\[2\] = nan must be finite for a uint8 output", "NaN multiplier"),
        ErrorInput((x, 256, w, b, m), {}, ValueError, rf"{fn}: x_zero_point must be in \[0, 255\], got 256", "x zp"),
        ErrorInput((x, 0, w, b, m, -1), {}, ValueError, rf"{fn}: y_zero_point must be in \[0, 255\], got -1", "y zp"),
        ErrorInput((x, 0, w, b, m, 0, 200, 100), {}, ValueError, rf"{fn}: qmin 200 is larger than qmax 100", "qmin"),
        ErrorInput((x, 0, bad_w, b, m), {}, ValueError, rf"{fn}: weight holds -128 at flat index 26", "-128"),
        ErrorInput((x, 0, w, np.array([0, 2 ** 30 + 1, 0], np.int32), m), {}, ValueError,
                   rf"{fn}: bias\[1\] = 1073741825 is outside", "bias range"),
        ErrorInput((x, 0, w[:, :1], b, m), {}, ValueError, rf"{fn}: weight expects 1 input channels, x has 2", "C"),
        ErrorInput((x, 0, w, b, m), dict(padding=-1), ValueError, rf"{fn}: padding must be >= 0, got -1", "padding"),
        ErrorInput((x, 0, w, b, m), dict(out_dtype=np.int8), ValueError, rf"{fn}: out_dtype must be uint8 or float32",
                   "out dtype"),
        ErrorInput((x[0], 0, w, b, m), {}, ValueError, rf"{fn}: x must be 4-D, got 3-D", "x rank"),
        ErrorInput((x.tolist(), 0, w, b, m), {}, TypeError, rf"{fn}: x must be a numpy.ndarray, got list", "list"),
        ErrorInput((np.zeros((1, 4096, 3, 3), np.uint8), 0, np.zeros((1, 4096, 3, 3), np.int8), None,
                    np.ones(1, np.float32)), {}, ValueError, rf"{fn}: the reduction length 36864", "J limit"),
    ]


def _linear_errors(rng):
    x = rng.integers(0, 256, (3, 4), dtype=np.uint8)
    w = rng.integers(-127, 128, (5, 4), dtype=np.int8)
    m = np.full(5, 1e-3, np.float32)
    fn = "quantized_linear"
    bad_w = w.copy()
    bad_w[4, 3] = -128
    return [
        ErrorInput((x, 0, w[:, :3], None, m), {}, ValueError, rf"{fn}: weight expects 3 input features, x has 4", "I"),
        ErrorInput((x.astype(np.int8), 0, w, None, m), {}, TypeError, rf"{fn}: x must be uint8, got int8", "s8 x"),
        ErrorInput((x, 0, w.astype(np.int16), None, m), {}, TypeError, rf"{fn}: weight must be int8, got int16", "w"),
        ErrorInput((x, 0, bad_w, None, m), {}, ValueError, rf"{fn}: weight holds -128 at flat index 19", "-128"),
        ErrorInput((x, 0, w, None, m[None]), {}, ValueError, rf"{fn}: multiplier must be 1-D, got 2-D", "mult rank"),
        ErrorInput((x, 0, w, None, np.full(5, -np.inf, np.float32)), {}, ValueError, rf"{fn}: multiplier\[0\] = -inf must be finite for a uint8",
                   "-inf"),
        ErrorInput((x, 1.5, w, None, m), {}, TypeError, rf"{fn}: x_zero_point must be an int, got float", "zp type"),
        ErrorInput((x, 0, w, None, m, 0, 0, 256), {}, ValueError, rf"{fn}: qmax must be in \[0, 255\], got 256", "qmax"),
        ErrorInput((x[0], 0, w, None, m), {}, ValueError, rf"{fn}: x must be 2-D, got 1-D", "x rank"),
        ErrorInput((np.zeros((1, 40000), np.uint8), 0, np.zeros((2, 40000), np.int8), None, np.ones(2, np.float32)),
                   {}, ValueError, rf"{fn}: the reduction length 40000", "I limit"),
    ]


POOL_SHAPES = [((1, 8, 28, 28), 2, None, 0, 1, False), ((3, 5, 9, 11), 3, 2, 1, 1, False),
               ((2, 4, 7, 7), 2, 2, 0, 1, True), ((1, 3, 10, 10), 3, 1, 1, 2, False), ((2, 6, 8, 9), (2, 3), (1, 2), 0, 1, False),
               ((0, 2, 4, 4), 2, 2, 0, 1, False), ((2, 16, 14, 14), 2, 2, 0, 1, False)]


def _pool_samples(rng, dtype):
    out = []
    for shape, k, st, pad, dil, ceil in POOL_SHAPES:
        x = rng.integers(0, 256, shape, dtype=np.uint8)
        out.append(Sample((x, k, st, pad, dil, ceil), {}, f"x {shape} k {k} stride {st} pad {pad} dil {dil} ceil {ceil}"))
    x = rng.integers(0, 256, (2, 3, 8, 8), dtype=np.uint8)
    out.append(Sample((x[:, :, ::2], 2), {}, "non-contiguous x"))
    out.append(Sample((np.zeros((1, 2, 4, 4), np.uint8), 3, 1, 1), {}, "all zeros with padding"))
    return out


def _pool_errors(rng):
    x = rng.integers(0, 256, (1, 2, 5, 5), dtype=np.uint8)
    fn = "quantized_max_pool2d"
    return [
        ErrorInput((x.astype(np.float32), 2), {}, TypeError, rf"{fn}: x must be uint8, got float32", "float x"),
        ErrorInput((x[0], 2), {}, ValueError, rf"{fn}: x must be 4-D, got 3-D", "rank"),
        ErrorInput((x, 0), {}, ValueError, rf"{fn}: kernel_size must be >= 1, got 0", "kernel 0"),
        ErrorInput((x, 2, 2, 2), {}, ValueError, rf"{fn}: padding must be at most half the kernel size", "padding"),
        ErrorInput((x, 7), {}, ValueError, rf"{fn}: kernel height 7", "kernel > input"),
        ErrorInput((x.tolist(), 2), {}, TypeError, rf"{fn}: x must be a numpy.ndarray, got list", "list"),
    ]


def _quantize_samples(rng, dtype):
    out = []
    for shape, scale, zp in [((1, 1, 28, 28), 1 / 255, 0), ((5, 7), 0.03, 128), ((0, 3), 0.1, 3), ((3, 4, 5), 0.2, 255)]:
        x = (rng.standard_normal(shape) * 4).astype(np.float32)
        out.append(Sample((x, scale, zp), {}, f"x {shape} scale {scale:g} zp {zp}"))
    x = (np.arange(-40, 41, dtype=np.float32) * 0.05).reshape(9, 9)       # exact halves: round half to even
    out.append(Sample((x, 0.1, 100), {}, "ties at .5 round to even"))
    x = np.array([np.nan, np.inf, -np.inf, 1e30, -1e30, 0.0, -0.0], np.float32)
    out.append(Sample((x, 0.5, 10), {}, "NaN, infinities, huge values"))
    out.append(Sample((rng.standard_normal((6, 10)).astype(np.float32)[:, ::3], 0.05, 60), {}, "non-contiguous"))
    return out


def _quantize_errors(rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    fn = "quantize_per_tensor"
    return [
        ErrorInput((x.astype(np.float16), 0.1, 0), {}, TypeError, rf"{fn}: x must be float32, got float16", "f16"),
        ErrorInput((x, 0.0, 0), {}, ValueError, rf"{fn}: scale must be finite and > 0, got 0.0", "scale 0"),
        ErrorInput((x, float("nan"), 0), {}, ValueError, rf"{fn}: scale must be finite and > 0", "NaN scale"),
        ErrorInput((x, 0.1, 256), {}, ValueError, rf"{fn}: zero_point must be in \[0, 255\], got 256", "zp"),
        ErrorInput((x, "0.1", 3), {}, TypeError, rf"{fn}: scale must be a real number, got str", "str scale"),
        ErrorInput((x.tolist(), 0.1, 0), {}, TypeError, rf"{fn}: x must be a numpy.ndarray, got list", "list"),
    ]


OPS = [
    OpInfo("quantized_max_pool2d", "quantized", _pool_samples, _pool_errors, tol=dict(EXACT), dtypes=(U8,)),
    OpInfo("quantize_per_tensor", "quantized", _quantize_samples, _quantize_errors, tol=dict(EXACT), dtypes=(U8,)),
    OpInfo("quantized_conv2d", "quantized", _conv_samples, _conv_errors, tol=dict(EXACT), dtypes=(U8, F32)),
    OpInfo("quantized_linear", "quantized", _linear_samples, _linear_errors, tol=dict(EXACT), dtypes=(U8, F32)),
]
