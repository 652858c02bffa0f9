"""Registry entries for the convolution family: im2col, col2im, conv2d forward and its backwards.

The shape matrix covers the CPU algorithms (direct kernels for few channels per group, im2col +
GEMM for many, Winograd for 3×3 stride-1 layers of at least 64 channels): batch 1 and 0, odd sizes, stride 2, padding, dilation 2, 1×1 and non-square
kernels, groups 2 and depthwise, channel counts 1, 3, 17, 70, and non-contiguous inputs.
"""
from __future__ import annotations

import numpy as np

from ..registry import ErrorInput, GradSpec, OpInfo, Sample, non_contiguous, randn

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
TOL = {F32: (1e-3, 1e-4), F64: (1e-10, 1e-10)}

# (N, C, H, W, K, R, S, stride, padding, dilation, groups, bias, description)
CONV_SHAPES = [
    (1, 3, 7, 9, 4, 3, 3, 1, 1, 1, 1, True, "batch 1, odd H/W, C=3"),
    (2, 3, 8, 7, 5, 3, 3, 2, 1, 1, 1, False, "stride 2, no bias"),
    (2, 4, 9, 10, 6, 3, 3, 1, 2, 2, 1, True, "dilation 2, padding 2"),
    (2, 17, 6, 5, 8, 1, 1, 1, 0, 1, 1, True, "1x1 pointwise, C=17"),
    (2, 17, 7, 7, 9, 1, 1, 2, 0, 1, 1, False, "1x1 stride 2"),
    (2, 6, 7, 9, 4, 2, 3, (2, 1), (0, 1), 1, 1, True, "non-square kernel, pair stride/padding"),
    (2, 8, 6, 6, 6, 3, 3, 1, 1, 1, 2, True, "groups 2"),
    (2, 6, 7, 7, 6, 3, 3, 1, 1, 1, 6, True, "depthwise"),
    (2, 12, 7, 7, 24, 3, 3, 2, 1, 1, 12, False, "depthwise, multiplier 2, stride 2"),
    (1, 70, 5, 6, 3, 3, 3, 1, 1, 1, 1, True, "C=70"),
    (3, 16, 9, 9, 32, 3, 3, 1, 1, 1, 1, True, "16 -> 32, batch 3"),
    (2, 1, 12, 12, 8, 3, 3, 1, 1, 1, 1, True, "1 -> 8 (first layer)"),
    (2, 32, 4, 5, 32, 3, 3, 1, 1, 1, 1, True, "32 -> 32 on 4x5 (channel-vector tiles)"),
    (1, 7, 5, 5, 32, 3, 3, 1, (1, 2), (1, 2), 1, True, "K=32, 5x5, dilation (1, 2)"),
    (1, 2, 2, 3, 3, 3, 3, 1, 1, 1, 1, True, "input smaller than the kernel, padded"),
    (2, 5, 11, 11, 7, 5, 5, 3, 2, (2, 3), 1, False, "5x5, stride 3, dilation (2, 3)"),
    (2, 9, 6, 7, 5, 2, 2, 1, (1, 0), 1, 1, True, "2x2 kernel, C=9 (GEMM path)"),
    (0, 3, 5, 5, 4, 3, 3, 1, 1, 1, 1, True, "zero-size batch"),
    # strided, groups 1: the register-blocked kernels over the image split into stride phases
    (1, 3, 23, 21, 32, 3, 3, 2, 1, 1, 1, True, "3 -> 32 stride 2, batch 1 (first layer, tiles split)"),
    (3, 3, 17, 19, 13, 3, 3, 2, 1, 1, 1, True, "3 -> 13 stride 2, odd sizes, batch 3"),
    (2, 4, 13, 14, 9, 4, 4, 3, 2, 1, 1, True, "4x4 kernel, stride 3, padding 2"),
    (1, 5, 12, 13, 64, 3, 3, 2, 1, 1, 1, False, "K=64 stride 2 on 6x7 (channel-vector tiles, split)"),
    (2, 3, 15, 16, 10, 3, 3, (1, 2), (2, 1), (2, 1), 1, True, "stride (1, 2), dilation (2, 1)"),
    (2, 6, 9, 11, 8, 3, 3, (3, 2), (1, 0), (1, 2), 1, True, "stride (3, 2), dilation (1, 2)"),
    (1, 9, 8, 8, 7, 1, 1, 2, 1, 1, 1, True, "1x1 stride 2 with padding"),
    (3, 2, 5, 37, 7, 3, 3, 1, 1, 1, 1, True, "K=7, width 37 (row dot products, partial last vector)"),
    # groups 1, >= 64 channels, <= 16x16 outputs: one GEMM over a chunk of images (batched route)
    (5, 64, 5, 5, 24, 3, 3, 1, 1, 1, 1, True, "64 -> 24 on 5x5, batch 5 (batched GEMM, odd batch)"),
    (1, 72, 4, 4, 17, 3, 3, 1, 1, 1, 1, False, "72 -> 17 on 4x4, batch 1 (batched GEMM, one image)"),
    (3, 65, 9, 8, 20, 3, 3, 2, 1, 1, 1, True, "65 -> 20 stride 2, batch 3 (batched GEMM)"),
    (4, 64, 7, 7, 33, 1, 1, 2, 0, 1, 1, True, "64 -> 33 1x1 stride 2, batch 4 (batched GEMM)"),
    (9, 64, 16, 16, 8, 3, 3, 1, 1, 1, 1, True, "64 -> 8 on 16x16, batch 9 (batched GEMM, several chunks)"),
    (2, 66, 6, 5, 9, 3, 3, (2, 1), (0, 2), (1, 2), 1, True, "66 -> 9, stride (2, 1), dilation (1, 2) (batched)"),
    # small images: rows copied with masked vectors, 16x16 register transposes (s1 kernels), and
    # the flat masked-tap depthwise forward (stride 1, OW = W, planes up to 1024 outputs)
    (2, 16, 7, 7, 32, 3, 3, 1, 1, 1, 1, True, "16 -> 32 on 7x7 (channel-vector tiles, transposed store)"),
    (2, 8, 14, 13, 16, 3, 3, 1, 1, 1, 1, False, "8 -> 16 on 14x13, K=16"),
    (3, 5, 9, 19, 24, 3, 3, 1, 1, 1, 1, True, "K=24 on 9x19 (partial 16-channel transpose block)"),
    (1, 40, 7, 7, 40, 3, 3, 1, 1, 1, 40, True, "depthwise 40 on 7x7, batch 1"),
    (2, 24, 14, 13, 24, 3, 3, 1, 1, 1, 24, False, "depthwise on 14x13"),
    (1, 16, 20, 21, 16, 5, 5, 1, 2, 1, 16, True, "depthwise 5x5 padding 2, 420 outputs"),
    (2, 8, 6, 9, 8, 3, 3, 1, (0, 1), 1, 8, True, "depthwise, no row padding (OH < H, OW = W)"),
    (1, 6, 9, 10, 6, 3, 3, 1, (2, 2), (2, 2), 6, False, "depthwise dilation 2"),
    (1, 6, 40, 40, 6, 3, 3, 1, 1, 1, 6, True, "depthwise 40x40 (row strips: over 1024 outputs)"),
    (1, 20, 13, 14, 20, 3, 3, 2, 1, 1, 20, True, "depthwise stride 2 on 13x14 (gathered taps)"),
    (2, 7, 9, 8, 7, 3, 3, (1, 2), (0, 1), 1, 7, False, "depthwise stride (1, 2), OW != W (gathered taps)"),
    # 3x3 stride 1 with C, K >= 64: Winograd (float32; the tile by output size), forward and backward input
    (1, 67, 9, 11, 65, 3, 3, 1, 1, 1, 1, True, "Winograd F(4,3): batch 1, odd H/W (partial tiles), C/K 67/65"),
    (2, 64, 7, 9, 70, 3, 3, 1, 0, 1, 1, False, "Winograd F(2,3): padding 0, 5x7 output"),
    (1, 65, 6, 7, 66, 3, 3, 1, 2, 1, 1, True, "Winograd, padding 2 (backward input: padding 0)"),
]


def _pair(v):
    return v if isinstance(v, tuple) else (v, v)


def _out_hw(h, w, r, s, stride, padding, dilation):
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    return (h + 2 * ph - dh * (r - 1) - 1) // sh + 1, (w + 2 * pw - dw * (s - 1) - 1) // sw + 1


def _conv_cases(rng, dtype):
    """(x, weight, bias, grad_output, kwargs, desc) for every shape, plus non-contiguous variants."""
    cases = []
    for (n, c, h, w, k, r, s, st, pd, dl, gr, has_bias, desc) in CONV_SHAPES:
        x = randn(rng, (n, c, h, w), dtype)
        wt = randn(rng, (k, c // gr, r, s), dtype)
        b = randn(rng, (k,), dtype) if has_bias else None
        oh, ow = _out_hw(h, w, r, s, st, pd, dl)
        go = randn(rng, (n, k, oh, ow), dtype)
        cases.append((x, wt, b, go, dict(stride=st, padding=pd, dilation=dl, groups=gr), desc))
    x = randn(rng, (2, 5, 6, 6), dtype)
    wt = randn(rng, (3, 5, 3, 3), dtype)
    go = randn(rng, (2, 3, 6, 6), dtype)
    cases.append((non_contiguous(x), non_contiguous(wt), non_contiguous(randn(rng, (3,), dtype)),
                  non_contiguous(go), dict(padding=1), "non-contiguous inputs"))
    x = randn(rng, (2, 18, 6, 6), dtype)
    wt = randn(rng, (4, 18, 3, 3), dtype)
    go = randn(rng, (2, 4, 4, 4), dtype)
    cases.append((x.transpose(0, 1, 3, 2), wt, None, go.transpose(0, 1, 3, 2), {}, "transposed (N, C, W, H) views"))
    return cases


def _forward_samples(rng, dtype):
    return [Sample((x, w, b), kw, desc) for (x, w, b, _, kw, desc) in _conv_cases(rng, dtype)]


def _relu_forward_samples(rng, dtype):
    out = _forward_samples(rng, dtype)
    x = randn(rng, (2, 3, 6, 6), dtype)
    x[0, 0, 2, 2] = np.nan
    out.append(Sample((x, randn(rng, (4, 3, 3, 3), dtype), np.zeros(4, dtype)), dict(padding=1), "NaN stays NaN"))
    return out


def _relu_forward_errors(rng):
    return [ErrorInput(e.args, e.kwargs, e.error, e.match.replace("conv2d_forward", "conv2d_relu_forward"), e.desc)
            for e in _forward_errors(rng)]


def _backward_input_samples(rng, dtype):
    return [Sample((go, w, tuple(x.shape)), kw, desc) for (x, w, _, go, kw, desc) in _conv_cases(rng, dtype)]


def _backward_weight_samples(rng, dtype):
    return [Sample((go, x, tuple(w.shape)), kw, desc) for (x, w, _, go, kw, desc) in _conv_cases(rng, dtype)]


def _backward_bias_samples(rng, dtype):
    out = [Sample((go,), {}, desc) for (_, _, _, go, _, desc) in _conv_cases(rng, dtype)]
    out.append(Sample((randn(rng, (3, 37, 5, 7), dtype),), {}, "K=37 (not a multiple of the lanes)"))
    out.append(Sample((randn(rng, (4, 3, 40, 41), dtype),), {}, "large planes"))
    return out


# (N, C, H, W, kernel_size, stride, padding, dilation, description) for im2col / col2im
UNFOLD_SHAPES = [
    (1, 3, 7, 9, 3, 1, 1, 1, "batch 1, odd, padding 1"),
    (2, 2, 8, 7, 3, 2, 0, 1, "stride 2"),
    (2, 4, 9, 10, 3, 1, 2, 2, "dilation 2"),
    (2, 17, 5, 6, 1, 1, 0, 1, "1x1"),
    (2, 3, 9, 8, (2, 3), (2, 1), (1, 0), (1, 2), "non-square, pairs"),
    (1, 2, 2, 2, 3, 1, 1, 1, "input smaller than the kernel"),
    (2, 3, 6, 7, 3, 3, 2, 1, "stride 3 > dilation span"),
    (0, 3, 5, 5, 3, 1, 1, 1, "zero-size batch"),
    # above 256 output positions the rows are copied by intervals, not through the tap table
    (1, 2, 20, 19, 3, 1, 1, 1, "20x19 output (interval copies)"),
    (2, 2, 35, 33, 3, 2, 1, 1, "stride 2, 18x17 output (interval copies)"),
    (1, 3, 17, 16, 3, 1, 1, 1, "16x16 output, 256 positions (tap table)"),
]


def _unfold_geometry(h, w, ks, st, pd, dl):
    r, s = _pair(ks)
    return _out_hw(h, w, r, s, st, pd, dl), r * s


def _im2col_samples(rng, dtype):
    out = []
    for (n, c, h, w, ks, st, pd, dl, desc) in UNFOLD_SHAPES:
        out.append(Sample((randn(rng, (n, c, h, w), dtype), ks), dict(stride=st, padding=pd, dilation=dl), desc))
    out.append(Sample((non_contiguous(randn(rng, (2, 3, 6, 6), dtype)), 3), dict(padding=1), "non-contiguous x"))
    return out


def _col2im_samples(rng, dtype):
    out = []
    for (n, c, h, w, ks, st, pd, dl, desc) in UNFOLD_SHAPES:
        (oh, ow), rs = _unfold_geometry(h, w, ks, st, pd, dl)
        cols = randn(rng, (n, c * rs, oh * ow), dtype)
        out.append(Sample((cols, (n, c, h, w), ks), dict(stride=st, padding=pd, dilation=dl), desc))
    out.append(Sample((non_contiguous(randn(rng, (2, 27, 36), dtype)), (2, 3, 6, 6), 3), dict(padding=1),
                      "non-contiguous cols"))
    return out


# Error inputs ------------------------------------------------------------------------------------

def _x(rng, shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


def _forward_errors(rng):
    fn = "conv2d_forward"
    x, w = _x(rng, (2, 4, 5, 5)), _x(rng, (6, 4, 3, 3))
    return [
        ErrorInput((x, _x(rng, (6, 3, 3, 3))), {}, ValueError, rf"{fn}: weight expects 3 input channels, x has 4", "channels"),
        ErrorInput((x, _x(rng, (6, 1, 3, 3))), dict(groups=3), ValueError, rf"{fn}: groups 3 does not divide the 4 input channels", "groups vs C"),
        ErrorInput((x, _x(rng, (5, 2, 3, 3))), dict(groups=2), ValueError, rf"{fn}: groups 2 does not divide the 5 output channels", "groups vs K"),
        ErrorInput((x, _x(rng, (6, 1, 3, 3))), dict(groups=2), ValueError, rf"{fn}: weight expects 2 input channels \(1 per group x 2 groups\), x has 4", "grouped channels"),
        ErrorInput((x, w), dict(groups=0), ValueError, rf"{fn}: groups must be >= 1, got 0", "groups 0"),
        ErrorInput((_x(rng, (1, 4, 2, 2)), _x(rng, (6, 4, 5, 5))), {}, ValueError, rf"{fn}: kernel height 5 .*larger than the padded input height 2", "kernel > input"),
        ErrorInput((x, _x(rng, (6, 4, 3, 3))), dict(dilation=(1, 3)), ValueError, rf"{fn}: kernel width 3 \(dilation 3, span 7\) is larger than the padded input width 5", "dilated kernel > input"),
        ErrorInput((x, w), dict(stride=0), ValueError, rf"{fn}: stride must be >= 1, got 0", "stride 0"),
        ErrorInput((x, w), dict(stride=(1, -2)), ValueError, rf"{fn}: stride must be >= 1, got -2", "negative stride"),
        ErrorInput((x, w), dict(padding=-1), ValueError, rf"{fn}: padding must be >= 0, got -1", "negative padding"),
        ErrorInput((x, w), dict(dilation=0), ValueError, rf"{fn}: dilation must be >= 1, got 0", "dilation 0"),
        ErrorInput((x, w), dict(stride=1.5), TypeError, rf"{fn}: stride must be an int, got float", "float stride"),
        ErrorInput((x, w), dict(padding=(1, 1, 1)), ValueError, rf"{fn}: padding must be an int or a pair", "triple"),
        ErrorInput((x, w), dict(padding=2 ** 62), ValueError, rf"{fn}: .*more than 2\*\*63-1 elements", "64-bit overflow"),
        ErrorInput((x, w.astype(np.float64)), {}, TypeError, rf"{fn}: weight has dtype float64 but x is float32", "mixed dtypes"),
        ErrorInput((x, w, _x(rng, (6,), np.float64)), {}, TypeError, rf"{fn}: bias has dtype float64 but x is float32", "bias dtype"),
        ErrorInput((x.astype(np.int32), w), {}, TypeError, rf"{fn}: x must be float32 or float64, got int32", "int x"),
        ErrorInput((x[0], w), {}, ValueError, rf"{fn}: x must be 4-D, got 3-D", "rank of x"),
        ErrorInput((x, w[0]), {}, ValueError, rf"{fn}: weight must be 4-D, got 3-D", "rank of weight"),
        ErrorInput((x, w, _x(rng, (5,))), {}, ValueError, rf"{fn}: bias must have shape \(6,\), got \(5,\)", "bias shape"),
        ErrorInput((x, w, _x(rng, (6, 1))), {}, ValueError, rf"{fn}: bias must be 1-D, got 2-D", "bias rank"),
        ErrorInput((x.tolist(), w), {}, TypeError, rf"{fn}: x must be a numpy.ndarray, got list", "list"),
        ErrorInput((x, _x(rng, (6, 4, 0, 3))), {}, ValueError, rf"{fn}: weight kernel size must be >= 1", "empty kernel"),
    ]


def _backward_input_errors(rng):
    fn = "conv2d_backward_input"
    go, w = _x(rng, (2, 6, 5, 5)), _x(rng, (6, 4, 3, 3))
    shape = (2, 4, 5, 5)
    return [
        ErrorInput((go, w, (2, 3, 5, 5)), dict(padding=1), ValueError, rf"{fn}: weight expects 4 input channels, x has 3", "channels"),
        ErrorInput((go, w, shape), {}, ValueError, rf"{fn}: grad_output must have shape \(2, 6, 3, 3\), got \(2, 6, 5, 5\)", "grad_output shape"),
        ErrorInput((go, w, (2, 4, 5)), dict(padding=1), ValueError, rf"{fn}: input_shape must be a sequence of 4 ints", "input_shape length"),
        ErrorInput((go, w, (2, 4, 5, -5)), dict(padding=1), ValueError, rf"{fn}: input_shape must be >= 0, got -5", "negative size"),
        ErrorInput((go, w, shape), dict(padding=1, groups=4), ValueError, rf"{fn}: groups 4 does not divide the 6 output channels", "groups vs K"),
        ErrorInput((go, w, shape), dict(padding=1, stride=0), ValueError, rf"{fn}: stride must be >= 1, got 0", "stride 0"),
        ErrorInput((go, w, (2, 4, 1, 1)), {}, ValueError, rf"{fn}: kernel height 3 .*larger than the padded input", "kernel > input"),
        ErrorInput((go, w, (2 ** 40, 4, 2 ** 40, 5)), dict(padding=1), ValueError, rf"{fn}: .*more than 2\*\*63-1 elements", "64-bit overflow"),
        ErrorInput((go, w.astype(np.float64), shape), dict(padding=1), TypeError, rf"{fn}: weight has dtype float64 but grad_output is float32", "mixed dtypes"),
        ErrorInput((go[0], w, shape), dict(padding=1), ValueError, rf"{fn}: grad_output must be 4-D, got 3-D", "rank"),
    ]


def _backward_weight_errors(rng):
    fn = "conv2d_backward_weight"
    go, x = _x(rng, (2, 6, 5, 5)), _x(rng, (2, 4, 5, 5))
    wshape = (6, 4, 3, 3)
    return [
        ErrorInput((go, x, (6, 3, 3, 3)), dict(padding=1), ValueError, rf"{fn}: weight expects 3 input channels, x has 4", "channels"),
        ErrorInput((go, x, wshape), {}, ValueError, rf"{fn}: grad_output must have shape \(2, 6, 3, 3\), got \(2, 6, 5, 5\)", "grad_output shape"),
        ErrorInput((go, x, (6, 4, 3)), dict(padding=1), ValueError, rf"{fn}: weight_shape must be a sequence of 4 ints", "weight_shape length"),
        ErrorInput((go, x, (6, 1, 3, 3)), dict(padding=1, groups=3), ValueError, rf"{fn}: groups 3 does not divide the 4 input channels", "groups vs C"),
        ErrorInput((go, x, wshape), dict(padding=-2), ValueError, rf"{fn}: padding must be >= 0, got -2", "negative padding"),
        ErrorInput((go, x, wshape), dict(padding=1, dilation=(1, 0)), ValueError, rf"{fn}: dilation must be >= 1, got 0", "dilation 0"),
        ErrorInput((go, x, (6, 4, 7, 3)), {}, ValueError, rf"{fn}: kernel height 7 .*larger than the padded input", "kernel > input"),
        ErrorInput((go, x, (6, 4, 2 ** 62, 1)), dict(padding=2 ** 62), ValueError, rf"{fn}: .*more than 2\*\*63-1 elements", "64-bit overflow"),
        ErrorInput((go.astype(np.float64), x, wshape), dict(padding=1), TypeError, rf"{fn}: x has dtype float32 but grad_output is float64", "mixed dtypes"),
        ErrorInput((go, x[..., 0], wshape), dict(padding=1), ValueError, rf"{fn}: x must be 4-D, got 3-D", "rank"),
    ]


def _backward_bias_errors(rng):
    fn = "conv2d_backward_bias"
    return [
        ErrorInput((_x(rng, (2, 3, 4)),), {}, ValueError, rf"{fn}: grad_output must be 4-D, got 3-D", "rank"),
        ErrorInput((_x(rng, (2, 3, 4, 4)).astype(np.int64),), {}, TypeError, rf"{fn}: grad_output must be float32 or float64, got int64", "int"),
        ErrorInput(([1.0, 2.0],), {}, TypeError, rf"{fn}: grad_output must be a numpy.ndarray, got list", "list"),
    ]


def _im2col_errors(rng):
    fn = "im2col"
    x = _x(rng, (2, 3, 5, 5))
    return [
        ErrorInput((x, 0), {}, ValueError, rf"{fn}: kernel_size must be >= 1, got 0", "kernel 0"),
        ErrorInput((x, 7), {}, ValueError, rf"{fn}: kernel height 7 .*larger than the padded input height 5", "kernel > input"),
        ErrorInput((x, 3), dict(stride=0), ValueError, rf"{fn}: stride must be >= 1, got 0", "stride 0"),
        ErrorInput((x, 3), dict(padding=-1), ValueError, rf"{fn}: padding must be >= 0, got -1", "negative padding"),
        ErrorInput((x, 3), dict(dilation=0), ValueError, rf"{fn}: dilation must be >= 1, got 0", "dilation 0"),
        ErrorInput((x, 3), dict(padding=2 ** 62), ValueError, rf"{fn}: .*more than 2\*\*63-1 elements", "64-bit overflow"),
        ErrorInput((x[0], 3), {}, ValueError, rf"{fn}: x must be 4-D, got 3-D", "rank"),
        ErrorInput((x.astype(np.float16), 3), {}, TypeError, rf"{fn}: x must be float32 or float64, got float16", "float16"),
    ]


def _col2im_errors(rng):
    fn = "col2im"
    cols = _x(rng, (2, 27, 25))
    return [
        ErrorInput((cols, (2, 3, 5, 5), 3), {}, ValueError, rf"{fn}: cols must have shape \(2, 27, 9\), got \(2, 27, 25\)", "cols shape"),
        ErrorInput((cols, (2, 3, 5), 3), dict(padding=1), ValueError, rf"{fn}: input_shape must be a sequence of 4 ints", "input_shape"),
        ErrorInput((cols, (2, 3, 5, 5), 0), dict(padding=1), ValueError, rf"{fn}: kernel_size must be >= 1, got 0", "kernel 0"),
        ErrorInput((cols, (2, 3, 2, 2), 5), {}, ValueError, rf"{fn}: kernel height 5 .*larger than the padded input", "kernel > input"),
        ErrorInput((cols, (2, 3, 5, 5), 3), dict(padding=1, stride=(1, 0)), ValueError, rf"{fn}: stride must be >= 1, got 0", "stride 0"),
        ErrorInput((cols, (2 ** 40, 3, 2 ** 40, 5), 3), dict(padding=1), ValueError, rf"{fn}: .*more than 2\*\*63-1 elements", "64-bit overflow"),
        ErrorInput((cols[0], (2, 3, 5, 5), 3), dict(padding=1), ValueError, rf"{fn}: cols must be 3-D, got 2-D", "rank"),
        ErrorInput((cols.astype(np.int32), (2, 3, 5, 5), 3), dict(padding=1), TypeError, rf"{fn}: cols must be float32 or float64, got int32", "int"),
    ]


# Gradient specs ----------------------------------------------------------------------------------
# Each sample's args: the differentiable arrays, then the fixed conv parameters (not perturbed).

GRAD_CONVS = [  # (N, C, H, W, K, R, S, stride, padding, dilation, groups)
    (2, 3, 5, 6, 4, 3, 3, 1, 1, 1, 1),
    (1, 4, 6, 5, 4, 2, 3, (2, 1), (1, 0), (1, 2), 2),
    (2, 2, 5, 5, 4, 3, 3, 2, 1, 1, 2),      # depthwise, multiplier 2
    (1, 10, 4, 4, 3, 3, 3, 1, 1, 1, 1),     # GEMM path (C·R·S = 90)
]


def _conv_grad_inputs(rng):
    out = []
    for (n, c, h, w, k, r, s, st, pd, dl, gr) in GRAD_CONVS:
        x = rng.standard_normal((n, c, h, w))
        wt = rng.standard_normal((k, c // gr, r, s))
        b = rng.standard_normal(k)
        out.append(Sample((x, wt, b, st, pd, dl, gr), {}, f"x{x.shape} w{wt.shape} s{st} p{pd} d{dl} g{gr}"))
    return out


def _grad_output_inputs(rng):
    """(grad_output, weight or x, input_shape, weight_shape, stride, padding, dilation, groups)."""
    out = []
    for (n, c, h, w, k, r, s, st, pd, dl, gr) in GRAD_CONVS:
        oh, ow = _out_hw(h, w, r, s, st, pd, dl)
        out.append(((n, c, h, w), (k, c // gr, r, s), (n, k, oh, ow), st, pd, dl, gr))
    return out


def _backward_input_grad_inputs(rng):
    return [Sample((rng.standard_normal(gos), rng.standard_normal(ws), xs, st, pd, dl, gr), {}, f"x{xs} w{ws}")
            for (xs, ws, gos, st, pd, dl, gr) in _grad_output_inputs(rng)]


def _backward_weight_grad_inputs(rng):
    return [Sample((rng.standard_normal(gos), rng.standard_normal(xs), ws, st, pd, dl, gr), {}, f"x{xs} w{ws}")
            for (xs, ws, gos, st, pd, dl, gr) in _grad_output_inputs(rng)]


CONV_GRAD = GradSpec(
    forward=lambda impl, x, w, b, st, pd, dl, gr: impl.conv2d_forward(x, w, b, st, pd, dl, gr),
    vjp=lambda impl, g, x, w, b, st, pd, dl, gr: [
        impl.conv2d_backward_input(g, w, x.shape, st, pd, dl, gr),
        impl.conv2d_backward_weight(g, x, w.shape, st, pd, dl, gr),
        impl.conv2d_backward_bias(g)],
    inputs=_conv_grad_inputs,
)

# backward_input is bilinear in (grad_output, weight): its adjoint in grad_output is the forward
# convolution, and in weight it is backward_weight with the roles of x and grad_output swapped.
BACKWARD_INPUT_GRAD = GradSpec(
    forward=lambda impl, go, w, xs, st, pd, dl, gr: impl.conv2d_backward_input(go, w, xs, st, pd, dl, gr),
    vjp=lambda impl, g, go, w, xs, st, pd, dl, gr: [
        impl.conv2d_forward(g, w, None, st, pd, dl, gr),
        impl.conv2d_backward_weight(go, g, w.shape, st, pd, dl, gr)],
    inputs=_backward_input_grad_inputs,
)

BACKWARD_WEIGHT_GRAD = GradSpec(
    forward=lambda impl, go, x, ws, st, pd, dl, gr: impl.conv2d_backward_weight(go, x, ws, st, pd, dl, gr),
    vjp=lambda impl, g, go, x, ws, st, pd, dl, gr: [
        impl.conv2d_forward(x, g, None, st, pd, dl, gr),
        impl.conv2d_backward_input(go, g, x.shape, st, pd, dl, gr)],
    inputs=_backward_weight_grad_inputs,
)

BACKWARD_BIAS_GRAD = GradSpec(
    forward=lambda impl, go: impl.conv2d_backward_bias(go),
    vjp=lambda impl, g, go: [np.broadcast_to(g[None, :, None, None], go.shape).copy()],
    inputs=lambda rng: [Sample((rng.standard_normal((2, 3, 4, 5)),), {}, "(2, 3, 4, 5)")],
)


def _unfold_grad_cases(rng):
    """(x shape, kernel_size, stride, padding, dilation) for the im2col/col2im adjoint pair."""
    return [((2, 2, 5, 4), 3, 1, 1, 1), ((1, 3, 6, 5), (2, 3), (2, 1), (0, 1), (1, 2))]


IM2COL_GRAD = GradSpec(
    forward=lambda impl, x, ks, st, pd, dl: impl.im2col(x, ks, st, pd, dl),
    vjp=lambda impl, g, x, ks, st, pd, dl: [impl.col2im(g, x.shape, ks, st, pd, dl)],
    inputs=lambda rng: [Sample((rng.standard_normal(xs), ks, st, pd, dl), {}, f"x{xs} k{ks}")
                        for (xs, ks, st, pd, dl) in _unfold_grad_cases(rng)],
)


def _col2im_grad_inputs(rng):
    out = []
    for (xs, ks, st, pd, dl) in _unfold_grad_cases(rng):
        r, s = _pair(ks)
        oh, ow = _out_hw(xs[2], xs[3], r, s, st, pd, dl)
        out.append(Sample((rng.standard_normal((xs[0], xs[1] * r * s, oh * ow)), xs, ks, st, pd, dl), {}, f"x{xs} k{ks}"))
    return out


COL2IM_GRAD = GradSpec(
    forward=lambda impl, cols, xs, ks, st, pd, dl: impl.col2im(cols, xs, ks, st, pd, dl),
    vjp=lambda impl, g, cols, xs, ks, st, pd, dl: [impl.im2col(g, ks, st, pd, dl)],
    inputs=_col2im_grad_inputs,
)


OPS = [
    OpInfo("im2col", "conv2d", _im2col_samples, _im2col_errors, tol=dict(TOL), grad=IM2COL_GRAD),
    OpInfo("col2im", "conv2d", _col2im_samples, _col2im_errors, tol=dict(TOL), grad=COL2IM_GRAD),
    OpInfo("conv2d_forward", "conv2d", _forward_samples, _forward_errors, tol=dict(TOL), grad=CONV_GRAD),
    OpInfo("conv2d_relu_forward", "conv2d", _relu_forward_samples, _relu_forward_errors, tol=dict(TOL)),
    OpInfo("conv2d_backward_input", "conv2d", _backward_input_samples, _backward_input_errors, tol=dict(TOL),
           grad=BACKWARD_INPUT_GRAD),
    OpInfo("conv2d_backward_weight", "conv2d", _backward_weight_samples, _backward_weight_errors, tol=dict(TOL),
           grad=BACKWARD_WEIGHT_GRAD),
    OpInfo("conv2d_backward_bias", "conv2d", _backward_bias_samples, _backward_bias_errors, tol=dict(TOL),
           grad=BACKWARD_BIAS_GRAD),
]
