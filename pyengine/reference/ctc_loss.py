"""Reference CTC loss (torch's F.ctc_loss, reduction 'none') and its gradient, in float64.

log_probs (T, N, C), class ``blank`` the blank; targets int64 padded (N, S) or the N sequences
concatenated (Σ target_lengths,); input_lengths and target_lengths (N,) int64. For sample n with target
l (length L) the extended labels are l' = (blank, l1, blank, l2, …, lL, blank), length 2L + 1, and over
t < T_n = input_lengths[n]:
    α[0, 0] = lp[0, blank],  α[0, 1] = lp[0, l1],  α[0, s > 1] = −∞
    α[t, s] = lp[t, l'_s] + logsumexp(α[t−1, s], α[t−1, s−1], α[t−1, s−2] if l'_s ≠ blank and l'_s ≠ l'_{s−2})
    nll_n = −logsumexp(α[T_n − 1, 2L], α[T_n − 1, 2L − 1])       (T_n = 0: 0 if L = 0 else +inf)
β is the same recursion run backwards from s ∈ {2L, 2L − 1} at t = T_n − 1 (β includes lp[t, l'_s]), and
    ∂nll_n/∂lp[t, c] = −exp(logsumexp_{s: l'_s = c}(α[t, s] + β[t, s]) − lp[t, c] + nll_n),  0 for t ≥ T_n.
ctc_loss_forward returns (nll (N,), log_alpha (N, T, 2·max L + 1)), α padded with −inf; with
zero_infinity an infinite nll is returned as 0. ctc_loss_backward returns grad_output[n]·∂nll_n/∂lp
(T, N, C): the exact gradient, 0 for a sample whose loss is infinite (see pyengine/ctc_loss.h for how it
relates to torch's).
"""
from __future__ import annotations

import numpy as np

from ._checks import _is_array, as_bool, as_int, check_float_array, check_same_dtype, check_shape

__all__ = ["ctc_loss_forward", "ctc_loss_backward"]

NEG_INF = -np.inf


def _lse(*xs):
    """logsumexp of equally shaped arrays, element-wise; −inf when every term is −inf."""
    m = xs[0]
    for x in xs[1:]:
        m = np.maximum(m, x)
    safe = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        return safe + np.log(sum(np.exp(x - safe) for x in xs))


def _shift(a, k):
    """a moved k places towards higher s (k < 0: lower), −inf shifted in."""
    out = np.full_like(a, NEG_INF)
    if 0 < k < len(a):
        out[k:] = a[:-k]
    elif k < 0 and -k < len(a):
        out[:k] = a[-k:]
    return out


def _int_array(fn, name, x, what):
    if not _is_array(x):
        raise TypeError(f"{fn}: {name} must be a numpy.ndarray of int64 {what}, got {type(x).__name__}")


def _inputs(fn, log_probs, targets, input_lengths, target_lengths, blank):
    """The shared checks (the binding's order and words); returns (T, N, C, blank, seqs, lengths)."""
    check_float_array(fn, "log_probs", log_probs)
    _int_array(fn, "targets", targets, "class indices")
    _int_array(fn, "input_lengths", input_lengths, "lengths")
    _int_array(fn, "target_lengths", target_lengths, "lengths")
    blank = as_int(fn, "blank", blank)
    check_float_array(fn, "log_probs", log_probs, 3)
    T, N, C = log_probs.shape
    for name, x in (("targets", targets), ("input_lengths", input_lengths), ("target_lengths", target_lengths)):
        if x.dtype != np.int64:
            raise TypeError(f"{fn}: {name} must be int64, got {x.dtype}")
    for name, x in (("input_lengths", input_lengths), ("target_lengths", target_lengths)):
        if tuple(x.shape) != (N,):
            raise ValueError(f"{fn}: {name} must have shape (N,) = ({N},), got {tuple(x.shape)}")
    if targets.ndim == 2:
        if targets.shape[0] != N:
            raise ValueError(f"{fn}: padded targets must have shape (N, S) with N = {N}, got {tuple(targets.shape)}")
    elif targets.ndim != 1:
        raise ValueError(f"{fn}: targets must be 2-D (N, S) padded or 1-D concatenated, got shape "
                         f"{tuple(targets.shape)}")
    if not 0 <= blank < C:
        raise ValueError(f"{fn}: blank must be a class index in [0, {C}), got {blank}")
    il, tl = np.asarray(input_lengths), np.asarray(target_lengths)
    for n in range(N):
        if not 0 <= il[n] <= T:
            raise ValueError(f"{fn}: input_lengths must be in [0, T] = [0, {T}], got {il[n]} for batch element {n}")
        if tl[n] < 0:
            raise ValueError(f"{fn}: target_lengths must be >= 0, got {tl[n]} for batch element {n}")
    lmax = int(tl.max()) if N else 0
    if targets.ndim == 2:
        if lmax > targets.shape[1]:
            raise ValueError(f"{fn}: target_lengths (max {lmax}) exceed the padded targets' length {targets.shape[1]}")
        seqs = [targets[n, :tl[n]] for n in range(N)]
    else:
        if int(tl.sum()) != targets.shape[0]:
            raise ValueError(f"{fn}: concatenated targets must have sum(target_lengths) = {int(tl.sum())} entries, "
                             f"got {targets.shape[0]}")
        ends = np.cumsum(tl)
        seqs = [targets[e - k:e] for e, k in zip(ends, tl)]
    for n, s in enumerate(seqs):
        for k, c in enumerate(s):
            if c < 0 or c >= C or c == blank:
                raise ValueError(f"{fn}: targets must be class indices in [0, {C}) other than blank ({blank}), got "
                                 f"{c} at position {k} of batch element {n}")
    return T, N, C, blank, [np.asarray(s, np.int64) for s in seqs], il.astype(np.int64), 2 * lmax + 1


def _extended(target, blank):
    L = len(target)
    ext = np.full(2 * L + 1, blank, np.int64)
    ext[1::2] = target
    skip = np.zeros(2 * L + 1, bool)            # may s be reached from s − 2
    skip[2:] = (ext[2:] != blank) & (ext[2:] != ext[:-2])
    return ext, skip


def _alpha(lp, ext, skip):
    """lp (T_n, C) float64 → α (T_n, S)."""
    T, S = lp.shape[0], len(ext)
    e = lp[:, ext]
    alpha = np.full((T, S), NEG_INF)
    if T == 0:
        return alpha
    alpha[0, 0] = e[0, 0]
    if S > 1:
        alpha[0, 1] = e[0, 1]
    for t in range(1, T):
        a = alpha[t - 1]
        alpha[t] = e[t] + _lse(a, _shift(a, 1), np.where(skip, _shift(a, 2), NEG_INF))
    return alpha


def _nll(alpha, L):
    if alpha.shape[0] == 0:
        return 0.0 if L == 0 else np.inf
    S = alpha.shape[1]
    ends = [alpha[-1, S - 1]] + ([alpha[-1, S - 2]] if S > 1 else [])
    return -float(_lse(*[np.asarray(v) for v in ends]))


def ctc_loss_forward(log_probs, targets, input_lengths, target_lengths, blank=0, zero_infinity=False):
    """log_probs (T, N, C), targets (N, S) or (ΣL,), lengths (N,) → (nll (N,), log_alpha (N, T, 2·max L + 1))."""
    fn = "ctc_loss_forward"
    T, N, C, blank, seqs, il, SP = _inputs(fn, log_probs, targets, input_lengths, target_lengths, blank)
    zero_infinity = as_bool(fn, "zero_infinity", zero_infinity)
    lp = np.asarray(log_probs, np.float64)
    nll = np.zeros(N)
    log_alpha = np.full((N, T, SP), NEG_INF)
    for n in range(N):
        ext, skip = _extended(seqs[n], blank)
        alpha = _alpha(lp[:il[n], n], ext, skip)
        log_alpha[n, :il[n], :len(ext)] = alpha
        v = _nll(alpha, len(seqs[n]))
        nll[n] = 0.0 if zero_infinity and np.isinf(v) else v
    return nll.astype(log_probs.dtype), log_alpha.astype(log_probs.dtype)


def ctc_loss_backward(grad_output, log_probs, targets, input_lengths, target_lengths, log_alpha, blank=0):
    """grad_output (N,), the forward's inputs, log_alpha (unused here: recomputed) → grad_log_probs (T, N, C)."""
    fn = "ctc_loss_backward"
    check_float_array(fn, "grad_output", grad_output, 1)
    check_float_array(fn, "log_alpha", log_alpha, 3)
    T, N, C, blank, seqs, il, SP = _inputs(fn, log_probs, targets, input_lengths, target_lengths, blank)
    check_same_dtype(fn, "log_probs", log_probs, grad_output=grad_output, log_alpha=log_alpha)
    check_shape(fn, "grad_output", grad_output, (N,))
    if tuple(log_alpha.shape[:2]) != (N, T):
        raise ValueError(f"{fn}: log_alpha must have shape (N, T, 2*max(target_lengths)+1) with (N, T) = ({N}, {T}), "
                         f"got {tuple(log_alpha.shape)}")
    check_shape(fn, "log_alpha", log_alpha, (N, T, SP))
    lp = np.asarray(log_probs, np.float64)
    g = np.asarray(grad_output, np.float64)
    grad = np.zeros((T, N, C))
    for n in range(N):
        tn = il[n]
        ext, skip = _extended(seqs[n], blank)
        alpha = _alpha(lp[:tn, n], ext, skip)
        nll = _nll(alpha, len(seqs[n]))
        if tn == 0 or not np.isfinite(nll):
            continue
        S = len(ext)
        e = lp[:tn, n][:, ext]
        beta = np.full((tn, S), NEG_INF)
        beta[tn - 1, S - 1] = e[tn - 1, S - 1]
        if S > 1:
            beta[tn - 1, S - 2] = e[tn - 1, S - 2]
        skip_next = _shift(skip.astype(np.float64), -2) == 1.0      # may s jump to s + 2
        for t in range(tn - 2, -1, -1):
            b = beta[t + 1]
            beta[t] = e[t] + _lse(b, _shift(b, -1), np.where(skip_next, _shift(b, -2), NEG_INF))
        ab = alpha + beta                       # (T_n, S): log of (path probability · lp[t, l'_s])
        occ = np.full((tn, C), NEG_INF)         # logsumexp over the s with l'_s = c
        for c in np.unique(ext):
            occ[:, c] = _lse(*[ab[:, s] for s in np.flatnonzero(ext == c)])
        with np.errstate(over="ignore", invalid="ignore"):
            gn = -np.exp(occ - lp[:tn, n] + nll)
        gn[~np.isfinite(occ)] = 0.0
        grad[:tn, n] = g[n] * gn
    return grad.astype(log_probs.dtype)
