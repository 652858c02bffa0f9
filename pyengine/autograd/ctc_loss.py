"""Connectionist temporal classification loss (torch's F.ctc_loss) as an autograd Function: the
negative log-likelihood of each target sequence under all its alignments, by the forward-backward
recursions in log space.

log_probs (T, N, C) — per time step log-probabilities over C classes, class `blank` the blank;
targets: padded (N, S) or the N sequences concatenated (Σ target_lengths,); input_lengths and
target_lengths (N,). For sample n with target l (length L) the extended label sequence is
l' = (blank, l1, blank, l2, …, lL, blank) of length 2L + 1, and over t < T_n = input_lengths[n]:
    α[0, 0] = lp[0, blank],  α[0, 1] = lp[0, l1],  α[0, s > 1] = −∞
    α[t, s] = lp[t, l'_s] + logsumexp(α[t−1, s], α[t−1, s−1], α[t−1, s−2] if l'_s ≠ blank and l'_s ≠ l'_{s−2})
    β the same recursion run backwards from s ∈ {2L, 2L − 1} at t = T_n − 1 (β includes lp[t, l'_s])
    nll_n = −logsumexp(α[T_n − 1, 2L], α[T_n − 1, 2L − 1])
    ∂nll_n/∂lp[t, c] = −exp(logsumexp_{s: l'_s = c}(α[t, s] + β[t, s]) − lp[t, c] + nll_n),  0 for t >= T_n
(α + β counts lp[t, l'_s] twice, hence the − lp).
The sums run in float64 whatever the input's dtype. An impossible alignment (T_n too short) gives
nll = +inf; zero_infinity turns such a loss and its gradient into 0.

This is the exact gradient with respect to log_probs. torch's CTC backward returns instead the
gradient it would have if log_probs were the output of log_softmax (it adds exp(lp)·g, a term that
log_softmax's backward cancels): the two agree on the gradient of the logits under log_softmax, the
way CTC is used; on raw log_probs they differ by that term.
"""
from __future__ import annotations

import numpy as np

from .core import Function
from .device import xp_of

__all__ = ["CtcLoss", "ctc_nll"]

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
    if k > 0 and k < len(a):
        out[k:] = a[:-k]
    elif k < 0 and -k < len(a):
        out[:k] = a[-k:]
    return out


def ctc_nll(lp, target, blank, need_grad):
    """One sample: lp (T_n, C) float64, target (L,) ints. Returns (nll, grad (T_n, C) or None)."""
    T, C = lp.shape
    L = len(target)
    ext = np.full(2 * L + 1, blank, np.int64)
    ext[1::2] = target
    S = len(ext)
    if T == 0:
        return (0.0 if L == 0 else np.inf), (np.zeros((0, C)) if need_grad else None)
    # the skip s−2 → s is allowed for a label that differs from the label two places back
    skip = np.zeros(S, bool)
    skip[2:] = (ext[2:] != blank) & (ext[2:] != ext[:-2])
    e = lp[:, ext]                                          # (T, S): lp[t, l'_s]
    alpha = np.full((T, S), NEG_INF)
    alpha[0, 0] = e[0, 0]
    if S > 1:
        alpha[0, 1] = e[0, 1]
    for t in range(1, T):
        a = alpha[t - 1]
        alpha[t] = e[t] + _lse(a, _shift(a, 1), np.where(skip, _shift(a, 2), NEG_INF))
    ends = [alpha[T - 1, S - 1]] + ([alpha[T - 1, S - 2]] if S > 1 else [])
    nll = -float(_lse(*[np.asarray(v) for v in ends]))
    if not need_grad:
        return nll, None
    grad = np.zeros((T, C))
    if not np.isfinite(nll):
        return nll, grad
    beta = np.full((T, S), NEG_INF)
    beta[T - 1, S - 1] = e[T - 1, S - 1]
    if S > 1:
        beta[T - 1, S - 2] = e[T - 1, S - 2]
    skip_next = _shift(skip.astype(np.float64), -2) == 1.0  # may s jump to s + 2
    for t in range(T - 2, -1, -1):
        b = beta[t + 1]
        beta[t] = e[t] + _lse(b, _shift(b, -1), np.where(skip_next, _shift(b, -2), NEG_INF))
    ab = alpha + beta                                       # (T, S), log of (path prob · lp[t, l'_s])
    occ = np.full((T, C), NEG_INF)                          # logsumexp over the s with l'_s = c
    for c in np.unique(ext):
        occ[:, c] = _lse(*[ab[:, s] for s in np.flatnonzero(ext == c)])
    with np.errstate(over="ignore", invalid="ignore"):
        grad = -np.exp(occ - lp + nll)
    grad[~np.isfinite(occ)] = 0.0
    return nll, grad


class CtcLoss(Function):
    """log_probs (T, N, C) → per-sample nll (N,); the lengths, targets and options are plain values."""
    name = "ctc_loss"
    torch_name = "CtcLossBackward0"

    @staticmethod
    def forward(ctx, log_probs, targets, input_lengths, target_lengths, blank, zero_infinity):
        xp = xp_of(log_probs)
        lp = np.asarray(log_probs if xp is np else xp.asnumpy(log_probs), np.float64)
        T, N, C = lp.shape
        need = ctx.needs_input_grad[0]
        nll = np.zeros(N)
        grad = np.zeros((T, N, C)) if need else None
        for n in range(N):
            tn = int(input_lengths[n])
            v, g = ctc_nll(lp[:tn, n], targets[n], blank, need)
            if zero_infinity and np.isinf(v):
                v, g = 0.0, (np.zeros_like(g) if need else None)
            nll[n] = v
            if need:
                grad[:tn, n] = g
        if need:
            ctx.grad = xp.asarray(grad.astype(log_probs.dtype))
        return xp.asarray(nll.astype(log_probs.dtype))

    @staticmethod
    def backward(ctx, g):
        return ctx.grad * g.reshape(1, -1, 1)
