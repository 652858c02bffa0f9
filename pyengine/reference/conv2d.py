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

from typing import NamedTuple

import numpy as np

from ._checks import (as_int, check_float_array, check_input_shape, check_same_dtype, check_shape,
                      checked_numel, conv_output_size, pair)

__all__ = ["im2col", "col2im", "conv2d_forward", "conv2d_relu_forward", "conv2d_backward_input",
           "conv2d_backward_weight", "conv2d_backward_bias"]


# ---- the contract, as the oracle checks it (the same messages as the C++ bindings) ----

class ConvGeometry(NamedTuple):
    """Every size of one convolution; groups G divides C and K."""
    N: int
    C: int
    H: int
    W: int
    K: int
    R: int
    S: int
    OH: int
    OW: int
    G: int
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]

    @property
    def output_shape(self) -> tuple[int, int, int, int]:
        return (self.N, self.K, self.OH, self.OW)

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        return (self.N, self.C, self.H, self.W)

    @property
    def weight_shape(self) -> tuple[int, int, int, int]:
        return (self.K, self.C // self.G, self.R, self.S)

    @property
    def cols_shape(self) -> tuple[int, int, int]:
        return (self.N, self.C * self.R * self.S, self.OH * self.OW)


def conv_geometry(fn: str, input_shape, weight_shape, stride, padding, dilation, groups) -> ConvGeometry:
    """Checks the parameters and the agreement of input and weight; returns the geometry.

    input_shape (N, C, H, W), weight_shape (K, C/groups, R, S). Raises ValueError/TypeError naming
    fn and the argument for: stride < 1, padding < 0, dilation < 1, groups < 1, groups not dividing
    C or K, weight channels not matching x, an empty kernel, a kernel span larger than the padded
    input, and sizes whose products overflow 64-bit integers.
    """
    sh, sw = pair(fn, "stride", stride, 1)
    ph, pw = pair(fn, "padding", padding, 0)
    dh, dw = pair(fn, "dilation", dilation, 1)
    g = as_int(fn, "groups", groups, 1)
    n, c, h, w = (int(v) for v in input_shape)
    k, cg, r, s = (int(v) for v in weight_shape)
    if k < 1:
        raise ValueError(f"{fn}: weight must have at least one output channel, got shape {tuple(weight_shape)}")
    if r < 1 or s < 1:
        raise ValueError(f"{fn}: weight kernel size must be >= 1, got {r}x{s} (weight shape {tuple(weight_shape)})")
    if c % g != 0:
        raise ValueError(f"{fn}: groups {g} does not divide the {c} input channels of x")
    if k % g != 0:
        raise ValueError(f"{fn}: groups {g} does not divide the {k} output channels of weight")
    if cg * g != c or cg < 1:
        per = f" ({cg} per group x {g} groups)" if g != 1 else ""
        raise ValueError(f"{fn}: weight expects {cg * g} input channels{per}, x has {c}")
    oh = conv_output_size(fn, "height", h, r, sh, ph, dh)
    ow = conv_output_size(fn, "width", w, s, sw, pw, dw)
    geo = ConvGeometry(n, c, h, w, k, r, s, oh, ow, g, (sh, sw), (ph, pw), (dh, dw))
    checked_numel(fn, "input shape", geo.input_shape)
    checked_numel(fn, "output shape", geo.output_shape)
    checked_numel(fn, "column shape", geo.cols_shape)
    checked_numel(fn, "padded input shape", (n, c, h + 2 * ph, w + 2 * pw))
    return geo


def check_conv2d_forward(x, weight, bias, stride, padding, dilation, groups,
                         fn: str = "conv2d_forward") -> ConvGeometry:
    check_float_array(fn, "x", x, 4)
    check_float_array(fn, "weight", weight, 4)
    check_same_dtype(fn, "x", x, weight=weight)
    geo = conv_geometry(fn, x.shape, weight.shape, stride, padding, dilation, groups)
    if bias is not None:
        check_float_array(fn, "bias", bias, 1)
        check_same_dtype(fn, "x", x, bias=bias)
        check_shape(fn, "bias", bias, (geo.K,))
    return geo


def check_conv2d_backward_input(grad_output, weight, input_shape, stride, padding, dilation, groups,
                                fn: str = "conv2d_backward_input") -> ConvGeometry:
    check_float_array(fn, "grad_output", grad_output, 4)
    check_float_array(fn, "weight", weight, 4)
    check_same_dtype(fn, "grad_output", grad_output, weight=weight)
    shape = check_input_shape(fn, "input_shape", input_shape, 4)
    geo = conv_geometry(fn, shape, weight.shape, stride, padding, dilation, groups)
    check_shape(fn, "grad_output", grad_output, geo.output_shape)
    return geo


def check_conv2d_backward_weight(grad_output, x, weight_shape, stride, padding, dilation, groups,
                                 fn: str = "conv2d_backward_weight") -> ConvGeometry:
    check_float_array(fn, "grad_output", grad_output, 4)
    check_float_array(fn, "x", x, 4)
    check_same_dtype(fn, "grad_output", grad_output, x=x)
    shape = check_input_shape(fn, "weight_shape", weight_shape, 4)
    geo = conv_geometry(fn, x.shape, shape, stride, padding, dilation, groups)
    check_shape(fn, "grad_output", grad_output, geo.output_shape)
    return geo


def check_conv2d_backward_bias(grad_output, fn: str = "conv2d_backward_bias") -> None:
    check_float_array(fn, "grad_output", grad_output, 4)


def _kernel_shape(fn: str, kernel_size, channels: int) -> tuple[int, int, int, int]:
    """The (K=1, C, R, S) weight shape that makes im2col's geometry the convolution's."""
    r, s = pair(fn, "kernel_size", kernel_size, 1)
    return (1, channels, r, s)


def check_im2col(x, kernel_size, stride, padding, dilation, fn: str = "im2col") -> ConvGeometry:
    check_float_array(fn, "x", x, 4)
    return conv_geometry(fn, x.shape, _kernel_shape(fn, kernel_size, x.shape[1]), stride, padding, dilation, 1)


def check_col2im(cols, input_shape, kernel_size, stride, padding, dilation, fn: str = "col2im") -> ConvGeometry:
    check_float_array(fn, "cols", cols, 3)
    shape = check_input_shape(fn, "input_shape", input_shape, 4)
    geo = conv_geometry(fn, shape, _kernel_shape(fn, kernel_size, shape[1]), stride, padding, dilation, 1)
    check_shape(fn, "cols", cols, geo.cols_shape)
    return geo


# ---- the kernels ----


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
