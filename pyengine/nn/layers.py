"""The layers: PyTorch names, constructor arguments, parameter names/shapes and default initialisation.

Default initialisations (PyTorch's): Linear and Conv2d weights kaiming_uniform(a=√5), i.e.
uniform(±1/√fan_in), bias uniform(±1/√fan_in); BatchNorm weight 1, bias 0, running mean 0, var 1;
LayerNorm weight 1, bias 0; PReLU slope 0.25. The recurrent layers (RNN, LSTM, GRU and their cells) are
in rnn.py.

A layer's forward calls its autograd Function directly and checks nothing on the way: the kernel
binding checks every argument before any kernel runs. When it raises, the layer names itself and
says what it expected (``Conv2d(1, 8): expected input of shape (N, 1, H, W), got (2, 3, 28, 28)``),
or prefixes the binding's message with its name.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.activation import Elu, LeakyRelu, Relu, Sigmoid as Sigmoid_, Tanh as Tanh_
from ..autograd.activation import relu6 as _relu6
from ..autograd.batch_norm import batch_norm as _batch_norm
from ..autograd.conv2d import Conv2d as _Conv2dFn
from ..autograd.layer_norm import layer_norm as _layer_norm
from ..autograd.linear import Linear as _LinearFn
from ..autograd.pool2d import AvgPool2d as _AvgPoolFn, MaxPool2d as _MaxPoolFn
from ..tensor import Tensor, get_default_dtype
from . import functional as F
from . import init
from .module import Module, Parameter
from .rnn import *  # noqa: F401,F403  (the recurrent layers live in rnn.py)
from .rnn import __all__ as _rnn_all

__all__ = ["Identity", "Linear", "Conv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "BatchNorm1d",
           "BatchNorm2d", "LayerNorm", "Dropout", "Flatten", "ReLU", "ReLU6", "LeakyReLU", "PReLU", "ELU", "Sigmoid", "Tanh", "Softmax",
           "LogSoftmax"] + _rnn_all


def _param(*shape, dtype=None):
    return Parameter(np.empty(shape, dtype=dtype or get_default_dtype()))


def _shape_error(layer, expected, x):
    return ValueError(f"{layer}: expected input of shape {expected}, got {tuple(x.shape)}")


def _layer_error(layer, e, x, shape_ok):
    """The error a layer raises when its kernel refused the input: what it expected when the input's
    shape is wrong (shape_ok(x) False; expected comes with it), else the binding's message with the
    layer's name in front."""
    if not isinstance(x, Tensor):
        return TypeError(f"{layer}: input must be a pyengine.Tensor, got {type(x).__name__}")
    expected = shape_ok(x)
    if expected is not None:
        return _shape_error(layer, expected, x)
    return type(e)(f"{layer}: {e}")


class Identity(Module):
    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x


class Linear(Module):
    """y = x·Wᵀ + b; x (*, in_features), W (out_features, in_features), b (out_features,)."""

    def __init__(self, in_features, out_features, bias=True, dtype=None):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = _param(out_features, in_features, dtype=dtype)
        self.bias = _param(out_features, dtype=dtype) if bias else None
        if not bias:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            b = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0
            init.uniform_(self.bias, -b, b)

    def forward(self, x):
        try:
            return _LinearFn.apply(x, self.weight, self.bias)
        except (ValueError, TypeError) as e:
            raise _layer_error(f"Linear(in_features={self.in_features}, out_features={self.out_features})", e, x,
                               lambda x: None if x.ndim >= 1 and x.shape[-1] == self.in_features else
                               f"(*, {self.in_features})") from None

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def conv_padding(layer, padding, kernel_size, stride, dilation, padding_mode, n):
    """Checks a Conv layer's padding arguments (PyTorch's rules and words) and returns (padding as an
    n-tuple or 'same'/'valid', the F.pad widths used when padding_mode is not 'zeros': PyTorch's
    _reversed_padding_repeated_twice, the last axis first, 'same' putting the odd extra after)."""
    if padding_mode not in ("zeros", "reflect", "replicate", "circular"):
        raise ValueError(f"{layer}: padding_mode must be one of 'zeros', 'reflect', 'replicate', 'circular', "
                         f"got {padding_mode!r}")
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ValueError(f"{layer}: invalid padding string {padding!r}, should be one of 'valid', 'same'")
        if padding == "same" and any(s != 1 for s in stride):
            raise ValueError(f"{layer}: padding='same' is not supported for strided convolutions")
        rev = []
        for d, k in zip(reversed(dilation), reversed(kernel_size)):
            total = d * (k - 1) if padding == "same" else 0
            rev += [total // 2, total - total // 2]
        return padding, tuple(rev)
    padding = (padding,) * n if isinstance(padding, int) else tuple(padding)
    return padding, tuple(p for p in reversed(padding) for _ in range(2))


def conv_repr(m, extra=()):
    """PyTorch's Conv*d repr: the arguments that differ from their defaults."""
    n = len(m.kernel_size)
    s = f"{m.in_channels}, {m.out_channels}, kernel_size={m.kernel_size}, stride={m.stride}"
    if m.padding != (0,) * n:
        s += f", padding={m.padding}"
    if m.dilation != (1,) * n:
        s += f", dilation={m.dilation}"
    if getattr(m, "output_padding", (0,) * n) != (0,) * n:
        s += f", output_padding={m.output_padding}"
    if m.groups != 1:
        s += f", groups={m.groups}"
    if m.bias is None:
        s += ", bias=False"
    if m.padding_mode != "zeros":
        s += f", padding_mode={m.padding_mode}"
    return s


class Conv2d(Module):
    """x (N, C_in, H, W) or unbatched (C_in, H, W) -> (N, C_out, OH, OW); weight (C_out, C_in/groups, kh, kw),
    bias (C_out,). padding_mode 'reflect' / 'replicate' / 'circular' pads with F.pad first (PyTorch's way)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", dtype=None):
        super().__init__()
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"Conv2d: in_channels {in_channels} and out_channels {out_channels} must be "
                             f"divisible by groups {groups}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride = _pair(kernel_size), _pair(stride)
        self.dilation, self.groups = _pair(dilation), groups
        self.padding, self._reversed_padding_repeated_twice = conv_padding(
            "Conv2d", padding, self.kernel_size, self.stride, self.dilation, padding_mode, 2)
        self.padding_mode = padding_mode
        self.weight = _param(out_channels, in_channels // groups, *self.kernel_size, dtype=dtype)
        if bias:
            self.bias = _param(out_channels, dtype=dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * self.kernel_size[0] * self.kernel_size[1]
            b = 1 / math.sqrt(fan_in) if fan_in else 0
            init.uniform_(self.bias, -b, b)

    def forward(self, x):
        try:
            if getattr(x, "ndim", 0) == 3:                   # unbatched (C, H, W)
                return self._conv(x.unsqueeze(0)).squeeze(0)
            if self.padding_mode == "zeros" and type(self.padding) is not str:     # the common case, one frame
                return _Conv2dFn.apply(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                                       self.groups)
            return self._conv(x)
        except (ValueError, TypeError) as e:
            raise _layer_error(f"Conv2d({self.in_channels}, {self.out_channels})", e, x,
                               lambda x: None if x.ndim in (3, 4) and x.shape[-3] == self.in_channels else
                               f"(N, {self.in_channels}, H, W) or ({self.in_channels}, H, W)") from None

    def _conv(self, x):
        if self.padding_mode != "zeros":
            x = F.pad(x, self._reversed_padding_repeated_twice, self.padding_mode)
            return _Conv2dFn.apply(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)
        if isinstance(self.padding, str):
            return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
        return _Conv2dFn.apply(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def extra_repr(self):
        return conv_repr(self)


class _Pool(Module):
    def _error(self, e, x):
        return _layer_error(type(self).__name__, e, x, lambda x: None if x.ndim == 4 else
                            "(N, C, H, W) or (C, H, W)")


class MaxPool2d(_Pool):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, x):
        try:
            if self.return_indices or getattr(x, "ndim", 0) == 3:
                return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                                    self.return_indices)
            return _MaxPoolFn.apply(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode)
        except (ValueError, TypeError) as e:
            raise self._error(e, x) from None

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool2d(_Pool):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride if stride is not None else kernel_size
        self.padding, self.ceil_mode, self.count_include_pad = padding, ceil_mode, count_include_pad

    def forward(self, x):
        try:
            if getattr(x, "ndim", 0) == 3:
                return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                                    self.count_include_pad)
            return _AvgPoolFn.apply(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                                    self.count_include_pad)
        except (ValueError, TypeError) as e:
            raise self._error(e, x) from None

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(_Pool):
    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        try:
            return F.adaptive_avg_pool2d(x, self.output_size)
        except (ValueError, TypeError) as e:
            raise self._error(e, x) from None

    def extra_repr(self):
        return f"output_size={self.output_size}"


class _BatchNorm(Module):
    _ranks = (4,)
    _expect = "(N, C, H, W)"

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, dtype=None):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        dt = dtype or get_default_dtype()
        if affine:
            self.weight = Parameter(np.ones(num_features, dt))
            self.bias = Parameter(np.zeros(num_features, dt))
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

    def forward(self, x):
        training = self.training
        try:
            if x.ndim not in self._ranks:     # the kernel takes every rank of BatchNorm1d and 2d alike
                raise ValueError(f"expects input of shape {self._expect}")
            y = _batch_norm(x, self.running_mean if not training or self.track_running_stats else None,
                            self.running_var if not training or self.track_running_stats else None,
                            self.weight, self.bias, training or self.running_mean is None, self.momentum, self.eps)
        except (ValueError, TypeError) as e:
            raise _layer_error(f"{type(self).__name__}({self.num_features})", e, x,
                               lambda x: None if x.ndim in self._ranks and x.shape[1] == self.num_features else
                               self._expect.replace("C", str(self.num_features), 1)) from None
        if training and self.track_running_stats:
            self.num_batches_tracked._data += 1
        return y

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    _ranks = (2, 3)
    _expect = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    pass


class LayerNorm(Module):
    """Normalises over the last len(normalized_shape) dimensions of its input, as PyTorch's LayerNorm:
    weight (normalized_shape) 1 and bias 0 with elementwise_affine (bias=False: no bias)."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, dtype=None):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        dt = dtype or get_default_dtype()
        self.weight = Parameter(np.ones(shape, dt)) if elementwise_affine else None
        if self.weight is None:
            self.register_parameter("weight", None)
        if elementwise_affine and bias:
            self.bias = Parameter(np.zeros(shape, dt))
        else:
            self.register_parameter("bias", None)

    def reset_parameters(self):
        if self.weight is not None:
            self.weight._data[...] = 1
        if self.bias is not None:
            self.bias._data[...] = 0

    def forward(self, x):
        try:
            return _layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        except (ValueError, TypeError) as e:
            n = len(self.normalized_shape)
            raise _layer_error(f"LayerNorm({self.normalized_shape})", e, x,
                               lambda x: None if x.ndim >= n and tuple(x.shape[x.ndim - n:]) == self.normalized_shape
                               else "(*, " + ", ".join(map(str, self.normalized_shape)) + ")") from None

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


class Dropout(Module):
    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p = p

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"


class Flatten(Module):
    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class ReLU(Module):
    def __init__(self, inplace=False):
        super().__init__()

    def forward(self, x):
        return Relu.apply(x)


class ReLU6(Module):
    """y = min(max(x, 0), 6) (MobileNet's activation)."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        return _relu6(x, self.inplace)


class LeakyReLU(Module):
    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        return LeakyRelu.apply(x, negative_slope=float(self.negative_slope))

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class PReLU(Module):
    """y = x for x > 0, a·x otherwise, with a learned slope per channel (num_parameters = C) or shared."""

    def __init__(self, num_parameters=1, init=0.25, dtype=None):
        super().__init__()
        self.num_parameters = num_parameters
        self.weight = Parameter(np.full(num_parameters, init, dtype or get_default_dtype()))

    def forward(self, x):
        if self.num_parameters > 1 and (x.ndim < 2 or x.shape[1] != self.num_parameters):
            raise _shape_error(f"PReLU(num_parameters={self.num_parameters})",
                               f"(N, {self.num_parameters}, ...)", x)
        return F.prelu(x, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class ELU(Module):
    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha = alpha

    def forward(self, x):
        return Elu.apply(x, alpha=float(self.alpha))

    def extra_repr(self):
        return f"alpha={self.alpha}"


class Sigmoid(Module):
    def forward(self, x):
        return Sigmoid_.apply(x)


class Tanh(Module):
    def forward(self, x):
        return Tanh_.apply(x)


class Softmax(Module):
    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return F.softmax(x, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    def forward(self, x):
        return F.log_softmax(x, self.dim)


