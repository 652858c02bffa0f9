"""Registry entries for the CTC loss (ctc_loss_forward / ctc_loss_backward): padded and concatenated
targets, repeated labels (the skip s − 2 → s refused), empty targets, impossible alignments (+inf, and
0 with zero_infinity), input lengths 0 and T, batch 1, T = 1, blank other than 0, non-contiguous
log_probs, and a batch large enough for the threads."""
from __future__ import annotations

import numpy as np

from ..registry import ErrorInput, GradSpec, OpInfo, Sample, non_contiguous

I64 = np.int64


def _log_softmax(rng, shape, dtype):
    x = rng.standard_normal(shape) * 2.0
    x = x - x.max(-1, keepdims=True)
    return (x - np.log(np.exp(x).sum(-1, keepdims=True))).astype(dtype)


def _labels(rng, lengths, C, blank, S=None):
    """Padded (N, S) random labels other than blank, padding filled with blank (never read)."""
    S = max(lengths) if S is None else S
    out = np.full((len(lengths), S), blank, I64)
    choices = [c for c in range(C) if c != blank]
    for n, L in enumerate(lengths):
        out[n, :L] = rng.choice(choices, size=L)
    return out


def _cases(rng, dtype):
    """(log_probs, targets, input_lengths, target_lengths, blank, zero_infinity, desc)."""
    a = lambda *v: np.array(v, I64)  # noqa: E731
    out = []
    lp = _log_softmax(rng, (12, 3, 5), dtype)
    out.append((lp, _labels(rng, [3, 4, 2], 5, 0, 6), a(12, 10, 7), a(3, 4, 2), 0, False, "padded, S = 6"))
    tg = _labels(rng, [3, 4, 2], 5, 0)
    cat = np.concatenate([tg[0, :3], tg[1, :4], tg[2, :2]])
    out.append((lp, cat, a(12, 12, 9), a(3, 4, 2), 0, False, "concatenated"))
    out.append((_log_softmax(rng, (10, 2, 4), dtype), a(1, 1, 2, 2, 3, 3, 1, 1), a(10, 9), a(4, 4), 0, False,
                "repeated labels"))
    imp = _log_softmax(rng, (6, 3, 4), dtype)
    out.append((imp, np.array([[2, 2, 2], [1, 2, 3], [3, 0, 0]], I64), a(4, 2, 6), a(3, 3, 1), 0, False,
                "impossible alignments (+inf)"))
    out.append((imp, np.array([[2, 2, 2], [1, 2, 3], [3, 0, 0]], I64), a(4, 2, 6), a(3, 3, 1), 0, True,
                "impossible alignments, zero_infinity"))
    out.append((_log_softmax(rng, (1, 1, 3), dtype), a(2), a(1), a(1), 0, False, "batch 1, T = 1, one label"))
    out.append((_log_softmax(rng, (1, 2, 3), dtype), np.zeros((2, 0), I64), a(1, 0), a(0, 0), 0, False,
                "T = 1, empty targets, an input length 0"))
    out.append((_log_softmax(rng, (7, 2, 6), dtype), _labels(rng, [3, 0], 6, 5), a(7, 3), a(3, 0), 5, False,
                "blank = C - 1, an empty target"))
    out.append((non_contiguous(_log_softmax(rng, (9, 2, 5), dtype)), _labels(rng, [2, 3], 5, 0), a(9, 8), a(2, 3),
                0, False, "non-contiguous log_probs"))
    big_l = rng.integers(5, 15, size=24)
    out.append((_log_softmax(rng, (60, 24, 28), dtype), _labels(rng, list(big_l), 28, 0),
                rng.integers(40, 61, size=24).astype(I64), big_l.astype(I64), 0, False, "T 60, N 24, C 28 (threads)"))
    return out


def _fwd_samples(rng, dtype):
    return [Sample(c[:6], {}, c[6]) for c in _cases(rng, dtype)]


def _bwd_samples(rng, dtype):
    out = []
    for c in _cases(rng, dtype):
        N = c[0].shape[1]
        g = rng.standard_normal(N).astype(dtype)
        out.append(Sample((g,) + c[:5], {}, c[6]))
    return out


def _bwd_call(impl, s):
    g, lp, tg, il, tl, blank = s.args
    _, log_alpha = impl.ctc_loss_forward(lp, tg, il, tl, blank)
    return impl.ctc_loss_backward(g, lp, tg, il, tl, log_alpha, blank)


def _grad_inputs(rng):
    # targets and lengths as nested tuples: the finite differences cast every array argument to float64
    return [Sample((rng.standard_normal((6, 2, 4)), ((1, 2, 0), (3, 3, 1)), (6, 5), (2, 3)), {}, "padded, a repeat"),
            Sample((rng.standard_normal((5, 3, 3)), (1, 1, 2, 2), (5, 4, 2), (2, 1, 1)), {}, "concatenated"),
            Sample((rng.standard_normal((1, 1, 3)), (2,), (1,), (1,)), {}, "T = 1")]


def _fwd(impl, lp, tg, il, tl):
    return impl.ctc_loss_forward(lp, np.array(tg, I64), np.array(il, I64), np.array(tl, I64))[0]


def _vjp(impl, g, lp, tg, il, tl):
    tg, il, tl = np.array(tg, I64), np.array(il, I64), np.array(tl, I64)
    _, alpha = impl.ctc_loss_forward(lp, tg, il, tl)
    return [impl.ctc_loss_backward(g, lp, tg, il, tl, alpha)]


GRAD = GradSpec(forward=_fwd, vjp=_vjp, inputs=_grad_inputs)


def _fwd_errors(rng):
    fn = "ctc_loss_forward"
    lp = _log_softmax(rng, (5, 2, 4), np.float32)
    tg = np.array([[1, 2], [3, 0]], I64)
    il, tl = np.array([5, 4], I64), np.array([2, 1], I64)
    return [
        ErrorInput((lp.tolist(), tg, il, tl), {}, TypeError, rf"{fn}: log_probs must be a numpy.ndarray, got list",
                   "list log_probs"),
        ErrorInput((lp.astype(np.int32), tg, il, tl), {}, TypeError, rf"{fn}: log_probs must be float32 or float64",
                   "int log_probs"),
        ErrorInput((lp[0], tg, il, tl), {}, ValueError, rf"{fn}: log_probs must be 3-D, got 2-D", "2-D log_probs"),
        ErrorInput((lp, [[1, 2], [3, 0]], il, tl), {}, TypeError,
                   rf"{fn}: targets must be a numpy.ndarray of int64 class indices, got list", "list targets"),
        ErrorInput((lp, tg.astype(np.int32), il, tl), {}, TypeError, rf"{fn}: targets must be int64, got int32",
                   "int32 targets"),
        ErrorInput((lp, tg, [5, 4], tl), {}, TypeError,
                   rf"{fn}: input_lengths must be a numpy.ndarray of int64 lengths, got list", "list lengths"),
        ErrorInput((lp, tg, il.astype(np.float32), tl), {}, TypeError, rf"{fn}: input_lengths must be int64, got "
                   "float32", "float lengths"),
        ErrorInput((lp, tg, il, tl[:1]), {}, ValueError, rf"{fn}: target_lengths must have shape \(N,\) = \(2,\), got "
                   r"\(1,\)", "short target_lengths"),
        ErrorInput((lp, tg, il[:, None], tl), {}, ValueError, rf"{fn}: input_lengths must have shape \(N,\)",
                   "2-D input_lengths"),
        ErrorInput((lp, tg[:1], il, tl), {}, ValueError, rf"{fn}: padded targets must have shape \(N, S\) with N = 2, "
                   r"got \(1, 2\)", "padded batch"),
        ErrorInput((lp, tg[None], il, tl), {}, ValueError, rf"{fn}: targets must be 2-D \(N, S\) padded or 1-D "
                   r"concatenated, got shape \(1, 2, 2\)", "3-D targets"),
        ErrorInput((lp, tg, il, tl, 4), {}, ValueError, rf"{fn}: blank must be a class index in \[0, 4\), got 4",
                   "blank = C"),
        ErrorInput((lp, tg, il, tl, -1), {}, ValueError, rf"{fn}: blank must be a class index", "negative blank"),
        ErrorInput((lp, tg, il, tl, 0.0), {}, TypeError, rf"{fn}: blank must be an int, got float", "float blank"),
        ErrorInput((lp, tg, np.array([6, 4], I64), tl), {}, ValueError, rf"{fn}: input_lengths must be in \[0, T\] = "
                   r"\[0, 5\], got 6 for batch element 0", "input length > T"),
        ErrorInput((lp, tg, np.array([5, -1], I64), tl), {}, ValueError, rf"{fn}: input_lengths must be in \[0, T\] "
                   r"= \[0, 5\], got -1 for batch element 1", "negative input length"),
        ErrorInput((lp, tg, il, np.array([2, -1], I64)), {}, ValueError, rf"{fn}: target_lengths must be >= 0, got -1 "
                   "for batch element 1", "negative target length"),
        ErrorInput((lp, tg, il, np.array([3, 1], I64)), {}, ValueError, rf"{fn}: target_lengths \(max 3\) exceed the "
                   "padded targets' length 2", "padded too short"),
        ErrorInput((lp, np.array([1, 2, 3, 1], I64), il, tl), {}, ValueError, rf"{fn}: concatenated targets must "
                   r"have sum\(target_lengths\) = 3 entries, got 4", "concatenated total"),
        ErrorInput((lp, np.array([[1, 0], [3, 0]], I64), il, tl), {}, ValueError, rf"{fn}: targets must be class "
                   r"indices in \[0, 4\) other than blank \(0\), got 0 at position 1 of batch element 0", "blank label"),
        ErrorInput((lp, np.array([[1, 2], [4, 0]], I64), il, tl), {}, ValueError, rf"{fn}: targets must be class "
                   r"indices in \[0, 4\) other than blank \(0\), got 4 at position 0 of batch element 1", "label = C"),
        ErrorInput((lp, tg, il, tl, 0, 1), {}, TypeError, rf"{fn}: zero_infinity must be a bool, got int", "int flag"),
    ]


def _bwd_errors(rng):
    fn = "ctc_loss_backward"
    lp = _log_softmax(rng, (5, 2, 4), np.float32)
    tg = np.array([[1, 2], [3, 0]], I64)
    il, tl = np.array([5, 4], I64), np.array([2, 1], I64)
    g = np.ones(2, np.float32)
    alpha = np.zeros((2, 5, 5), np.float32)
    return [
        ErrorInput((g.tolist(), lp, tg, il, tl, alpha), {}, TypeError, rf"{fn}: grad_output must be a numpy.ndarray",
                   "list grad"),
        ErrorInput((g[None], lp, tg, il, tl, alpha), {}, ValueError, rf"{fn}: grad_output must be 1-D, got 2-D",
                   "2-D grad"),
        ErrorInput((g[:1], lp, tg, il, tl, alpha), {}, ValueError, rf"{fn}: grad_output must have shape \(2,\), got "
                   r"\(1,\)", "short grad"),
        ErrorInput((g.astype(np.float64), lp, tg, il, tl, alpha), {}, TypeError, rf"{fn}: grad_output has dtype "
                   "float64 but log_probs is float32", "mixed dtypes"),
        ErrorInput((g, lp, tg, il, tl, alpha[:, :4]), {}, ValueError, rf"{fn}: log_alpha must have shape \(N, T, "
                   r"2\*max\(target_lengths\)\+1\) with \(N, T\) = \(2, 5\), got \(2, 4, 5\)", "log_alpha shape"),
        ErrorInput((g, lp, tg, il, tl, alpha[0]), {}, ValueError, rf"{fn}: log_alpha must be 3-D", "2-D log_alpha"),
        ErrorInput((g, lp, tg, np.array([5, 7], I64), tl, alpha), {}, ValueError, rf"{fn}: input_lengths must be in "
                   r"\[0, T\]", "input length > T"),
        ErrorInput((g, lp, tg, il, tl, alpha, 9), {}, ValueError, rf"{fn}: blank must be a class index in \[0, 4\), "
                   "got 9", "blank"),
    ]


# float32: α sums up to T log-probabilities (|α| ~ 100), each step rounding in float32
TOL = {np.dtype(np.float32): (2e-4, 2e-4), np.dtype(np.float64): (1e-10, 1e-10)}

OPS = [
    OpInfo("ctc_loss_forward", "ctc_loss", _fwd_samples, _fwd_errors, tol=dict(TOL), grad=GRAD),
    OpInfo("ctc_loss_backward", "ctc_loss", _bwd_samples, _bwd_errors, tol=dict(TOL), call=_bwd_call),
]
