"""GroupNorm and InstanceNorm1d/2d/3d with torch's arguments, defaults, parameters and buffers
(state-dict keys ``weight``, ``bias``; ``running_mean``, ``running_var``, ``num_batches_tracked`` when
InstanceNorm tracks running stats). BatchNorm is in layers.py; the maths in nn.functional.group_norm
/ instance_norm.

Defaults (torch's): GroupNorm affine=True, bias=True, weight 1, bias 0; InstanceNorm affine=False,
track_running_stats=False, momentum 0.1, eps 1e-5. InstanceNorm takes unbatched input too
((C, L) for 1d, (C, H, W) for 2d, (C, D, H, W) for 3d).
"""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor, get_default_dtype
from . import functional as F
from .module import Module, Parameter

__all__ = ["GroupNorm", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d"]


class GroupNorm(Module):
    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, dtype=None, *, bias=True):
        super().__init__()
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        self._bias = bias
        dt = dtype or get_default_dtype()
        if affine:
            self.weight = Parameter(np.ones(num_channels, dt))
            if bias:
                self.bias = Parameter(np.zeros(num_channels, dt))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, input):
        if not isinstance(input, Tensor):
            raise TypeError(f"GroupNorm: input must be a pyengine.Tensor, got {type(input).__name__}")
        if input.ndim < 2 or input.shape[1] != self.num_channels:
            raise ValueError(f"GroupNorm({self.num_groups}, {self.num_channels}): expected input of shape "
                             f"(N, {self.num_channels}, *), got {tuple(input.shape)}")
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, bias={self._bias}"


class _InstanceNorm(Module):
    _spatial = 2

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False, dtype=None, *,
                 bias=True):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats, self._bias = affine, track_running_stats, bool(affine and bias)
        dt = dtype or get_default_dtype()
        if affine:
            self.weight = Parameter(np.ones(num_features, dt))
            if bias:
                self.bias = Parameter(np.zeros(num_features, dt))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, dt)))
            self.register_buffer("running_var", Tensor(np.ones(num_features, dt)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self):
        if self.track_running_stats:
            self.running_mean._data[...] = 0
            self.running_var._data[...] = 1
            self.num_batches_tracked._data[...] = 0

    def forward(self, input):
        name = f"{type(self).__name__}({self.num_features})"
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: input must be a pyengine.Tensor, got {type(input).__name__}")
        s = self._spatial
        dims = "(N, C, L)" if s == 1 else "(N, C, H, W)" if s == 2 else "(N, C, D, H, W)"
        if input.ndim not in (s + 1, s + 2):
            raise ValueError(f"{name}: expected input of shape {dims} or unbatched {dims.replace('N, ', '')}, "
                             f"got {tuple(input.shape)}")
        unbatched = input.ndim == s + 1
        x = input.unsqueeze(0) if unbatched else input
        if x.shape[1] != self.num_features:
            raise ValueError(f"{name}: expected input with {self.num_features} channels, got {tuple(input.shape)}")
        use_input_stats = self.training or not self.track_running_stats
        y = F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            use_input_stats, self.momentum, self.eps)      # (torch never counts num_batches_tracked here)
        return y.squeeze(0) if unbatched else y

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self._bias}, track_running_stats={self.track_running_stats}")


class InstanceNorm1d(_InstanceNorm):
    _spatial = 1


class InstanceNorm2d(_InstanceNorm):
    _spatial = 2


class InstanceNorm3d(_InstanceNorm):
    _spatial = 3
