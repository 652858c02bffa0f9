"""Registry entries for adaptive max pooling (adaptive_max_pool2d_forward / _backward_input): sizes
that divide and that do not (overlapping bins), outputs larger than the input, ties, NaN and -inf."""
from __future__ import annotations

import numpy as np

from ... import reference
from ..registry import ErrorInput, GradSpec, OpInfo, Sample, non_contiguous, randn

# (x shape, output_size, desc)
CASES = [
    ((1, 3, 7, 7), 3, "batch 1, 7 to 3 (overlapping bins)"),
    ((2, 3, 30, 30), 7, "30 to 7"),
    ((2, 5, 8, 12), (4, 6), "sizes that divide"),
    ((2, 17, 9, 13), (4, 5), "17 channels, odd sizes"),
    ((1, 2, 5, 3), (7, 8), "output larger than the input"),
    ((2, 3, 6, 40), (1, 1), "global maximum"),
    ((2, 3, 1, 37), (1, 5), "a single row, 37 columns (vector chunks and a tail)"),
    ((3, 5, 33, 47), (5, 9), "15 planes of 33x47 (threads)"),
    ((0, 3, 8, 8), 2, "zero-size batch"),
]


def _special(rng, shape, dtype):
    """Many ties (small integers), some NaN and -inf: the first-maximum and last-NaN rules."""
    x = rng.integers(0, 3, size=shape).astype(dtype)
    x.reshape(-1)[rng.choice(x.size, size=max(1, x.size // 15), replace=False)] = np.nan
    x.reshape(-1)[rng.choice(x.size, size=max(1, x.size // 15), replace=False)] = -np.inf
    return x


def _fwd_samples(rng, dtype):
    out = [Sample((randn(rng, s, dtype), size), {}, d) for s, size, d in CASES]
    out.append(Sample((non_contiguous(randn(rng, (2, 3, 8, 10), dtype)), (3, 4)), {}, "non-contiguous x"))
    for shape, size in (((2, 3, 9, 20), (4, 6)), ((2, 4, 13, 35), (3, 7)), ((1, 2, 6, 6), (2, 2))):
        out.append(Sample((_special(rng, shape, dtype), size), {}, f"ties, NaN, -inf, {shape[2:]} to {size}"))
    out.append(Sample((np.full((1, 2, 4, 18), -np.inf, dtype), (3, 5)), {}, "all -inf: index of the first element"))
    out.append(Sample((randn(rng, (1, 2, 6, 16), dtype) * 1e30, (4, 5)), {}, "extreme values 1e30"))
    return out


def _bwd_samples(rng, dtype):
    out = []
    for shape, size, desc in CASES:
        y, idx = reference.adaptive_max_pool2d_forward(randn(rng, shape, np.float64), size)
        out.append(Sample((randn(rng, y.shape, dtype), idx, shape), {}, desc))
    y, idx = reference.adaptive_max_pool2d_forward(_special(rng, (2, 3, 9, 20), np.float64), (5, 6))
    out.append(Sample((randn(rng, y.shape, dtype), idx, (2, 3, 9, 20)), {}, "indices of ties and NaNs"))
    y, idx = reference.adaptive_max_pool2d_forward(randn(rng, (2, 3, 8, 10), np.float64), (3, 4))
    out.append(Sample((non_contiguous(randn(rng, y.shape, dtype)), idx, (2, 3, 8, 10)), {}, "non-contiguous grad_output"))
    return out


def _grad_inputs(rng):
    def distinct(*shape):   # distinct values: no ties, so the maximum is a smooth function nearby
        return rng.permutation(np.prod(shape)).reshape(shape) * 0.1 + rng.uniform(-0.01, 0.01, shape)
    return [Sample((distinct(1, 2, 7, 5), (3, 4)), {}, "overlapping bins"),
            Sample((distinct(2, 1, 6, 6), 3), {}, "bins that divide"),
            Sample((distinct(1, 1, 3, 4), (5, 6)), {}, "output larger than the input")]


GRAD = GradSpec(
    forward=lambda impl, x, size: impl.adaptive_max_pool2d_forward(x, size)[0],
    vjp=lambda impl, g, x, size: [impl.adaptive_max_pool2d_backward_input(
        g, impl.adaptive_max_pool2d_forward(x, size)[1], x.shape)],
    inputs=_grad_inputs,
)


def _fwd_errors(rng):
    fn = "adaptive_max_pool2d_forward"
    x = rng.standard_normal((1, 2, 3, 4)).astype(np.float32)
    return [
        ErrorInput((x[0], 2), {}, ValueError, rf"{fn}: x must be 4-D, got 3-D", "rank"),
        ErrorInput((x.astype(np.int32), 2), {}, TypeError, rf"{fn}: x must be float32 or float64, got int32", "int"),
        ErrorInput((x.tolist(), 2), {}, TypeError, rf"{fn}: x must be a numpy.ndarray, got list", "list"),
        ErrorInput((x, 0), {}, ValueError, rf"{fn}: output_size must be >= 1, got 0", "size 0"),
        ErrorInput((x, (2, -1)), {}, ValueError, rf"{fn}: output_size must be >= 1, got -1", "size negative"),
        ErrorInput((x, (2, 2, 2)), {}, ValueError, rf"{fn}: output_size must be an int or a pair of ints", "triple"),
        ErrorInput((x, 2.0), {}, TypeError, rf"{fn}: output_size must be an int, got float", "float size"),
        ErrorInput((x, None), {}, TypeError, rf"{fn}: output_size must be an int, got NoneType", "None size"),
        ErrorInput((np.zeros((1, 2, 0, 4), np.float32), 2), {}, ValueError,
                   rf"{fn}: x must have non-zero channels, height and width", "empty plane"),
        ErrorInput((np.zeros((1, 0, 3, 4), np.float32), 2), {}, ValueError,
                   rf"{fn}: x must have non-zero channels, height and width", "no channels"),
        ErrorInput((x, (2 ** 40, 2 ** 40)), {}, ValueError, rf"{fn}: output shape .* has more than 2\*\*63-1 elements",
                   "output too large"),
    ]


def _bwd_errors(rng):
    fn = "adaptive_max_pool2d_backward_input"
    x = rng.standard_normal((1, 2, 7, 5))
    y, idx = reference.adaptive_max_pool2d_forward(x, (3, 4))
    g = rng.standard_normal(y.shape).astype(np.float32)
    shifted = idx.copy()
    shifted[0, 0, 2, 3] = 0            # a real position, but outside that cell's bin
    return [
        ErrorInput((g, idx, (1, 2, 7, 5, 1)), {}, ValueError, rf"{fn}: input_shape must be a sequence of 4 ints",
                   "shape len"),
        ErrorInput((g, idx.astype(np.int32), (1, 2, 7, 5)), {}, TypeError, rf"{fn}: indices must be int64, got int32",
                   "int32 indices"),
        ErrorInput((g, idx.tolist(), (1, 2, 7, 5)), {}, TypeError, rf"{fn}: indices must be a numpy.ndarray, got list",
                   "list indices"),
        ErrorInput((g, idx[:, :, :2], (1, 2, 7, 5)), {}, ValueError, rf"{fn}: indices must have shape \(1, 2, 3, 4\)",
                   "indices shape"),
        ErrorInput((g, idx, (1, 3, 7, 5)), {}, ValueError, rf"{fn}: input_shape \(1, 3, 7, 5\) has batch and channels",
                   "channels"),
        ErrorInput((g, idx, (1, 2, 0, 5)), {}, ValueError, rf"{fn}: input_shape must have non-zero channels", "empty"),
        ErrorInput((g, idx, (1, 2, -7, 5)), {}, ValueError, rf"{fn}: input_shape must be >= 0", "negative"),
        ErrorInput((g.astype(np.float16), idx, (1, 2, 7, 5)), {}, TypeError,
                   rf"{fn}: grad_output must be float32 or float64, got float16", "float16"),
        ErrorInput((g[0], idx, (1, 2, 7, 5)), {}, ValueError, rf"{fn}: grad_output must be 4-D", "rank"),
        ErrorInput((g, idx + 1000, (1, 2, 7, 5)), {}, ValueError, rf"{fn}: indices must lie in the bin of their output "
                   r"cell \(flat positions h\*W \+ w.*got 24 outside", "indices past the plane"),
        ErrorInput((g, shifted, (1, 2, 7, 5)), {}, ValueError, rf"{fn}: indices must lie in the bin .*got 1 outside",
                   "an index outside its bin"),
        ErrorInput((g, -idx - 1, (1, 2, 7, 5)), {}, ValueError, rf"{fn}: indices must lie in the bin .*got 24 outside",
                   "negative indices"),
        ErrorInput((g[:, :, :0], idx[:, :, :0], (1, 2, 7, 5)), {}, ValueError,
                   rf"{fn}: grad_output must have height and width >= 1", "empty grad_output"),
    ]


OPS = [
    OpInfo("adaptive_max_pool2d_forward", "adaptive_pool2d", _fwd_samples, _fwd_errors, grad=GRAD),
    OpInfo("adaptive_max_pool2d_backward_input", "adaptive_pool2d", _bwd_samples, _bwd_errors),
]
