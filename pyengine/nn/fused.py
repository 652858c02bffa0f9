"""Fused layers for inference: ConvReLU2d (a Conv2d with its ReLU or ReLU6) and LinearReLU.

``pyengine.nn.utils.fuse_conv_bn`` and ``pyengine.quantization.fuse_modules`` build them from
Conv2d (→ BatchNorm2d) → ReLU/ReLU6 and Linear → ReLU. When no gradient is needed
(``no_grad``/``inference_mode``, or nothing requires grad) ConvReLU2d with a plain ReLU is one kernel
call, ``conv2d_relu_forward``: y = max(conv(x) + b, 0) with the bias and the max applied as the
kernel stores each output tile. When autograd records, or for ReLU6, it is the two ops as before.
The quantized layers read ``max_value`` to clamp in the integer domain. Parameters and state-dict
keys are those of the Conv2d / Linear.
"""
from __future__ import annotations

import copy

from ..autograd.device import kernels_for
from ..autograd.grad_mode import is_grad_enabled
from ..tensor import _wrap
from . import functional as F
from .layers import Conv2d, Linear

__all__ = ["ConvReLU2d", "LinearReLU"]


class ConvReLU2d(Conv2d):
    """Conv2d followed by ReLU (max_value None) or ReLU6 (max_value 6.0); arguments as Conv2d."""
    max_value = None

    @classmethod
    def from_conv(cls, conv: Conv2d, max_value=None) -> "ConvReLU2d":
        """A ConvReLU2d with conv's configuration and a copy of its parameters."""
        if not isinstance(conv, Conv2d):
            raise TypeError(f"ConvReLU2d.from_conv: expected a Conv2d, got {type(conv).__name__}")
        if max_value not in (None, 6.0, 6):
            raise ValueError(f"ConvReLU2d.from_conv: max_value must be None (ReLU) or 6 (ReLU6), got {max_value!r}")
        fused = copy.deepcopy(conv)
        fused.__class__ = cls
        fused.max_value = None if max_value is None else 6.0
        return fused

    def forward(self, x):
        if self.max_value is not None:
            return F.relu6(super().forward(x))
        needs_graph = is_grad_enabled() and (getattr(x, "requires_grad", False) or
                                             any(p.requires_grad for p in self.parameters()))
        if needs_graph or isinstance(self.padding, str):
            return F.relu(super().forward(x))
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            super().forward(x)      # raises the layer's shape error
        K = kernels_for(x._device)
        b = None if self.bias is None else self.bias._data
        return _wrap(K.conv2d_relu_forward(x._data, self.weight._data, b, self.stride, self.padding,
                                           self.dilation, self.groups))

    def extra_repr(self):
        return super().extra_repr() + (", relu6=True" if self.max_value is not None else ", relu=True")


class LinearReLU(Linear):
    """Linear followed by ReLU; arguments as Linear."""

    @classmethod
    def from_linear(cls, linear: Linear) -> "LinearReLU":
        if not isinstance(linear, Linear):
            raise TypeError(f"LinearReLU.from_linear: expected a Linear, got {type(linear).__name__}")
        fused = copy.deepcopy(linear)
        fused.__class__ = cls
        return fused

    def forward(self, x):
        return F.relu(super().forward(x))

    def extra_repr(self):
        return super().extra_repr() + ", relu=True"
