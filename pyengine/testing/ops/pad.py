"""Registry entries for the padding modes (pad_forward / pad_backward): reflect, replicate and
circular on 1, 2 and 3 padded axes, batch 1, odd sizes, widths up to the axis size, zero padding on
some axes, size-1 axes, zero-size batches, non-contiguous inputs."""
from __future__ import annotations

import numpy as np

from ..registry import ErrorInput, GradSpec, OpInfo, Sample, non_contiguous, randn

MODES = ("reflect", "replicate", "circular")
# (x shape, pad, modes, desc)
CASES = [
    ((2, 3, 7), (2, 3), MODES, "1-D, odd length"),
    ((3, 5), (1, 4), MODES, "1-D unbatched (C, L)"),
    ((1, 2, 5, 6), (1, 2, 3, 1), MODES, "2-D, batch 1"),
    ((2, 3, 4, 5), (4, 0, 0, 3), ("reflect", "replicate"), "2-D, one side each, widths n − 1"),
    ((2, 3, 4, 5), (5, 0, 0, 4), ("circular", "replicate"), "2-D, widths n"),
    ((3, 6, 4), (0, 0, 2, 2), MODES, "2-D unbatched, width axis unpadded"),
    ((1, 2, 3, 4, 5), (1, 1, 2, 0, 1, 2), MODES, "3-D"),
    ((2, 3, 1, 6), (2, 2, 0, 0), MODES, "height 1"),
    ((2, 2, 1), (0, 0), ("replicate", "circular"), "length 1, no padding"),
    ((2, 3, 1), (3, 2), ("replicate",), "length 1 replicated"),
    ((0, 3, 4, 4), (1, 1, 1, 1), MODES, "zero-size batch"),
    ((4, 16, 40, 37), (3, 3, 2, 2), MODES, "64 planes, 93k outputs (threads)"),
]


def _samples(rng, dtype):
    return [(randn(rng, s, dtype), pad, mode, f"{d}, {mode}") for s, pad, modes, d in CASES for mode in modes]


def _padded(shape, pad):
    out = list(shape)
    for j in range(len(pad) // 2):
        out[len(shape) - 1 - j] += pad[2 * j] + pad[2 * j + 1]
    return tuple(out)


def _fwd_samples(rng, dtype):
    out = [Sample((x, pad, mode), {}, d) for x, pad, mode, d in _samples(rng, dtype)]
    out.append(Sample((non_contiguous(randn(rng, (2, 3, 4, 5), dtype)), (1, 2, 2, 1), "reflect"), {},
                      "non-contiguous x"))
    x = randn(rng, (1, 2, 3, 4), dtype)
    x[0, 0, 0, 0], x[0, 1, 2, 3] = np.inf, np.nan
    out.append(Sample((x, (2, 2, 1, 1), "circular"), {}, "inf and NaN"))
    return out


def _bwd_samples(rng, dtype):
    out = [Sample((randn(rng, _padded(x.shape, pad), dtype), x.shape, pad, mode), {}, d)
           for x, pad, mode, d in _samples(rng, dtype)]
    out.append(Sample((non_contiguous(randn(rng, (2, 3, 7, 8), dtype)), (2, 3, 4, 5), (1, 2, 2, 1), "replicate"), {},
                      "non-contiguous grad_output"))
    return out


def _grad_inputs(rng):
    return [Sample((rng.standard_normal(s), pad, mode), {}, f"{s} {pad} {mode}")
            for s, pad in (((2, 3, 5), (2, 3)), ((1, 2, 4, 5), (3, 1, 2, 3)), ((1, 1, 3, 3, 4), (1, 2, 2, 0, 1, 1)))
            for mode in MODES]


GRAD = GradSpec(
    forward=lambda impl, x, pad, mode: impl.pad_forward(x, pad, mode),
    vjp=lambda impl, g, x, pad, mode: [impl.pad_backward(g, x.shape, pad, mode)],
    inputs=_grad_inputs,
)


def _fwd_errors(rng):
    fn = "pad_forward"
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    return [
        ErrorInput((x, (1, 1), "constant"), {}, ValueError,
                   rf"{fn}: mode must be 'reflect', 'replicate' or 'circular', got 'constant'", "mode"),
        ErrorInput((x, (1, 1), 3), {}, ValueError, rf"{fn}: mode must be 'reflect', 'replicate' or 'circular', got 3",
                   "mode not a str"),
        ErrorInput((x, (1, 1, 1)), {}, ValueError, rf"{fn}: pad must hold 1, 2 or 3 \(before, after\) pairs, got "
                   r"\(1, 1, 1\)", "odd pad"),
        ErrorInput((x, ()), {}, ValueError, rf"{fn}: pad must hold 1, 2 or 3", "empty pad"),
        ErrorInput((x, (1,) * 8), {}, ValueError, rf"{fn}: pad must hold 1, 2 or 3", "4 pairs"),
        ErrorInput((x, 2), {}, TypeError, rf"{fn}: pad must be a tuple of ints, got int 2", "pad an int"),
        ErrorInput((x, (1.0, 1)), {}, TypeError, rf"{fn}: pad must be an int, got float 1.0", "pad float"),
        ErrorInput((x, (-1, 1)), {}, ValueError, rf"{fn}: pad must be >= 0, got \(-1, 1\)", "negative"),
        ErrorInput((x, (4, 1), "reflect"), {}, ValueError, rf"{fn}: mode='reflect' needs padding less than the axis "
                   r"size, got padding \(4, 1\) for axis 2 of size 4 \(x \(2, 3, 4\)\)", "reflect too wide"),
        ErrorInput((x, (1, 5), "circular"), {}, ValueError, rf"{fn}: mode='circular' needs padding at most the axis "
                   r"size, got padding \(1, 5\)", "circular too wide"),
        ErrorInput((np.zeros((2, 3, 0), np.float32), (1, 1), "replicate"), {}, ValueError,
                   rf"{fn}: mode='replicate' needs padding at most the axis size, got padding \(1, 1\) for axis 2 of "
                   r"size 0", "replicate empty axis"),
        ErrorInput((x[0, 0], (1, 1)), {}, ValueError, rf"{fn}: x must have 2 or 3 axes for pad of 2 values, got \(4,\)",
                   "rank too low"),
        ErrorInput((x[None, None], (1, 1)), {}, ValueError, rf"{fn}: x must have 2 or 3 axes for pad of 2 values",
                   "rank too high"),
        ErrorInput((x.astype(np.int32), (1, 1)), {}, TypeError, rf"{fn}: x must be float32 or float64, got int32", "int"),
        ErrorInput((x.tolist(), (1, 1)), {}, TypeError, rf"{fn}: x must be a numpy.ndarray, got list", "list"),
    ]


def _bwd_errors(rng):
    fn = "pad_backward"
    g = rng.standard_normal((2, 3, 7)).astype(np.float32)
    return [
        ErrorInput((g, (2, 3, 4), (1, 1)), {}, ValueError, rf"{fn}: grad_output must have shape \(2, 3, 6\), got "
                   r"\(2, 3, 7\)", "shape"),
        ErrorInput((g, 5, (1, 2)), {}, ValueError, rf"{fn}: input_shape must be a sequence of ints, got 5", "shape int"),
        ErrorInput((g, (2, 3, -4), (1, 2)), {}, ValueError, rf"{fn}: input_shape must be >= 0, got -4", "negative"),
        ErrorInput((g, (2, 3, 4), (1, 2), "wrap"), {}, ValueError, rf"{fn}: mode must be 'reflect', 'replicate' or "
                   r"'circular', got 'wrap'", "mode"),
        ErrorInput((g, (2, 3, 2), (2, 3), "reflect"), {}, ValueError, rf"{fn}: mode='reflect' needs padding less than "
                   r"the axis size, got padding \(2, 3\) for axis 2 of size 2 \(input_shape \(2, 3, 2\)\)", "reflect"),
        ErrorInput((g.astype(np.float16), (2, 3, 4), (1, 2)), {}, TypeError,
                   rf"{fn}: grad_output must be float32 or float64, got float16", "float16"),
        ErrorInput((g.tolist(), (2, 3, 4), (1, 2)), {}, TypeError, rf"{fn}: grad_output must be a numpy.ndarray, got "
                   "list", "list"),
    ]


OPS = [
    OpInfo("pad_forward", "pad", _fwd_samples, _fwd_errors, grad=GRAD),
    OpInfo("pad_backward", "pad", _bwd_samples, _bwd_errors),
]
