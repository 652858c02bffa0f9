"""Registry entries for embedding lookup (embedding_forward / embedding_backward): repeated indices,
padding_idx, scale_grad_by_freq, empty and multi-dimensional index arrays."""
from __future__ import annotations

import numpy as np

from ..registry import ErrorInput, GradSpec, OpInfo, Sample, non_contiguous, randn

# (V, D, indices shape, desc)
CASES = [((10, 3), (4,), "10 rows of 3, 4 lookups"),
         ((7, 33), (2, 5), "D = 33 (vectors and a tail), 2-D indices"),
         ((1, 4), (6,), "one row looked up six times"),
         ((50, 16), (3, 4, 5), "3-D indices"),
         ((200, 64), (64, 40), "2560 lookups of 64 (threads)"),
         ((5, 2), (0,), "no lookups"),
         ((6, 0), (3,), "D = 0")]


def _idx(rng, V, shape):
    return rng.integers(0, V, size=shape).astype(np.int64)


def _fwd_samples(rng, dtype):
    out = [Sample((randn(rng, vd, dtype), _idx(rng, vd[0], s)), {}, d) for vd, s, d in CASES]
    out.append(Sample((non_contiguous(randn(rng, (9, 5), dtype)), non_contiguous(_idx(rng, 9, (4, 3)))), {},
                      "non-contiguous weight and indices"))
    out.append(Sample((randn(rng, (4, 3), dtype), np.array(2, np.int64)), {}, "a 0-D index"))
    return out


def _bwd_samples(rng, dtype):
    out = []
    for (V, D), s, desc in CASES:
        idx = _idx(rng, V, s)
        g = randn(rng, s + (D,), dtype)
        out.append(Sample((g, idx, V), {}, desc))
        if V > 2:
            out.append(Sample((g, idx, V, 1, True), {}, desc + ", padding_idx 1, scale_grad_by_freq"))
    idx = np.array([3, 3, 0, 3, 5, 0, 3], np.int64)
    g = randn(rng, (7, 9), dtype)
    out.append(Sample((g, idx, 8, 0), {}, "repeated indices, padding_idx 0"))
    out.append(Sample((g, idx, 8, None, True), {}, "repeated indices, scale_grad_by_freq"))
    out.append(Sample((non_contiguous(g), idx, 8), {}, "non-contiguous grad_output"))
    out.append(Sample((randn(rng, (3, 4), dtype), np.array([0, 1, 0], np.int64), 0 + 2, 1), {}, "V = 2"))
    return out


def _grad_inputs(rng):
    # the indices as nested tuples: the finite differences cast every array argument to float64
    return [Sample((rng.standard_normal((6, 5)), ((1, 4, 1), (0, 5, 1))), {}, "repeated rows"),
            Sample((rng.standard_normal((3, 2)), (2, 2, 2, 0)), {}, "one row four times")]


GRAD = GradSpec(
    forward=lambda impl, w, idx: impl.embedding_forward(w, np.array(idx, np.int64)),
    vjp=lambda impl, g, w, idx: [impl.embedding_backward(g, np.array(idx, np.int64), w.shape[0])],
    inputs=_grad_inputs,
)


def _fwd_errors(rng):
    fn = "embedding_forward"
    w = rng.standard_normal((5, 3)).astype(np.float32)
    idx = np.array([0, 4, 2], np.int64)
    return [
        ErrorInput((w.tolist(), idx), {}, TypeError, rf"{fn}: weight must be a numpy.ndarray, got list", "list weight"),
        ErrorInput((w.astype(np.int32), idx), {}, TypeError, rf"{fn}: weight must be float32 or float64", "int weight"),
        ErrorInput((w[0], idx), {}, ValueError, rf"{fn}: weight must be 2-D, got 1-D", "1-D weight"),
        ErrorInput((w, idx.astype(np.int32)), {}, TypeError, rf"{fn}: indices must be int64, got int32", "int32"),
        ErrorInput((w, idx.astype(np.float32)), {}, TypeError, rf"{fn}: indices must be int64, got float32", "float"),
        ErrorInput((w, [0, 1]), {}, TypeError, rf"{fn}: indices must be a numpy.ndarray of int64 indices, got list",
                   "list indices"),
        ErrorInput((w, np.array([0, 5], np.int64)), {}, ValueError,
                   rf"{fn}: indices must lie in \[0, num_embeddings\) = \[0, 5\), got values from 0 to 5", "too large"),
        ErrorInput((w, np.array([-1, 2], np.int64)), {}, ValueError, rf"{fn}: indices must lie in .*from -1 to 2",
                   "negative"),
        ErrorInput((np.zeros((0, 3), np.float32), idx), {}, ValueError, rf"{fn}: indices must lie in \[0, num_embeddings\)"
                   r" = \[0, 0\)", "empty weight"),
    ]


def _bwd_errors(rng):
    fn = "embedding_backward"
    g = rng.standard_normal((3, 4)).astype(np.float32)
    idx = np.array([0, 4, 2], np.int64)
    return [
        ErrorInput((g.tolist(), idx, 5), {}, TypeError, rf"{fn}: grad_output must be a numpy.ndarray", "list"),
        ErrorInput((g.astype(np.float16), idx, 5), {}, TypeError, rf"{fn}: grad_output must be float32 or float64",
                   "float16"),
        ErrorInput((g, idx.astype(np.int32), 5), {}, TypeError, rf"{fn}: indices must be int64, got int32", "int32"),
        ErrorInput((g, [0, 4, 2], 5), {}, TypeError, rf"{fn}: indices must be a numpy.ndarray of int64", "list idx"),
        ErrorInput((g[:2], idx, 5), {}, ValueError, rf"{fn}: grad_output must have shape indices.shape \+ "
                   r"\(embedding_dim,\) = \(3,\) \+ \(D,\), got \(2, 4\)", "shape"),
        ErrorInput((g[0], idx, 5), {}, ValueError, rf"{fn}: grad_output must have shape indices.shape", "rank"),
        ErrorInput((g, idx, -1), {}, ValueError, rf"{fn}: num_weights must be >= 0, got -1", "negative V"),
        ErrorInput((g, idx, 5.0), {}, TypeError, rf"{fn}: num_weights must be an int, got float", "float V"),
        ErrorInput((g, idx, 4), {}, ValueError, rf"{fn}: indices must lie in \[0, num_embeddings\) = \[0, 4\), got "
                   r"values from 0 to 4", "index past V"),
        ErrorInput((g, idx, 5, 5), {}, ValueError, rf"{fn}: padding_idx must be None or in \[0, num_weights\) = "
                   r"\[0, 5\), got 5", "padding_idx"),
        ErrorInput((g, idx, 5, -1), {}, ValueError, rf"{fn}: padding_idx must be None or in", "negative padding"),
        ErrorInput((g, idx, 5, 1.0), {}, TypeError, rf"{fn}: padding_idx must be an int, got float", "float padding"),
        ErrorInput((g, idx, 5, None, 1), {}, TypeError, rf"{fn}: scale_grad_by_freq must be a bool, got int", "freq"),
    ]


OPS = [
    OpInfo("embedding_forward", "embedding", _fwd_samples, _fwd_errors, grad=GRAD),
    OpInfo("embedding_backward", "embedding", _bwd_samples, _bwd_errors),
]
