"""CUDA convolution kernels (csrc/cuda/conv2d.cu): a direct kernel for forward convolutions with few
taps per output (C/groups·R·S ≤ 32), else im2col over a chunk of images + one batched GEMM
(images × groups); col2im gathers the input gradient; the weight gradient is one GEMM per chunk
that reduces over (image, pixel). The column workspace comes from CuPy's memory pool and is capped
at WORKSPACE_ELEMENTS (at least one image's columns).
"""
from __future__ import annotations

from .._contract.conv2d import (check_col2im, check_conv2d_backward_bias, check_conv2d_backward_input,
                              check_conv2d_backward_weight, check_conv2d_forward, check_im2col)
from . import _ext

__all__ = ["im2col", "col2im", "conv2d_forward", "conv2d_relu_forward", "conv2d_backward_input",
           "conv2d_backward_weight", "conv2d_backward_bias"]

WORKSPACE_ELEMENTS = 1 << 26


def _p(geo):
    return tuple(geo.stride), tuple(geo.padding), tuple(geo.dilation)


def _plan(geo, forward):
    """(chunk, workspace array or None) for one convolution."""
    chunk, elems, _, _ = _ext.lib().conv2d_plan(list(geo.input_shape), list(geo.weight_shape), *_p(geo), geo.G,
                                                WORKSPACE_ELEMENTS, forward)
    return chunk, elems


def im2col(x, kernel_size, stride=1, padding=0, dilation=1):
    """Unfolds every kernel window of x into a column.

    x: (N, C, H, W). Returns (N, C·kh·kw, OH·OW) with row c·kh·kw + r·kw + s and column oh·OW + ow,
    OH = floor((H + 2·ph − dh·(kh − 1) − 1) / sh) + 1 (OW likewise); padded positions are 0.
    """
    fn = "im2col"
    x = _ext.to_device(fn, "x", x)
    geo = check_im2col(x, kernel_size, stride, padding, dilation)
    with _ext.on_device(_ext.device_of(fn, x=x)):
        cols = _ext.empty(geo.cols_shape, x.dtype)
        _ext.lib().im2col(_ext.contiguous(x), cols, (geo.R, geo.S), *_p(geo), _ext.stream())
    return cols


def col2im(cols, input_shape, kernel_size, stride=1, padding=0, dilation=1):
    """The adjoint of im2col: sums every column entry back onto the input position it came from.

    cols: (N, C·kh·kw, OH·OW); input_shape: (N, C, H, W). Returns (N, C, H, W).
    """
    fn = "col2im"
    cols = _ext.to_device(fn, "cols", cols)
    geo = check_col2im(cols, input_shape, kernel_size, stride, padding, dilation)
    with _ext.on_device(_ext.device_of(fn, cols=cols)):
        x = _ext.empty(geo.input_shape, cols.dtype)
        _ext.lib().col2im(_ext.contiguous(cols), x, (geo.R, geo.S), *_p(geo), _ext.stream())
    return x


def conv2d_forward(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation (PyTorch's conv2d).

    x: (N, C, H, W); weight: (K, C/groups, R, S); bias: (K,) or None. Returns (N, K, OH, OW),
    OH = floor((H + 2·ph − dh·(R − 1) − 1) / sh) + 1 (OW likewise).
    """
    fn = "conv2d_forward"
    x = _ext.to_device(fn, "x", x)
    weight = _ext.to_device(fn, "weight", weight)
    bias = _ext.to_device(fn, "bias", bias, optional=True)
    geo = check_conv2d_forward(x, weight, bias, stride, padding, dilation, groups)
    with _ext.on_device(_ext.device_of(fn, x=x, weight=weight, bias=bias)):
        y = _ext.empty(geo.output_shape, x.dtype)
        chunk, elems = _plan(geo, True)
        ws = _ext.empty((elems,), x.dtype) if elems else None
        _ext.lib().conv2d_forward(_ext.contiguous(x), _ext.contiguous(weight), _ext.contiguous(bias), y, ws, chunk,
                                  *_p(geo), geo.G, _ext.tf32() and x.dtype.itemsize == 4, _ext.stream())
    return y


def conv2d_relu_forward(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """max(conv2d_forward(x, weight, bias, ...), 0), NaN kept. Shapes as conv2d_forward. On the GPU
    the ReLU is a second elementwise kernel (relu_forward), not fused into the convolution."""
    from .activation import relu_forward
    fn = "conv2d_relu_forward"
    check_conv2d_forward(_ext.to_device(fn, "x", x), _ext.to_device(fn, "weight", weight),
                         _ext.to_device(fn, "bias", bias, optional=True), stride, padding, dilation, groups, fn=fn)
    return relu_forward(conv2d_forward(x, weight, bias, stride, padding, dilation, groups))


def conv2d_backward_input(grad_output, weight, input_shape, stride=1, padding=0, dilation=1, groups=1):
    """Gradient of conv2d_forward w.r.t. x.

    grad_output: (N, K, OH, OW); weight: (K, C/groups, R, S); input_shape: (N, C, H, W).
    Returns (N, C, H, W).
    """
    fn = "conv2d_backward_input"
    grad_output = _ext.to_device(fn, "grad_output", grad_output)
    weight = _ext.to_device(fn, "weight", weight)
    geo = check_conv2d_backward_input(grad_output, weight, input_shape, stride, padding, dilation, groups)
    with _ext.on_device(_ext.device_of(fn, grad_output=grad_output, weight=weight)):
        gx = _ext.empty(geo.input_shape, weight.dtype)
        chunk, elems = _plan(geo, False)
        ws = _ext.empty((elems,), weight.dtype) if elems else None
        _ext.lib().conv2d_backward_input(_ext.contiguous(grad_output), _ext.contiguous(weight), gx, ws, chunk,
                                         *_p(geo), geo.G, _ext.tf32() and weight.dtype.itemsize == 4, _ext.stream())
    return gx


def conv2d_backward_weight(grad_output, x, weight_shape, stride=1, padding=0, dilation=1, groups=1):
    """Gradient of conv2d_forward w.r.t. weight.

    grad_output: (N, K, OH, OW); x: (N, C, H, W); weight_shape: (K, C/groups, R, S).
    Returns an array of weight_shape, summed over the batch.
    """
    fn = "conv2d_backward_weight"
    grad_output = _ext.to_device(fn, "grad_output", grad_output)
    x = _ext.to_device(fn, "x", x)
    geo = check_conv2d_backward_weight(grad_output, x, weight_shape, stride, padding, dilation, groups)
    with _ext.on_device(_ext.device_of(fn, grad_output=grad_output, x=x)):
        gw = _ext.empty(geo.weight_shape, x.dtype)
        chunk, elems = _plan(geo, False)
        ws = _ext.empty((elems,), x.dtype) if elems else None
        _ext.lib().conv2d_backward_weight(_ext.contiguous(grad_output), _ext.contiguous(x), gw, ws, chunk,
                                          *_p(geo), geo.G, _ext.tf32() and x.dtype.itemsize == 4, _ext.stream())
    return gw


def conv2d_backward_bias(grad_output):
    """Gradient of conv2d_forward w.r.t. bias: grad_output (N, K, OH, OW) summed to (K,)."""
    fn = "conv2d_backward_bias"
    grad_output = _ext.to_device(fn, "grad_output", grad_output)
    check_conv2d_backward_bias(grad_output)
    n, k, oh, ow = (int(s) for s in grad_output.shape)
    with _ext.on_device(_ext.device_of(fn, grad_output=grad_output)):
        gb = _ext.empty((k,), grad_output.dtype)
        _ext.lib().channel_sum(_ext.contiguous(grad_output), gb, n, k, oh * ow, 1.0, _ext.stream())
    return gb
