"""Scaled dot-product attention as one autograd Function over the attention kernels
(pyengine.kernels.cpu / .cuda; shapes and equations in csrc/include/pyengine/attention.h).

query (B, H, L, E), key (B, Hk, S, E), value (B, Hk, S, Ev), H a multiple of Hk, mask None or an additive
(1 or B, 1 or H, L, S) array (not differentiated: a float mask that needs its gradient takes the composed
path of pyengine.nn.attention). The forward keeps out and the per-row logsumexp; the backward recomputes
the probabilities from them and returns the gradients of query, key and value.
"""
from __future__ import annotations

from .core import Function
from .device import kernels_of

__all__ = ["AttentionFn"]


class AttentionFn(Function):
    name = "scaled_dot_product_attention"
    torch_name = "ScaledDotProductAttentionBackward0"

    @staticmethod
    def forward(ctx, q, k, v, mask, is_causal, scale):
        K = kernels_of(q)
        out, lse = K.attention_forward(q, k, v, mask, is_causal, scale)
        if any(ctx.needs_input_grad[:3]):
            ctx.saved = (q, k, v, out, lse, mask)
            ctx.K, ctx.causal, ctx.scale = K, is_causal, scale
        return out

    @staticmethod
    def backward(ctx, g):
        q, k, v, out, lse, mask = ctx.saved
        needs = tuple(bool(n) for n in ctx.needs_input_grad[:3])
        dq, dk, dv = ctx.K.attention_backward(g, q, k, v, out, lse, mask, ctx.causal, ctx.scale, needs)
        return dq, dk, dv, None, None, None
