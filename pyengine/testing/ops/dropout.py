"""Registry entries for dropout: the mask must be identical (not just close) in every implementation."""
from __future__ import annotations

import numpy as np

from ... import reference
from ..registry import ErrorInput, GradSpec, OpInfo, Sample, non_contiguous, randn

SHAPES = [((0,), "empty"), ((7,), "1-D odd"), ((3, 5), "2-D"), ((2, 3, 4, 5), "4-D"), ((), "0-d"),
          ((70000,), "70000 elements (threaded)")]
P_SEEDS = [(0.0, 5, "p=0 keeps everything"), (0.2, 0, "p=0.2 seed 0"), (0.5, 2**64 - 1, "p=0.5 seed 2**64-1"),
           (0.9, 12345, "p=0.9")]


def _fwd_samples(rng, dtype):
    out = [Sample((randn(rng, shape, dtype), p, seed), {}, f"{desc}, {pdesc}")
           for shape, desc in SHAPES for p, seed, pdesc in P_SEEDS]
    out.append(Sample((non_contiguous(randn(rng, (4, 6), dtype)), 0.3, 7), {}, "non-contiguous x"))
    x = randn(rng, (3, 4), dtype)
    x[0, :2] = np.inf
    x[1, :2] = np.nan
    out.append(Sample((x, 0.5, 3), {}, "inf and NaN"))
    return out


def _bwd_samples(rng, dtype):
    out = []
    for shape, desc in SHAPES:
        for p, seed, pdesc in P_SEEDS:
            _, mask = reference.dropout_forward(np.zeros(shape), p, seed)
            out.append(Sample((randn(rng, shape, dtype), mask, p), {}, f"{desc}, {pdesc}"))
    _, mask = reference.dropout_forward(np.zeros((4, 6)), 0.3, 7)
    out.append(Sample((non_contiguous(randn(rng, (4, 6), dtype)), non_contiguous(mask), 0.3), {},
                      "non-contiguous grad_output and mask"))
    return out


def _fwd_errors(rng):
    fn = "dropout_forward"
    x = rng.standard_normal((3, 4)).astype(np.float32)
    return [
        ErrorInput((x, 1.0, 0), {}, ValueError, rf"{fn}: p must be in \[0, 1\), got 1.0", "p=1"),
        ErrorInput((x, -0.1, 0), {}, ValueError, rf"{fn}: p must be in \[0, 1\), got -0.1", "negative p"),
        ErrorInput((x, float("nan"), 0), {}, ValueError, rf"{fn}: p must be in \[0, 1\), got nan", "NaN p"),
        ErrorInput((x, "0.5", 0), {}, TypeError, rf"{fn}: p must be a float, got str", "p type"),
        ErrorInput((x, 0.5, -1), {}, ValueError, rf"{fn}: seed must be in \[0, 2\*\*64\), got -1", "negative seed"),
        ErrorInput((x, 0.5, 2**64), {}, ValueError, rf"{fn}: seed must be in \[0, 2\*\*64\)", "seed too large"),
        ErrorInput((x, 0.5, 1.5), {}, TypeError, rf"{fn}: seed must be an int, got float", "seed type"),
        ErrorInput((x.astype(np.int16), 0.5, 0), {}, TypeError, rf"{fn}: x must be float32 or float64, got int16", "int"),
        ErrorInput((x.tolist(), 0.5, 0), {}, TypeError, rf"{fn}: x must be a numpy.ndarray, got list", "list"),
    ]


def _bwd_errors(rng):
    fn = "dropout_backward"
    g = rng.standard_normal((3, 4)).astype(np.float32)
    mask = np.ones((3, 4), np.uint8)
    return [
        ErrorInput((g, mask.astype(bool), 0.5), {}, TypeError, rf"{fn}: mask must be uint8, got bool", "mask dtype"),
        ErrorInput((g, mask[:2], 0.5), {}, ValueError, rf"{fn}: mask must have shape \(3, 4\), got \(2, 4\)", "shape"),
        ErrorInput((g, mask, 1.0), {}, ValueError, rf"{fn}: p must be in \[0, 1\)", "p=1"),
        ErrorInput((g.astype(np.int32), mask, 0.5), {}, TypeError, rf"{fn}: grad_output must be float32 or float64",
                   "int"),
        ErrorInput((g, mask.tolist(), 0.5), {}, TypeError, rf"{fn}: mask must be a numpy.ndarray", "list mask"),
    ]


GRAD = GradSpec(
    forward=lambda impl, x, p, seed: impl.dropout_forward(x, p, seed)[0],
    vjp=lambda impl, g, x, p, seed: [impl.dropout_backward(g, impl.dropout_forward(x, p, seed)[1], p)],
    inputs=lambda rng: [Sample((rng.standard_normal((3, 7)), 0.4, 99), {}, "p=0.4 seed 99"),
                        Sample((rng.standard_normal((2, 2, 3)), 0.0, 1), {}, "p=0")],
)

# ---- channel dropout: one draw per (n, c), the mask (N, C)
CH_SHAPES = [((2, 3), "(N, C)"), ((1, 5, 7), "(N, C, L) batch 1"), ((2, 3, 4, 5), "(N, C, H, W)"),
             ((2, 3, 2, 3, 4), "(N, C, D, H, W)"), ((0, 3, 4), "zero-size batch"), ((2, 3, 0), "empty channels"),
             ((4, 64, 30, 30), "256 channels, 230k elements (threads)")]


def _ch_fwd_samples(rng, dtype):
    out = [Sample((randn(rng, shape, dtype), p, seed), {}, f"{desc}, {pdesc}")
           for shape, desc in CH_SHAPES for p, seed, pdesc in P_SEEDS]
    out.append(Sample((non_contiguous(randn(rng, (4, 6, 5), dtype)), 0.3, 7), {}, "non-contiguous x"))
    x = randn(rng, (3, 4, 2), dtype)
    x[0, :2] = np.inf
    x[1, :2] = np.nan
    out.append(Sample((x, 0.5, 3), {}, "inf and NaN"))
    return out


def _ch_bwd_samples(rng, dtype):
    out = []
    for shape, desc in CH_SHAPES:
        for p, seed, pdesc in P_SEEDS:
            _, mask = reference.dropout_channels_forward(np.zeros(shape), p, seed)
            out.append(Sample((randn(rng, shape, dtype), mask, p), {}, f"{desc}, {pdesc}"))
    _, mask = reference.dropout_channels_forward(np.zeros((4, 6, 5)), 0.3, 7)
    out.append(Sample((non_contiguous(randn(rng, (4, 6, 5), dtype)), non_contiguous(mask), 0.3), {},
                      "non-contiguous grad_output and mask"))
    return out


def _ch_fwd_errors(rng):
    fn = "dropout_channels_forward"
    x = rng.standard_normal((3, 4, 5)).astype(np.float32)
    return [
        ErrorInput((x[0, 0], 0.5, 0), {}, ValueError, rf"{fn}: x must have at least 2 axes \(N, C, ...\), got shape "
                   r"\(5,\)", "1-D"),
        ErrorInput((x, 1.0, 0), {}, ValueError, rf"{fn}: p must be in \[0, 1\), got 1.0", "p=1"),
        ErrorInput((x, "0.5", 0), {}, TypeError, rf"{fn}: p must be a float, got str", "p type"),
        ErrorInput((x, 0.5, -1), {}, ValueError, rf"{fn}: seed must be in \[0, 2\*\*64\), got -1", "negative seed"),
        ErrorInput((x, 0.5, 1.5), {}, TypeError, rf"{fn}: seed must be an int, got float", "seed type"),
        ErrorInput((x.astype(np.int16), 0.5, 0), {}, TypeError, rf"{fn}: x must be float32 or float64, got int16", "int"),
        ErrorInput((x.tolist(), 0.5, 0), {}, TypeError, rf"{fn}: x must be a numpy.ndarray, got list", "list"),
    ]


def _ch_bwd_errors(rng):
    fn = "dropout_channels_backward"
    g = rng.standard_normal((3, 4, 5)).astype(np.float32)
    mask = np.ones((3, 4), np.uint8)
    return [
        ErrorInput((g, mask.astype(bool), 0.5), {}, TypeError, rf"{fn}: mask must be uint8, got bool", "mask dtype"),
        ErrorInput((g, np.ones((3, 4, 5), np.uint8), 0.5), {}, ValueError,
                   rf"{fn}: mask must have shape \(3, 4\), got \(3, 4, 5\)", "element mask"),
        ErrorInput((g, mask, 1.0), {}, ValueError, rf"{fn}: p must be in \[0, 1\)", "p=1"),
        ErrorInput((g[0, 0], mask, 0.5), {}, ValueError, rf"{fn}: grad_output must have at least 2 axes", "1-D"),
        ErrorInput((g.astype(np.int32), mask, 0.5), {}, TypeError, rf"{fn}: grad_output must be float32 or float64",
                   "int"),
        ErrorInput((g, mask.tolist(), 0.5), {}, TypeError, rf"{fn}: mask must be a numpy.ndarray", "list mask"),
    ]


CH_GRAD = GradSpec(
    forward=lambda impl, x, p, seed: impl.dropout_channels_forward(x, p, seed)[0],
    vjp=lambda impl, g, x, p, seed: [impl.dropout_channels_backward(g, impl.dropout_channels_forward(x, p, seed)[1], p)],
    inputs=lambda rng: [Sample((rng.standard_normal((3, 7, 4)), 0.4, 99), {}, "p=0.4 seed 99"),
                        Sample((rng.standard_normal((2, 2, 3, 2)), 0.0, 1), {}, "p=0")],
)

OPS = [
    OpInfo("dropout_forward", "dropout", _fwd_samples, _fwd_errors, grad=GRAD),
    OpInfo("dropout_backward", "dropout", _bwd_samples, _bwd_errors),
    OpInfo("dropout_channels_forward", "dropout", _ch_fwd_samples, _ch_fwd_errors, grad=CH_GRAD),
    OpInfo("dropout_channels_backward", "dropout", _ch_bwd_samples, _ch_bwd_errors),
]
