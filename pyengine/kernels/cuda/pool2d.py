"""CUDA pooling (csrc/cuda/pool2d.cu): one thread per output for the forwards, one per input for the
average backward (gathering from the windows that cover it), an atomic scatter for the max backward,
one warp per plane for global average pooling. Checks and output sizes: kernels/_contract/pool2d.py;
the max backward also checks that every index lies in its plane (as the reference does), which
waits for the device once per call.
"""
from __future__ import annotations

from ..._runtime import are_deterministic_algorithms_enabled

from .._contract.pool2d import (check_avg_pool2d_backward, check_avg_pool2d_forward,
                              check_global_avg_pool2d_backward, check_global_avg_pool2d_forward,
                              check_max_pool2d_backward, check_max_pool2d_forward)
from . import _ext

__all__ = ["max_pool2d_forward", "max_pool2d_backward_input", "avg_pool2d_forward", "avg_pool2d_backward_input",
           "global_avg_pool2d_forward", "global_avg_pool2d_backward_input"]


def max_pool2d_forward(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Max over each window: x (N, C, H, W) → (output (N, C, OH, OW), indices int64 h·W + w per plane).

    OH = floor((H + 2·ph − dh·(kh − 1) − 1) / sh) + 1 (ceil with ceil_mode); stride defaults to kernel_size.
    """
    fn = "max_pool2d_forward"
    x = _ext.to_device(fn, "x", x)
    g = check_max_pool2d_forward(x, kernel_size, stride, padding, dilation, ceil_mode)
    cp = _ext.cupy()
    with _ext.on_device(_ext.device_of(fn, x=x)):
        y = _ext.empty((g.N, g.C, g.OH, g.OW), x.dtype)
        ind = _ext.empty((g.N, g.C, g.OH, g.OW), cp.int64)
        _ext.lib().max_pool2d_forward(_ext.contiguous(x), y, ind, (g.kh, g.kw), (g.sh, g.sw), (g.ph, g.pw),
                                      (g.dh, g.dw), _ext.stream())
    return y, ind


def max_pool2d_backward_input(grad_output, indices, input_shape):
    """grad_input (input_shape) with grad_output (N, C, OH, OW) added at indices (N, C, OH, OW) int64."""
    fn = "max_pool2d_backward_input"
    grad_output = _ext.to_device(fn, "grad_output", grad_output)
    indices = _ext.to_device(fn, "indices", indices) if hasattr(indices, "__cuda_array_interface__") else indices
    shape = check_max_pool2d_backward(grad_output, indices, input_shape)
    indices = _ext.to_device(fn, "indices", indices)
    with _ext.on_device(_ext.device_of(fn, grad_output=grad_output, indices=indices)):
        if indices.size:  # the contract's range check; it waits for the device once
            lo, hi = (int(v) for v in _ext.cupy().stack([indices.min(), indices.max()]).get())
            hw = shape[2] * shape[3]
            if lo < 0 or hi >= hw:
                raise ValueError(f"{fn}: indices must lie in [0, H*W) = [0, {hw}), got values from {lo} to {hi}")
        if are_deterministic_algorithms_enabled():
            return _max_pool2d_backward_deterministic(grad_output, indices, shape)
        gx = _ext.empty(shape, grad_output.dtype)
        _ext.lib().max_pool2d_backward_input(_ext.contiguous(grad_output), _ext.contiguous(indices), gx,
                                             _ext.stream())
    return gx


def _max_pool2d_backward_deterministic(grad_output, indices, shape):
    """The scatter of max_pool2d_backward_input without atomics (whose order, with three or more
    windows sharing an input element, changes the float sum from run to run): np.add.at on the
    host adds in index order. Chosen under pyengine.use_deterministic_algorithms(True)."""
    import numpy as np
    n, c, h, w = shape
    g = _ext.cupy().asnumpy(grad_output).reshape(n * c, -1)
    idx = _ext.cupy().asnumpy(indices).reshape(n * c, -1)
    out = np.zeros((n * c, h * w), dtype=g.dtype)
    rows = np.repeat(np.arange(n * c), idx.shape[1])
    np.add.at(out, (rows, idx.reshape(-1)), g.reshape(-1))
    return _ext.cupy().asarray(out.reshape(shape))


def avg_pool2d_forward(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Mean over each window: x (N, C, H, W) → (N, C, OH, OW), OH = floor((H + 2·ph − kh) / sh) + 1."""
    fn = "avg_pool2d_forward"
    x = _ext.to_device(fn, "x", x)
    g = check_avg_pool2d_forward(x, kernel_size, stride, padding, ceil_mode, count_include_pad)
    with _ext.on_device(_ext.device_of(fn, x=x)):
        y = _ext.empty((g.N, g.C, g.OH, g.OW), x.dtype)
        _ext.lib().avg_pool2d_forward(_ext.contiguous(x), y, (g.kh, g.kw), (g.sh, g.sw), (g.ph, g.pw),
                                      bool(count_include_pad), _ext.stream())
    return y


def avg_pool2d_backward_input(grad_output, input_shape, kernel_size, stride=None, padding=0, ceil_mode=False,
                              count_include_pad=True):
    """Gradient of avg_pool2d_forward: grad_output (N, C, OH, OW) → grad_input of input_shape (N, C, H, W)."""
    fn = "avg_pool2d_backward_input"
    grad_output = _ext.to_device(fn, "grad_output", grad_output)
    g = check_avg_pool2d_backward(grad_output, input_shape, kernel_size, stride, padding, ceil_mode,
                                  count_include_pad)
    with _ext.on_device(_ext.device_of(fn, grad_output=grad_output)):
        gx = _ext.empty((g.N, g.C, g.H, g.W), grad_output.dtype)
        _ext.lib().avg_pool2d_backward_input(_ext.contiguous(grad_output), gx, (g.kh, g.kw), (g.sh, g.sw),
                                             (g.ph, g.pw), bool(count_include_pad), _ext.stream())
    return gx


def global_avg_pool2d_forward(x):
    """Mean over each plane: x (N, C, H, W) → (N, C, 1, 1)."""
    fn = "global_avg_pool2d_forward"
    x = _ext.to_device(fn, "x", x)
    n, c, _, _ = check_global_avg_pool2d_forward(x)
    with _ext.on_device(_ext.device_of(fn, x=x)):
        y = _ext.empty((n, c, 1, 1), x.dtype)
        _ext.lib().global_avg_pool2d_forward(_ext.contiguous(x), y, _ext.stream())
    return y


def global_avg_pool2d_backward_input(grad_output, input_shape):
    """grad_input (N, C, H, W) = grad_output (N, C, 1, 1) / (H·W)."""
    fn = "global_avg_pool2d_backward_input"
    grad_output = _ext.to_device(fn, "grad_output", grad_output)
    shape = check_global_avg_pool2d_backward(grad_output, input_shape)
    with _ext.on_device(_ext.device_of(fn, grad_output=grad_output)):
        gx = _ext.empty(shape, grad_output.dtype)
        _ext.lib().global_avg_pool2d_backward_input(_ext.contiguous(grad_output), gx, _ext.stream())
    return gx
