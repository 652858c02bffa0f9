"""Fused layers for inference: ConvReLU2d, a Conv2d whose ReLU runs inside the convolution kernel.

``pyengine.nn.utils.fuse_conv_bn`` builds them from Conv2d (→ BatchNorm2d) → ReLU. When no
gradient is needed (``no_grad``/``inference_mode``, or nothing requires grad) the forward is one
kernel call, ``conv2d_relu_forward``: y = max(conv(x) + b, 0) with the bias and the max applied as
the kernel stores each output tile. When autograd records, it is ``relu(conv2d(x))`` as before.
Parameters and state-dict keys are Conv2d's (weight, bias).
"""
from __future__ import annotations

import copy

from ..autograd.device import kernels_for
from ..autograd.grad_mode import is_grad_enabled
from ..tensor import _wrap
from . import functional as F
from .layers import Conv2d

__all__ = ["ConvReLU2d"]


class ConvReLU2d(Conv2d):
    """Conv2d followed by ReLU, fused in the kernel for inference; same arguments as Conv2d."""

    @classmethod
    def from_conv(cls, conv: Conv2d) -> "ConvReLU2d":
        """A ConvReLU2d sharing conv's configuration and holding a copy of its parameters."""
        if not isinstance(conv, Conv2d):
            raise TypeError(f"ConvReLU2d.from_conv: expected a Conv2d, got {type(conv).__name__}")
        fused = copy.deepcopy(conv)
        fused.__class__ = cls
        return fused

    def forward(self, x):
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
        return super().extra_repr() + ", relu=True"
