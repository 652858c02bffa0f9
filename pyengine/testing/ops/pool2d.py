"""Registry entries for the pooling kernels: max, average and global average, forward and backward."""
from __future__ import annotations

import numpy as np

from ... import reference
from ..registry import ErrorInput, GradSpec, OpInfo, Sample, non_contiguous, randn

# (shape, kernel_size, stride, padding, dilation, ceil_mode, desc)
MAX_CASES = [
    ((1, 3, 7, 7), 2, None, 0, 1, False, "batch 1, odd size, stride defaults to kernel"),
    ((2, 5, 28, 28), 2, 2, 0, 1, False, "2x2/2 vector path"),
    ((1, 2, 17, 33), 2, 2, 0, 1, False, "2x2/2 odd sizes (last row and column in no window)"),
    ((2, 3, 6, 20), 2, 2, 0, 1, False, "2x2/2 with a row of 10 outputs (overlapping last chunk)"),
    ((2, 17, 9, 13), 3, 2, 1, 1, False, "3x3/2 pad 1, 17 channels"),
    ((2, 3, 10, 11), 3, 1, 1, 2, False, "3x3/1 pad 1 dilation 2"),
    ((2, 3, 8, 9), 2, 2, 0, 1, True, "2x2/2 ceil_mode, odd width"),
    ((2, 3, 11, 11), 3, 2, 1, 1, True, "3x3/2 pad 1 ceil_mode"),
    ((2, 3, 5, 5), 1, 2, 0, 1, False, "1x1 kernel, stride 2"),
    ((2, 3, 6, 20), (2, 3), (1, 2), (1, 0), (2, 1), False, "pair arguments"),
    ((0, 3, 8, 8), 2, 2, 0, 1, False, "zero-size batch"),
]
AVG_CASES = [
    ((1, 3, 7, 7), 2, None, 0, False, True, "batch 1, odd size, stride defaults to kernel"),
    ((2, 5, 28, 28), 2, 2, 0, False, True, "2x2/2 vector path"),
    ((1, 2, 17, 33), 2, 2, 0, False, False, "2x2/2 odd sizes"),
    ((2, 3, 6, 20), 2, 2, 0, False, True, "2x2/2 with a row of 10 outputs"),
    ((2, 17, 9, 13), 3, 2, 1, False, True, "3x3/2 pad 1 count_include_pad, 17 channels"),
    ((2, 17, 9, 13), 3, 2, 1, False, False, "3x3/2 pad 1 without count_include_pad"),
    ((2, 3, 8, 9), 2, 2, 0, True, True, "2x2/2 ceil_mode, odd width"),
    ((2, 3, 11, 12), 3, 2, 1, True, True, "3x3/2 pad 1 ceil_mode count_include_pad"),
    ((2, 3, 11, 12), 3, 2, 1, True, False, "3x3/2 pad 1 ceil_mode without count_include_pad"),
    ((2, 3, 5, 5), 1, 2, 0, False, True, "1x1 kernel, stride 2"),
    ((2, 3, 6, 20), (2, 3), (1, 2), (1, 0), False, False, "pair arguments"),
    ((0, 3, 8, 8), 2, 2, 0, False, True, "zero-size batch"),
]


def _special(rng, shape, dtype):
    """Many ties (small integers), some NaN and -inf: the first-maximum and NaN-wins rules."""
    x = rng.integers(0, 3, size=shape).astype(dtype)
    x.reshape(-1)[rng.choice(x.size, size=max(1, x.size // 20), replace=False)] = np.nan
    x.reshape(-1)[rng.choice(x.size, size=max(1, x.size // 20), replace=False)] = -np.inf
    return x


def _max_fwd_samples(rng, dtype):
    out = []
    for shape, k, s, p, d, c, desc in MAX_CASES:
        out.append(Sample((randn(rng, shape, dtype), k, s, p, d, c), {}, desc))
    out.append(Sample((non_contiguous(randn(rng, (2, 3, 8, 10), dtype)), 2), {}, "non-contiguous x"))
    for shape, k, s, p, d in (((2, 3, 8, 20), 2, 2, 0, 1), ((2, 3, 9, 9), 3, 2, 1, 2)):
        out.append(Sample((_special(rng, shape, dtype), k, s, p, d, False), {}, f"ties, NaN, -inf, k{k} s{s}"))
    out.append(Sample((np.full((1, 2, 4, 18), -np.inf, dtype), 2), {}, "all -inf: index of the first element"))
    return out


def _max_bwd_samples(rng, dtype):
    out = []
    for shape, k, s, p, d, c, desc in MAX_CASES:
        x = randn(rng, shape, dtype)
        y, idx = reference.max_pool2d_forward(x, k, s, p, d, c)
        out.append(Sample((randn(rng, y.shape, dtype), idx, shape), {}, desc))
        if x.size:
            wild = rng.integers(0, shape[2] * shape[3], size=y.shape).astype(np.int64)
            out.append(Sample((randn(rng, y.shape, dtype), wild, shape), {}, desc + ", indices anywhere in the plane"))
    y, idx = reference.max_pool2d_forward(randn(rng, (2, 3, 8, 20), np.float64), 2, 2)
    out.append(Sample((non_contiguous(randn(rng, y.shape, dtype)), idx, (2, 3, 8, 20)), {}, "non-contiguous grad_output"))
    return out


def _avg_fwd_samples(rng, dtype):
    out = [Sample((randn(rng, shape, dtype), k, s, p, c, cip), {}, desc) for shape, k, s, p, c, cip, desc in AVG_CASES]
    out.append(Sample((non_contiguous(randn(rng, (2, 3, 8, 10), dtype)), 2), {}, "non-contiguous x"))
    out.append(Sample((randn(rng, (1, 2, 6, 16), dtype) * 1e30, 2), {}, "extreme values 1e30"))
    return out


def _avg_out_shape(shape, k, s, p, c, cip):
    return reference.avg_pool2d_forward(np.zeros(shape), k, s, p, c, cip).shape


def _avg_bwd_samples(rng, dtype):
    out = []
    for shape, k, s, p, c, cip, desc in AVG_CASES:
        g = randn(rng, _avg_out_shape(shape, k, s, p, c, cip), dtype)
        out.append(Sample((g, shape, k, s, p, c, cip), {}, desc))
    g = non_contiguous(randn(rng, (2, 3, 4, 5), dtype))
    out.append(Sample((g, (2, 3, 8, 10), 2), {}, "non-contiguous grad_output"))
    return out


def _gap_fwd_samples(rng, dtype):
    return [Sample((randn(rng, s, dtype),), {}, d) for s, d in
            (((1, 3, 7, 7), "batch 1, odd size"), ((2, 17, 1, 1), "1x1 planes"), ((3, 5, 30, 31), "30x31 planes"),
             ((0, 3, 4, 4), "zero-size batch"))] + [
        Sample((non_contiguous(randn(rng, (2, 3, 4, 6), dtype)),), {}, "non-contiguous x")]


def _gap_bwd_samples(rng, dtype):
    return [Sample((randn(rng, (s[0], s[1], 1, 1), dtype), s), {}, d) for s, d in
            (((1, 3, 7, 7), "batch 1, odd size"), ((2, 17, 1, 1), "1x1 planes"), ((3, 5, 30, 31), "30x31 planes"),
             ((0, 3, 4, 4), "zero-size batch"))]


def _x(rng, shape=(1, 2, 4, 4), dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


def _common_fwd_errors(rng, fn):
    x = _x(rng)
    return [
        ErrorInput((x[0], 2), {}, ValueError, rf"{fn}: x must be 4-D, got 3-D", "rank"),
        ErrorInput((x.astype(np.int32), 2), {}, TypeError, rf"{fn}: x must be float32 or float64, got int32", "int"),
        ErrorInput((x.tolist(), 2), {}, TypeError, rf"{fn}: x must be a numpy.ndarray, got list", "list"),
        ErrorInput((x, 5), {}, ValueError, rf"{fn}: kernel height 5 .*larger than the padded input height 4", "big kernel"),
        ErrorInput((x, 2), dict(padding=2), ValueError, rf"{fn}: padding must be at most half the kernel size", "pad"),
        ErrorInput((x, 2), dict(padding=-1), ValueError, rf"{fn}: padding must be >= 0, got -1", "negative pad"),
        ErrorInput((x, 2), dict(stride=0), ValueError, rf"{fn}: stride must be >= 1, got 0", "stride 0"),
        ErrorInput((x, 0), {}, ValueError, rf"{fn}: kernel_size must be >= 1, got 0", "kernel 0"),
        ErrorInput((x, (2, 2, 2)), {}, ValueError, rf"{fn}: kernel_size must be an int or a pair", "triple"),
        ErrorInput((x, 2.0), {}, TypeError, rf"{fn}: kernel_size must be an int, got float", "float kernel"),
        ErrorInput((x, 2), dict(ceil_mode=1), TypeError, rf"{fn}: ceil_mode must be a bool", "ceil_mode type"),
        ErrorInput((np.zeros((1, 0, 4, 4), np.float32), 2), {}, ValueError, rf"{fn}: x must have non-zero channels",
                   "no channels"),
    ]


def _max_fwd_errors(rng):
    fn = "max_pool2d_forward"
    return _common_fwd_errors(rng, fn) + [
        ErrorInput((_x(rng), 2), dict(padding=1, dilation=5), ValueError,
                   rf"{fn}: the pooling window of output row 0 covers only padding", "window of padding only"),
        ErrorInput((_x(rng), 2), dict(dilation=0), ValueError, rf"{fn}: dilation must be >= 1, got 0", "dilation 0"),
        ErrorInput((_x(rng, (1, 1, 20, 20)), 17), dict(window_indices=True), ValueError,
                   rf"{fn}: window_indices needs a kernel of at most 256 elements", "window of 289 taps"),
    ]


def _max_bwd_errors(rng):
    fn = "max_pool2d_backward_input"
    g = _x(rng, (1, 2, 2, 2))
    idx = np.zeros((1, 2, 2, 2), np.int64)
    return [
        ErrorInput((g, idx.astype(np.int32), (1, 2, 4, 4)), {}, TypeError,
                   rf"{fn}: indices must be int64 \(flat positions\) or uint8 \(window taps\), got int32",
                   "indices dtype"),
        ErrorInput((g, idx.astype(np.uint8), (1, 2, 4, 4)), {}, ValueError,
                   rf"{fn}: uint8 indices are window taps and need the forward's kernel_size", "taps without window"),
        ErrorInput((g, idx.astype(np.uint8) + 4, (1, 2, 4, 4), 2), {}, ValueError,
                   rf"{fn}: window indices must be taps in \[0, kh\*kw\) = \[0, 4\)", "tap past the window"),
        ErrorInput((g, idx.astype(np.uint8), (1, 2, 4, 4), 3, 1, 1), {}, ValueError,
                   rf"{fn}: grad_output must have shape \(1, 2, 4, 4\)", "grad_output vs the window"),
        ErrorInput((g, idx[:, :, :1], (1, 2, 4, 4)), {}, ValueError,
                   rf"{fn}: indices must have shape \(1, 2, 2, 2\), got \(1, 2, 1, 2\)", "indices shape"),
        ErrorInput((g, idx, (1, 3, 4, 4)), {}, ValueError, rf"{fn}: input_shape .* has batch and channels", "channels"),
        ErrorInput((g, idx, (1, 2, 4)), {}, ValueError, rf"{fn}: input_shape must be a sequence of 4 ints", "shape len"),
        ErrorInput((g, idx + 16, (1, 2, 4, 4)), {}, ValueError, rf"{fn}: indices must lie in \[0, H\*W\) = \[0, 16\)",
                   "index past the plane"),
        ErrorInput((g, idx - 1, (1, 2, 4, 4)), {}, ValueError, rf"{fn}: indices must lie in \[0, H\*W\) = \[0, 16\)",
                   "negative index"),
        ErrorInput((g.astype(np.float16), idx, (1, 2, 4, 4)), {}, TypeError,
                   rf"{fn}: grad_output must be float32 or float64, got float16", "float16"),
        ErrorInput((g[0], idx, (1, 2, 4, 4)), {}, ValueError, rf"{fn}: grad_output must be 4-D", "rank"),
    ]


def _avg_fwd_errors(rng):
    fn = "avg_pool2d_forward"
    return _common_fwd_errors(rng, fn) + [
        ErrorInput((_x(rng), 2), dict(count_include_pad=None), TypeError, rf"{fn}: count_include_pad must be a bool",
                   "count_include_pad type"),
    ]


def _avg_bwd_errors(rng):
    fn = "avg_pool2d_backward_input"
    g = _x(rng, (1, 2, 2, 2))
    return [
        ErrorInput((g, (1, 2, 6, 6), 2), {}, ValueError, rf"{fn}: grad_output must have shape \(1, 2, 3, 3\), got "
                   r"\(1, 2, 2, 2\)", "grad_output vs input_shape"),
        ErrorInput((g, (1, 2, 4), 2), {}, ValueError, rf"{fn}: input_shape must be a sequence of 4 ints", "shape len"),
        ErrorInput((g, (1, 2, 4, 4), 5), {}, ValueError, rf"{fn}: kernel height 5 .*larger", "big kernel"),
        ErrorInput((g, (1, 2, 4, 4), 2), dict(padding=2), ValueError, rf"{fn}: padding must be at most half", "pad"),
        ErrorInput((g.astype(np.int64), (1, 2, 4, 4), 2), {}, TypeError, rf"{fn}: grad_output must be float32 or "
                   "float64", "int"),
        ErrorInput((g, (1, 2, -4, 4), 2), {}, ValueError, rf"{fn}: input_shape must be >= 0", "negative size"),
    ]


def _gap_fwd_errors(rng):
    fn = "global_avg_pool2d_forward"
    x = _x(rng)
    return [
        ErrorInput((x[0],), {}, ValueError, rf"{fn}: x must be 4-D, got 3-D", "rank"),
        ErrorInput((x.astype(np.int8),), {}, TypeError, rf"{fn}: x must be float32 or float64, got int8", "int"),
        ErrorInput((np.zeros((1, 2, 0, 3), np.float32),), {}, ValueError, rf"{fn}: x must have non-zero", "empty plane"),
    ]


def _gap_bwd_errors(rng):
    fn = "global_avg_pool2d_backward_input"
    g = _x(rng, (1, 2, 1, 1))
    return [
        ErrorInput((g, (1, 3, 4, 4)), {}, ValueError, rf"{fn}: grad_output must have shape \(1, 3, 1, 1\)", "channels"),
        ErrorInput((g, (1, 2, 4, 4, 1)), {}, ValueError, rf"{fn}: input_shape must be a sequence of 4 ints", "len"),
        ErrorInput((g.astype(np.float64), [1, 2, 0, 4]), {}, ValueError, rf"{fn}: input_shape must have non-zero",
                   "empty plane"),
    ]


def _distinct(rng, shape):
    """Values 0.1 apart in random order: no ties within a window, so max pooling is differentiable."""
    n = int(np.prod(shape))
    return (rng.permutation(n).reshape(shape) * 0.1 - 0.05 * n).astype(np.float64)


def _max_grad_inputs(rng):
    return [Sample((_distinct(rng, (1, 2, 6, 7)), 2, 2, 0, 1, False), {}, "2x2/2"),
            Sample((_distinct(rng, (2, 1, 7, 7)), 3, 2, 1, 1, True), {}, "3x3/2 pad 1 ceil (overlapping windows)"),
            Sample((_distinct(rng, (1, 2, 6, 6)), 2, 1, 1, 2, False), {}, "2x2/1 pad 1 dilation 2")]


def _avg_grad_inputs(rng):
    return [Sample((rng.standard_normal((1, 2, 6, 7)), 2, 2, 0, False, True), {}, "2x2/2"),
            Sample((rng.standard_normal((2, 1, 7, 7)), 3, 2, 1, True, False), {}, "3x3/2 pad 1 ceil, no pad count"),
            Sample((rng.standard_normal((1, 2, 5, 6)), 3, 1, 1, False, True), {}, "3x3/1 pad 1")]


MAX_GRAD = GradSpec(
    forward=lambda impl, x, k, s, p, d, c: impl.max_pool2d_forward(x, k, s, p, d, c)[0],
    vjp=lambda impl, g, x, k, s, p, d, c: [
        impl.max_pool2d_backward_input(g, impl.max_pool2d_forward(x, k, s, p, d, c)[1], x.shape)],
    inputs=_max_grad_inputs,
)
AVG_GRAD = GradSpec(
    forward=lambda impl, x, k, s, p, c, cip: impl.avg_pool2d_forward(x, k, s, p, c, cip),
    vjp=lambda impl, g, x, k, s, p, c, cip: [impl.avg_pool2d_backward_input(g, x.shape, k, s, p, c, cip)],
    inputs=_avg_grad_inputs,
)
GAP_GRAD = GradSpec(
    forward=lambda impl, x: impl.global_avg_pool2d_forward(x),
    vjp=lambda impl, g, x: [impl.global_avg_pool2d_backward_input(g, x.shape)],
    inputs=lambda rng: [Sample((rng.standard_normal((2, 3, 3, 5)),), {}, "2x3x3x5")],
)

OPS = [
    OpInfo("max_pool2d_forward", "pool2d", _max_fwd_samples, _max_fwd_errors, grad=MAX_GRAD),
    OpInfo("max_pool2d_backward_input", "pool2d", _max_bwd_samples, _max_bwd_errors),
    OpInfo("avg_pool2d_forward", "pool2d", _avg_fwd_samples, _avg_fwd_errors, grad=AVG_GRAD),
    OpInfo("avg_pool2d_backward_input", "pool2d", _avg_bwd_samples, _avg_bwd_errors),
    OpInfo("global_avg_pool2d_forward", "pool2d", _gap_fwd_samples, _gap_fwd_errors, grad=GAP_GRAD),
    OpInfo("global_avg_pool2d_backward_input", "pool2d", _gap_bwd_samples, _gap_bwd_errors),
]
