"""CUDA dropout (csrc/cuda/elementwise.cu): the counter-based mask of kernels/_contract/dropout.py,
computed per element on the device, so the same seed gives the reference's and the CPU kernel's mask
bit for bit."""
from __future__ import annotations

from .._contract.dropout import check_dropout_backward, check_dropout_forward
from . import _ext

__all__ = ["dropout_forward", "dropout_backward"]


def dropout_forward(x, p, seed):
    """x: any shape. Returns (y, mask): mask uint8 of x's shape (1 = kept), y = x·mask/(1 − p)."""
    fn = "dropout_forward"
    x = _ext.to_device(fn, "x", x)
    p, seed = check_dropout_forward(x, p, seed)
    cp = _ext.cupy()
    with _ext.on_device(_ext.device_of(fn, x=x)):
        y = _ext.empty(x.shape, x.dtype)
        mask = _ext.empty(x.shape, cp.uint8)
        _ext.lib().dropout_forward(_ext.contiguous(x), y, mask, p, seed, _ext.stream())
    return y, mask


def dropout_backward(grad_output, mask, p):
    """grad_input = grad_output · mask / (1 − p); grad_output and mask (uint8) of one shape."""
    fn = "dropout_backward"
    grad_output = _ext.to_device(fn, "grad_output", grad_output)
    mask = _ext.to_device(fn, "mask", mask) if hasattr(mask, "__cuda_array_interface__") else mask
    p = check_dropout_backward(grad_output, mask, p)
    mask = _ext.to_device(fn, "mask", mask)
    with _ext.on_device(_ext.device_of(fn, grad_output=grad_output, mask=mask)):
        dx = _ext.empty(grad_output.shape, grad_output.dtype)
        _ext.lib().dropout_backward(_ext.contiguous(grad_output), _ext.contiguous(mask), dx, p, _ext.stream())
    return dx
