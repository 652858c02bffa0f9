"""int8 convolution and linear for device arrays. There is no CUDA int8 kernel: the inputs are
copied to the host, the NumPy integer reference (pyengine.reference.quantized) computes the result
bit-exactly, and it is copied back. The int8 fast path of pyengine is the CPU's (VNNI / AVX2); this
keeps the contract whole so a model on the GPU still runs its quantized layers.
"""
from __future__ import annotations

import numpy as np

from .._contract.quantized import check_quantized_conv2d, check_quantized_linear
from . import _ext

__all__ = ["quantized_conv2d", "quantized_linear"]


def _host(cp, a):
    return None if a is None else cp.asnumpy(a)


def quantized_conv2d(x, x_zero_point, weight, bias, multiplier, y_zero_point=0, qmin=0, qmax=255, stride=1,
                     padding=0, dilation=1, groups=1, out_dtype=np.uint8):
    """Requantized int8 convolution (see pyengine.reference.quantized_conv2d), computed on the host."""
    from ...reference.quantized import quantized_conv2d as host_conv
    fn = "quantized_conv2d"
    x, weight = _ext.to_device(fn, "x", x), _ext.to_device(fn, "weight", weight)
    bias = _ext.to_device(fn, "bias", bias, optional=True)
    multiplier = _ext.to_device(fn, "multiplier", multiplier)
    check_quantized_conv2d(x, x_zero_point, weight, bias, multiplier, y_zero_point, qmin, qmax, stride, padding,
                           dilation, groups, out_dtype)
    cp = _ext.cupy()
    with _ext.on_device(_ext.device_of(fn, x=x, weight=weight)):
        y = host_conv(_host(cp, x), x_zero_point, _host(cp, weight), _host(cp, bias), _host(cp, multiplier),
                      y_zero_point, qmin, qmax, stride, padding, dilation, groups, out_dtype)
        return cp.asarray(y)


def quantized_linear(x, x_zero_point, weight, bias, multiplier, y_zero_point=0, qmin=0, qmax=255,
                     out_dtype=np.uint8):
    """Requantized int8 linear layer (see pyengine.reference.quantized_linear), computed on the host."""
    from ...reference.quantized import quantized_linear as host_linear
    fn = "quantized_linear"
    x, weight = _ext.to_device(fn, "x", x), _ext.to_device(fn, "weight", weight)
    bias = _ext.to_device(fn, "bias", bias, optional=True)
    multiplier = _ext.to_device(fn, "multiplier", multiplier)
    check_quantized_linear(x, x_zero_point, weight, bias, multiplier, y_zero_point, qmin, qmax, out_dtype)
    cp = _ext.cupy()
    with _ext.on_device(_ext.device_of(fn, x=x, weight=weight)):
        y = host_linear(_host(cp, x), x_zero_point, _host(cp, weight), _host(cp, bias), _host(cp, multiplier),
                        y_zero_point, qmin, qmax, out_dtype)
        return cp.asarray(y)
