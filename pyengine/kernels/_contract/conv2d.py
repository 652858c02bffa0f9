"""Contract of the convolution family: im2col/col2im and conv2d forward and its three backwards.

One geometry check, ``conv_geometry``, is shared by every op of the family (forward and each
backward) in every implementation, so all of them accept the same inputs, reject the same ones with
the same messages, and agree on the output size:

    OH = floor((H + 2·ph − dh·(R − 1) − 1) / sh) + 1,   OW likewise with (W, pw, dw, S, sw).

Shapes: x (N, C, H, W); weight (K, C/G, R, S); bias (K,); output (N, K, OH, OW);
columns (N, C·R·S, OH·OW) with row index c·R·S + r·S + s.
"""
from __future__ import annotations

from typing import NamedTuple

from .common import (as_int, check_float_array, check_input_shape, check_same_dtype, check_shape,
                     checked_numel, conv_output_size, pair)


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
