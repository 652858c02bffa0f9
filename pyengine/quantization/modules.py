"""The static int8 layers that ``convert`` puts in place of float ones; they take and give QTensors.

Quantize / DeQuantize cross between float Tensors and QTensors. QuantizedConv2d and
QuantizedLinear hold int8 weights (per-channel symmetric, [−127, 127]) and call the int8 kernels
(``kernels.cpu.quantized_conv2d`` / ``quantized_linear``): for an input of scale s_x and an output
of scale s_y, zero point z_y,

    multiplier[k] = s_x · s_w[k] / s_y        bias_q[k] = rint(b[k] / (s_x · s_w[k]))   (int32)

computed once per input scale and cached. A fused ReLU clamps the output at z_y (the real 0), a
fused ReLU6 also at z_y + round(6/s_y). Max pooling and flattening work on the uint8 data directly
(max commutes with the monotone quantization; the scale is kept); average pooling rounds the mean
of the uint8 values; the residual add of MobileNetV2 requantizes both inputs to its output scale.
"""
from __future__ import annotations

import numpy as np

from ..kernels import cpu as K
from ..kernels.cpu._ext import _C
from ..nn import functional as F
from ..nn.module import Module
from ..reference._checks import pair as _check_pair
from ..tensor import Tensor, _wrap
from .observer import quantize_weight
from .qtensor import QTensor, quantize_per_tensor

__all__ = ["Quantize", "DeQuantize", "QuantizedConv2d", "QuantizedLinear", "QuantizedMaxPool2d",
           "QuantizedAdaptiveAvgPool2d", "QuantizedReLU", "QuantizedReLU6", "QuantizedAdd",
           "QuantizedInvertedResidual", "QuantizedMobileNetV2"]

_BIAS_LIMIT = 2 ** 30


def _need_q(layer, x):
    if not isinstance(x, QTensor):
        raise TypeError(f"{layer}: expected a QTensor (the output of a Quantize / quantized layer), got "
                        f"{type(x).__name__}; put a QuantStub before it (or use QuantWrapper)")


def _clamp_for(max_value, scale, zero_point):
    """(qmin, qmax) of an output that a fused ReLU (max_value None) / ReLU6 (6.0) clamps."""
    if max_value is False:
        return 0, 255
    qmax = 255 if max_value is None else int(min(255, zero_point + round(max_value / scale)))
    return zero_point, qmax


def _scalar(v, dtype):
    return _wrap(np.array(v, dtype))


class Quantize(Module):
    """float Tensor → QTensor with a fixed scale and zero point (what QuantStub becomes)."""

    def __init__(self, scale: float, zero_point: int):
        super().__init__()
        self.register_buffer("scale", _scalar(scale, np.float64))
        self.register_buffer("zero_point", _scalar(zero_point, np.int64))

    def forward(self, x):
        if isinstance(x, QTensor):
            return x
        if not isinstance(x, Tensor):
            raise TypeError(f"Quantize: expected a Tensor, got {type(x).__name__}")
        return quantize_per_tensor(x, float(self.scale._data), int(self.zero_point._data))

    def extra_repr(self):
        return f"scale={float(self.scale._data):.6g}, zero_point={int(self.zero_point._data)}"


class DeQuantize(Module):
    """QTensor → float32 Tensor (what DeQuantStub becomes)."""

    def forward(self, x):
        return x.dequantize() if isinstance(x, QTensor) else x


class _QuantizedWeighted(Module):
    """Shared by the int8 conv and linear: int8 weight, per-channel scales, float bias, output qparams."""

    def _setup(self, weight, bias, scale, zero_point, max_value):
        wq, ws = quantize_weight(weight)
        self.register_buffer("weight", _wrap(wq))
        self.register_buffer("weight_scale", _wrap(ws))
        self.register_buffer("bias", None if bias is None else _wrap(np.asarray(bias, np.float64)))
        self.register_buffer("scale", _scalar(scale, np.float64))
        self.register_buffer("zero_point", _scalar(zero_point, np.int64))
        self.max_value = max_value
        self._cache = (None, None, None)

    def _requant(self, x_scale: float):
        """(multiplier float32, bias int32 or None, y_scale, y_zero_point, qmin, qmax) for inputs of
        scale x_scale, cached: the per-call path of the int8 layers is a lookup and one kernel call."""
        c = self._cache
        if c[0] != x_scale:
            sw = self.weight_scale._data
            acc_scale = x_scale * sw
            sy, zy = float(self.scale._data), int(self.zero_point._data)
            mult = (acc_scale / sy).astype(np.float32)
            bq = None
            if self.bias is not None:
                bq = np.clip(np.rint(self.bias._data / acc_scale), -_BIAS_LIMIT, _BIAS_LIMIT).astype(np.int32)
            c = self._cache = (x_scale, mult, bq, sy, zy) + _clamp_for(self.max_value, sy, zy)
        return c[1:]


class QuantizedConv2d(_QuantizedWeighted):
    """int8 Conv2d: QTensor (N, C, H, W) → QTensor (N, K, OH, OW); with max_value a fused ReLU(6)."""

    def __init__(self, weight, bias, stride, padding, dilation, groups, scale, zero_point, max_value=False):
        super().__init__()
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        (sh, sw), (ph, pw) = _check_pair("QuantizedConv2d", "stride", stride, 1), _check_pair("QuantizedConv2d", "padding", padding, 0)
        dh, dw = _check_pair("QuantizedConv2d", "dilation", dilation, 1)
        self._geo = ((sh, sw), (ph, pw), (dh, dw))   # stride, padding, dilation as the binding takes them
        self._setup(np.asarray(weight, np.float64), bias, scale, zero_point, max_value)

    @classmethod
    def from_float(cls, conv, scale, zero_point):
        if isinstance(conv.padding, str):
            raise ValueError(f"QuantizedConv2d: padding={conv.padding!r} is not supported; use numbers")
        max_value = getattr(conv, "max_value", None) if type(conv).__name__ == "ConvReLU2d" else False
        return cls(conv.weight._data, None if conv.bias is None else conv.bias._data, conv.stride, conv.padding,
                   conv.dilation, conv.groups, scale, zero_point, max_value)

    def forward(self, x):
        if type(x) is not QTensor:
            _need_q("QuantizedConv2d", x)
        mult, bq, sy, zy, lo, hi = self._requant(x.scale)
        # The binding checks every argument; the geometry was normalised once in __init__.
        y = _C.quantized_conv2d(np.ascontiguousarray(x.data), x.zero_point, self.weight._data, bq, mult, zy, lo, hi, *self._geo, self.groups,
                                "uint8")
        return QTensor(y, sy, zy)

    def extra_repr(self):
        k = tuple(self.weight.shape)
        act = {False: "", None: ", relu=True"}.get(self.max_value, ", relu6=True")
        return (f"{k[1] * self.groups}, {k[0]}, kernel_size={k[2:]}, stride={self.stride}, padding={self.padding}"
                f"{', groups=' + str(self.groups) if self.groups != 1 else ''}, scale={float(self.scale._data):.6g}, "
                f"zero_point={int(self.zero_point._data)}{act}")


class QuantizedLinear(_QuantizedWeighted):
    """int8 Linear: QTensor (*, I) → QTensor (*, O); with max_value None a fused ReLU."""

    def __init__(self, weight, bias, scale, zero_point, max_value=False):
        super().__init__()
        self._setup(np.asarray(weight, np.float64), bias, scale, zero_point, max_value)

    @classmethod
    def from_float(cls, linear, scale, zero_point):
        max_value = None if type(linear).__name__ == "LinearReLU" else False
        return cls(linear.weight._data, None if linear.bias is None else linear.bias._data, scale, zero_point,
                   max_value)

    def forward(self, x):
        if type(x) is not QTensor:
            _need_q("QuantizedLinear", x)
        mult, bq, sy, zy, lo, hi = self._requant(x.scale)
        d = x.data
        if d.ndim == 2 and d.flags.c_contiguous:
            return QTensor(_C.quantized_linear(d, x.zero_point, self.weight._data, bq, mult, zy, lo, hi, "uint8"), sy, zy)
        lead = d.shape[:-1]
        y = _C.quantized_linear(np.ascontiguousarray(d.reshape(-1, d.shape[-1])), x.zero_point, self.weight._data, bq,
                                mult, zy, lo, hi, "uint8")
        return QTensor(y.reshape(lead + (y.shape[-1],)), sy, zy)

    def extra_repr(self):
        o, i = self.weight.shape
        return f"in_features={i}, out_features={o}, scale={float(self.scale._data):.6g}, " \
               f"zero_point={int(self.zero_point._data)}{', relu=True' if self.max_value is None else ''}"


class QuantizedMaxPool2d(Module):
    """Max pooling of the uint8 values; scale and zero point unchanged."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride if stride is not None else kernel_size
        self.padding, self.dilation, self.ceil_mode = padding, dilation, ceil_mode

    @classmethod
    def from_float(cls, pool):
        return cls(pool.kernel_size, pool.stride, pool.padding, pool.dilation, pool.ceil_mode)

    def forward(self, x):
        _need_q("QuantizedMaxPool2d", x)
        return x._like(max_pool2d_u8(x.data, self.kernel_size, self.stride, self.padding, self.dilation,
                                     self.ceil_mode))


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def max_pool2d_u8(x: np.ndarray, kernel_size, stride, padding, dilation, ceil_mode) -> np.ndarray:
    """Max pooling of uint8 x (N, C, H, W) with the C++ kernel; the float max_pool2d's geometry."""
    return K.quantized_max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode)


class QuantizedAdaptiveAvgPool2d(Module):
    """Adaptive average pooling of the uint8 values (the mean rounded half to even); qparams kept."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        _need_q("QuantizedAdaptiveAvgPool2d", x)
        return x._like(adaptive_avg_pool2d_u8(x.data, self.output_size))


def adaptive_avg_pool2d_u8(x: np.ndarray, output_size) -> np.ndarray:
    oh, ow = _pair(output_size)
    N, C, H, W = x.shape
    if (oh, ow) == (1, 1):
        return np.rint(x.reshape(N, C, H * W).mean(axis=2, dtype=np.float64)).astype(np.uint8).reshape(N, C, 1, 1)
    out = np.empty((N, C, oh, ow), np.uint8)
    for i in range(oh):
        r0, r1 = i * H // oh, -(-(i + 1) * H // oh)
        for j in range(ow):
            c0, c1 = j * W // ow, -(-(j + 1) * W // ow)
            out[:, :, i, j] = np.rint(x[:, :, r0:r1, c0:c1].mean(axis=(2, 3), dtype=np.float64))
    return out


class QuantizedReLU(Module):
    """max(x, zero_point): ReLU in the integer domain, qparams kept (an unfused ReLU)."""

    def forward(self, x):
        _need_q("QuantizedReLU", x)
        return x._like(np.maximum(x.data, np.uint8(x.zero_point)))


class QuantizedReLU6(Module):
    """clamp(x, zero_point, zero_point + round(6/scale)), qparams kept."""

    def forward(self, x):
        _need_q("QuantizedReLU6", x)
        lo, hi = _clamp_for(6.0, x.scale, x.zero_point)
        return x._like(np.clip(x.data, lo, hi).astype(np.uint8))


class QuantizedAdd(Module):
    """a + b requantized to this module's scale and zero point, in float32 arithmetic:
    y = clamp(rint((s_a(a − z_a) + s_b(b − z_b)) / s_y) + z_y, 0, 255)."""

    def __init__(self, scale, zero_point):
        super().__init__()
        self.register_buffer("scale", _scalar(scale, np.float64))
        self.register_buffer("zero_point", _scalar(zero_point, np.int64))

    def forward(self, a, b):
        _need_q("QuantizedAdd", a)
        _need_q("QuantizedAdd", b)
        sy, zy = float(self.scale._data), int(self.zero_point._data)
        fa, fb = np.float32(a.scale / sy), np.float32(b.scale / sy)
        v = (a.data.astype(np.float32) - np.float32(a.zero_point)) * fa
        v += (b.data.astype(np.float32) - np.float32(b.zero_point)) * fb
        v = np.rint(v)
        v += zy
        return QTensor(np.clip(v, 0, 255).astype(np.uint8), sy, zy)


class QuantizedInvertedResidual(Module):
    """MobileNetV2's block, quantized: conv(x), plus x through QuantizedAdd when the block adds."""

    def __init__(self, conv, add=None):
        super().__init__()
        self.conv = conv
        self.add = add

    def forward(self, x):
        y = self.conv(x)
        return self.add(x, y) if self.add is not None else y


class QuantizedMobileNetV2(Module):
    """The zoo's MobileNetV2 with quantized features and classifier; its functional global average
    pool runs on the uint8 values."""

    def __init__(self, features, classifier):
        super().__init__()
        from ..nn.layers import Flatten
        self.features, self.classifier = features, classifier
        self.pool, self.flatten = QuantizedAdaptiveAvgPool2d(1), Flatten()

    def forward(self, x):
        y = self.features(x)
        y = self.pool(y) if isinstance(y, QTensor) else F.adaptive_avg_pool2d(y, (1, 1))
        return self.classifier(self.flatten(y))
