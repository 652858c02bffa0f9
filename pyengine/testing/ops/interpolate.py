"""Registry entries for resampling (interpolate_forward / interpolate_backward): nearest,
nearest-exact and bilinear, up and down, with and without align_corners and scale factors."""
from __future__ import annotations

import numpy as np

from ..registry import ErrorInput, GradSpec, OpInfo, Sample, non_contiguous, randn

# (x shape, size, mode, align_corners, scale_factor, desc)
CASES = [
    ((1, 3, 5, 7), (10, 14), "nearest", False, (2.0, 2.0), "nearest x2, batch 1, odd sizes"),
    ((2, 3, 5, 7), (8, 11), "nearest", False, (1.7, 1.7), "nearest x1.7 (float32 source positions)"),
    ((2, 3, 9, 8), (4, 3), "nearest", False, None, "nearest down to a size"),
    ((2, 17, 4, 5), (6, 5), "nearest-exact", False, (1.5, 1.0), "nearest-exact, 17 channels"),
    ((2, 3, 4, 5), (8, 10), "bilinear", False, (2.0, 2.0), "bilinear x2"),
    ((1, 2, 5, 7), (9, 4), "bilinear", False, None, "bilinear up rows, down columns"),
    ((2, 3, 4, 5), (7, 3), "bilinear", True, None, "bilinear align_corners"),
    ((1, 2, 3, 4), (1, 1), "bilinear", True, None, "bilinear align_corners to 1x1"),
    ((1, 2, 1, 6), (1, 15), "bilinear", False, (1.0, 2.5), "1-D linear as 1-row bilinear"),
    ((1, 2, 5, 8), (7, 4), "bilinear", False, (1.5, 0.6), "bilinear with scale factors (not n/m)"),
    ((2, 3, 6, 6), (6, 6), "bilinear", False, None, "same size (identity)"),
    ((3, 5, 40, 37), (81, 75), "bilinear", False, (2.03, 2.03), "15 planes, 91k outputs (threads)"),
    ((3, 5, 40, 37), (29, 91), "nearest", False, None, "nearest over threads"),
    ((1, 1, 7, 1), (3, 5), "bilinear", True, None, "width 1 to 5, align_corners"),
    ((0, 3, 4, 4), (8, 8), "bilinear", False, None, "zero-size batch"),
]


def _fwd_samples(rng, dtype):
    out = [Sample((randn(rng, s, dtype), size, mode, ac, sf), {}, d) for s, size, mode, ac, sf, d in CASES]
    out.append(Sample((non_contiguous(randn(rng, (2, 3, 4, 5), dtype)), (7, 9), "bilinear"), {}, "non-contiguous x"))
    out.append(Sample((randn(rng, (1, 2, 4, 6), dtype) * 1e30, (8, 12), "bilinear"), {}, "extreme values 1e30"))
    return out


def _bwd_samples(rng, dtype):
    out = [Sample((randn(rng, s[:2] + size, dtype), s, mode, ac, sf), {}, d) for s, size, mode, ac, sf, d in CASES]
    out.append(Sample((non_contiguous(randn(rng, (2, 3, 7, 9), dtype)), (2, 3, 4, 5), "bilinear"), {},
                      "non-contiguous grad_output"))
    return out


def _grad_inputs(rng):
    return [Sample((rng.standard_normal((1, 2, 4, 5)), (7, 9), mode, ac, sf), {}, f"{mode} {ac} {sf}")
            for mode, ac, sf in (("bilinear", False, None), ("bilinear", True, None), ("nearest", False, (1.7, 1.9)),
                                 ("nearest-exact", False, None))] + [
        Sample((rng.standard_normal((2, 1, 6, 7)), (3, 4), "bilinear", False, None), {}, "bilinear down")]


GRAD = GradSpec(
    forward=lambda impl, x, size, mode, ac, sf: impl.interpolate_forward(x, size, mode, ac, sf),
    vjp=lambda impl, g, x, size, mode, ac, sf: [impl.interpolate_backward(g, x.shape, mode, ac, sf)],
    inputs=_grad_inputs,
)


def _fwd_errors(rng):
    fn = "interpolate_forward"
    x = rng.standard_normal((1, 2, 3, 4)).astype(np.float32)
    return [
        ErrorInput((x[0], (4, 4)), {}, ValueError, rf"{fn}: x must be 4-D, got 3-D", "rank"),
        ErrorInput((x.astype(np.int32), (4, 4)), {}, TypeError, rf"{fn}: x must be float32 or float64, got int32", "int"),
        ErrorInput((x.tolist(), (4, 4)), {}, TypeError, rf"{fn}: x must be a numpy.ndarray, got list", "list"),
        ErrorInput((x, (0, 4)), {}, ValueError, rf"{fn}: size must be >= 1, got 0", "size 0"),
        ErrorInput((x, 4), {}, ValueError, rf"{fn}: size must be a pair of ints", "size int"),
        ErrorInput((x, (4.0, 4)), {}, TypeError, rf"{fn}: size must be an int, got float", "size float"),
        ErrorInput((x, (4, 4), "bicubic"), {}, ValueError, rf"{fn}: mode must be one of 'nearest', 'nearest-exact', "
                   r"'bilinear', got 'bicubic'", "mode"),
        ErrorInput((x, (4, 4), "nearest", True), {}, ValueError, rf"{fn}: align_corners=True needs mode='bilinear'",
                   "align_corners with nearest"),
        ErrorInput((x, (4, 4), "bilinear", 1), {}, TypeError, rf"{fn}: align_corners must be a bool", "align type"),
        ErrorInput((x, (4, 4), "bilinear", False, (2.0, -1.0)), {}, ValueError,
                   rf"{fn}: scale_factor must be finite and > 0", "negative scale"),
        ErrorInput((x, (4, 4), "bilinear", False, (2.0, float("nan"))), {}, ValueError,
                   rf"{fn}: scale_factor must be finite and > 0", "NaN scale"),
        ErrorInput((x, (4, 4), "bilinear", False, 2.0), {}, ValueError, rf"{fn}: scale_factor must be None or a pair",
                   "scale not a pair"),
        ErrorInput((np.zeros((1, 2, 0, 4), np.float32), (4, 4)), {}, ValueError,
                   rf"{fn}: x must have height and width >= 1", "empty plane"),
        ErrorInput((x, (4, 4), 3), {}, ValueError, rf"{fn}: mode must be one of 'nearest', 'nearest-exact', "
                   r"'bilinear', got 3", "mode not a str"),
        ErrorInput((x, (4, 4), "bilinear", False, (2.0, "2")), {}, TypeError,
                   rf"{fn}: scale_factor must hold reals, got str '2'", "scale a str"),
        ErrorInput((x, (2 ** 40, 2 ** 40)), {}, ValueError, rf"{fn}: output shape .* has more than 2\*\*63-1 elements",
                   "output too large"),
    ]


def _bwd_errors(rng):
    fn = "interpolate_backward"
    g = rng.standard_normal((1, 2, 6, 8)).astype(np.float32)
    return [
        ErrorInput((g, (1, 3, 3, 4)), {}, ValueError, rf"{fn}: grad_output must have shape \(1, 3, 6, 8\)", "channels"),
        ErrorInput((g, (1, 2, 3)), {}, ValueError, rf"{fn}: input_shape must be a sequence of 4 ints", "shape len"),
        ErrorInput((g, (1, 2, 0, 4)), {}, ValueError, rf"{fn}: input_shape must have height and width >= 1", "empty"),
        ErrorInput((g, (1, 2, -3, 4)), {}, ValueError, rf"{fn}: input_shape must be >= 0", "negative"),
        ErrorInput((g.astype(np.float16), (1, 2, 3, 4)), {}, TypeError,
                   rf"{fn}: grad_output must be float32 or float64, got float16", "float16"),
        ErrorInput((g[0], (1, 2, 3, 4)), {}, ValueError, rf"{fn}: grad_output must be 4-D", "rank"),
        ErrorInput((g, (1, 2, 3, 4), "area"), {}, ValueError, rf"{fn}: mode must be one of", "mode"),
        ErrorInput((g, (1, 2, 3, 4), "nearest", True), {}, ValueError, rf"{fn}: align_corners=True needs",
                   "align_corners with nearest"),
        ErrorInput((g, (1, 2, 3, 4), "bilinear", False, (0.0, 1.0)), {}, ValueError,
                   rf"{fn}: scale_factor must be finite and > 0, got 0.0", "zero scale"),
        ErrorInput((g.tolist(), (1, 2, 3, 4)), {}, TypeError, rf"{fn}: grad_output must be a numpy.ndarray, got list",
                   "list"),
    ]


OPS = [
    OpInfo("interpolate_forward", "interpolate", _fwd_samples, _fwd_errors, grad=GRAD),
    OpInfo("interpolate_backward", "interpolate", _bwd_samples, _bwd_errors),
]
