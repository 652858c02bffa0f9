"""CPU convolution kernels: the C++ im2col/col2im and conv2d of csrc/cpu (see
csrc/include/pyengine/conv2d.h): direct vectorised kernels for few input channels per group,
im2col + the packed GEMM otherwise. Same names and signatures as ``pyengine.reference.conv``.
"""
from __future__ import annotations

import numpy as np

from .._contract.conv2d import (check_col2im, check_conv2d_backward_bias, check_conv2d_backward_input,
                              check_conv2d_backward_weight, check_conv2d_forward, check_im2col)
from ._ext import _C

__all__ = ["im2col", "col2im", "conv2d_forward", "conv2d_relu_forward", "conv2d_backward_input",
           "conv2d_backward_weight", "conv2d_backward_bias"]


def _params(geo):
    (sh, sw), (ph, pw), (dh, dw) = geo.stride, geo.padding, geo.dilation
    return sh, sw, ph, pw, dh, dw


def im2col(x, kernel_size, stride=1, padding=0, dilation=1):
    """Unfolds every kernel window of x into a column.

    x: (N, C, H, W). Returns (N, C·kh·kw, OH·OW) with row c·kh·kw + r·kw + s and column oh·OW + ow,
    OH = floor((H + 2·ph − dh·(kh − 1) − 1) / sh) + 1 (OW likewise); padded positions are 0.
    """
    geo = check_im2col(x, kernel_size, stride, padding, dilation)
    return _C.im2col(np.ascontiguousarray(x), geo.R, geo.S, *_params(geo))


def col2im(cols, input_shape, kernel_size, stride=1, padding=0, dilation=1):
    """The adjoint of im2col: scatters each column back to its window, summing overlaps.

    cols: (N, C·kh·kw, OH·OW); input_shape: (N, C, H, W). Returns (N, C, H, W); values that fall
    on padding are dropped.
    """
    geo = check_col2im(cols, input_shape, kernel_size, stride, padding, dilation)
    return _C.col2im(np.ascontiguousarray(cols), list(geo.input_shape), geo.R, geo.S, *_params(geo))


def conv2d_forward(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation (PyTorch's conv2d).

    x: (N, C, H, W); weight: (K, C/groups, R, S); bias: (K,) or None. Returns (N, K, OH, OW),
    OH = floor((H + 2·ph − dh·(R − 1) − 1) / sh) + 1 (OW likewise).
    """
    geo = check_conv2d_forward(x, weight, bias, stride, padding, dilation, groups)
    b = None if bias is None else np.ascontiguousarray(bias)
    return _C.conv2d_forward(np.ascontiguousarray(x), np.ascontiguousarray(weight), b, *_params(geo), geo.G)


def conv2d_relu_forward(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """max(conv2d_forward(x, weight, bias, ...), 0), NaN kept, with the ReLU applied as the kernel
    stores each output tile (the GEMM epilogue; no second pass). Shapes as conv2d_forward."""
    geo = check_conv2d_forward(x, weight, bias, stride, padding, dilation, groups, fn="conv2d_relu_forward")
    b = None if bias is None else np.ascontiguousarray(bias)
    return _C.conv2d_forward(np.ascontiguousarray(x), np.ascontiguousarray(weight), b, *_params(geo), geo.G, True)


def conv2d_backward_input(grad_output, weight, input_shape, stride=1, padding=0, dilation=1, groups=1):
    """Gradient of conv2d_forward w.r.t. x.

    grad_output: (N, K, OH, OW); weight: (K, C/groups, R, S); input_shape: (N, C, H, W).
    Returns (N, C, H, W).
    """
    geo = check_conv2d_backward_input(grad_output, weight, input_shape, stride, padding, dilation, groups)
    return _C.conv2d_backward_input(np.ascontiguousarray(grad_output), np.ascontiguousarray(weight),
                                    list(geo.input_shape), *_params(geo), geo.G)


def conv2d_backward_weight(grad_output, x, weight_shape, stride=1, padding=0, dilation=1, groups=1):
    """Gradient of conv2d_forward w.r.t. weight.

    grad_output: (N, K, OH, OW); x: (N, C, H, W); weight_shape: (K, C/groups, R, S).
    Returns an array of weight_shape, summed over the batch.
    """
    geo = check_conv2d_backward_weight(grad_output, x, weight_shape, stride, padding, dilation, groups)
    return _C.conv2d_backward_weight(np.ascontiguousarray(grad_output), np.ascontiguousarray(x),
                                     list(geo.weight_shape), *_params(geo), geo.G)


def conv2d_backward_bias(grad_output):
    """Gradient of conv2d_forward w.r.t. bias: grad_output (N, K, OH, OW) summed to (K,)."""
    check_conv2d_backward_bias(grad_output)
    return _C.conv2d_backward_bias(np.ascontiguousarray(grad_output))
