"""Reference scaled dot-product attention and its gradient, in float64.

query (B, H, L, E), key (B, Hk, S, E), value (B, Hk, S, Ev) with H a multiple of Hk (grouped-query
attention: query head h reads key/value head h // (H / Hk), as torch's enable_gqa); attn_mask None or an
additive float (MB, MH, L, S) with MB ∈ {1, B}, MH ∈ {1, H} (broadcast); is_causal keeps j ≤ i (the
top-left triangle, torch's); scale None means 1/√E.
    s[i, j] = scale · q_i·k_j + mask[i, j]   (−inf above the diagonal with is_causal)
    lse[i]  = log Σ_j exp(s[i, j]),   P = exp(s − lse),   out = P·v
attention_forward returns (out (B, H, L, Ev), logsumexp (B, H, L)). A row with every key masked has
lse = −inf and an output of NaN (as torch's softmax gives).
attention_backward(grad_output, query, key, value, out, logsumexp, …) recomputes P from lse:
    dv = Pᵀ·g (summed over the query heads of a group),  dP = g·vᵀ,  D_i = Σ_e g[i, e]·out[i, e]
    dS = P ∘ (dP − D),  dq = scale · dS·k,  dk = scale · dSᵀ·q (summed over the group)
and returns (grad_query, grad_key, grad_value), None for each one needs_input_grad leaves out.
"""
from __future__ import annotations

import math

import numpy as np

from ._checks import as_bool, as_real, check_float_array, check_needs_input_grad, check_same_dtype, check_shape

__all__ = ["attention_forward", "attention_backward"]


def _dims(fn, query, key, value, attn_mask, is_causal, scale):
    """The shared checks (the binding's order and words) → (B, H, Hk, L, S, E, Ev, causal, scale)."""
    check_float_array(fn, "query", query, 4)
    check_float_array(fn, "key", key, 4)
    check_float_array(fn, "value", value, 4)
    check_same_dtype(fn, "query", query, key=key, value=value)
    B, H, L, E = query.shape
    if key.shape[0] != B or value.shape[0] != B:
        raise ValueError(f"{fn}: query, key and value must have the same batch size, got {B}, {key.shape[0]} and "
                         f"{value.shape[0]}")
    Hk, S = key.shape[1], key.shape[2]
    if key.shape[3] != E:
        raise ValueError(f"{fn}: key's last dimension ({key.shape[3]}) must equal query's ({E})")
    if tuple(value.shape[1:3]) != (Hk, S):
        raise ValueError(f"{fn}: value must have key's heads and length ({Hk}, {S}), got "
                         f"{tuple(value.shape[1:3])}")
    if Hk == 0 or H % Hk:
        raise ValueError(f"{fn}: query heads ({H}) must be a multiple of key/value heads ({Hk})")
    causal = as_bool(fn, "is_causal", is_causal)
    s = (1.0 / math.sqrt(E) if E > 0 else 1.0) if scale is None else as_real(fn, "scale", scale)
    if attn_mask is not None:
        if causal:
            raise ValueError(f"{fn}: pass either attn_mask or is_causal=True, not both")
        check_float_array(fn, "attn_mask", attn_mask, 4)
        check_same_dtype(fn, "query", query, attn_mask=attn_mask)
        mb, mh = attn_mask.shape[:2]
        if mb not in (1, B) or mh not in (1, H) or tuple(attn_mask.shape[2:]) != (L, S):
            raise ValueError(f"{fn}: attn_mask must have shape (1 or {B}, 1 or {H}, {L}, {S}), got "
                             f"{tuple(attn_mask.shape)}")
    return B, H, Hk, L, S, E, value.shape[3], causal, s


def _scores(q, k, mask, causal, scale, G):
    """s (B, H, L, S) in float64, k repeated over the group."""
    kk = np.repeat(k, G, axis=1)
    s = scale * (q @ np.swapaxes(kk, -1, -2))
    if mask is not None:
        s = s + mask
    if causal:
        L, S = s.shape[-2:]
        s = np.where(np.tril(np.ones((L, S), bool)), s, -np.inf)
    return s


def _lse(s):
    m = s.max(-1, keepdims=True) if s.shape[-1] else np.full(s.shape[:-1] + (1,), -np.inf)
    safe = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        return (safe + np.log(np.exp(s - safe).sum(-1, keepdims=True)))[..., 0]


def attention_forward(query, key, value, attn_mask=None, is_causal=False, scale=None):
    """query (B, H, L, E), key (B, Hk, S, E), value (B, Hk, S, Ev) → (out (B, H, L, Ev), logsumexp (B, H, L))."""
    fn = "attention_forward"
    B, H, Hk, L, S, E, Ev, causal, sc = _dims(fn, query, key, value, attn_mask, is_causal, scale)
    q, k, v = (np.asarray(a, np.float64) for a in (query, key, value))
    m = None if attn_mask is None else np.asarray(attn_mask, np.float64)
    s = _scores(q, k, m, causal, sc, H // Hk)
    lse = _lse(s)
    with np.errstate(invalid="ignore"):
        p = np.exp(s - lse[..., None])
    out = p @ np.repeat(v, H // Hk, axis=1)
    return out.astype(query.dtype), lse.astype(query.dtype)


def attention_backward(grad_output, query, key, value, out, logsumexp, attn_mask=None, is_causal=False, scale=None,
                       needs_input_grad=(True, True, True)):
    """→ (grad_query, grad_key, grad_value); None where needs_input_grad is False."""
    fn = "attention_backward"
    B, H, Hk, L, S, E, Ev, causal, sc = _dims(fn, query, key, value, attn_mask, is_causal, scale)
    check_float_array(fn, "grad_output", grad_output, 4)
    check_float_array(fn, "out", out, 4)
    check_float_array(fn, "logsumexp", logsumexp, 3)
    check_same_dtype(fn, "query", query, grad_output=grad_output, out=out, logsumexp=logsumexp)
    check_shape(fn, "grad_output", grad_output, (B, H, L, Ev))
    check_shape(fn, "out", out, (B, H, L, Ev))
    check_shape(fn, "logsumexp", logsumexp, (B, H, L))
    needs = check_needs_input_grad(fn, needs_input_grad, 3)
    G = H // Hk
    q, k, v, g, o, lse = (np.asarray(a, np.float64) for a in (query, key, value, grad_output, out, logsumexp))
    m = None if attn_mask is None else np.asarray(attn_mask, np.float64)
    s = _scores(q, k, m, causal, sc, G)
    with np.errstate(invalid="ignore"):
        p = np.exp(s - lse[..., None])
    p = np.where(np.isfinite(lse)[..., None], p, 0.0)     # a fully masked row has no gradient
    dp = g @ np.swapaxes(np.repeat(v, G, axis=1), -1, -2)
    D = (g * np.where(np.isfinite(lse)[..., None], o, 0.0)).sum(-1, keepdims=True)
    ds = p * (dp - D)

    def group_sum(x):   # (B, H, ...) → (B, Hk, ...)
        return x.reshape((B, Hk, G) + x.shape[2:]).sum(2)

    dq = sc * ds @ np.repeat(k, G, axis=1) if needs[0] else None
    dk = group_sum(sc * np.swapaxes(ds, -1, -2) @ q) if needs[1] else None
    dv = group_sum(np.swapaxes(p, -1, -2) @ g) if needs[2] else None
    return tuple(None if x is None else x.astype(query.dtype) for x in (dq, dk, dv))
