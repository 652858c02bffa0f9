"""Registry entries for softmax / log_softmax over an axis and cross-entropy from logits."""
from __future__ import annotations

import numpy as np

from ..registry import ErrorInput, GradSpec, OpInfo, Sample, non_contiguous, randn

# (shape, axis): the last axis (contiguous rows) and inner axes (vector slabs along INNER, 19 lanes
# = one full and one partial slab for every width), odd lengths, size 1, zero-size, 0-d, and
# arrays above the OpenMP threshold (2^15 elements) in both layouts.
CASES = [((7,), -1), ((1, 1), -1), ((4, 10), -1), ((4, 10), 0), ((3, 5, 7), 1), ((3, 5, 7), -3),
         ((2, 3, 17, 19), 2), ((2, 37, 5), -1), ((2, 0, 3), 1), ((0, 5), -1), ((), -1), ((), 0),
         ((300, 130), -1), ((64, 40, 20), 1), ((5, 1001), 1)]


def _ieee(dtype):
    """Rows with NaN or ±inf (each row becomes NaN or stays finite as IEEE arithmetic says), and
    logits of ±1e4 that overflow any unshifted exp."""
    rows = np.array([[np.nan, 1.0, 2.0], [-np.inf, 0.0, 1.0], [np.inf, 0.0, 1.0], [1e4, -1e4, 0.0],
                     [-1e4, -1e4 + 1, -1e4 + 2], [1e4, 1e4 - 5, 1e4 - 0.5]])
    return rows.astype(dtype)


def _forward_samples(rng, dtype):
    out = [Sample((randn(rng, s, dtype),), dict(axis=a), f"shape {s} axis {a}") for s, a in CASES]
    out.append(Sample((non_contiguous(randn(rng, (6, 11), dtype)),), dict(axis=1), "non-contiguous, axis 1"))
    out.append(Sample((randn(rng, (6, 11), dtype).T,), dict(axis=0), "transposed view, axis 0"))
    out.append(Sample((_ieee(dtype),), dict(axis=-1), "NaN, inf and ±1e4 logits"))
    big = (1e4 * randn(rng, (8, 33), dtype)).astype(dtype)
    out.append(Sample((big,), dict(axis=-1), "logits of scale 1e4, last axis"))
    out.append(Sample((big,), dict(axis=0), "logits of scale 1e4, axis 0"))
    return out


def _softmax_values(x, axis, log):
    v = x.astype(np.float64)
    if v.size == 0:
        return x.copy()
    z = v - v.max(axis=axis, keepdims=True)
    lse = np.log(np.exp(z).sum(axis=axis, keepdims=True))
    return (z - lse if log else np.exp(z - lse)).astype(x.dtype)


def _backward_samples(log):
    def samples(rng, dtype):
        out = []
        for s, a in CASES:
            y = _softmax_values(np.atleast_1d(randn(rng, s, dtype)), a, log).reshape(s)
            out.append(Sample((randn(rng, s, dtype), y), dict(axis=a), f"shape {s} axis {a}"))
        g = randn(rng, (6, 11), dtype)
        y = _softmax_values(randn(rng, (6, 11), dtype), 1, log)
        out.append(Sample((non_contiguous(g), non_contiguous(y)), dict(axis=1), "non-contiguous"))
        out.append(Sample((g.T, y.T), dict(axis=0), "transposed views"))
        return out
    return samples


def _softmax_errors(fn):
    def errors(rng):
        x = rng.standard_normal((3, 4)).astype(np.float32)
        return [
            ErrorInput((x,), dict(axis=2), ValueError, rf"{fn}: axis 2 is out of range for a 2-D array \(expected -2 <= axis <= 1\)", "axis 2"),
            ErrorInput((x,), dict(axis=-3), ValueError, rf"{fn}: axis -3 is out of range for a 2-D array", "axis -3"),
            ErrorInput((np.ones((), np.float32),), dict(axis=1), ValueError,
                       rf"{fn}: axis 1 is out of range for a 0-D array \(expected -1 <= axis <= 0\)", "0-d axis 1"),
            ErrorInput((x,), dict(axis=1.0), TypeError, rf"{fn}: axis must be an int, got float", "float axis"),
            ErrorInput((x.astype(np.int64),), {}, TypeError, rf"{fn}: x must be float32 or float64, got int64", "int"),
            ErrorInput((x.astype(np.float16),), {}, TypeError, rf"{fn}: x must be float32 or float64, got float16", "float16"),
        ]
    return errors


def _softmax_backward_errors(fn):
    def errors(rng):
        g = rng.standard_normal((3, 4)).astype(np.float32)
        y = rng.uniform(0.1, 0.9, (3, 4)).astype(np.float32)
        return [
            ErrorInput((g, y), dict(axis=2), ValueError, rf"{fn}: axis 2 is out of range for a 2-D array", "axis"),
            ErrorInput((g[:2], y), {}, ValueError, rf"{fn}: grad_output must have the shape of output \(3, 4\), got \(2, 4\)", "shape"),
            ErrorInput((g.astype(np.float64), y), {}, TypeError, rf"{fn}: grad_output has dtype float64 but output is float32", "mixed"),
            ErrorInput((g, y.astype(np.int32)), {}, TypeError, rf"{fn}: output must be float32 or float64, got int32", "int"),
        ]
    return errors


def _softmax_grad_inputs(rng):
    return [Sample((rng.standard_normal((3, 5)), -1), {}, "(3, 5) axis -1"),
            Sample((rng.standard_normal((3, 5)), 0), {}, "(3, 5) axis 0"),
            Sample((2 * rng.standard_normal((2, 4, 3)), 1), {}, "(2, 4, 3) axis 1")]


def _softmax_ops(name, log):
    fwd, bwd = f"{name}_forward", f"{name}_backward"
    grad = GradSpec(
        forward=lambda impl, x, axis: getattr(impl, fwd)(x, axis),
        vjp=lambda impl, g, x, axis: [getattr(impl, bwd)(g, getattr(impl, fwd)(x, axis), axis)],
        inputs=_softmax_grad_inputs)
    tol = {np.dtype(np.float32): (1e-4, 1e-4), np.dtype(np.float64): (1e-10, 1e-10)}
    return [OpInfo(fwd, "softmax", _forward_samples, _softmax_errors(fwd), tol=dict(tol), grad=grad),
            OpInfo(bwd, "softmax", _backward_samples(log), _softmax_backward_errors(bwd), tol=dict(tol))]


# Cross-entropy -----------------------------------------------------------------------------------

CE_SHAPES = [(1, 1), (1, 10), (7, 3), (37, 10), (5, 33), (128, 10), (300, 130)]
REDUCTIONS = ("none", "mean", "sum")


def _targets(rng, n, c):
    return rng.integers(0, c, n).astype(np.int64)


def _ce_cases(rng, dtype):
    """(logits, target, desc) including a zero-size batch, a non-contiguous view and ±1e4 logits."""
    cases = [(randn(rng, s, dtype), _targets(rng, *s), f"{s}") for s in CE_SHAPES]
    cases.append((randn(rng, (0, 5), dtype), np.zeros(0, np.int64), "N = 0"))
    cases.append((non_contiguous(randn(rng, (9, 7), dtype)), _targets(rng, 9, 7), "non-contiguous logits"))
    big = (1e4 * randn(rng, (6, 5), dtype)).astype(dtype)
    cases.append((big, _targets(rng, 6, 5), "logits of scale 1e4"))
    return cases


def _ce_forward_samples(rng, dtype):
    return [Sample((logits, t), dict(reduction=r), f"{d} {r}") for logits, t, d in _ce_cases(rng, dtype)
            for r in REDUCTIONS]


def _ce_backward_samples(rng, dtype):
    out = []
    for logits, t, d in _ce_cases(rng, dtype):
        for r in REDUCTIONS:
            g = randn(rng, (logits.shape[0],) if r == "none" else (), dtype)
            out.append(Sample((g, logits, t), dict(reduction=r), f"{d} {r}"))
    return out


def _ce_errors(fn, backward):
    def errors(rng):
        x = rng.standard_normal((4, 5)).astype(np.float32)
        t = np.array([0, 4, 5, 1], np.int64)
        ok = np.array([0, 4, 2, 1], np.int64)
        g = np.ones((), np.float32)
        pre = (g,) if backward else ()
        out = [
            ErrorInput(pre + (x, t), {}, ValueError,
                       rf"{fn}: target\[2\] = 5 is out of range for 5 classes \(expected 0 <= target < 5\)", "target = C"),
            ErrorInput(pre + (x, np.array([0, -1, 2, 1], np.int64)), {}, ValueError, rf"{fn}: target\[1\] = -1 is out of range",
                       "negative target"),
            ErrorInput(pre + (x, ok.astype(np.int32)), {}, TypeError, rf"{fn}: target must be int64 class indices, got int32", "int32"),
            ErrorInput(pre + (x, ok.astype(np.float32)), {}, TypeError, rf"{fn}: target must be int64 class indices, got float32", "float"),
            ErrorInput(pre + (x, ok[:3]), {}, ValueError, rf"{fn}: target must have shape \(4,\) to match logits \(4, 5\), got \(3,\)", "length"),
            ErrorInput(pre + (x[None], ok), {}, ValueError, rf"{fn}: logits must be 2-D, got 3-D", "rank"),
            ErrorInput(pre + (x.astype(np.int64), ok), {}, TypeError, rf"{fn}: logits must be float32 or float64", "int logits"),
            ErrorInput(pre + (x, ok), dict(reduction="avg"), ValueError, rf"{fn}: reduction must be 'none', 'mean' or 'sum', got 'avg'", "reduction"),
            ErrorInput(pre + (x, ok.tolist()), {}, TypeError, rf"{fn}: target must be a numpy.ndarray", "list target"),
        ]
        if backward:
            out += [
                ErrorInput((np.ones(4, np.float32), x, ok), dict(reduction="mean"), ValueError,
                           rf"{fn}: grad_output must have shape \(\) for reduction 'mean', got \(4,\)", "grad shape mean"),
                ErrorInput((g, x, ok), dict(reduction="none"), ValueError,
                           rf"{fn}: grad_output must have shape \(4,\) for reduction 'none', got \(\)", "grad shape none"),
                ErrorInput((g.astype(np.float64), x, ok), {}, TypeError, rf"{fn}: grad_output has dtype float64 but logits is float32",
                           "mixed"),
            ]
        return out
    return errors


def _ce_grad_inputs(rng):
    # target as a tuple: the finite-difference helper casts every ndarray input to float64
    out = []
    for (n, c) in ((4, 5), (1, 3)):
        for r in REDUCTIONS:
            out.append(Sample((rng.standard_normal((n, c)), tuple(int(v) for v in _targets(rng, n, c)), r), {}, f"({n}, {c}) {r}"))
    return out


CE_GRAD = GradSpec(
    forward=lambda impl, logits, t, r: impl.cross_entropy_forward(logits, np.asarray(t, np.int64), r),
    vjp=lambda impl, g, logits, t, r: [impl.cross_entropy_backward(np.asarray(g, np.float64), logits,
                                                                   np.asarray(t, np.int64), r)],
    inputs=_ce_grad_inputs)

OPS = (_softmax_ops("softmax", False) + _softmax_ops("log_softmax", True) + [
    OpInfo("cross_entropy_forward", "softmax", _ce_forward_samples, _ce_errors("cross_entropy_forward", False), grad=CE_GRAD),
    OpInfo("cross_entropy_backward", "softmax", _ce_backward_samples, _ce_errors("cross_entropy_backward", True)),
])
