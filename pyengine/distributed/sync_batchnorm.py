"""SyncBatchNorm: batch normalisation with the statistics of the global batch (all ranks together).

x is (N, C, *) on every rank (N may differ between ranks); n = Σ_ranks N·prod(*) per channel.
Forward: each rank computes its count n_r, mean m_r and sum of squared deviations M2_r per channel;
one all_gather of [n_r, m_r, M2_r] and Chan's pairwise combination (stable, no E[x²]−E[x]²) give
  mean = Σ n_r m_r / n,   M2 = Σ (M2_r + n_r (m_r − mean)²),   var = M2 / n (biased),
  y = (x − mean) / sqrt(var + eps) · weight + bias,
and the running statistics move with momentum towards mean and the unbiased M2 / (n − 1).
Backward (dy from this rank's loss; DDP later averages the parameter gradients over ranks):
  Σdy and Σdy·x̂ are all-reduced; with x̂ = (x − mean)·invstd,
  dx = weight·invstd·(dy − Σdy/n − x̂·Σ(dy·x̂)/n),   dweight = Σ_local dy·x̂,   dbias = Σ_local dy.
Statistics are accumulated in float64. With one rank, or in eval mode, it is plain BatchNorm.
"""
from __future__ import annotations

import numpy as np

from ..autograd.device import xp_of
from ..autograd.function import Function
from ..nn import functional as F
from ..nn.layers import _BatchNorm, _shape_error
from ..nn.module import Module
from . import process_group as pg

__all__ = ["SyncBatchNorm", "convert_sync_batchnorm"]


def _as3(a):
    """(N, C, *) -> (N, C, L) view."""
    return a.reshape(a.shape[0], a.shape[1], -1)


class _SyncBatchNormFn(Function):
    name = "sync_batch_norm"

    @staticmethod
    def forward(ctx, x, w, b, rm, rv, momentum, eps):
        xp = xp_of(x)
        x3 = _as3(x)
        C = x.shape[1]
        n_r = x3.shape[0] * x3.shape[2]
        x64 = x3.astype(np.float64)
        mean_r = x64.mean(axis=(0, 2)) if n_r else xp.zeros(C, np.float64)
        m2_r = ((x64 - mean_r[None, :, None]) ** 2).sum(axis=(0, 2)) if n_r else xp.zeros(C, np.float64)
        mine = xp.concatenate([xp.asarray([float(n_r)]), mean_r, m2_r])
        g = pg._group
        parts = [xp.empty_like(mine) for _ in range(g.size)]
        pg.all_gather(parts, mine)
        stats = xp.stack(parts)                       # (ranks, 1 + 2C)
        counts, means, m2s = stats[:, 0], stats[:, 1:1 + C], stats[:, 1 + C:]
        n = float(counts.sum())
        if n <= 1:
            raise ValueError(f"SyncBatchNorm: expected more than 1 value per channel over all ranks when "
                             f"training, got {int(n)}")
        mean = (counts[:, None] * means).sum(axis=0) / n
        m2 = (m2s + counts[:, None] * (means - mean[None, :]) ** 2).sum(axis=0)
        var = m2 / n
        invstd = 1.0 / xp.sqrt(var + eps)
        if rm is not None:
            rm[...] = ((1 - momentum) * rm + momentum * mean).astype(rm.dtype)
            rv[...] = ((1 - momentum) * rv + momentum * (m2 / (n - 1))).astype(rv.dtype)
        xhat = (x64 - mean[None, :, None]) * invstd[None, :, None]
        y = xhat
        if w is not None:
            y = y * w.astype(np.float64)[None, :, None]
        if b is not None:
            y = y + b.astype(np.float64)[None, :, None]
        ctx.x, ctx.w, ctx.mean, ctx.invstd, ctx.n = x, w, mean, invstd, n
        return y.astype(x.dtype).reshape(x.shape)

    @staticmethod
    def backward(ctx, gy):
        xp = xp_of(gy)
        x, w, mean, invstd, n = ctx.x, ctx.w, ctx.mean, ctx.invstd, ctx.n
        C = x.shape[1]
        g3 = _as3(gy).astype(np.float64)
        xhat = (_as3(x).astype(np.float64) - mean[None, :, None]) * invstd[None, :, None]
        sum_dy = g3.sum(axis=(0, 2))
        sum_dy_xhat = (g3 * xhat).sum(axis=(0, 2))
        need_x, need_w, need_b = ctx.needs_input_grad[0], ctx.needs_input_grad[1], ctx.needs_input_grad[2]
        gx = gw = gb = None
        if need_x:
            both = xp.concatenate([sum_dy, sum_dy_xhat])
            pg.all_reduce(both)
            tot_dy, tot_dy_xhat = both[:C], both[C:]
            scale = invstd * (w.astype(np.float64) if w is not None else 1.0)
            gx = (scale[None, :, None] * (g3 - tot_dy[None, :, None] / n - xhat * tot_dy_xhat[None, :, None] / n))
            gx = gx.astype(x.dtype).reshape(x.shape)
        if need_w:
            gw = sum_dy_xhat.astype(w.dtype)
        if need_b:
            gb = sum_dy.astype(w.dtype if w is not None else x.dtype)
        return gx, gw, gb


class SyncBatchNorm(_BatchNorm):
    """BatchNorm over (N, C), (N, C, L), (N, C, H, W) or (N, C, D, H, W) whose training statistics
    are those of the whole batch across all ranks (same parameters and buffers as BatchNorm)."""
    _ranks = (2, 3, 4, 5)
    _expect = "(N, C, *)"

    def forward(self, x):
        if x.ndim not in self._ranks or x.shape[1] != self.num_features:
            raise _shape_error(f"SyncBatchNorm({self.num_features})", f"(N, {self.num_features}, *)", x)
        if not self.training or pg.get_world_size() == 1:
            if x.ndim == 5:                   # F.batch_norm takes up to 4-D: fold D into H
                n, c, d, h, w = x.shape
                return _plain_bn(self, x.reshape(n, c, d * h, w)).reshape(n, c, d, h, w)
            return _plain_bn(self, x)
        if self.track_running_stats:
            self.num_batches_tracked._data += 1
        rm = self.running_mean._data if self.track_running_stats else None
        rv = self.running_var._data if self.track_running_stats else None
        return _SyncBatchNormFn.apply(x, self.weight, self.bias, rm, rv, momentum=self.momentum, eps=self.eps)


def _plain_bn(m, x):
    use_batch = m.training or m.running_mean is None
    if m.training and m.track_running_stats:
        m.num_batches_tracked._data += 1
    keep = not m.training or m.track_running_stats
    return F.batch_norm(x, m.running_mean if keep else None, m.running_var if keep else None,
                        m.weight, m.bias, use_batch, m.momentum, m.eps)


def convert_sync_batchnorm(module: Module) -> Module:
    """Replaces every BatchNorm1d/2d inside ``module`` (or module itself) by a SyncBatchNorm that keeps
    the same Parameter and buffer objects (an optimizer built before still holds them)."""
    if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
        s = SyncBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                          module.track_running_stats)
        for name in ("weight", "bias"):
            if module._parameters.get(name) is not None:
                s._parameters[name] = module._parameters[name]
        for name in ("running_mean", "running_var", "num_batches_tracked"):
            s._buffers[name] = module._buffers.get(name)
        s.train(module.training)
        return s
    for name, child in list(module._modules.items()):
        if child is not None:
            new = convert_sync_batchnorm(child)
            if new is not child:
                module._modules[name] = new
    return module
