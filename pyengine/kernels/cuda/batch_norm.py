"""CUDA batch normalisation (csrc/cuda/batch_norm.cu): per-channel statistics with one block per
channel, normalisation and the input gradient as elementwise kernels. The running statistics are
updated in place on the device (a non-contiguous view through a contiguous copy written back).
"""
from __future__ import annotations

from .._contract.batch_norm import check_batch_norm_backward, check_batch_norm_forward
from . import _ext

__all__ = ["batch_norm_forward", "batch_norm_backward"]


def batch_norm_forward(x, weight, bias, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    """x (N, C) or (N, C, H, W); weight, bias, running_mean, running_var (C,) or None.

    Returns (y of x's shape, save_mean (C,), save_invstd (C,)): the statistics used to normalise
    (batch ones in training, with the running ones updated in place; running ones in eval).
    """
    fn = "batch_norm_forward"
    x = _ext.to_device(fn, "x", x)
    weight = _ext.to_device(fn, "weight", weight, optional=True)
    bias = _ext.to_device(fn, "bias", bias, optional=True)
    running_mean = _ext.to_device(fn, "running_mean", running_mean, optional=True)
    running_var = _ext.to_device(fn, "running_var", running_var, optional=True)
    c, _, training, momentum, eps = check_batch_norm_forward(x, weight, bias, running_mean, running_var, training,
                                                             momentum, eps)
    with _ext.on_device(_ext.device_of(fn, x=x, weight=weight, bias=bias, running_mean=running_mean,
                                       running_var=running_var)):
        rm, rv = _ext.contiguous(running_mean), _ext.contiguous(running_var)
        y = _ext.empty(x.shape, x.dtype)
        save_mean = _ext.empty((c,), x.dtype)
        save_invstd = _ext.empty((c,), x.dtype)
        _ext.lib().batch_norm_forward(_ext.contiguous(x), _ext.contiguous(weight), _ext.contiguous(bias), rm, rv,
                                      training, momentum, eps, y, save_mean, save_invstd, _ext.stream())
        for view, copy in ((running_mean, rm), (running_var, rv)):
            if copy is not None and copy is not view:
                view[...] = copy
    return y, save_mean, save_invstd


def batch_norm_backward(grad_output, x, weight, save_mean, save_invstd, training=True,
                        needs_input_grad=(True, True, True)):
    """(grad_input, grad_weight, grad_bias) of batch_norm_forward, None where needs_input_grad is False.

    grad_output, x: (N, C) or (N, C, H, W); weight (C,) or None; save_mean, save_invstd (C,).
    """
    fn = "batch_norm_backward"
    grad_output = _ext.to_device(fn, "grad_output", grad_output)
    x = _ext.to_device(fn, "x", x)
    weight = _ext.to_device(fn, "weight", weight, optional=True)
    save_mean = _ext.to_device(fn, "save_mean", save_mean, optional=True)
    save_invstd = _ext.to_device(fn, "save_invstd", save_invstd, optional=True)
    c, _, training, needs = check_batch_norm_backward(grad_output, x, weight, save_mean, save_invstd, training,
                                                      needs_input_grad)
    with _ext.on_device(_ext.device_of(fn, grad_output=grad_output, x=x, weight=weight, save_mean=save_mean,
                                       save_invstd=save_invstd)):
        gx = _ext.empty(x.shape, x.dtype) if needs[0] else None
        gw = _ext.empty((c,), x.dtype) if needs[1] else None
        gb = _ext.empty((c,), x.dtype) if needs[2] else None
        sums = _ext.empty((2 * c,), x.dtype)
        _ext.lib().batch_norm_backward(_ext.contiguous(grad_output), _ext.contiguous(x), _ext.contiguous(weight),
                                       _ext.contiguous(save_mean), _ext.contiguous(save_invstd), training, gx, gw, gb,
                                       sums, _ext.stream())
    return gx, gw, gb
