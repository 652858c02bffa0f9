"""Group normalisation (and instance normalisation, its G = C case) as one autograd Function over the
group_norm kernels (pyengine.kernels.cpu / .cuda), and embedding lookup.

GroupNorm. x (N, C, *S) viewed as (N, G, M) with M = (C/G)·|S|; per (n, g):
    μ = mean(x), σ² = mean((x − μ)²) (biased), x̂ = (x − μ)/√(σ² + eps), y = x̂·w_c + b_c.
Backward, with ĝ = g·w_c and means over the group's M elements:
    dx = (ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) / √(σ² + eps),   dw_c = Σ_{n,S} g·x̂,   db_c = Σ_{n,S} g.
Saved: x, and the kernel's mean and 1/√(σ² + eps) per (n, g). group_norm_arrays (NumPy/CuPy) stays
for instance norm's running statistics.

Embedding. weight (V, D), indices (*) int64 → out (*, D) = weight[indices] (the embedding kernels);
backward adds the rows of g into a zero (V, D) in index order (repeated indices accumulate), the
padding_idx row left 0, each row divided by its index's count with scale_grad_by_freq.
"""
from __future__ import annotations

from .core import Function
from .device import kernels_of, xp_of

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
    """Over the device's group_norm kernels (mean and rstd saved from the forward)."""
    name = "group_norm"
    torch_name = "NativeGroupNormBackward0"

    @staticmethod
    def forward(ctx, x, w, b, G, eps):
        K = kernels_of(x)
        y, mean, rstd = K.group_norm_forward(x, G, w, b, eps)
        if any(ctx.needs_input_grad):
            ctx.saved = (x, mean, rstd, w)
            ctx.G, ctx.K, ctx.has_b = G, K, b is not None
        return y

    @staticmethod
    def backward(ctx, g):
        x, mean, rstd, w = ctx.saved
        n = tuple(ctx.needs_input_grad) + (False,) * 3
        needs = (bool(n[0]), bool(n[1]) and w is not None, bool(n[2]) and ctx.has_b)
        return ctx.K.group_norm_backward(g, x, mean, rstd, ctx.G, w, needs)


class EmbeddingFn(Function):
    """Over the device's embedding kernels: a row gather, and a deterministic scatter-add backward."""
    name = "embedding"

    @staticmethod
    def forward(ctx, weight, idx, padding_idx, scale_grad_by_freq):
        K = kernels_of(weight)
        if ctx.needs_input_grad[0]:
            ctx.idx, ctx.V, ctx.pad, ctx.freq, ctx.K = idx, weight.shape[0], padding_idx, scale_grad_by_freq, K
        return K.embedding_forward(weight, idx)

    @staticmethod
    def backward(ctx, g):
        return ctx.K.embedding_backward(g, ctx.idx, ctx.V, ctx.pad, ctx.freq)
