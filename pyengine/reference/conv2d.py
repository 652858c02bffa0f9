"""Reference convolution kernels: im2col/col2im and conv2d forward/backward, pure NumPy in float64.

The convolution is written as im2col followed by a (grouped) matrix product, the textbook form:

    cols[n, c·R·S + r·S + s, oh·OW + ow] = xpad[n, c, oh·sh + r·dh, ow·sw + s·dw]
    y[n, g·Kg + k, l] = Σ_j weight[g·Kg + k, j] · cols[n, g·Cg·R·S + j, l]  (+ bias)

with xpad the input zero-padded by (ph, pw), Cg = C/G, Kg = K/G, and
OH = floor((H + 2·ph − dh·(R − 1) − 1) / sh) + 1 (OW likewise). The backward passes are the
transposed products: grad_input = col2im(weightᵀ · grad_output), grad_weight = grad_output · colsᵀ
summed over the batch, grad_bias = grad_output summed over N, OH, OW. Readable over fast: the
oracle for the C++ and CUDA kernels.
"""
from __future__ import annotations

import numpy as np

from ..kernels._contract.conv2d import (ConvGeometry, check_col2im, check_conv2d_backward_bias,
                                      check_conv2d_backward_input, check_conv2d_backward_weight,
                                      check_conv2d_forward, check_im2col)

__all__ = ["im2col", "col2im", "conv2d_forward", "conv2d_relu_forward", "conv2d_backward_input",
           "conv2d_backward_weight", "conv2d_backward_bias"]


def _window(geo: ConvGeometry, r: int, s: int):
    """The (rows, cols) slices of the padded input that kernel tap (r, s) reads for every output."""
    (sh, sw), (dh, dw) = geo.stride, geo.dilation
    rows = slice(r * dh, r * dh + sh * (geo.OH - 1) + 1, sh)
    cols = slice(s * dw, s * dw + sw * (geo.OW - 1) + 1, sw)
    return rows, cols


def _im2col(x: np.ndarray, geo: ConvGeometry) -> np.ndarray:
    """x (N, C, H, W) float64 → (N, C·R·S, OH·OW)."""
    ph, pw = geo.padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    cols = np.empty((geo.N, geo.C, geo.R, geo.S, geo.OH, geo.OW), dtype=np.float64)
    for r in range(geo.R):
        for s in range(geo.S):
            rows, cs = _window(geo, r, s)
            cols[:, :, r, s] = xp[:, :, rows, cs]
    return cols.reshape(geo.cols_shape)


def _col2im(cols: np.ndarray, geo: ConvGeometry) -> np.ndarray:
    """cols (N, C·R·S, OH·OW) float64 → (N, C, H, W), overlapping windows summed."""
    ph, pw = geo.padding
    xp = np.zeros((geo.N, geo.C, geo.H + 2 * ph, geo.W + 2 * pw), dtype=np.float64)
    c6 = cols.reshape(geo.N, geo.C, geo.R, geo.S, geo.OH, geo.OW)
    for r in range(geo.R):
        for s in range(geo.S):
            rows, cs = _window(geo, r, s)
            xp[:, :, rows, cs] += c6[:, :, r, s]
    return xp[:, :, ph:ph + geo.H, pw:pw + geo.W]


def _grouped_weight(weight: np.ndarray, geo: ConvGeometry) -> np.ndarray:
    """weight (K, Cg, R, S) → (G, Kg, Cg·R·S)."""
    return weight.astype(np.float64).reshape(geo.G, geo.K // geo.G, geo.C // geo.G * geo.R * geo.S)


def _grouped_cols(cols: np.ndarray, geo: ConvGeometry) -> np.ndarray:
    """(N, C·R·S, L) → (N, G, Cg·R·S, L)."""
    return cols.reshape(geo.N, geo.G, geo.C // geo.G * geo.R * geo.S, geo.OH * geo.OW)


def im2col(x, kernel_size, stride=1, padding=0, dilation=1):
    """Unfolds every kernel window of x into a column.

    x: (N, C, H, W). Returns (N, C·kh·kw, OH·OW) with row c·kh·kw + r·kw + s and column oh·OW + ow,
    OH = floor((H + 2·ph − dh·(kh − 1) − 1) / sh) + 1 (OW likewise); padded positions are 0.
    """
    geo = check_im2col(x, kernel_size, stride, padding, dilation)
    return _im2col(x.astype(np.float64), geo).astype(x.dtype)


def col2im(cols, input_shape, kernel_size, stride=1, padding=0, dilation=1):
    """The adjoint of im2col: scatters each column back to its window, summing overlaps.

    cols: (N, C·kh·kw, OH·OW); input_shape: (N, C, H, W). Returns (N, C, H, W); values that fall
    on padding are dropped.
    """
    geo = check_col2im(cols, input_shape, kernel_size, stride, padding, dilation)
    return _col2im(cols.astype(np.float64), geo).astype(cols.dtype)


def conv2d_forward(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation (PyTorch's conv2d).

    x: (N, C, H, W); weight: (K, C/groups, R, S); bias: (K,) or None. Returns (N, K, OH, OW),
    OH = floor((H + 2·ph − dh·(R − 1) − 1) / sh) + 1 (OW likewise).
    """
    geo = check_conv2d_forward(x, weight, bias, stride, padding, dilation, groups)
    cols = _grouped_cols(_im2col(x.astype(np.float64), geo), geo)
    y = np.einsum("gkj,ngjl->ngkl", _grouped_weight(weight, geo), cols)
    y = y.reshape(geo.output_shape)
    if bias is not None:
        y = y + bias.astype(np.float64)[None, :, None, None]
    return y.astype(x.dtype)


def conv2d_relu_forward(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """max(conv2d_forward(x, weight, bias, ...), 0), NaN kept: the fused conv + bias + ReLU of inference.

    Shapes as conv2d_forward.
    """
    check_conv2d_forward(x, weight, bias, stride, padding, dilation, groups, fn="conv2d_relu_forward")
    y = conv2d_forward(x, weight, bias, stride, padding, dilation, groups)
    return np.where(y < 0, np.zeros((), y.dtype), y)


def conv2d_backward_input(grad_output, weight, input_shape, stride=1, padding=0, dilation=1, groups=1):
    """Gradient of conv2d_forward w.r.t. x.

    grad_output: (N, K, OH, OW); weight: (K, C/groups, R, S); input_shape: (N, C, H, W).
    Returns (N, C, H, W) = col2im(weightᵀ · grad_output) per group.
    """
    geo = check_conv2d_backward_input(grad_output, weight, input_shape, stride, padding, dilation, groups)
    go = grad_output.astype(np.float64).reshape(geo.N, geo.G, geo.K // geo.G, geo.OH * geo.OW)
    gcols = np.einsum("gkj,ngkl->ngjl", _grouped_weight(weight, geo), go)
    return _col2im(gcols.reshape(geo.cols_shape), geo).astype(grad_output.dtype)


def conv2d_backward_weight(grad_output, x, weight_shape, stride=1, padding=0, dilation=1, groups=1):
    """Gradient of conv2d_forward w.r.t. weight.

    grad_output: (N, K, OH, OW); x: (N, C, H, W); weight_shape: (K, C/groups, R, S).
    Returns weight_shape = Σ_n grad_output[n] · im2col(x)[n]ᵀ per group.
    """
    geo = check_conv2d_backward_weight(grad_output, x, weight_shape, stride, padding, dilation, groups)
    cols = _grouped_cols(_im2col(x.astype(np.float64), geo), geo)
    go = grad_output.astype(np.float64).reshape(geo.N, geo.G, geo.K // geo.G, geo.OH * geo.OW)
    gw = np.einsum("ngkl,ngjl->gkj", go, cols)
    return gw.reshape(geo.weight_shape).astype(x.dtype)


def conv2d_backward_bias(grad_output):
    """Gradient of conv2d_forward w.r.t. bias: grad_output (N, K, OH, OW) summed to (K,)."""
    check_conv2d_backward_bias(grad_output)
    return grad_output.astype(np.float64).sum(axis=(0, 2, 3)).astype(grad_output.dtype)
