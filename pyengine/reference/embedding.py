"""Reference embedding lookup and its gradient, in float64.

weight (V, D), indices (*) int64 in [0, V) -> out (*, D) = weight[indices].
Backward: grad_weight (V, D) = Σ over the positions k with indices[k] = v of grad_output[k], in
increasing k; divided by count(v) with scale_grad_by_freq; the padding_idx row is 0.
"""
from __future__ import annotations

import numpy as np

from ._checks import _is_array, as_bool, as_int, check_float_array, checked_numel

__all__ = ["embedding_forward", "embedding_backward"]


def _check_indices(fn, indices):
    if not _is_array(indices):
        raise TypeError(f"{fn}: indices must be a numpy.ndarray of int64 indices, got {type(indices).__name__}")
    if indices.dtype != np.int64:
        raise TypeError(f"{fn}: indices must be int64, got {indices.dtype}")
    return checked_numel(fn, "indices shape", indices.shape)


def _check_range(fn, indices, V):
    if indices.size:
        lo, hi = int(indices.min()), int(indices.max())
        if lo < 0 or hi >= V:
            raise ValueError(f"{fn}: indices must lie in [0, num_embeddings) = [0, {V}), got values from {lo} to {hi}")


def embedding_forward(weight, indices):
    """weight (V, D), indices (*) int64 -> (*, D)."""
    fn = "embedding_forward"
    check_float_array(fn, "weight", weight, 2)
    _check_indices(fn, indices)
    checked_numel(fn, "output shape", tuple(indices.shape) + (weight.shape[1],))
    _check_range(fn, indices, weight.shape[0])
    return np.asarray(weight, np.float64)[indices].astype(weight.dtype)


def embedding_backward(grad_output, indices, num_weights, padding_idx=None, scale_grad_by_freq=False):
    """grad_output (*, D), indices (*) int64 -> grad_weight (num_weights, D)."""
    fn = "embedding_backward"
    check_float_array(fn, "grad_output", grad_output)
    if not _is_array(indices):
        raise TypeError(f"{fn}: indices must be a numpy.ndarray of int64 indices, got {type(indices).__name__}")
    V = as_int(fn, "num_weights", num_weights, 0)
    _check_indices(fn, indices)
    if grad_output.ndim != indices.ndim + 1 or tuple(grad_output.shape[:-1]) != tuple(indices.shape):
        raise ValueError(f"{fn}: grad_output must have shape indices.shape + (embedding_dim,) = "
                         f"{tuple(indices.shape)} + (D,), got {tuple(grad_output.shape)}")
    D = grad_output.shape[-1]
    checked_numel(fn, "grad_weight shape", (V, D))
    if padding_idx is not None:
        padding_idx = as_int(fn, "padding_idx", padding_idx)
        if not 0 <= padding_idx < V:
            raise ValueError(f"{fn}: padding_idx must be None or in [0, num_weights) = [0, {V}), got {padding_idx}")
    freq = as_bool(fn, "scale_grad_by_freq", scale_grad_by_freq)
    _check_range(fn, indices, V)
    idx = np.asarray(indices).reshape(-1)
    g = np.asarray(grad_output, np.float64).reshape(idx.size, D)
    gw = np.zeros((V, D))
    np.add.at(gw, idx, g)                      # in increasing position order
    if freq and idx.size:
        counts = np.bincount(idx, minlength=V)
        gw /= np.maximum(counts, 1)[:, None]
    if padding_idx is not None:
        gw[padding_idx] = 0.0
    return gw.astype(grad_output.dtype)
