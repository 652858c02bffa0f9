"""CUDA linear kernels: one GEMM each (bias added in the GEMM's epilogue), the bias gradient a
column sum (csrc/cuda/gemm.cu, elementwise.cu)."""
from __future__ import annotations

from .._contract.linear import check_linear, check_linear_backward
from . import _ext

__all__ = ["linear_forward", "linear_backward"]


def linear_forward(x, weight, bias=None):
    """x (*, I), weight (O, I), bias (O,) or None → y (*, O) = x·weightᵀ + bias."""
    fn = "linear_forward"
    x = _ext.to_device(fn, "x", x)
    weight = _ext.to_device(fn, "weight", weight)
    bias = _ext.to_device(fn, "bias", bias, optional=True)
    in_features, out_features = check_linear(fn, x, weight, bias)
    with _ext.on_device(_ext.device_of(fn, x=x, weight=weight, bias=bias)):
        x2 = _ext.contiguous(x).reshape(-1, in_features)
        w, b = _ext.contiguous(weight), _ext.contiguous(bias)
        y = _ext.empty((x2.shape[0], out_features), x.dtype)
        _ext.lib().gemm(x2, w, None, y, False, True, 1.0, 0.0, b, False, _ext.tf32() and x.dtype.itemsize == 4,
                        _ext.stream())
    return y.reshape(tuple(x.shape[:-1]) + (out_features,))


def linear_backward(grad_output, x, weight, needs_input_grad=(True, True, True)):
    """grad_output (*, O), x (*, I), weight (O, I) → (grad_input (*, I), grad_weight (O, I), grad_bias (O,)).

    grad_input = grad_output·weight, grad_weight = grad_outputᵀ·x, grad_bias = Σ grad_output over every
    leading axis; None where needs_input_grad says it is not needed.
    """
    fn = "linear_backward"
    grad_output = _ext.to_device(fn, "grad_output", grad_output)
    x = _ext.to_device(fn, "x", x)
    weight = _ext.to_device(fn, "weight", weight)
    in_features, out_features, needs = check_linear_backward(fn, grad_output, x, weight, needs_input_grad)
    gi = gw = gb = None
    with _ext.on_device(_ext.device_of(fn, grad_output=grad_output, x=x, weight=weight)):
        g2 = _ext.contiguous(grad_output).reshape(-1, out_features)
        x2 = _ext.contiguous(x).reshape(-1, in_features)
        w = _ext.contiguous(weight)
        lib, s, tf = _ext.lib(), _ext.stream(), _ext.tf32() and x.dtype.itemsize == 4
        if needs[0]:
            gi = _ext.empty((g2.shape[0], in_features), x.dtype)
            lib.gemm(g2, w, None, gi, False, False, 1.0, 0.0, None, True, tf, s)
            gi = gi.reshape(x.shape)
        if needs[1]:
            gw = _ext.empty((out_features, in_features), x.dtype)
            lib.gemm(g2, x2, None, gw, True, False, 1.0, 0.0, None, True, tf, s)
        if needs[2]:
            gb = _ext.empty((out_features,), x.dtype)
            lib.channel_sum(g2, gb, g2.shape[0], out_features, 1, 1.0, s)
    return gi, gw, gb
