"""Folding batch norm into the convolution before it, for inference (torch.nn.utils.fusion).

With the batch norm in eval mode (running statistics), conv followed by bn is one convolution:

    bn(conv(x)) = γ·(W∗x + b − μ)/√(σ² + ε) + β = W'∗x + b'
    W'[k] = W[k] · γ[k]/√(σ²[k] + ε),   b'[k] = (b[k] − μ[k]) · γ[k]/√(σ²[k] + ε) + β[k]

computed in float64 and stored in the convolution's dtype. ``fuse_conv_bn(model)`` does this to
every Conv2d → BatchNorm2d pair in the model's Sequential containers (the batch norm becomes
Identity) and, with ``relu=True``, turns a ReLU right after into a ``ConvReLU2d``, whose
inference forward applies the ReLU in the convolution kernel's store (no second pass).
"""
from __future__ import annotations

import copy

import numpy as np

from ...tensor import Tensor
from ..module import Module, Parameter, Sequential

__all__ = ["fuse_conv_bn_weights", "fuse_conv_bn_eval", "fuse_conv_bn"]


def _np(t):
    return t._data if isinstance(t, Tensor) else np.asarray(t)


def fuse_conv_bn_weights(conv_w, conv_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b):
    """(W', b') as Parameters from the convolution's weight/bias (bias may be None) and the batch
    norm's running mean/var, eps, weight and bias (weight/bias None: 1 and 0)."""
    w = _np(conv_w)
    dt = w.dtype
    rm, rv = _np(bn_rm).astype(np.float64), _np(bn_rv).astype(np.float64)
    gamma = np.ones_like(rm) if bn_w is None else _np(bn_w).astype(np.float64)
    beta = np.zeros_like(rm) if bn_b is None else _np(bn_b).astype(np.float64)
    b = np.zeros_like(rm) if conv_b is None else _np(conv_b).astype(np.float64)
    scale = gamma / np.sqrt(rv + float(bn_eps))
    w2 = w.astype(np.float64) * scale.reshape((-1,) + (1,) * (w.ndim - 1))
    b2 = (b - rm) * scale + beta
    return Parameter(w2.astype(dt)), Parameter(b2.astype(dt))


def fuse_conv_bn_eval(conv, bn):
    """A new Conv2d equal to bn(conv(x)) with bn's running statistics; both must be in eval mode."""
    if conv.training or bn.training:
        raise ValueError("fuse_conv_bn_eval: conv and bn must be in eval mode (model.eval()); folding uses "
                         "the running statistics")
    if bn.running_mean is None:
        raise ValueError("fuse_conv_bn_eval: the batch norm tracks no running statistics (track_running_stats=False)")
    if bn.num_features != conv.out_channels:
        raise ValueError(f"fuse_conv_bn_eval: the batch norm has {bn.num_features} features but the convolution "
                         f"has {conv.out_channels} output channels")
    fused = copy.deepcopy(conv)
    fused.weight, fused.bias = fuse_conv_bn_weights(conv.weight, conv.bias, bn.running_mean, bn.running_var,
                                                    bn.eps, bn.weight, bn.bias)
    return fused


def fuse_conv_bn(model: Module, relu: bool = True, inplace: bool = False) -> Module:
    """Folds every Conv2d → BatchNorm2d of the model's Sequential containers (eval mode required)
    and, with relu, fuses a following ReLU into ConvReLU2d. Returns the fused model (a copy unless
    inplace). The output equals the unfused eval-mode model's up to float rounding."""
    from ..fused import ConvReLU2d
    from ..layers import BatchNorm2d, Conv2d, Identity, ReLU
    if not isinstance(model, Module):
        raise TypeError(f"fuse_conv_bn: model must be a pyengine.nn.Module, got {type(model).__name__}")
    if model.training:
        raise ValueError("fuse_conv_bn: call model.eval() first; folding uses the batch norms' running statistics")
    if not inplace:
        model = copy.deepcopy(model)
    for seq in [m for m in model.modules() if isinstance(m, Sequential)]:
        names = list(seq._modules.keys())
        i = 0
        while i < len(names):
            m = seq._modules[names[i]]
            if type(m) is Conv2d:
                j = i + 1
                nxt = seq._modules[names[j]] if j < len(names) else None
                if isinstance(nxt, BatchNorm2d) and nxt.running_mean is not None:
                    m = fuse_conv_bn_eval(m, nxt)
                    seq._modules[names[j]] = Identity()
                    j += 1
                nxt = seq._modules[names[j]] if j < len(names) else None
                if relu and type(nxt) is ReLU:
                    m = ConvReLU2d.from_conv(m)
                    seq._modules[names[j]] = Identity()
                    j += 1
                seq._modules[names[i]] = m
                i = j
            else:
                i += 1
    return model
