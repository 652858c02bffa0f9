"""Attention: ``scaled_dot_product_attention`` (torch.nn.functional's) and ``MultiheadAttention``
(torch.nn's: batch_first, key_padding_mask, attn_mask, is_causal, the packed ``in_proj_weight``
(3E, E) / ``in_proj_bias`` and ``out_proj``, or ``q_proj_weight``/``k_proj_weight``/``v_proj_weight``
when kdim/vdim differ from embed_dim), composed of differentiable ops on our GEMM and softmax kernel.

    scores = q·kᵀ·scale + mask       q (..., L, E), k (..., S, E), v (..., S, Ev); scale = 1/√E
    out    = dropout(softmax(scores, −1))·v   → (..., L, Ev)

Masks. SDPA's boolean attn_mask marks what may be attended (True = keep); MultiheadAttention's boolean
attn_mask and key_padding_mask mark what may NOT (True = masked), as in torch; float masks are added
to the scores. is_causal keeps j ≤ i. A row with every key masked gives NaN, as torch's does.
add_bias_kv appends the learned bias_k / bias_v (1, 1, E) as one more key and value after the
projections; add_zero_attn appends one key and value of zeros per head after that (torch's order). Both
extend attn_mask and key_padding_mask by columns that attend (0 / False), as torch's pad does.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.attention import AttentionFn
from ..autograd.device import xp_of
from ..autograd.dropout import dropout
from ..autograd.softmax import softmax
from ..tensor import Tensor, cat, get_default_dtype
from . import init
from .layers import Linear
from .module import Module, Parameter

__all__ = ["scaled_dot_product_attention", "MultiheadAttention"]


def _need(fn, what, t):
    if not isinstance(t, Tensor):
        raise TypeError(f"{fn}: {what} must be a pyengine.Tensor, got {type(t).__name__}")


def _additive(fn, what, mask, dtype, keep_when_true):
    """A mask Tensor as an additive float array: bool masks become 0 / −inf."""
    m = mask._data
    if m.dtype == np.bool_:
        keep = m if keep_when_true else ~m
        return xp_of(m).where(keep, 0.0, -np.inf).astype(dtype)
    if m.dtype.kind != "f":
        raise TypeError(f"{fn}: {what} must be a bool or floating-point tensor, got dtype {m.dtype}")
    return m.astype(dtype, copy=False)


def _kernel_attention(query, key, value, attn_mask, dropout_p, is_causal, scale, gqa=False):
    """softmax(q·kᵀ·scale + mask)·v on the attention kernels (pyengine.autograd.attention), or None when
    the call needs the composed path: dropout, a float mask that needs its gradient, other dtypes, or
    batch dimensions that broadcast (the kernels take (B, H, ·, ·) with B and H equal, H a multiple of
    the key/value heads). q, k, v of any rank >= 2 are viewed as (B, H, L, E)."""
    if dropout_p > 0.0 or query.dtype != key.dtype or query.dtype != value.dtype or \
            query._data.dtype not in (np.float32, np.float64):
        return None
    if attn_mask is not None and (not isinstance(attn_mask, Tensor) or attn_mask.requires_grad or attn_mask._data.dtype.kind not in "fb"):
        return None
    nd = query.ndim
    if key.ndim != nd or value.ndim != nd or nd > 4:
        return None
    lead_q, lead_k, lead_v = tuple(query.shape[:-2]), tuple(key.shape[:-2]), tuple(value.shape[:-2])
    if lead_k != lead_v or lead_q[:-1] != lead_k[:-1]:
        return None
    if nd >= 3 and lead_q[-1] != lead_k[-1] and (not gqa or lead_k[-1] == 0 or lead_q[-1] % lead_k[-1]):
        return None
    L, S = query.shape[-2], key.shape[-2]

    def four(t):
        shape = tuple(t.shape)
        return t.reshape((1,) * (4 - nd) + shape) if nd < 4 else t

    q4, k4, v4 = four(query), four(key), four(value)
    B, H = q4.shape[:2]
    mask = None
    if attn_mask is not None:
        m = attn_mask._data
        xp = xp_of(m)
        if m.ndim > 4:
            return None
        if m.dtype == np.bool_:
            m = xp.where(m, 0.0, -np.inf)
        m = m.astype(query._data.dtype, copy=False).reshape((1,) * (4 - m.ndim) + tuple(m.shape))
        mb, mh = m.shape[:2]
        if mb not in (1, B) or mh not in (1, H):
            return None
        try:
            m = xp.broadcast_to(m, (mb, mh, L, S))
        except ValueError:
            raise ValueError(f"scaled_dot_product_attention: attn_mask {tuple(attn_mask.shape)} cannot be broadcast "
                             f"to the scores {lead_q + (L, S)} (..., L, S)") from None
        mask = xp.ascontiguousarray(m)
    out = AttentionFn.apply(q4, k4, v4, mask, bool(is_causal), float(scale))
    return out.reshape(lead_q + (L, value.shape[-1]))


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False):
    """softmax(q·kᵀ·scale + mask)·v over the last two dimensions; any batch dimensions broadcast."""
    fn = "scaled_dot_product_attention"
    for what, t in (("query", query), ("key", key), ("value", value)):
        _need(fn, what, t)
        if t.ndim < 2:
            raise ValueError(f"{fn}: {what} must have at least 2 dimensions (..., L, E), got {tuple(t.shape)}")
    E, L, S = query.shape[-1], query.shape[-2], key.shape[-2]
    if key.shape[-1] != E:
        raise ValueError(f"{fn}: query's last dimension ({E}) and key's ({key.shape[-1]}) must agree")
    if value.shape[-2] != S:
        raise ValueError(f"{fn}: key and value must have the same sequence length, got {S} and {value.shape[-2]}")
    if is_causal and attn_mask is not None:
        raise ValueError(f"{fn}: pass either attn_mask or is_causal=True, not both (as torch)")
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"{fn}: dropout_p must be in [0, 1], got {dropout_p}")
    s = 1.0 / math.sqrt(E) if scale is None else float(scale)
    fast = _kernel_attention(query, key, value, attn_mask, dropout_p, is_causal, s, enable_gqa)
    if fast is not None:
        return fast
    if enable_gqa and query.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        Hq, Hk = query.shape[-3], key.shape[-3]
        if Hq % Hk:
            raise ValueError(f"{fn}: with enable_gqa, query heads ({Hq}) must be a multiple of key heads ({Hk})")
        key = key.repeat_interleave(Hq // Hk, dim=-3)
        value = value.repeat_interleave(Hq // Hk, dim=-3)
    scores = (query @ key.transpose(-2, -1)) * s
    if is_causal:
        causal = np.tril(np.ones((L, S), bool))
        scores = scores + Tensor(np.where(causal, 0.0, -np.inf).astype(query.dtype))
    elif attn_mask is not None:
        _need(fn, "attn_mask", attn_mask)
        add = _additive(fn, "attn_mask", attn_mask, query.dtype, keep_when_true=True)
        try:
            np.broadcast_shapes(tuple(scores.shape), add.shape)
        except ValueError:
            raise ValueError(f"{fn}: attn_mask {tuple(add.shape)} cannot be broadcast to the scores "
                             f"{tuple(scores.shape)} (..., L, S)") from None
        # a float mask is added as the Tensor it is (torch differentiates through it), a bool one as 0/−inf
        scores = scores + (attn_mask if attn_mask._data.dtype == scores.dtype else Tensor(add))
    w = softmax(scores, -1)
    if dropout_p > 0.0:
        w = dropout(w, dropout_p, True)
    return w @ value


class MultiheadAttention(Module):
    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False, add_zero_attn=False,
                 kdim=None, vdim=None, batch_first=False, dtype=None):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"MultiheadAttention: embed_dim and num_heads must be greater than 0, got "
                             f"embed_dim={embed_dim} and num_heads={num_heads}")
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})")
        for what, flag in (("add_bias_kv", add_bias_kv), ("add_zero_attn", add_zero_attn)):
            if not isinstance(flag, (bool, np.bool_)):
                raise TypeError(f"MultiheadAttention: {what} must be a bool, got {type(flag).__name__} {flag!r}")
        self.add_zero_attn = bool(add_zero_attn)
        self.embed_dim, self.num_heads, self.dropout, self.batch_first = embed_dim, num_heads, dropout, batch_first
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.head_dim = embed_dim // num_heads
        dt = dtype or get_default_dtype()
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(np.empty((3 * embed_dim, embed_dim), dt))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        else:
            self.q_proj_weight = Parameter(np.empty((embed_dim, embed_dim), dt))
            self.k_proj_weight = Parameter(np.empty((embed_dim, self.kdim), dt))
            self.v_proj_weight = Parameter(np.empty((embed_dim, self.vdim), dt))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(np.zeros(3 * embed_dim, dt))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dt)
        if add_bias_kv:
            self.bias_k = Parameter(np.empty((1, 1, embed_dim), dt))
            self.bias_v = Parameter(np.empty((1, 1, embed_dim), dt))
        else:
            self.register_parameter("bias_k", None)
            self.register_parameter("bias_v", None)
        self._reset_parameters()

    def _reset_parameters(self):
        """torch's: xavier_uniform_ on the projections, the biases 0 (out_proj's weight keeps Linear's init)."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def _project(self, x, i):
        E = self.embed_dim
        w = self.in_proj_weight[i * E:(i + 1) * E] if self._qkv_same_embed_dim else \
            (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)[i]
        y = x @ w.transpose(0, 1)
        return y + self.in_proj_bias[i * E:(i + 1) * E] if self.in_proj_bias is not None else y

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        name = f"MultiheadAttention({self.embed_dim}, {self.num_heads})"
        for what, t in (("query", query), ("key", key), ("value", value)):
            _need(name, what, t)
        batched = query.ndim == 3
        if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
            raise ValueError(f"{name}: query, key and value must all be 3-D (batched) or all 2-D (unbatched), got "
                             f"{tuple(query.shape)}, {tuple(key.shape)} and {tuple(value.shape)}")
        if query.shape[-1] != self.embed_dim or key.shape[-1] != self.kdim or value.shape[-1] != self.vdim:
            raise ValueError(f"{name}: expected the last dimensions of query, key and value to be "
                             f"{self.embed_dim}, {self.kdim} and {self.vdim}, got {query.shape[-1]}, {key.shape[-1]} "
                             f"and {value.shape[-1]}")
        if not batched:
            query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        elif self.batch_first:
            query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        L, N, _ = query.shape
        S = key.shape[0]
        if tuple(value.shape[:2]) != (S, N) or key.shape[1] != N:
            raise ValueError(f"{name}: key and value must have the same sequence length and batch as each other "
                             f"and the query's batch ({N}), got key {tuple(key.shape)} and value {tuple(value.shape)}")
        H, D = self.num_heads, self.head_dim

        def heads(x, n):            # (n, N, E) -> (N, H, n, D)
            return x.reshape(n, N, H, D).permute(1, 2, 0, 3)

        pk, pv = self._project(key, 1), self._project(value, 2)                    # (S, N, E)
        extra = 0                                  # key columns appended after the S source positions
        if self.bias_k is not None:
            pk = cat([pk, self.bias_k.expand(1, N, self.embed_dim)], 0)
            pv = cat([pv, self.bias_v.expand(1, N, self.embed_dim)], 0)
            extra += 1
        q, k, v = heads(self._project(query, 0), L), heads(pk, S + extra), heads(pv, S + extra)
        if self.add_zero_attn:
            zeros = Tensor(xp_of(q._data).zeros((N, H, 1, D), q.dtype))
            k, v = cat([k, zeros], 2), cat([v, zeros], 2)
            extra += 1
        mask = None
        if is_causal and attn_mask is None:
            attn_mask = Tensor(~np.tril(np.ones((L, S), bool)))
        if attn_mask is not None:
            _need(name, "attn_mask", attn_mask)
            if tuple(attn_mask.shape) == (L, S):
                mask = _additive(name, "attn_mask", attn_mask, q.dtype, keep_when_true=False)
            elif tuple(attn_mask.shape) == (N * H, L, S):
                mask = _additive(name, "attn_mask", attn_mask, q.dtype, keep_when_true=False).reshape(N, H, L, S)
            else:
                raise ValueError(f"{name}: attn_mask must have shape ({L}, {S}) or ({N * H}, {L}, {S}), got "
                                 f"{tuple(attn_mask.shape)}")
        if key_padding_mask is not None:
            _need(name, "key_padding_mask", key_padding_mask)
            if tuple(key_padding_mask.shape) != (N, S):
                raise ValueError(f"{name}: key_padding_mask must have shape ({N}, {S}) (batch, source length), got "
                                 f"{tuple(key_padding_mask.shape)}")
            kpm = _additive(name, "key_padding_mask", key_padding_mask, q.dtype, keep_when_true=False)
            kpm = kpm.reshape(N, 1, 1, S)
            mask = kpm if mask is None else mask + kpm
        if mask is not None and extra:             # the appended keys are attended: 0 in the additive mask
            xp = xp_of(mask)
            mask = xp.concatenate([xp.broadcast_to(mask, mask.shape[:-1] + (S,)),
                                   xp.zeros(mask.shape[:-1] + (extra,), mask.dtype)], -1)
        if not need_weights and not (self.training and self.dropout > 0):
            # no weights to return: the attention kernels (scores never leave the kernel), as torch's fast path
            out = _kernel_attention(q, k, v, None if mask is None else Tensor(mask), 0.0, False, 1.0 / math.sqrt(D))
            if out is not None:
                out = self.out_proj(out.permute(2, 0, 1, 3).reshape(L, N, self.embed_dim))
                if not batched:
                    out = out.squeeze(1)
                elif self.batch_first:
                    out = out.transpose(0, 1)
                return out, None
        scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(D))
        if mask is not None:
            scores = scores + Tensor(mask)
        w = softmax(scores, -1)
        wd = dropout(w, self.dropout, True) if self.training and self.dropout > 0 else w
        out = (wd @ v).permute(2, 0, 1, 3).reshape(L, N, self.embed_dim)     # (L, N, E)
        out = self.out_proj(out)
        if not batched:
            out = out.squeeze(1)
        elif self.batch_first:
            out = out.transpose(0, 1)
        if not need_weights:
            return out, None
        weights = w.mean(1) if average_attn_weights else w
        if not batched:
            weights = weights.squeeze(0)
        return out, weights

    def extra_repr(self):
        return ""
