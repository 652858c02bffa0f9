"""Group normalisation (and instance normalisation, its G = C case) as one autograd Function in
NumPy/CuPy, and embedding lookup.

GroupNorm. x (N, C, *S) viewed as (N, G, M) with M = (C/G)·|S|; per (n, g):
    μ = mean(x), σ² = mean((x − μ)²) (biased), x̂ = (x − μ)/√(σ² + eps), y = x̂·w_c + b_c.
Backward, with ĝ = g·w_c and means over the group's M elements:
    dx = (ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) / √(σ² + eps),   dw_c = Σ_{n,S} g·x̂,   db_c = Σ_{n,S} g.
Saved: x̂ and 1/√(σ² + eps), in the input's dtype (the mean subtracted before squaring: no
cancellation in E[x²] − μ²).

Embedding. weight (V, D), indices (*) int → out (*, D) = weight[indices]; backward scatter-adds the
rows of g into a zero (V, D) (np.add.at: repeated indices accumulate), the padding_idx row left 0,
each row divided by its index's count with scale_grad_by_freq.
"""
from __future__ import annotations

import numpy as np

from .core import Function
from .device import xp_of

__all__ = ["GroupNormFn", "EmbeddingFn", "group_norm_arrays"]


def group_norm_arrays(x, G, eps):
    """(x̂ as (N, G, M), rstd (N, G, 1)) of x (N, C, *S)."""
    xp = xp_of(x)
    N = x.shape[0]
    xg = x.reshape(N, G, -1)
    mu = xg.mean(axis=2, keepdims=True)
    d = xg - mu
    var = (d * d).mean(axis=2, keepdims=True)
    rstd = (1.0 / xp.sqrt(var + eps)).astype(x.dtype, copy=False)
    return d * rstd, rstd, mu, var


class GroupNormFn(Function):
    name = "group_norm"
    torch_name = "NativeGroupNormBackward0"

    @staticmethod
    def forward(ctx, x, w, b, G, eps):
        N, C = x.shape[0], x.shape[1]
        xhat, rstd, _, _ = group_norm_arrays(x, G, eps)
        xhat = xhat.reshape(x.shape)
        cshape = (1, C) + (1,) * (x.ndim - 2)
        y = xhat
        if w is not None:
            y = y * w.reshape(cshape)
        if b is not None:
            y = y + b.reshape(cshape)
        if any(ctx.needs_input_grad):
            ctx.xhat, ctx.rstd, ctx.w, ctx.G, ctx.cshape = xhat, rstd, w, G, cshape
        return y.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        xhat, rstd, w, G, cshape = ctx.xhat, ctx.rstd, ctx.w, ctx.G, ctx.cshape
        n = ctx.needs_input_grad
        axes = (0,) + tuple(range(2, g.ndim))
        gx = gw = gb = None
        if n[0]:
            gh = g * w.reshape(cshape) if w is not None else g
            N = g.shape[0]
            ghg = gh.reshape(N, G, -1)
            xg = xhat.reshape(N, G, -1)
            gx = ((ghg - ghg.mean(axis=2, keepdims=True) - xg * (ghg * xg).mean(axis=2, keepdims=True)) * rstd)
            gx = gx.reshape(g.shape)
        if len(n) > 1 and n[1]:
            gw = (g * xhat).sum(axis=axes)
        if len(n) > 2 and n[2]:
            gb = g.sum(axis=axes)
        return gx, gw, gb


class EmbeddingFn(Function):
    name = "embedding"

    @staticmethod
    def forward(ctx, weight, idx, padding_idx, scale_grad_by_freq):
        if ctx.needs_input_grad[0]:
            ctx.idx, ctx.V, ctx.pad, ctx.freq = idx, weight.shape[0], padding_idx, scale_grad_by_freq
        return weight[idx]

    @staticmethod
    def backward(ctx, g):
        xp = xp_of(g)
        idx = ctx.idx.reshape(-1)
        rows = g.reshape(idx.size, g.shape[-1])
        if ctx.freq:
            counts = xp.bincount(idx, minlength=ctx.V)
            rows = rows / counts[idx][:, None].astype(rows.dtype)
        gw = xp.zeros((ctx.V, g.shape[-1]), g.dtype)
        if xp is np:
            np.add.at(gw, idx, rows)
        else:
            xp.add.at(gw, idx, rows)
        if ctx.pad is not None:
            gw[ctx.pad] = 0
        return gw
