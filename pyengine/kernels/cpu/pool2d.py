"""CPU pooling: the kernels of csrc/cpu/isa/pool2d_isa.cpp (see csrc/include/pyengine/pool2d.h).

Same names, signatures and errors as ``pyengine.reference.pool``; the shared checks live in
``kernels/_contract/pool2d.py``. Views are copied to C order here before the binding sees them.
Max pooling keeps the first maximum of a window on ties and lets NaN win, as PyTorch does.
"""
from __future__ import annotations

import numpy as np

from .._contract.pool2d import (check_avg_pool2d_backward, check_avg_pool2d_forward,
                              check_global_avg_pool2d_backward, check_global_avg_pool2d_forward,
                              check_max_pool2d_backward, check_max_pool2d_forward)
from ._ext import _C

__all__ = ["max_pool2d_forward", "max_pool2d_backward_input", "avg_pool2d_forward", "avg_pool2d_backward_input",
           "global_avg_pool2d_forward", "global_avg_pool2d_backward_input"]


def max_pool2d_forward(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Max over each window: x (N, C, H, W) → (output (N, C, OH, OW), indices int64 h·W + w per plane).

    OH = floor((H + 2·ph − dh·(kh − 1) − 1) / sh) + 1 (ceil with ceil_mode); stride defaults to kernel_size.
    """
    g = check_max_pool2d_forward(x, kernel_size, stride, padding, dilation, ceil_mode)
    return _C.max_pool2d_forward(np.ascontiguousarray(x), (g.kh, g.kw), (g.sh, g.sw), (g.ph, g.pw),
                                 (g.dh, g.dw), bool(ceil_mode))


def max_pool2d_backward_input(grad_output, indices, input_shape):
    """grad_input (input_shape) with grad_output (N, C, OH, OW) added at indices (N, C, OH, OW) int64."""
    shape = check_max_pool2d_backward(grad_output, indices, input_shape)
    return _C.max_pool2d_backward_input(np.ascontiguousarray(grad_output), np.ascontiguousarray(indices), shape)


def avg_pool2d_forward(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Mean over each window: x (N, C, H, W) → (N, C, OH, OW), OH = floor((H + 2·ph − kh) / sh) + 1."""
    g = check_avg_pool2d_forward(x, kernel_size, stride, padding, ceil_mode, count_include_pad)
    return _C.avg_pool2d_forward(np.ascontiguousarray(x), (g.kh, g.kw), (g.sh, g.sw), (g.ph, g.pw),
                                 bool(ceil_mode), bool(count_include_pad))


def avg_pool2d_backward_input(grad_output, input_shape, kernel_size, stride=None, padding=0, ceil_mode=False,
                              count_include_pad=True):
    """Gradient of avg_pool2d_forward: grad_output (N, C, OH, OW) → grad_input of input_shape (N, C, H, W)."""
    g = check_avg_pool2d_backward(grad_output, input_shape, kernel_size, stride, padding, ceil_mode,
                                  count_include_pad)
    return _C.avg_pool2d_backward_input(np.ascontiguousarray(grad_output), (g.N, g.C, g.H, g.W), (g.kh, g.kw),
                                        (g.sh, g.sw), (g.ph, g.pw), bool(ceil_mode), bool(count_include_pad))


def global_avg_pool2d_forward(x):
    """Mean over each plane: x (N, C, H, W) → (N, C, 1, 1)."""
    check_global_avg_pool2d_forward(x)
    return _C.global_avg_pool2d_forward(np.ascontiguousarray(x))


def global_avg_pool2d_backward_input(grad_output, input_shape):
    """grad_input (N, C, H, W) = grad_output (N, C, 1, 1) / (H·W)."""
    shape = check_global_avg_pool2d_backward(grad_output, input_shape)
    return _C.global_avg_pool2d_backward_input(np.ascontiguousarray(grad_output), shape)
