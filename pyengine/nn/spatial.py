"""The 1-D and transposed convolutions, the 1-D and adaptive pools, channel dropout, resampling and
pixel shuffling, the padding layers (F.pad's modes): PyTorch's names, constructor arguments, attributes, parameter shapes, initialisation
and state-dict keys.

Conv1d is the 2-D kernels on (N, C, 1, L) views; ConvTranspose2d is conv2d's backward-input kernel
(GEMM + col2im) run forwards; the pools are the 2-D pools on (N, C, 1, L); see pyengine.autograd.conv2d,
.pool2d, .upsample and .padding. Every conv and pool layer also takes an unbatched input (C, L) or
(C, H, W) and returns it unbatched, as PyTorch.

Initialisation (PyTorch's): Conv1d and ConvTranspose2d weights kaiming_uniform(a=√5), i.e.
uniform(±1/√fan_in) with fan_in = weight.shape[1]·prod(kernel_size) — for ConvTranspose2d that is
out_channels/groups·kh·kw, since its weight is (in, out/groups, kh, kw) — and bias uniform(±1/√fan_in).
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.conv2d import transpose_output_padding
from ..tensor import get_default_dtype
from . import functional as F
from . import init
from .layers import _layer_error, _pair, conv_padding, conv_repr
from .module import Module, Parameter

__all__ = ["Conv1d", "ConvTranspose2d", "MaxPool1d", "AvgPool1d", "AdaptiveAvgPool1d", "AdaptiveMaxPool1d",
           "AdaptiveMaxPool2d", "Dropout1d", "Dropout2d", "Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d",
           "PixelShuffle", "PixelUnshuffle", "ZeroPad1d", "ZeroPad2d", "ConstantPad1d", "ConstantPad2d",
           "ReflectionPad1d", "ReflectionPad2d", "ReplicationPad1d", "ReplicationPad2d", "CircularPad1d", "CircularPad2d"]


def _single(v):
    return (v,) if isinstance(v, int) else tuple(v)


def _param(*shape, dtype=None):
    return Parameter(np.empty(shape, dtype=dtype or get_default_dtype()))


class _ConvBase(Module):
    def _init_params(self, w_shape, bias, dtype):
        self.weight = _param(*w_shape, dtype=dtype)
        if bias:
            self.bias = _param(self.out_channels, dtype=dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * math.prod(self.kernel_size)
            b = 1 / math.sqrt(fan_in) if fan_in else 0
            init.uniform_(self.bias, -b, b)

    def extra_repr(self):
        return conv_repr(self)


class Conv1d(_ConvBase):
    """x (N, C_in, L) or unbatched (C_in, L) -> (N, C_out, OL); weight (C_out, C_in/groups, k), bias (C_out,);
    OL = (L + 2·padding − dilation·(k − 1) − 1) // stride + 1."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", dtype=None):
        super().__init__()
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(f"Conv1d: in_channels {in_channels} and out_channels {out_channels} must be "
                             f"divisible by groups {groups}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.dilation = _single(kernel_size), _single(stride), _single(dilation)
        self.groups, self.padding_mode = groups, padding_mode
        self.padding, self._reversed_padding_repeated_twice = conv_padding(
            "Conv1d", padding, self.kernel_size, self.stride, self.dilation, padding_mode, 1)
        self._init_params((out_channels, in_channels // groups, *self.kernel_size), bias, dtype)

    def forward(self, x):
        try:
            if self.padding_mode != "zeros":
                x = F.pad(x, self._reversed_padding_repeated_twice, self.padding_mode)
                return F.conv1d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)
            return F.conv1d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
        except (ValueError, TypeError) as e:
            raise _layer_error(f"Conv1d({self.in_channels}, {self.out_channels})", e, x,
                               lambda x: None if x.ndim in (2, 3) and x.shape[-2] == self.in_channels else
                               f"(N, {self.in_channels}, L) or ({self.in_channels}, L)") from None


class ConvTranspose2d(_ConvBase):
    """x (N, C_in, H, W) or unbatched (C_in, H, W) -> (N, C_out, OH, OW); weight (C_in, C_out/groups, kh, kw),
    bias (C_out,); OH = (H − 1)·stride − 2·padding + dilation·(kh − 1) + output_padding + 1.
    forward(x, output_size) picks output_padding so the output has output_size (PyTorch's rule)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", dtype=None):
        super().__init__()
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(f"ConvTranspose2d: in_channels {in_channels} and out_channels {out_channels} must "
                             f"be divisible by groups {groups}")
        if padding_mode != "zeros":
            raise ValueError(f"ConvTranspose2d: only padding_mode='zeros' is supported, got {padding_mode!r}")
        if isinstance(padding, str):
            raise ValueError(f"ConvTranspose2d: padding must be an int or a pair, got {padding!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = _pair(kernel_size), _pair(stride), _pair(padding)
        self.dilation, self.output_padding = _pair(dilation), _pair(output_padding)
        self.groups, self.padding_mode = groups, padding_mode
        self._init_params((in_channels, out_channels // groups, *self.kernel_size), bias, dtype)

    def forward(self, x, output_size=None):
        name = f"ConvTranspose2d({self.in_channels}, {self.out_channels})"
        op = self.output_padding
        try:
            if output_size is not None:
                op = transpose_output_padding(name, tuple(x.shape), output_size, self.kernel_size, self.stride,
                                              self.padding, self.dilation)
            return F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding, op, self.groups,
                                      self.dilation)
        except (ValueError, TypeError) as e:
            raise _layer_error(name, e, x,
                               lambda x: None if x.ndim in (3, 4) and x.shape[-3] == self.in_channels else
                               f"(N, {self.in_channels}, H, W) or ({self.in_channels}, H, W)") from None


class _Pool1d(Module):
    def _error(self, e, x):
        return _layer_error(type(self).__name__, e, x, lambda x: None if x.ndim in (2, 3) else "(N, C, L) or (C, L)")


class MaxPool1d(_Pool1d):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, x):
        try:
            return F.max_pool1d(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                                self.return_indices)
        except (ValueError, TypeError) as e:
            raise self._error(e, x) from None

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool1d(_Pool1d):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__()
        self.kernel_size = _single(kernel_size)
        self.stride = _single(stride if stride is not None else kernel_size)
        self.padding, self.ceil_mode, self.count_include_pad = _single(padding), ceil_mode, count_include_pad

    def forward(self, x):
        try:
            return F.avg_pool1d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad)
        except (ValueError, TypeError) as e:
            raise self._error(e, x) from None

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool1d(_Pool1d):
    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        try:
            return F.adaptive_avg_pool1d(x, self.output_size)
        except (ValueError, TypeError) as e:
            raise self._error(e, x) from None

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(_Pool1d):
    def __init__(self, output_size, return_indices=False):
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, x):
        try:
            return F.adaptive_max_pool1d(x, self.output_size, self.return_indices)
        except (ValueError, TypeError) as e:
            raise self._error(e, x) from None

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(Module):
    def __init__(self, output_size, return_indices=False):
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, x):
        try:
            return F.adaptive_max_pool2d(x, self.output_size, self.return_indices)
        except (ValueError, TypeError) as e:
            raise _layer_error("AdaptiveMaxPool2d", e, x,
                               lambda x: None if x.ndim in (3, 4) else "(N, C, H, W) or (C, H, W)") from None

    def extra_repr(self):
        return f"output_size={self.output_size}"


class _ChannelDropout(Module):
    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{type(self).__name__}: dropout probability has to be between 0 and 1, got {p}")
        self.p, self.inplace = p, inplace

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout1d(_ChannelDropout):
    """Zeroes whole channels of (N, C, L) or (C, L) inputs with probability p, scaling the rest by 1/(1 − p)."""

    def forward(self, x):
        return F.dropout1d(x, self.p, self.training)


class Dropout2d(_ChannelDropout):
    """Zeroes whole channels of (N, C, H, W) or (C, H, W) inputs with probability p (3-D inputs: see
    F.dropout2d), scaling the rest by 1/(1 − p)."""

    def forward(self, x):
        return F.dropout2d(x, self.p, self.training)


class Upsample(Module):
    """F.interpolate as a layer: size or scale_factor, mode 'nearest' | 'nearest-exact' | 'linear' | 'bilinear'."""

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None):
        super().__init__()
        self.size = size
        if isinstance(scale_factor, (tuple, list)):
            self.scale_factor = tuple(float(f) for f in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode, self.align_corners, self.recompute_scale_factor = mode, align_corners, recompute_scale_factor

    def forward(self, x):
        return F.interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners,
                             self.recompute_scale_factor)

    def extra_repr(self):
        info = f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None else f"size={self.size!r}"
        return info + f", mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


class PixelShuffle(Module):
    """(*, C·r², H, W) -> (*, C, H·r, W·r) with r = upscale_factor."""

    def __init__(self, upscale_factor):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, x):
        return F.pixel_shuffle(x, self.upscale_factor)

    def extra_repr(self):
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(*, C, H·r, W·r) -> (*, C·r², H, W) with r = downscale_factor."""

    def __init__(self, downscale_factor):
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, x):
        return F.pixel_unshuffle(x, self.downscale_factor)

    def extra_repr(self):
        return f"downscale_factor={self.downscale_factor}"


class _PadNd(Module):
    """F.pad as a layer: padding an int (every side) or PyTorch's tuple (left, right[, top, bottom])."""
    _n = 1
    _mode = "constant"

    def __init__(self, padding):
        super().__init__()
        n = 2 * self._n
        self.padding = (padding,) * n if isinstance(padding, int) else tuple(padding)
        if len(self.padding) != n:
            raise ValueError(f"{type(self).__name__}: padding must be an int or a {n}-tuple, got {padding!r}")

    def forward(self, x):
        return F.pad(x, self.padding, self._mode, getattr(self, "value", None))

    def extra_repr(self):
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding, value):
        super().__init__(padding)
        self.value = value

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    _n = 1


class ConstantPad2d(_ConstantPadNd):
    _n = 2


class ZeroPad1d(ConstantPad1d):
    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ZeroPad2d(ConstantPad2d):
    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ReflectionPad1d(_PadNd):
    _n, _mode = 1, "reflect"


class ReflectionPad2d(_PadNd):
    _n, _mode = 2, "reflect"


class ReplicationPad1d(_PadNd):
    _n, _mode = 1, "replicate"


class ReplicationPad2d(_PadNd):
    _n, _mode = 2, "replicate"


class CircularPad1d(_PadNd):
    _n, _mode = 1, "circular"


class CircularPad2d(_PadNd):
    _n, _mode = 2, "circular"
