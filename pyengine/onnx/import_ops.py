"""The ONNX op importers: each ONNX op written with pyengine's differentiable ops.

Every importer is ``fn(node, *inputs)`` over pyengine Tensors (None for an omitted optional input)
returning the output Tensor(s); ``check(node)`` runs at load time and rejects attributes that are
not handled, so an unsupported model fails when it is loaded, not when it first runs.

Semantics that differ from PyTorch's and how they are met:
* Conv/pool pads may differ at the two ends (and auto_pad SAME_UPPER/SAME_LOWER computes them from
  the input size): unequal pads become an explicit pad before a kernel with zero padding.
* Pools: output size floor((in + pads − d·(k−1) − 1)/s) + 1, or ceil, with the last window required
  to start inside the input or the leading padding (ONNX's reference and PyTorch agree). When the
  pads are symmetric and at most half the kernel the pooling kernels run directly; otherwise the
  input is padded explicitly (−inf for max) to exactly the windows' extent and an average is a
  window sum divided by the count of the cells that count (the padding with count_include_pad,
  the input alone without).
* LSTM/RNN/GRU gate orders are ONNX's (i, o, f, c; z, r, h); the default LSTM runs on the LSTM
  kernel with the weights reordered to PyTorch's (i, f, g, o) inside the graph, so their gradients
  reach the ONNX-layout Parameters; other activations, peepholes, clipping, RNN and GRU run as a
  loop of matrix products and activations.
* Softmax, LogSoftmax and Flatten before opset 13 coerce the input to 2-D at ``axis``.
* Reduce ops take their axes as an attribute before opset 13 (ReduceSum) / 18 (the others), and as
  an input after; Squeeze/Unsqueeze/Split likewise before/after 13; Clip's bounds before/after 11.
* Integer Div truncates toward zero (C semantics), as ONNX runtimes do.
* ConvTranspose: PyTorch's symmetric pads run conv_transpose2d directly; other pads (and output_shape,
  auto_pad) crop or zero-extend the full transposed convolution; 3-D runs as one 2-D transposed
  convolution per depth tap of the kernel, shifted into place along depth. Resize: per axis a gather
  of ONNX's taps and their weights (nearest, linear, cubic, antialias, every coordinate mode); Resize-10
  and Upsample-7/9 (scales only) are the asymmetric-coordinate case, nearest rounding down when
  enlarging and up when shrinking, as onnxruntime reads them. Pad reflect / edge / wrap are pyengine's
  padding modes.
"""
from __future__ import annotations

import math

import numpy as np

from ..nn import functional as F
from ..tensor import Tensor, _wrap, cat, stack, where
from ._onnx import NUMPY_OF_ONNX
from .importer import MAX_ELEMENTS, register_op_importer

op = register_op_importer


def _data(t):
    return t._data


def _bool(node, arr):
    t = _wrap(np.asarray(arr))
    return t


def _like(node, arr, t):
    """A constant array on t's device."""
    return node.const(arr, like=t)


def _ax(axis, ndim):
    a = int(axis)
    if not -max(ndim, 1) <= a < max(ndim, 1):
        raise ValueError(f"axis {axis} is out of range for a tensor of rank {ndim}")
    return a % max(ndim, 1)


# ------------------------------------------------------------------------------ elementwise
def _binary(fn):
    def run(node, a, b):
        return fn(a, b)
    return run


def _int_div(a, b):
    if a.dtype.kind in "iu" and b.dtype.kind in "iu":
        q = np.trunc(np.asarray(a._data, np.float64) / np.asarray(b._data, np.float64))
        return _wrap(q.astype(np.result_type(a.dtype, b.dtype)))
    return a / b


op("Add")(_binary(lambda a, b: a + b))
op("Sub")(_binary(lambda a, b: a - b))
op("Mul")(_binary(lambda a, b: a * b))
op("Div")(_binary(_int_div))


@op("Pow")
def _pow(node, a, b):
    if b.dtype != a.dtype:
        b = b.to(a.dtype) if a.dtype.kind == "f" else b
    if a.dtype.kind in "iu":
        return _wrap(np.power(a._data, b._data.astype(a.dtype)).astype(a.dtype))
    return a ** b


def _unary(fn):
    def run(node, x):
        return fn(x)
    return run


op("Neg")(_unary(lambda x: -x))
op("Abs")(_unary(lambda x: x.abs()))
op("Exp")(_unary(lambda x: x.exp()))
op("Log")(_unary(lambda x: x.log()))
op("Sqrt")(_unary(lambda x: x.sqrt()))
op("Reciprocal")(_unary(lambda x: 1.0 / x))
op("Identity")(_unary(lambda x: x))
op("Relu")(_unary(lambda x: F.relu(x) if x.dtype.kind == "f" else _wrap(np.maximum(x._data, 0))))
op("Sigmoid")(_unary(lambda x: F.sigmoid(x)))
op("Tanh")(_unary(lambda x: F.tanh(x)))
op("Softsign")(_unary(lambda x: x / (x.abs() + 1.0)))
op("Erf")(_unary(lambda x: x.erf()))
op("Mish")(_unary(lambda x: F.mish(x)))


@op("Gelu")
def _gelu(node, x):
    return F.gelu(x, approximate=node.attr("approximate", "none"))


@op("Softplus")
def _softplus(node, x):
    # log(1 + e^x) = max(x, 0) + log(1 + e^-|x|), stable for large |x|
    return F.relu(x) + ((-x.abs()).exp() + 1.0).log()


@op("LeakyRelu")
def _leaky(node, x):
    return F.leaky_relu(x, node.attr("alpha", 0.01))


@op("Elu")
def _elu(node, x):
    return F.elu(x, node.attr("alpha", 1.0))


@op("Selu")
def _selu(node, x):
    alpha, gamma = node.attr("alpha", 1.67326319217681884765625), node.attr("gamma", 1.05070102214813232421875)
    return F.elu(x, alpha) * gamma


@op("Celu")
def _celu(node, x):
    alpha = node.attr("alpha", 1.0)
    return F.relu(x) - F.relu(-(((x / alpha).clamp(max=0)).exp() - 1.0) * alpha)


@op("ThresholdedRelu")
def _thresholded(node, x):
    return where(x._data > node.attr("alpha", 1.0), x, 0.0)


@op("HardSigmoid")
def _hard_sigmoid(node, x):
    return (x * node.attr("alpha", 0.2) + node.attr("beta", 0.5)).clamp(0.0, 1.0)


@op("HardSwish")
def _hard_swish(node, x):
    return x * (x * (1.0 / 6) + 0.5).clamp(0.0, 1.0)


@op("PRelu")
def _prelu(node, x, slope):
    return where(x._data > 0, x, x * slope)


@op("Clip")
def _clip(node, x, lo=None, hi=None):
    if node.opset < 11:
        lo_v, hi_v = node.attr("min", -math.inf), node.attr("max", math.inf)
    else:
        lo_v = None if lo is None else node.host(lo).item()
        hi_v = None if hi is None else node.host(hi).item()
    if lo_v is None and hi_v is None:
        return x                                   # ONNX: neither bound given, nothing is clipped
    if x.dtype.kind in "iu":
        return _wrap(np.clip(x._data, lo_v, hi_v).astype(x.dtype))
    if lo_v is not None and hi_v is not None and lo_v > hi_v:
        return x * 0.0 + hi_v                      # ONNX: min > max gives max everywhere
    if lo_v is None and hi_v is None:               # no bounds: the identity (clamp() itself refuses, as torch's)
        return x * 1.0
    return x.clamp(lo_v, hi_v)


def _variadic(fn):
    def run(node, *xs):
        xs = [x for x in xs if x is not None]
        out = xs[0]
        for x in xs[1:]:
            out = fn(out, x)
        return out
    return run


op("Sum")(_variadic(lambda a, b: a + b))
op("Max")(_variadic(lambda a, b: where(np.asarray(a._data >= b._data), a, b)))
op("Min")(_variadic(lambda a, b: where(np.asarray(a._data <= b._data), a, b)))


@op("Mean")
def _mean(node, *xs):
    return _variadic(lambda a, b: a + b)(node, *xs) / float(len([x for x in xs if x is not None]))


def _compare(fn):
    def run(node, a, b):
        return _wrap(np.asarray(fn(a._data, b._data)))
    return run


op("Equal")(_compare(np.equal))
op("Less")(_compare(np.less))
op("Greater")(_compare(np.greater))
op("LessOrEqual")(_compare(np.less_equal))
op("GreaterOrEqual")(_compare(np.greater_equal))
op("And")(_compare(np.logical_and))
op("Or")(_compare(np.logical_or))
op("Xor")(_compare(np.logical_xor))
op("Not")(lambda node, x: _wrap(np.logical_not(x._data)))


@op("Where")
def _where(node, c, a, b):
    return where(np.asarray(c._data, bool), a, b)


def _check_cast(node):
    if int(node.attr("to", 1)) not in NUMPY_OF_ONNX:
        raise node.error(f"cast to element type {node.attr('to')} is not supported")


@op("Cast", check=_check_cast)
def _cast(node, x):
    to = NUMPY_OF_ONNX[int(node.attr("to"))]
    if x.dtype == to:
        return x
    if x.dtype.kind == "f" and to.kind in "iub" and to != np.bool_:
        with np.errstate(invalid="ignore"):
            return _wrap(np.trunc(x._data).astype(to))
    return x.to(to)


# ------------------------------------------------------------------------------ softmax
def _coerced(node, x, fn):
    axis = _ax(node.attr("axis", 1 if node.opset < 13 else -1), x.ndim)
    if node.opset >= 13:
        return fn(x, axis)
    shape = x.shape
    lead = int(np.prod(shape[:axis], dtype=np.int64))
    y = fn(x.reshape(lead, -1), 1)
    return y.reshape(shape)


op("Softmax")(lambda node, x: _coerced(node, x, F.softmax))
op("LogSoftmax")(lambda node, x: _coerced(node, x, F.log_softmax))


@op("Hardmax")
def _hardmax(node, x):
    def hm(t, axis):
        a = t._data
        idx = np.argmax(a, axis=axis)
        out = np.zeros_like(a)
        np.put_along_axis(out, np.expand_dims(idx, axis), 1, axis=axis)
        return _wrap(out)
    return _coerced(node, x, hm)


# ------------------------------------------------------------------------------ linear algebra
@op("MatMul")
def _matmul(node, a, b):
    if a.ndim >= 2 and b.ndim >= 3 or a.ndim >= 3 and b.ndim >= 3:
        return _batched_matmul(a, b)
    return a @ b


def _batched_matmul(a, b):
    # broadcast the batch dimensions explicitly, then one product per batch element
    ba, bb = a.shape[:-2], b.shape[:-2]
    batch = np.broadcast_shapes(ba, bb)
    a2 = a.expand(*batch, *a.shape[-2:]) if tuple(ba) != tuple(batch) else a
    b2 = b.expand(*batch, *b.shape[-2:]) if tuple(bb) != tuple(batch) else b
    return a2 @ b2


@op("Gemm")
def _gemm(node, a, b, c=None):
    alpha, beta = node.attr("alpha", 1.0), node.attr("beta", 1.0)
    ta, tb = node.attr("transA", 0), node.attr("transB", 0)
    if not ta and tb and alpha == 1.0 and (c is None or (beta == 1.0 and c.ndim == 1)) and a.dtype.kind == "f":
        return F.linear(a, b, c)             # the fused kernel: a·bᵀ + c
    A = a.T if ta else a
    B = b.T if tb else b
    y = A @ B
    if alpha != 1.0:
        y = y * alpha
    if c is not None:
        y = y + (c * beta if beta != 1.0 else c)
    return y


# ------------------------------------------------------------------------------ conv and pools
def _spatial(node, x):
    if x.ndim not in (3, 4):
        raise node.error(f"only 1-D and 2-D {node.op} is supported (input of rank {x.ndim})")
    return x.ndim - 2


def _pads(node, in_sizes, kernel, strides, dilations, auto_pad, pads):
    n = len(in_sizes)
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        out = [-(-in_sizes[i] // strides[i]) for i in range(n)]
        total = [max(0, (out[i] - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - in_sizes[i])
                 for i in range(n)]
        small = [t // 2 for t in total]
        big = [t - t // 2 for t in total]
        return (small, big) if auto_pad == "SAME_UPPER" else (big, small)
    if auto_pad == "VALID":
        return [0] * n, [0] * n
    pads = pads or [0] * (2 * n)
    return list(pads[:n]), list(pads[n:])


def _check_conv(node):
    ap = node.attr("auto_pad", "NOTSET")
    if ap not in ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"):
        raise node.error(f"auto_pad {ap!r} is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID")
    ks = node.attr("kernel_shape")
    if ks is not None and len(ks) not in (1, 2):
        raise node.error(f"only 1-D and 2-D convolutions are supported (kernel_shape {ks})")


def _to2d(x, w=None):
    """1-D (N, C, L) as 2-D (N, C, 1, L)."""
    return x.unsqueeze(2), (w.unsqueeze(2) if w is not None else None)


@op("Conv", check=_check_conv)
def _conv(node, x, w, b=None):
    sp = _spatial(node, x)
    one_d = sp == 1
    if one_d:
        x, w = _to2d(x, w)
    k = list(w.shape[2:])
    strides = node.attr("strides") or [1] * sp
    dil = node.attr("dilations") or [1] * sp
    pads = node.attr("pads")
    if one_d:
        strides, dil = [1] + list(strides), [1] + list(dil)
        pads = [0, pads[0], 0, pads[1]] if pads else None
    lo, hi = _pads(node, list(x.shape[2:]), k, strides, dil, node.attr("auto_pad", "NOTSET"), pads)
    group = node.attr("group", 1)
    if lo != hi:
        x = F.pad(x, (lo[1], hi[1], lo[0], hi[0]))
        padding = (0, 0)
    else:
        padding = tuple(lo)
    y = F.conv2d(x, w, b, tuple(strides), padding, tuple(dil), group)
    return y.squeeze(2) if one_d else y


def _check_conv_transpose(node):
    ap = node.attr("auto_pad", "NOTSET")
    if ap not in ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"):
        raise node.error(f"auto_pad {ap!r} is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID")
    ks = node.attr("kernel_shape")
    if ks is not None and len(ks) not in (1, 2, 3):
        raise node.error(f"only 1-D, 2-D and 3-D transposed convolutions are supported (kernel_shape {ks})")
    if ap == "VALID" and node.attr("pads"):
        raise node.error("auto_pad VALID with pads")


def _transpose_pads(node, ins, k, strides, dil, op_, pads, n):
    """(lo, hi) per spatial axis of ConvTranspose's size rule (see _conv_transpose)."""
    out_shape = node.attr("output_shape")
    auto = node.attr("auto_pad", "NOTSET")
    full = [strides[i] * (ins[i] - 1) + dil[i] * (k[i] - 1) + 1 for i in range(n)]
    if out_shape is not None or auto in ("SAME_UPPER", "SAME_LOWER"):
        target = list(out_shape[-n:]) if out_shape is not None else [ins[i] * strides[i] for i in range(n)]
        total = [full[i] + op_[i] - target[i] for i in range(n)]
        if auto == "SAME_UPPER":
            return [t // 2 for t in total], [t - t // 2 for t in total]
        return [t - t // 2 for t in total], [t // 2 for t in total]
    if auto == "VALID":
        return [0] * n, [0] * n
    return list(pads[:n]), list(pads[n:])


def _conv_transpose3d(node, x, w, b):
    """3-D as 2-D: the full transposed convolution (no padding) is, for each depth tap j of the kernel,
    the 2-D transposed convolution of every input depth slice with w[:, :, j], placed at output depth
    id·s_d + j·d_d (an interleave with zeros for the stride, then a shift); the sum over j, then ONNX's
    crop / zero-extend and the bias, as for 2-D."""
    k = list(w.shape[2:])
    strides = list(node.attr("strides") or [1] * 3)
    dil = list(node.attr("dilations") or [1] * 3)
    op_ = list(node.attr("output_padding") or [0] * 3)
    pads = list(node.attr("pads") or [0] * 6)
    group = node.attr("group", 1)
    N, C, D, H, W = x.shape
    lo, hi = _transpose_pads(node, [D, H, W], k, strides, dil, op_, pads, 3)
    full_d = strides[0] * (D - 1) + dil[0] * (k[0] - 1) + 1
    x2 = x.permute(0, 2, 1, 3, 4).reshape(N * D, C, H, W)
    acc = None
    for j in range(k[0]):
        z = F.conv_transpose2d(x2, w[:, :, j], None, tuple(strides[1:]), 0, 0, group, tuple(dil[1:]))
        M, OH, OW = z.shape[1:]
        z = z.reshape(N, D, M, OH, OW)
        if strides[0] > 1 and D > 1:
            gap = _like(node, np.zeros((N, D, strides[0] - 1, M, OH, OW), x.dtype), x)
            z = cat([z.unsqueeze(2), gap], 2).reshape(N, D * strides[0], M, OH, OW)[:, :strides[0] * (D - 1) + 1]
        before, after = j * dil[0], full_d - z.shape[1] - j * dil[0]
        parts = ([_like(node, np.zeros((N, before, M, OH, OW), x.dtype), x)] if before else []) + [z] + \
            ([_like(node, np.zeros((N, after, M, OH, OW), x.dtype), x)] if after else [])
        z = cat(parts, 1) if len(parts) > 1 else z
        acc = z if acc is None else acc + z
    y = acc.permute(0, 2, 1, 3, 4)
    ends = [op_[i] - hi[i] for i in range(3)]        # > 0: zeros past the full output; < 0: cropped
    y = y[:, :, max(0, lo[0]):y.shape[2] + min(0, ends[0]), max(0, lo[1]):y.shape[3] + min(0, ends[1]),
          max(0, lo[2]):y.shape[4] + min(0, ends[2])]
    if min(lo) < 0 or max(ends) > 0:
        y = F.pad(y, (max(0, -lo[2]), max(0, ends[2]), max(0, -lo[1]), max(0, ends[1]), max(0, -lo[0]),
                      max(0, ends[0])))
    if b is not None:
        y = y + b.reshape(1, -1, 1, 1, 1)
    return y


@op("ConvTranspose", check=_check_conv_transpose)
def _conv_transpose(node, x, w, b=None):
    """ONNX's size rule per spatial axis: out = s·(in − 1) + output_padding + d·(k − 1) + 1 − pad_begin −
    pad_end; output_shape (or auto_pad SAME_*, meaning in·s) fixes out and the pads follow from it, the
    odd one at the end for SAME_UPPER, at the start otherwise. PyTorch's symmetric case runs on
    conv_transpose2d directly; other pads (unequal, or an output_padding PyTorch refuses) run the full
    transposed convolution and crop or zero-extend it, with the bias added afterwards. 3-D runs on the 2-D
    kernels, one per depth tap (_conv_transpose3d)."""
    if x.ndim == 5:
        group = node.attr("group", 1)
        if w.ndim != 5 or w.shape[0] != x.shape[1] or x.shape[1] % group:
            raise node.error(f"weight {tuple(w.shape)} needs (C = {x.shape[1]}, M/group, k…) and C divisible by "
                             f"group {group}")
        y = _conv_transpose3d(node, x, w, b)
        if min(y.shape[2:]) < 1:
            raise node.error(f"the output {tuple(y.shape)} of input {tuple(x.shape)} is empty")
        return y
    sp = _spatial(node, x)
    one_d = sp == 1
    if one_d:
        x, w = _to2d(x, w)
    k = list(w.shape[2:])
    strides = list(node.attr("strides") or [1] * sp)
    dil = list(node.attr("dilations") or [1] * sp)
    op_ = list(node.attr("output_padding") or [0] * sp)
    pads = list(node.attr("pads") or [0] * (2 * sp))
    out_shape = node.attr("output_shape")
    auto = node.attr("auto_pad", "NOTSET")
    group = node.attr("group", 1)
    if w.shape[0] != x.shape[1] or x.shape[1] % group:
        raise node.error(f"weight {tuple(w.shape)} needs (C = {x.shape[1]}, M/group, k…) and C divisible by "
                         f"group {group}")
    if one_d:
        strides, dil, op_ = [1] + strides, [1] + dil, [0] + op_
        pads = [0, pads[0], 0, pads[1]]
        if out_shape is not None:
            out_shape = [1] + list(out_shape[-1:])
    ins = list(x.shape[2:])
    full = [strides[i] * (ins[i] - 1) + dil[i] * (k[i] - 1) + 1 for i in range(2)]
    if out_shape is not None or auto in ("SAME_UPPER", "SAME_LOWER"):
        target = list(out_shape[-2:]) if out_shape is not None else [ins[i] * strides[i] for i in range(2)]
        total = [full[i] + op_[i] - target[i] for i in range(2)]
        if auto == "SAME_UPPER":
            lo, hi = [t // 2 for t in total], [t - t // 2 for t in total]
        else:
            lo, hi = [t - t // 2 for t in total], [t // 2 for t in total]
    elif auto == "VALID":
        lo, hi = [0, 0], [0, 0]
    else:
        lo, hi = pads[:2], pads[2:]
    if lo == hi and min(lo) >= 0 and all(op_[i] < max(strides[i], dil[i]) for i in range(2)):
        y = F.conv_transpose2d(x, w, b, tuple(strides), tuple(lo), tuple(op_), group, tuple(dil))
    else:
        y = F.conv_transpose2d(x, w, None, tuple(strides), 0, 0, group, tuple(dil))
        ends = [op_[i] - hi[i] for i in range(2)]        # > 0: zeros past the full output; < 0: cropped
        y = y[:, :, max(0, lo[0]):y.shape[2] + min(0, ends[0]), max(0, lo[1]):y.shape[3] + min(0, ends[1])]
        if min(lo) < 0 or max(ends) > 0:
            y = F.pad(y, (max(0, -lo[1]), max(0, ends[1]), max(0, -lo[0]), max(0, ends[0])))
        if b is not None:
            y = y + b.reshape(1, -1, 1, 1)
    if min(y.shape[2:]) < 1:
        raise node.error(f"the output {tuple(y.shape)} of input {tuple(x.shape)} is empty")
    return y.squeeze(2) if one_d else y


def _pool_args(node, x):
    sp = _spatial(node, x)
    k = list(node.attr("kernel_shape"))
    strides = list(node.attr("strides") or [1] * sp)
    dil = list(node.attr("dilations") or [1] * sp)
    pads = node.attr("pads")
    if sp == 1:
        x = x.unsqueeze(2)
        k, strides, dil = [1] + k, [1] + strides, [1] + dil
        pads = [0, pads[0], 0, pads[1]] if pads else None
    lo, hi = _pads(node, list(x.shape[2:]), k, strides, dil, node.attr("auto_pad", "NOTSET"), pads)
    ceil = bool(node.attr("ceil_mode", 0))
    out = []
    for i in range(2):
        size = x.shape[2 + i] + lo[i] + hi[i] - dil[i] * (k[i] - 1) - 1
        o = (-(-size // strides[i]) if ceil else size // strides[i]) + 1
        if ceil and (o - 1) * strides[i] >= x.shape[2 + i] + lo[i]:
            o -= 1
        if o < 1:
            raise node.error(f"the pooling window (kernel {k}, pads {lo + hi}) is larger than the input "
                             f"{tuple(x.shape)}")
        out.append(o)
    return sp, x, k, strides, dil, lo, hi, ceil, out


def _check_pool(node):
    _check_conv(node)
    if node.attr("kernel_shape") is None:
        raise node.error("kernel_shape is required")
    if node.op == "MaxPool" and node.wants(1):
        raise node.error("the Indices output is not supported")
    if node.op == "MaxPool" and node.attr("storage_order", 0):
        raise node.error("storage_order=1 is not supported")
    if node.op == "AveragePool" and any(d != 1 for d in (node.attr("dilations") or [])):
        raise node.error("dilated average pooling is not supported")


def _explicit(x, lo, out, k, strides, dil, value):
    """x padded (value) so that floor-mode windows with zero padding give exactly `out` outputs."""
    need = [(out[i] - 1) * strides[i] + dil[i] * (k[i] - 1) + 1 for i in range(2)]
    hi = [need[i] - x.shape[2 + i] - lo[i] for i in range(2)]
    crop = [max(0, -h) for h in hi]
    hi = [max(0, h) for h in hi]
    y = F.pad(x, (lo[1], hi[1], lo[0], hi[0]), value=value) if any(lo) or any(hi) else x
    if any(crop):
        y = y[:, :, :y.shape[2] - crop[0], :y.shape[3] - crop[1]]
    return y


def _direct(lo, hi, k):
    return lo == hi and all(lo[i] <= k[i] // 2 for i in range(2))


@op("MaxPool", check=_check_pool)
def _max_pool(node, x):
    sp, x, k, s, d, lo, hi, ceil, out = _pool_args(node, x)
    if x.dtype.kind != "f":
        raise node.error(f"max pooling of {x.dtype} is not supported")
    if _direct(lo, hi, k):
        y = F.max_pool2d(x, tuple(k), tuple(s), tuple(lo), tuple(d), ceil)
    else:
        y = F.max_pool2d(_explicit(x, lo, out, k, s, d, -np.inf), tuple(k), tuple(s), 0, tuple(d), False)
    return y.squeeze(2) if sp == 1 else y


@op("AveragePool", check=_check_pool)
def _avg_pool(node, x):
    sp, x, k, s, d, lo, hi, ceil, out = _pool_args(node, x)
    include = bool(node.attr("count_include_pad", 0))
    if _direct(lo, hi, k):
        y = F.avg_pool2d(x, tuple(k), tuple(s), tuple(lo), ceil, include)
    else:
        xe = _explicit(x, lo, out, k, s, d, 0.0)
        mask = np.zeros((1, 1) + tuple(xe.shape[2:]), x.dtype)
        H, W = x.shape[2:]
        if include:
            mask[:, :, :H + lo[0] + hi[0], :W + lo[1] + hi[1]] = 1
        else:
            mask[:, :, lo[0]:lo[0] + H, lo[1]:lo[1] + W] = 1
        m = _like(node, mask, x)
        area = float(k[0] * k[1])
        total = F.avg_pool2d(xe, tuple(k), tuple(s), 0, False, True) * area
        count = F.avg_pool2d(m, tuple(k), tuple(s), 0, False, True) * area
        y = total / count
    return y.squeeze(2) if sp == 1 else y


@op("GlobalAveragePool")
def _gap(node, x):
    if x.ndim == 4:
        return F.adaptive_avg_pool2d(x, 1)
    return x.mean(tuple(range(2, x.ndim)), keepdim=True)


@op("GlobalMaxPool")
def _gmp(node, x):
    return x.max(tuple(range(2, x.ndim)), keepdim=True)


def _check_bn(node):
    if node.opset < 7 and not node.attr("spatial", 1):
        raise node.error("spatial=0 is not supported")
    if node.n_outputs > 1 and not node.attr("training_mode", 0):
        raise node.error("running statistics as outputs need training_mode=1")


@op("BatchNormalization", check=_check_bn)
def _batch_norm(node, x, scale, bias, mean, var):
    eps = node.attr("epsilon", 1e-5)
    # in training mode an imported network's batch norm behaves as BatchNorm2d: batch statistics,
    # running statistics (buffers) updated in place
    training = node.module.training and _is_buffer(node, 3) and _is_buffer(node, 4)
    momentum = 1.0 - node.attr("momentum", 0.9)
    shape = x.shape
    if x.ndim > 4 or x.ndim < 2:
        raise ValueError(f"batch normalization of rank {x.ndim} is not supported")
    if node.attr("training_mode", 0):
        # ONNX's training form: outputs the updated statistics instead of changing the inputs
        axes = (0,) + tuple(range(2, x.ndim))
        bm = x.mean(axes)
        bv = x.var(axes, unbiased=False)
        br = [1, -1] + [1] * (x.ndim - 2)
        y = (x - bm.reshape(br)) / (bv.reshape(br) + eps).sqrt() * scale.reshape(br) + bias.reshape(br)
        outs = [y]
        if node.wants(1):
            outs.append(mean * (1 - momentum) + bm.detach() * momentum)
        if node.wants(2):
            outs.append(var * (1 - momentum) + bv.detach() * momentum)
        return tuple(outs) if len(outs) > 1 else y
    y = F.batch_norm(x, mean, var, scale, bias, training, momentum, eps)
    return y.reshape(shape)


def _is_buffer(node, i):
    name = node.inputs[i] if i < len(node.inputs) else ""
    vals = node.module._values
    return name in vals and not vals[name][2]


# ------------------------------------------------------------------------------ dropout
@op("Dropout")
def _dropout(node, x, ratio=None, training_mode=None):
    p = node.attr("ratio", 0.5) if node.opset < 12 else (0.5 if ratio is None else float(node.host(ratio).item()))
    train = bool(node.host(training_mode).item()) if training_mode is not None else node.module.training
    y = F.dropout(x, p, train) if train else x
    if node.wants(1):
        mask = (y._data != 0) if train else np.ones(x.shape, bool)
        return y, _wrap(np.asarray(mask))
    return y


# ------------------------------------------------------------------------------ shapes
@op("Shape")
def _shape(node, x):
    s = np.asarray(x.shape, np.int64)
    start, end = node.attr("start", 0), node.attr("end", None)
    n = len(s)
    start = max(0, min(n, start + n if start < 0 else start))
    end = n if end is None else max(0, min(n, end + n if end < 0 else end))
    return _wrap(s[start:end].copy())


@op("Size")
def _size(node, x):
    return _wrap(np.asarray(int(np.prod(x.shape, dtype=np.int64)), np.int64))


@op("Reshape")
def _reshape(node, x, shape):
    target = node.ints(shape)
    allow_zero = node.attr("allowzero", 0)
    out = []
    for i, v in enumerate(target):
        if v == 0 and not allow_zero:
            if i >= x.ndim:
                raise ValueError(f"shape {target}: 0 at position {i} copies a dimension the input "
                                 f"{tuple(x.shape)} does not have")
            out.append(int(x.shape[i]))
        else:
            out.append(v)
    if out.count(-1) > 1:
        raise ValueError(f"shape {target} has more than one -1")
    return x.reshape(tuple(out))


@op("Flatten")
def _flatten(node, x):
    axis = node.attr("axis", 1)
    axis = axis + x.ndim if axis < 0 else axis
    if not 0 <= axis <= x.ndim:
        raise ValueError(f"axis {node.attr('axis')} is out of range for rank {x.ndim}")
    lead = int(np.prod(x.shape[:axis], dtype=np.int64))
    return x.reshape(lead, int(np.prod(x.shape[axis:], dtype=np.int64)))


@op("Transpose")
def _transpose(node, x):
    perm = node.attr("perm") or list(reversed(range(x.ndim)))
    return x.permute(*perm)


def _axes_input(node, axes_t, attr="axes"):
    if axes_t is not None:
        return node.ints(axes_t)
    return node.attr(attr)


@op("Squeeze")
def _squeeze(node, x, axes=None):
    ax = _axes_input(node, axes) if node.opset >= 13 else node.attr("axes")
    if ax is None:
        return x.reshape(tuple(d for d in x.shape if d != 1))
    ax = sorted({_ax(a, x.ndim) for a in ax})
    for a in ax:
        if x.shape[a] != 1:
            raise ValueError(f"cannot squeeze axis {a} of size {x.shape[a]}")
    return x.reshape(tuple(d for i, d in enumerate(x.shape) if i not in ax))


@op("Unsqueeze")
def _unsqueeze(node, x, axes=None):
    ax = _axes_input(node, axes) if node.opset >= 13 else node.attr("axes")
    if ax is None:
        raise ValueError("Unsqueeze needs axes")
    n = x.ndim + len(ax)
    ax = sorted({_ax(a, n) for a in ax})
    if len(ax) != len(set(ax)):
        raise ValueError("repeated axes")
    shape = list(x.shape)
    for a in ax:
        shape.insert(a, 1)
    return x.reshape(tuple(shape))


@op("Concat")
def _concat(node, *xs):
    xs = [x for x in xs if x is not None]
    axis = _ax(node.attr("axis"), xs[0].ndim)
    if all(x.dtype.kind != "f" for x in xs):
        return _wrap(np.concatenate([x._data for x in xs], axis=axis))
    return cat(xs, axis)


@op("Split")
def _split(node, x, split=None):
    axis = _ax(node.attr("axis", 0), x.ndim)
    sizes = node.ints(split) if split is not None else node.attr("split")
    n = node.n_outputs
    if sizes is None:
        k = node.attr("num_outputs", n)
        dim = x.shape[axis]
        each = -(-dim // k)
        sizes = [each] * (k - 1) + [dim - each * (k - 1)]
    if sum(sizes) != x.shape[axis]:
        raise ValueError(f"split sizes {sizes} do not add up to {x.shape[axis]}")
    outs, start = [], 0
    for s in sizes:
        idx = [slice(None)] * x.ndim
        idx[axis] = slice(start, start + s)
        outs.append(x[tuple(idx)])
        start += s
    return tuple(outs)


@op("Slice")
def _slice(node, x, starts=None, ends=None, axes=None, steps=None):
    if node.opset < 10:
        st, en, ax, sp = node.attr("starts"), node.attr("ends"), node.attr("axes"), None
    else:
        st, en = node.ints(starts), node.ints(ends)
        ax = node.ints(axes) if axes is not None else None
        sp = node.ints(steps) if steps is not None else None
    ax = ax if ax is not None else list(range(len(st)))
    sp = sp if sp is not None else [1] * len(st)
    idx = [slice(None)] * x.ndim
    for s, e, a, p in zip(st, en, ax, sp):
        if p == 0:
            raise ValueError("slice step 0")
        a = _ax(a, x.ndim)
        dim = x.shape[a]
        if p < 0 and e < -dim:
            e = None
        idx[a] = slice(max(min(s, 2 * dim), -2 * dim - 1), e if e is None else max(min(e, 2 * dim), -2 * dim - 1),
                       p)
    y = x[tuple(idx)]
    return y


@op("Gather")
def _gather(node, x, indices):
    axis = _ax(node.attr("axis", 0), x.ndim)
    idx = np.asarray(node.host(indices)).astype(np.int64)
    dim = x.shape[axis]
    if idx.size and (idx.min() < -dim or idx.max() >= dim):
        raise ValueError(f"indices out of range for axis {axis} of size {dim}")
    sel = (slice(None),) * axis + (idx,)
    if x.dtype.kind != "f":
        return _wrap(x._data[sel])
    return x[sel]


@op("Expand")
def _expand(node, x, shape):
    target = node.ints(shape)
    out = np.broadcast_shapes(tuple(x.shape), tuple(target))
    node.check_size(out)
    if x.dtype.kind != "f":
        return _wrap(np.broadcast_to(x._data, out).copy())
    return x.expand(*out) if x.ndim == len(out) else x.reshape((1,) * (len(out) - x.ndim) + tuple(x.shape)).expand(*out)


@op("Tile")
def _tile(node, x, repeats):
    reps = node.ints(repeats)
    if len(reps) != x.ndim or any(r < 0 for r in reps):
        raise ValueError(f"repeats {reps} must give one non-negative count per axis of rank {x.ndim}")
    node.check_size([d * r for d, r in zip(x.shape, reps)])
    if x.dtype.kind != "f":
        return _wrap(np.tile(x._data, reps))
    y = x
    for a, r in enumerate(reps):
        if r != 1:
            y = cat([y] * r, a) if r > 0 else y[(slice(None),) * a + (slice(0, 0),)]
    return y


def _check_constant(node):
    keys = set(node.attrs) & {"value", "value_float", "value_floats", "value_int", "value_ints",
                              "sparse_value", "value_string", "value_strings"}
    if len(keys) != 1:
        raise node.error("a Constant needs exactly one value attribute")
    if keys & {"sparse_value", "value_string", "value_strings"}:
        raise node.error(f"{keys.pop()} constants are not supported")


@op("Constant", check=_check_constant)
def _constant(node):
    return node.module.value("constants." + node.outputs[0])


@op("ConstantOfShape")
def _constant_of_shape(node, shape):
    dims = node.ints(shape)
    node.check_size(dims)
    v = node.attr("value")
    fill = np.asarray(v).reshape(-1)[0] if v is not None else np.float32(0)
    return _wrap(np.full(dims, fill, dtype=np.asarray(fill).dtype))


@op("Range")
def _range(node, start, limit, delta):
    s, l, d = (node.host(t).item() for t in (start, limit, delta))
    if d == 0:
        raise ValueError("Range delta 0")
    n = max(int(math.ceil((l - s) / d)), 0)
    node.check_size([n])
    dt = node.host(start).dtype
    return _wrap((s + np.arange(n, dtype=np.float64 if dt.kind == "f" else np.int64) * d).astype(dt))


_PAD_MODES = {"constant": "constant", "reflect": "reflect", "edge": "replicate", "wrap": "circular"}


def _check_pad(node):
    mode = node.attr("mode", "constant")
    if mode not in _PAD_MODES:
        raise node.error(f"pad mode {mode!r} is not one of constant, reflect, edge, wrap")


@op("Pad", check=_check_pad)
def _pad(node, x, pads=None, value=None, axes=None):
    if node.opset < 11:
        p, v = node.attr("pads") or node.attr("paddings"), node.attr("value", 0.0)
        ax = None
    else:
        p = node.ints(pads)
        v = 0 if value is None or node.host(value).size == 0 else node.host(value).item()
        ax = node.ints(axes) if axes is not None else None
    ax = [_ax(a, x.ndim) for a in ax] if ax is not None else list(range(x.ndim))
    n = len(ax)
    if len(p) != 2 * n:
        raise ValueError(f"pads {p} need 2 values per padded axis ({n})")
    widths = [(0, 0)] * x.ndim
    for i, a in enumerate(ax):
        widths[a] = (p[i], p[i + n])
    crop = [slice(max(0, -b), x.shape[a] - max(0, -e) if e < 0 else None) for a, (b, e) in enumerate(widths)]
    if any(b < 0 or e < 0 for b, e in widths):
        x = x[tuple(crop)]
        widths = [(max(0, b), max(0, e)) for b, e in widths]
    flat = []
    for b, e in reversed(widths):
        flat += [b, e]
    mode = node.attr("mode", "constant")
    if mode != "constant":
        return _mode_pad(node, x, widths, flat, mode)
    if x.dtype.kind != "f":
        return _wrap(np.pad(x._data, widths, constant_values=v))
    return F.pad(x, tuple(flat), value=float(v))


def _mode_pad(node, x, widths, flat, mode):
    """reflect / edge / wrap of any axes, any widths: PadMode's source positions are the triangle wave,
    the clamp and the modulo, which is what np.pad (ONNX's reference) gives for widths beyond the size too."""
    from ..autograd.padding import PadMode
    for a, (b, e) in enumerate(widths):
        if (b or e) and x.shape[a] == 0:
            raise node.error(f"mode {mode!r} cannot pad the empty axis {a} of {tuple(x.shape)}")
    while flat and not flat[-1] and not flat[-2]:
        flat = flat[:-2]
    if not flat:
        return x
    if x.dtype.kind != "f":
        return _wrap(np.pad(x._data, widths, mode={"reflect": "reflect", "edge": "edge", "wrap": "wrap"}[mode]))
    return PadMode.apply(x, tuple(flat), _PAD_MODES[mode])


# ------------------------------------------------------------------------------ resize
_COORD_MODES = ("half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric",
                "tf_crop_and_resize")
_NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")


def _check_resize(node):
    if node.opset < 11:
        return _check_legacy_resize(node)
    if node.attr("mode", "nearest") not in ("nearest", "linear", "cubic"):
        raise node.error(f"mode {node.attr('mode')!r} is not nearest, linear or cubic")
    if node.attr("coordinate_transformation_mode", "half_pixel") not in _COORD_MODES:
        raise node.error(f"coordinate_transformation_mode {node.attr('coordinate_transformation_mode')!r} is "
                         f"not one of {', '.join(_COORD_MODES)}")
    if node.attr("nearest_mode", "round_prefer_floor") not in _NEAREST_MODES:
        raise node.error(f"nearest_mode {node.attr('nearest_mode')!r} is not one of {', '.join(_NEAREST_MODES)}")
    if node.attr("keep_aspect_ratio_policy", "stretch") not in ("stretch", "not_larger", "not_smaller"):
        raise node.error(f"keep_aspect_ratio_policy {node.attr('keep_aspect_ratio_policy')!r} is not stretch, "
                         "not_larger or not_smaller")
    if node.attr("antialias", 0) and node.attr("mode", "nearest") == "nearest":
        raise node.error("antialias=1 needs mode linear or cubic")


def _resize_coeffs(node, ratio, scale):
    """The taps' weights for a position whose fractional part is ratio in (0, 1] (ONNX's kernels)."""
    mode, aa = node.attr("mode", "nearest"), node.attr("antialias", 0)
    if mode == "nearest":
        nm = node.attr("nearest_mode", "round_prefer_floor")
        if ratio == 1:
            return np.array([0.0, 1.0])
        up = {"round_prefer_floor": ratio > 0.5, "round_prefer_ceil": ratio >= 0.5, "floor": False,
              "ceil": True}[nm]
        return np.array([0.0, 1.0]) if up else np.array([1.0, 0.0])
    if mode == "linear" and not aa:
        return np.array([1.0 - ratio, ratio])
    A = node.attr("cubic_coeff_a", -0.75)
    if mode == "cubic" and not aa:
        r, q = ratio, 1.0 - ratio
        return np.array([((A * (r + 1) - 5 * A) * (r + 1) + 8 * A) * (r + 1) - 4 * A,
                         ((A + 2) * r - (A + 3)) * r * r + 1, ((A + 2) * q - (A + 3)) * q * q + 1,
                         ((A * (q + 1) - 5 * A) * (q + 1) + 8 * A) * (q + 1) - 4 * A])
    sc = min(scale, 1.0)                       # antialias: the kernel stretched by 1/scale when shrinking
    if mode == "linear":
        start = int(np.floor(-1 / sc) + 1)
        c = np.clip(1 - np.abs((np.arange(start, 2 - start) - ratio) * sc), 0, 1)
    else:
        start = int(np.floor(-2 / sc) + 1)
        t = np.abs((np.arange(start, 2 - start) - ratio) * sc)
        c = np.where(t <= 1, (A + 2) * t ** 3 - (A + 3) * t ** 2 + 1,
                     np.where(t < 2, A * t ** 3 - 5 * A * t ** 2 + 8 * A * t - 4 * A, 0.0))
    return c / c.sum()


def _resize_plan(node, n, m, scale, roi):
    """For one axis of n samples resized to m: (taps (m, K) of input positions, weights (m, K), the
    mask of outputs that take extrapolation_value or None), as ONNX's reference computes them."""
    ct = node.attr("coordinate_transformation_mode", "half_pixel")
    o = np.arange(m, dtype=np.float64)
    width = scale * n
    if ct == "align_corners":
        x = np.zeros(m) if width == 1 else o * (n - 1) / (width - 1)
    elif ct == "asymmetric":
        x = o / scale
    elif ct == "tf_crop_and_resize":
        x = np.full(m, (roi[1] - roi[0]) * (n - 1) / 2) if width == 1 else o * (roi[1] - roi[0]) * (n - 1) / (width - 1)
        x = x + roi[0] * (n - 1)
    elif ct == "pytorch_half_pixel":
        x = np.full(m, -0.5) if width == 1 else (o + 0.5) / scale - 0.5
    elif ct == "half_pixel":
        x = (o + 0.5) / scale - 0.5
    else:                                      # half_pixel_symmetric
        x = n / 2 * (1 - m / width) + (o + 0.5) / scale - 0.5
    xi = np.floor(x)
    ratios = np.where(x == xi, 1.0, x - xi)
    coeffs = np.stack([_resize_coeffs(node, float(r), scale) for r in ratios]) if m else np.zeros((0, 2))
    K = coeffs.shape[1]
    pad = -(-K // 2)
    xp_ = x + pad
    p = np.floor(xp_).astype(np.int64)
    if K % 2 == 0:
        off = np.where(xp_ == p, -(K // 2), -(K // 2) + 1)
    else:
        off = np.where(xp_ - p <= 0.5, -((K - 1) // 2), -((K - 1) // 2) + 1)
    taps = (p + off)[:, None] + np.arange(K)[None, :] - pad
    if node.attr("exclude_outside", 0):
        coeffs = np.where((taps < 0) | (taps >= n), 0.0, coeffs)
        tot = coeffs.sum(axis=1, keepdims=True)
        coeffs = coeffs / np.where(tot == 0, 1.0, tot)
    extra = ((x < 0) | (x > n - 1)) if ct == "tf_crop_and_resize" else None
    return np.clip(taps, 0, n - 1), coeffs, extra


def _check_legacy_resize(node):
    if node.attr("mode", "nearest") not in ("nearest", "linear", "bilinear"):
        raise node.error(f"mode {node.attr('mode')!r} is not nearest or linear")


class _LegacyAttrs:
    """Resize-10 and Upsample-7/9 as opset-11 Resize attributes: asymmetric coordinates (x = o / scale),
    linear clamped at the edges, and nearest rounding down when enlarging and up when shrinking
    (onnxruntime's rule for these opsets), per axis."""

    def __init__(self, node, scale):
        self.node, self.error = node, node.error
        linear = node.attr("mode", "nearest") in ("linear", "bilinear")
        self.attrs = {"mode": "linear" if linear else "nearest", "coordinate_transformation_mode": "asymmetric",
                      "nearest_mode": "floor" if scale >= 1 else "ceil", "antialias": 0, "exclude_outside": 0}

    def attr(self, name, default=None):
        return self.attrs.get(name, default)


def _resize_axis(node, y, x, a, taps, coeffs, nearest):
    """y resized along axis a: the gather of each output's taps and their weighted sum."""
    lead = (slice(None),) * a
    bshape = [1] * x.ndim
    bshape[a] = -1
    if nearest:
        return y[lead + (taps[np.arange(len(taps)), coeffs.argmax(axis=1)] if len(taps) else taps[:, 0],)]
    acc = None
    for k in range(coeffs.shape[1]):
        term = y[lead + (taps[:, k],)] * _like(node, coeffs[:, k].astype(x.dtype).reshape(bshape), x)
        acc = term if acc is None else acc + term
    return acc


def _legacy_resize(node, x, sc):
    """Resize-10 / Upsample: one scale per axis, output size floor(n·scale) (see _LegacyAttrs)."""
    sc = np.asarray(sc, np.float64).reshape(-1)
    if sc.size != x.ndim:
        raise node.error(f"scales of {sc.size} values for an input of rank {x.ndim}")
    if sc.min() <= 0:
        raise node.error(f"scales must be > 0, got {sc.tolist()}")
    n_in = list(x.shape)
    out = [int(math.floor(n * s)) for n, s in zip(n_in, sc)]
    node.check_size(out)
    y = x
    for a in range(x.ndim):
        if out[a] == n_in[a] and sc[a] == 1.0:
            continue
        shim = _LegacyAttrs(node, float(sc[a]))
        taps, coeffs, _ = _resize_plan(shim, n_in[a], out[a], float(sc[a]), None)
        y = _resize_axis(node, y, x, a, taps, coeffs, shim.attrs["mode"] == "nearest")
    return y if y is not x else x.clone()


@op("Upsample", check=_check_legacy_resize)
def _upsample(node, x, scales=None):
    """Upsample-7 (scales an attribute) and -9 (an input): Resize-10's rule."""
    sc = node.attr("scales") if node.opset < 9 else (node.host(scales) if scales is not None else None)
    if sc is None:
        raise node.error("Upsample needs scales")
    if np.min(np.asarray(sc, np.float64)) < 1:
        raise node.error(f"Upsample scales must be >= 1 (ONNX's rule; Resize shrinks), got {list(np.asarray(sc).tolist())}")
    return _legacy_resize(node, x, sc)


@op("Resize", check=_check_resize)
def _resize(node, x, roi=None, scales=None, sizes=None):
    """Separable: each resized axis is a gather of K taps per output position and their weighted sum
    (nearest: the one tap of weight 1), so gradients reach x; positions and weights are ONNX's
    reference's, computed in float64. Before opset 11 the inputs are (X, scales): _legacy_resize."""
    if node.opset < 11:
        return _legacy_resize(node, x, node.host(roi))
    r = x.ndim
    axes = node.attr("axes")
    axes = [_ax(a, r) for a in axes] if axes else list(range(r))
    sc = node.host(scales).astype(np.float64).reshape(-1) if scales is not None else np.zeros(0)
    sz = np.asarray(node.ints(sizes)) if sizes is not None else np.zeros(0, np.int64)
    if (sc.size == 0) == (sz.size == 0):
        raise node.error("exactly one of scales and sizes must be given")
    if max(sc.size, sz.size) != len(axes):
        raise node.error(f"scales/sizes of {max(sc.size, sz.size)} values for {len(axes)} axes")
    n_in = [x.shape[a] for a in axes]
    if sz.size:
        scale = [int(sz[i]) / n_in[i] if n_in[i] else 1.0 for i in range(len(axes))]
        out = [int(v) for v in sz]
        policy = node.attr("keep_aspect_ratio_policy", "stretch")
        if policy != "stretch":
            s_ = min(scale) if policy == "not_larger" else max(scale)
            scale = [s_] * len(axes)
            out = [int(s_ * n + 0.5) for n in n_in]
    else:
        scale = [float(v) for v in sc]
        out = [int(v) for v in (sc * np.asarray(n_in, np.float64))]
    if min(scale) <= 0 or min(out) < 0:
        raise node.error(f"scales must be > 0 and sizes >= 0, got scales {scale} and sizes {out}")
    full = list(x.shape)
    for a, m in zip(axes, out):
        full[a] = m
    node.check_size(full)
    rv = node.host(roi).astype(np.float64).reshape(-1) if roi is not None else np.zeros(0)
    ct = node.attr("coordinate_transformation_mode", "half_pixel")
    if ct == "tf_crop_and_resize" and rv.size != 2 * len(axes):
        raise node.error(f"tf_crop_and_resize needs roi of {2 * len(axes)} values, got {rv.size}")
    extrap = node.attr("extrapolation_value", 0.0)
    nearest = node.attr("mode", "nearest") == "nearest"
    y = x
    for i, a in enumerate(axes):
        ai = [rv[i], rv[i + len(axes)]] if ct == "tf_crop_and_resize" else None
        if math.isclose(scale[i], 1.0) and out[i] == n_in[i] and (ai is None or (ai[0] == 0 and ai[1] == 1)):
            continue
        taps, coeffs, extra = _resize_plan(node, n_in[i], out[i], scale[i], ai)
        y = _resize_axis(node, y, x, a, taps, coeffs, nearest)
        bshape = [1] * r
        bshape[a] = -1
        if extra is not None and extra.any():
            keep = _like(node, (~extra).astype(x.dtype).reshape(bshape), x)
            y = y * keep + _like(node, (extra * extrap).astype(x.dtype).reshape(bshape), x)
    return y if y is not x else x.clone()


# ------------------------------------------------------------------------------ reductions
def _reduce_axes(node, x, axes_t):
    new = node.opset >= (13 if node.op == "ReduceSum" else 18)
    axes = (node.ints(axes_t) if axes_t is not None else None) if new else node.attr("axes")
    if axes is not None and len(axes) == 0:
        axes = None
    if axes is None and new and node.attr("noop_with_empty_axes", 0):
        return "noop"
    if axes is None:
        return tuple(range(x.ndim))
    return tuple(sorted({_ax(a, x.ndim) for a in axes}))


def _reduction(fn, empty):
    """``empty``: the value of a reduction over no elements (ONNX: the op's identity element)."""
    def run(node, x, axes=None):
        ax = _reduce_axes(node, x, axes)
        if ax == "noop":
            return x
        keep = bool(node.attr("keepdims", 1))
        if x.ndim == 0:
            return x
        if any(x.shape[a] == 0 for a in ax):
            shape = tuple(1 if i in ax else d for i, d in enumerate(x.shape)) if keep else \
                tuple(d for i, d in enumerate(x.shape) if i not in ax)
            if x.dtype == np.bool_:
                val = {np.inf: False, -np.inf: True}.get(empty, bool(empty))
                val = not val if empty in (np.inf, -np.inf) else val
            else:
                val = empty
            fill = np.iinfo(x.dtype).max if x.dtype.kind in "iu" and empty == np.inf else \
                np.iinfo(x.dtype).min if x.dtype.kind in "iu" and empty == -np.inf else val
            return _wrap(np.full(shape, fill, x.dtype))
        return fn(x, ax, keep)
    return run


op("ReduceSum")(_reduction(lambda x, ax, keep: x.sum(ax, keepdim=keep) if x.dtype.kind == "f"
                           else _wrap(np.asarray(x._data.sum(axis=ax, keepdims=keep)).astype(x.dtype)), 0))
op("ReduceMean")(_reduction(lambda x, ax, keep: x.mean(ax, keepdim=keep), np.nan))
op("ReduceMax")(_reduction(lambda x, ax, keep: x.max(ax, keepdim=keep) if x.dtype.kind == "f"
                           else _wrap(np.asarray(x._data.max(axis=ax, keepdims=keep))), -np.inf))
op("ReduceMin")(_reduction(lambda x, ax, keep: x.min(ax, keepdim=keep) if x.dtype.kind == "f"
                           else _wrap(np.asarray(x._data.min(axis=ax, keepdims=keep))), np.inf))
op("ReduceProd")(_reduction(lambda x, ax, keep: _prod(x, ax, keep), 1))
op("ReduceSumSquare")(_reduction(lambda x, ax, keep: (x * x).sum(ax, keepdim=keep), 0))
op("ReduceL1")(_reduction(lambda x, ax, keep: x.abs().sum(ax, keepdim=keep), 0))
op("ReduceL2")(_reduction(lambda x, ax, keep: (x * x).sum(ax, keepdim=keep).sqrt(), 0))
op("ReduceLogSumExp")(_reduction(lambda x, ax, keep: _logsumexp(x, ax, keep), -np.inf))
op("ReduceLogSum")(_reduction(lambda x, ax, keep: x.sum(ax, keepdim=keep).log(), -np.inf))


def _prod(x, ax, keep):
    if x.dtype.kind != "f":
        return _wrap(np.asarray(x._data.prod(axis=ax, keepdims=keep)).astype(x.dtype))
    # a product as exp(sum(log|x|)) with the sign kept apart would lose exact zeros; multiply slices
    y = x
    for a in sorted(ax, reverse=True):
        parts = [y[(slice(None),) * a + (slice(i, i + 1),)] for i in range(y.shape[a])]
        acc = parts[0]
        for p in parts[1:]:
            acc = acc * p
        y = acc if keep else acc.squeeze(a)
    return y


def _logsumexp(x, ax, keep):
    m = x.max(ax, keepdim=True).detach()
    y = (x - m).exp().sum(ax, keepdim=True).log() + m
    return y if keep else y.reshape(tuple(d for i, d in enumerate(y.shape) if i not in ax))


def _arg(fn):
    def run(node, x):
        axis = _ax(node.attr("axis", 0), x.ndim)
        keep = bool(node.attr("keepdims", 1))
        a = x._data
        if node.attr("select_last_index", 0):
            flipped = np.flip(a, axis)
            idx = a.shape[axis] - 1 - fn(flipped, axis=axis)
        else:
            idx = fn(a, axis=axis)
        idx = np.asarray(idx, np.int64)
        return _wrap(np.expand_dims(idx, axis) if keep else idx)
    return run


op("ArgMax")(_arg(np.argmax))
op("ArgMin")(_arg(np.argmin))


# ------------------------------------------------------------------------------ normalisation
@op("LayerNormalization")
def _layer_norm(node, x, scale, bias=None):
    axis = _ax(node.attr("axis", -1), x.ndim)
    eps = node.attr("epsilon", 1e-5)
    axes = tuple(range(axis, x.ndim))
    mean = x.mean(axes, keepdim=True)
    d = x - mean
    var = (d * d).mean(axes, keepdim=True)
    inv = 1.0 / (var + eps).sqrt()
    y = d * inv * scale
    if bias is not None:
        y = y + bias
    outs = [y]
    if node.wants(1):
        outs.append(mean)
    if node.wants(2):
        outs.append(inv)
    return tuple(outs) if len(outs) > 1 else y


@op("InstanceNormalization")
def _instance_norm(node, x, scale, bias):
    eps = node.attr("epsilon", 1e-5)
    axes = tuple(range(2, x.ndim))
    mean = x.mean(axes, keepdim=True)
    d = x - mean
    var = (d * d).mean(axes, keepdim=True)
    br = (1, -1) + (1,) * (x.ndim - 2)
    return d / (var + eps).sqrt() * scale.reshape(br) + bias.reshape(br)


# ------------------------------------------------------------------------------ recurrent
_ACTS = {
    "sigmoid": lambda x, a, b: F.sigmoid(x),
    "tanh": lambda x, a, b: F.tanh(x),
    "relu": lambda x, a, b: F.relu(x),
    "leakyrelu": lambda x, a, b: F.leaky_relu(x, 0.01 if a is None else a),
    "thresholdedrelu": lambda x, a, b: where(x._data > (1.0 if a is None else a), x, 0.0),
    "scaledtanh": lambda x, a, b: F.tanh(x * (1.0 if b is None else b)) * (1.0 if a is None else a),
    "hardsigmoid": lambda x, a, b: (x * (0.2 if a is None else a) + (0.5 if b is None else b)).clamp(0.0, 1.0),
    "elu": lambda x, a, b: F.elu(x, 1.0 if a is None else a),
    "softsign": lambda x, a, b: x / (x.abs() + 1.0),
    "softplus": lambda x, a, b: F.relu(x) + ((-x.abs()).exp() + 1.0).log(),
    "affine": lambda x, a, b: x * (1.0 if a is None else a) + (0.0 if b is None else b),
}
_DEFAULT_ACTS = {"LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"], "RNN": ["Tanh"]}


def _check_rnn(node):
    d = node.attr("direction", "forward")
    if d not in ("forward", "reverse", "bidirectional"):
        raise node.error(f"direction {d!r} is not forward, reverse or bidirectional")
    for a in node.attr("activations") or []:
        if a.lower() not in _ACTS:
            raise node.error(f"activation {a!r} is not supported")
    if node.attr("input_forget", 0):
        raise node.error("input_forget=1 is not supported")
    if node.attr("hidden_size") is None:
        raise node.error("hidden_size is required")


def _acts(node, per_dir):
    names = node.attr("activations") or _DEFAULT_ACTS[node.op] * 2
    alphas, betas = node.attr("activation_alpha") or [], node.attr("activation_beta") or []
    fns = []
    for i, n in enumerate(names):
        a = alphas[i] if i < len(alphas) else None
        b = betas[i] if i < len(betas) else None
        fns.append((n.lower(), a, b))
    return [fns[d * per_dir:(d + 1) * per_dir] or fns[:per_dir] for d in range(2)]


def _run_act(spec, x):
    name, a, b = spec
    return _ACTS[name](x, a, b)


def _seq_lens(node, sl, T, N):
    if sl is None:
        return None
    lens = np.asarray(node.host(sl)).reshape(-1).astype(np.int64)
    if len(lens) != N or (lens < 0).any() or (lens > T).any():
        raise ValueError(f"sequence_lens {lens.tolist()} must hold one length in 0..{T} per batch element")
    return None if (lens == T).all() else lens


def _rnn_common(node, X, sl):
    layout = node.attr("layout", 0)
    if layout:
        X = X.transpose(0, 1)
    T, N = X.shape[0], X.shape[1]
    return X, T, N, _seq_lens(node, sl, T, N), layout


def _finish(node, ys, hs, cs, layout):
    Y = stack(ys, 1)                                    # (T, D, N, H)
    Yh = stack(hs, 0)                                   # (D, N, H)
    outs = [Y, Yh] + ([stack(cs, 0)] if cs is not None else [])
    if layout:
        outs[0] = Y.permute(2, 0, 1, 3)                 # (N, T, D, H)
        outs[1:] = [o.transpose(0, 1) for o in outs[1:]]
    return tuple(outs[:max(1, len(node.outputs))]) if len(node.outputs) > 1 else outs[0]


def _step_mask(lens, t, like):
    """(N, 1) 1 where step t is inside the sequence, else 0 (the state then stays)."""
    return _like_arr((t < lens).astype(like.dtype).reshape(-1, 1), like)


def _like_arr(arr, t):
    w = _wrap(np.asarray(arr))
    return w.to(t.device) if t.device != "cpu" else w


def _reverse_time(x, lens):
    if lens is None:
        return x[::-1].contiguous()
    T = x.shape[0]
    idx = np.empty((T, len(lens)), np.int64)
    for n, L in enumerate(lens):
        idx[:, n] = np.concatenate([np.arange(L - 1, -1, -1), np.arange(L, T)])
    return x[idx, np.arange(len(lens))[None, :]]


def _lstm_blocks(t, H):
    """ONNX gate blocks i, o, f, c along axis 0 -> PyTorch's i, f, g, o."""
    return cat([t[0:H], t[2 * H:3 * H], t[3 * H:4 * H], t[H:2 * H]], 0)


@op("LSTM", check=_check_rnn)
def _lstm(node, X, W, R, B=None, sl=None, h0=None, c0=None, P=None):
    X, T, N, lens, layout = _rnn_common(node, X, sl)
    H = node.attr("hidden_size")
    dirs = {"forward": [False], "reverse": [True], "bidirectional": [False, True]}[node.attr("direction", "forward")]
    acts = _acts(node, 3)
    clip = node.attr("clip")
    if layout:
        h0 = h0.transpose(0, 1) if h0 is not None else None
        c0 = c0.transpose(0, 1) if c0 is not None else None
    ys, hs, cs = [], [], []
    for d, rev in enumerate(dirs):
        w, r = W[d], R[d]
        b = B[d] if B is not None else None
        h = h0[d] if h0 is not None else _like_arr(np.zeros((N, H), X.dtype), X)
        c = c0[d] if c0 is not None else _like_arr(np.zeros((N, H), X.dtype), X)
        p = P[d] if P is not None else None
        x = _reverse_time(X, lens) if rev else X
        default = ([a[0] for a in acts[d]] == ["sigmoid", "tanh", "tanh"] and clip is None and
                   (p is None or not np.any(node.host(p))) and lens is None and X.dtype.kind == "f")
        if default:
            wb = _lstm_blocks(b[:4 * H], H) if b is not None else None
            rb = _lstm_blocks(b[4 * H:], H) if b is not None else None
            y, h, c = F.lstm(x.contiguous(), h.contiguous(), c.contiguous(), _lstm_blocks(w, H).contiguous(),
                             _lstm_blocks(r, H).contiguous(), wb, rb)
            steps = y
        else:
            f_act, g_act, h_act = acts[d]
            wt, rt = w.T, r.T
            bias = (b[:4 * H] + b[4 * H:]) if b is not None else None
            out = []
            for t in range(T):
                g = x[t] @ wt + h @ rt
                if bias is not None:
                    g = g + bias
                gi, go, gf, gc = g[:, :H], g[:, H:2 * H], g[:, 2 * H:3 * H], g[:, 3 * H:]
                if p is not None:
                    gi = gi + c * p[:H]
                    gf = gf + c * p[2 * H:]
                if clip is not None:
                    gi, gf, gc = gi.clamp(-clip, clip), gf.clamp(-clip, clip), gc.clamp(-clip, clip)
                i_, f_ = _run_act(f_act, gi), _run_act(f_act, gf)
                c_new = f_ * c + i_ * _run_act(g_act, gc)
                if p is not None:
                    go = go + c_new * p[H:2 * H]
                if clip is not None:
                    go = go.clamp(-clip, clip)
                h_new = _run_act(f_act, go) * _run_act(h_act, c_new)
                if lens is not None:
                    m = _step_mask(lens, t, X)
                    h_new = h_new * m + h * (1.0 - m)
                    c_new = c_new * m + c * (1.0 - m)
                    out.append(h_new * m)
                else:
                    out.append(h_new)
                h, c = h_new, c_new
            steps = stack(out, 0)
        if rev:
            steps = _reverse_time(steps, lens)
        ys.append(steps)
        hs.append(h)
        cs.append(c)
    return _finish(node, ys, hs, cs, layout)


@op("RNN", check=_check_rnn)
def _rnn(node, X, W, R, B=None, sl=None, h0=None):
    X, T, N, lens, layout = _rnn_common(node, X, sl)
    H = node.attr("hidden_size")
    dirs = {"forward": [False], "reverse": [True], "bidirectional": [False, True]}[node.attr("direction", "forward")]
    acts = _acts(node, 1)
    clip = node.attr("clip")
    if layout and h0 is not None:
        h0 = h0.transpose(0, 1)
    ys, hs = [], []
    for d, rev in enumerate(dirs):
        wt, rt = W[d].T, R[d].T
        bias = (B[d][:H] + B[d][H:]) if B is not None else None
        h = h0[d] if h0 is not None else _like_arr(np.zeros((N, H), X.dtype), X)
        x = _reverse_time(X, lens) if rev else X
        xp = x @ wt                                  # all steps' input projections at once
        out = []
        for t in range(T):
            g = xp[t] + h @ rt
            if bias is not None:
                g = g + bias
            if clip is not None:
                g = g.clamp(-clip, clip)
            h_new = _run_act(acts[d][0], g)
            if lens is not None:
                m = _step_mask(lens, t, X)
                h_new = h_new * m + h * (1.0 - m)
                out.append(h_new * m)
            else:
                out.append(h_new)
            h = h_new
        steps = stack(out, 0)
        if rev:
            steps = _reverse_time(steps, lens)
        ys.append(steps)
        hs.append(h)
    return _finish(node, ys, hs, None, layout)


@op("GRU", check=_check_rnn)
def _gru(node, X, W, R, B=None, sl=None, h0=None):
    X, T, N, lens, layout = _rnn_common(node, X, sl)
    H = node.attr("hidden_size")
    dirs = {"forward": [False], "reverse": [True], "bidirectional": [False, True]}[node.attr("direction", "forward")]
    acts = _acts(node, 2)
    clip = node.attr("clip")
    lbr = node.attr("linear_before_reset", 0)
    if layout and h0 is not None:
        h0 = h0.transpose(0, 1)
    ys, hs = [], []
    for d, rev in enumerate(dirs):
        w, r = W[d], R[d]
        wb = B[d][:3 * H] if B is not None else None
        rb = B[d][3 * H:] if B is not None else None
        h = h0[d] if h0 is not None else _like_arr(np.zeros((N, H), X.dtype), X)
        x = _reverse_time(X, lens) if rev else X
        xp = x @ w.T
        if wb is not None:
            xp = xp + wb
        rz_t, rh_t = r[:2 * H].T, r[2 * H:].T
        out = []
        for t in range(T):
            xt = xp[t]
            hr = h @ rz_t
            if rb is not None:
                hr = hr + rb[:2 * H]
            gz, gr = xt[:, :H] + hr[:, :H], xt[:, H:2 * H] + hr[:, H:]
            if clip is not None:
                gz, gr = gz.clamp(-clip, clip), gr.clamp(-clip, clip)
            z, rr = _run_act(acts[d][0], gz), _run_act(acts[d][0], gr)
            if lbr:
                hh = h @ rh_t
                if rb is not None:
                    hh = hh + rb[2 * H:]
                gh = xt[:, 2 * H:] + rr * hh
            else:
                hh = (rr * h) @ rh_t
                if rb is not None:
                    hh = hh + rb[2 * H:]
                gh = xt[:, 2 * H:] + hh
            if clip is not None:
                gh = gh.clamp(-clip, clip)
            h_new = (1.0 - z) * _run_act(acts[d][1], gh) + z * h
            if lens is not None:
                m = _step_mask(lens, t, X)
                h_new = h_new * m + h * (1.0 - m)
                out.append(h_new * m)
            else:
                out.append(h_new)
            h = h_new
        steps = stack(out, 0)
        if rev:
            steps = _reverse_time(steps, lens)
        ys.append(steps)
        hs.append(h)
    return _finish(node, ys, hs, None, layout)


__all__ = ["MAX_ELEMENTS"]


# ------------------------------------------------------------------------------ losses
def _check_loss(node):
    r = node.attr("reduction", "mean")
    if r not in ("none", "sum", "mean"):
        raise node.error(f"reduction {r!r} is not none, sum or mean")


def _nll(node, logp, target, weight):
    """−w[t]·logp[n, t, d…] per element; mean divides by the summed weight of the kept targets."""
    ignore = node.attr("ignore_index")
    C = logp.shape[1]
    perm = (0,) + tuple(range(2, logp.ndim)) + (1,)
    flat = logp.permute(*perm).reshape(-1, C) if logp.ndim > 2 else logp
    t = np.asarray(node.host(target)).reshape(-1).astype(np.int64)
    keep = np.ones(t.shape, bool) if ignore is None else t != ignore
    safe = np.where(keep, t, 0)
    if safe.size and (safe.min() < 0 or safe.max() >= C):
        raise ValueError(f"target values must lie in 0..{C - 1}")
    w = np.ones(C, logp.dtype) if weight is None else np.asarray(node.host(weight), logp.dtype)
    wt = (w[safe] * keep).astype(logp.dtype)
    picked = flat[np.arange(t.size), safe]
    loss = -(picked * _like(node, wt, logp))
    r = node.attr("reduction", "mean")
    if r == "none":
        return loss.reshape(tuple(target.shape))
    if r == "sum":
        return loss.sum()
    return loss.sum() / float(wt.sum())


@op("NegativeLogLikelihoodLoss", check=_check_loss)
def _nll_loss(node, x, target, weight=None):
    return _nll(node, x, target, weight)


@op("SoftmaxCrossEntropyLoss", check=_check_loss)
def _sce_loss(node, x, target, weight=None):
    logp = F.log_softmax(x, 1)
    loss = _nll(node, logp, target, weight)
    return (loss, logp) if node.wants(1) else loss


@op("CastLike")
def _cast_like(node, x, like):
    if x.dtype == like.dtype:
        return x
    if x.dtype.kind == "f" and like.dtype.kind in "iu":
        with np.errstate(invalid="ignore"):
            return _wrap(np.trunc(x._data).astype(like.dtype))
    return x.to(like.dtype)
