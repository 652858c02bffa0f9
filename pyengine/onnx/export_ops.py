"""The ONNX exporters: one entry per pyengine layer type (``LAYER_EXPORTERS``) and per autograd
Function name (``OP_EXPORTERS``, the tensor ops a model's forward uses between layers).

Conventions of ONNX that differ from PyTorch's, handled here:
* Conv/pool ``pads`` are [top, left, bottom, right]; ``padding="same"`` puts the odd pixel at the
  bottom/right, as PyTorch does.
* PyTorch's ceil_mode drops a last window that would start in the right padding; rather than
  rely on each runtime's reading of ONNX's ceil_mode, pools are written with ceil_mode=0 and the
  extra right/bottom padding that gives PyTorch's output size. Max pooling ignores padding; an
  average pool that counts padding (count_include_pad) gets its padding as an explicit Pad of
  zeros first and then excludes only the extra cells, which is PyTorch's divisor exactly.
* LSTM gates: PyTorch i, f, g, o → ONNX i, o, f, c (blocks reordered in W, R and B); B is
  [W_b; R_b] of 8H; Y is (T, num_directions, N, H), squeezed back to (T, N, H) — or, bidirectional,
  transposed and reshaped to PyTorch's (T, N, 2H); a stack of layers is a chain of one-layer nodes. RNN: one gate, activation Tanh or Relu.
* BatchNormalization momentum is 1 − PyTorch's momentum (only the inference form is written).
* Softmax before opset 13 normalises over all axes from ``axis`` on; a softmax over another axis
  than the last is written as Transpose → Softmax(last) → Transpose there.
* Reduce* take their axes as an input from opset 13 (ReduceSum) / 18 (the others), Squeeze and
  Unsqueeze from 13 — ``ExportContext`` picks the spelling.
* F.pad's reflect / replicate / circular are Pad mode reflect / edge / wrap; 'wrap' is opset 19, so
  below it circular padding is Slice + Concat. A Conv's padding_mode is that Pad before the Conv.
* F.interpolate is one Resize whose coordinate_transformation_mode / nearest_mode give PyTorch's
  source positions (see _resize_attrs). At an exact float tie of nearest's rounding (e.g. (o + ½)/1.7
  = 5 in real numbers) PyTorch's float32 product o·(1/scale) and a runtime's quotient o/scale may land
  on either side, so the two can pick neighbouring pixels there.
* Adaptive max pooling is MaxPool when the sides divide, GlobalMaxPool for 1×1, else Slice + ReduceMax
  per output cell (the bins overlap).
"""
from __future__ import annotations

import numpy as np

from .. import nn
from .export import register_layer_exporter, register_op_exporter

_I64_MAX = np.iinfo(np.int64).max
_I64_MIN = np.iinfo(np.int64).min


def _pair(v):
    return (int(v), int(v)) if isinstance(v, (int, np.integer)) else tuple(int(x) for x in v)


def _dtype_of(t):
    return t.dtype if hasattr(t, "dtype") else np.dtype(np.float32)


# ------------------------------------------------------------------------------ convolution
def _conv(ctx, x, w_name, b_name, weight_shape, stride, padding, dilation, groups):
    kh, kw = int(weight_shape[2]), int(weight_shape[3])
    dh, dw = _pair(dilation)
    if isinstance(padding, str):
        if padding == "valid":
            pads = [0, 0, 0, 0]
        elif padding == "same":
            th, tw = dh * (kh - 1), dw * (kw - 1)
            pads = [th // 2, tw // 2, th - th // 2, tw - tw // 2]
        else:
            raise ctx.unsupported(f"padding {padding!r}")
    else:
        ph, pw = _pair(padding)
        pads = [ph, pw, ph, pw]
    ins = [x, w_name] + ([b_name] if b_name else [])
    return ctx.op("Conv", ins, kernel_shape=[kh, kw], strides=list(_pair(stride)), pads=pads,
                  dilations=[dh, dw], group=int(groups))


@register_layer_exporter(nn.Conv2d)
def _conv2d_layer(ctx, m, inputs, args, out, **kw):
    """An unbatched (C, H, W) input runs as (1, C, H, W); padding_mode reflect/replicate/circular is a
    Pad node (PyTorch's F.pad widths) before a Conv with no padding of its own."""
    x, padding = inputs[0], m.padding
    unbatched = args[0].ndim == 3
    if unbatched:
        x = ctx.unsqueeze(x, [0])
    if m.padding_mode != "zeros":
        x = _mode_pad(ctx, x, 4, m._reversed_padding_repeated_twice, m.padding_mode)
        padding = 0
    y = _conv(ctx, x, ctx.param(m.weight), ctx.param(m.bias) if m.bias is not None else "",
              m.weight.shape, m.stride, padding, m.dilation, m.groups)
    return ctx.squeeze(y, [0]) if unbatched else y


@register_op_exporter("conv2d")
def _conv2d_op(ctx, args, kwargs, names, out):
    x, w, b, stride, padding, dilation, groups = args[:7]
    return _conv(ctx, names[0], names[1], names[2] if b is not None else "", w.shape, stride, padding,
                 dilation, groups)


# ------------------------------------------------------------------------------ pooling
def _pool_geometry(in_shape, out_shape, kernel_size, stride, padding, dilation=1):
    k, s, p, d = _pair(kernel_size), _pair(stride if stride is not None else kernel_size), _pair(padding), \
        _pair(dilation)
    extra = []
    for i in range(2):
        need = (out_shape[2 + i] - 1) * s[i] + d[i] * (k[i] - 1) + 1 - in_shape[2 + i] - 2 * p[i]
        extra.append(max(0, need))
    return k, s, p, d, extra


def _max_pool(ctx, x, in_shape, out_shape, kernel_size, stride, padding, dilation):
    k, s, p, d, extra = _pool_geometry(in_shape, out_shape, kernel_size, stride, padding, dilation)
    return ctx.op("MaxPool", [x], kernel_shape=list(k), strides=list(s),
                  pads=[p[0], p[1], p[0] + extra[0], p[1] + extra[1]],
                  dilations=list(d) if d != (1, 1) else None)


def _avg_pool(ctx, x, in_shape, out_shape, kernel_size, stride, padding, count_include_pad):
    k, s, p, _, extra = _pool_geometry(in_shape, out_shape, kernel_size, stride, padding)
    if count_include_pad and any(p) and any(extra):
        x = ctx.op("Pad", [x, ctx.ints([0, 0, p[0], p[1], 0, 0, p[0], p[1]], "pads")], mode="constant")
        return ctx.op("AveragePool", [x], kernel_shape=list(k), strides=list(s),
                      pads=[0, 0, extra[0], extra[1]], count_include_pad=0)
    return ctx.op("AveragePool", [x], kernel_shape=list(k), strides=list(s),
                  pads=[p[0], p[1], p[0] + extra[0], p[1] + extra[1]],
                  count_include_pad=int(bool(count_include_pad) and not any(extra)))


@register_layer_exporter(nn.MaxPool2d)
def _max_pool_layer(ctx, m, inputs, args, out, **kw):
    if m.return_indices:
        raise ctx.unsupported("return_indices=True (ONNX's MaxPool indices count over N·C·H·W, not per plane)")
    return _max_pool(ctx, inputs[0], args[0].shape, out.shape, m.kernel_size, m.stride, m.padding, m.dilation)


@register_op_exporter("max_pool2d")
def _max_pool_op(ctx, args, kwargs, names, out):
    x, k, s, p, d = args[:5]
    return _max_pool(ctx, names[0], x.shape, out.shape, k, s, p, d)


@register_layer_exporter(nn.AvgPool2d)
def _avg_pool_layer(ctx, m, inputs, args, out, **kw):
    return _avg_pool(ctx, inputs[0], args[0].shape, out.shape, m.kernel_size, m.stride, m.padding,
                     m.count_include_pad)


@register_op_exporter("avg_pool2d")
def _avg_pool_op(ctx, args, kwargs, names, out):
    x, k, s, p, ceil, cip = args[:6]
    return _avg_pool(ctx, names[0], x.shape, out.shape, k, s, p, cip)


@register_op_exporter("global_avg_pool2d")
def _gap_op(ctx, args, kwargs, names, out):
    return ctx.op("GlobalAveragePool", [names[0]])


def _adaptive(ctx, x, in_shape, oh, ow, kind="avg"):
    """Adaptive average (kind 'avg') or max (kind 'max') pooling: GlobalAveragePool/GlobalMaxPool for a
    1×1 output, one AveragePool/MaxPool when the sides divide, else each output cell's mean/maximum
    over its rows floor(i·H/OH) .. ceil((i+1)·H/OH) and the same for columns (Slice + ReduceMean/
    ReduceMax, concatenated) — the bins overlap then, which no single pooling node expresses."""
    H, W = int(in_shape[2]), int(in_shape[3])
    glob, pool, red = {"avg": ("GlobalAveragePool", "AveragePool", "ReduceMean"),
                       "max": ("GlobalMaxPool", "MaxPool", "ReduceMax")}[kind]
    if (oh, ow) == (1, 1):
        return ctx.op(glob, [x])
    if H % oh == 0 and W % ow == 0:
        kh, kw = H // oh, W // ow
        return ctx.op(pool, [x], kernel_shape=[kh, kw], strides=[kh, kw])
    rows = []
    for i in range(oh):
        r0, r1 = i * H // oh, -(-(i + 1) * H // oh)
        band = ctx.reduce(red, ctx.slice(x, [r0], [r1], [2]), [2], True)
        cells = []
        for j in range(ow):
            c0, c1 = j * W // ow, -(-(j + 1) * W // ow)
            cells.append(ctx.reduce(red, ctx.slice(band, [c0], [c1], [3]), [3], True) if (r1 - r0) else band)
        rows.append(cells[0] if len(cells) == 1 else ctx.op("Concat", cells, axis=3))
    return rows[0] if len(rows) == 1 else ctx.op("Concat", rows, axis=2)


@register_layer_exporter(nn.AdaptiveAvgPool2d)
def _adaptive_layer(ctx, m, inputs, args, out, **kw):
    return _adaptive(ctx, inputs[0], args[0].shape, int(out.shape[2]), int(out.shape[3]))


@register_op_exporter("adaptive_avg_pool2d")
def _adaptive_op(ctx, args, kwargs, names, out):
    return _adaptive(ctx, names[0], args[0].shape, int(args[1]), int(args[2]))


def _adaptive_max_layer(ctx, m, inputs, args, out, **kw):
    """AdaptiveMaxPool1d (N, C, L) / (C, L) and AdaptiveMaxPool2d (N, C, H, W) / (C, H, W), run as 2-D
    (N, C, H, W) pooling: 1-D inputs get a unit H axis, unbatched ones a unit batch axis."""
    if m.return_indices:
        raise ctx.unsupported("return_indices=True (ONNX has no adaptive pooling with indices)")
    one_d = isinstance(m, nn.AdaptiveMaxPool1d)
    shape = list(args[0].shape)
    lead = [0] if len(shape) == (2 if one_d else 3) else []
    mid = [2] if one_d else []
    x = ctx.unsqueeze(inputs[0], lead + mid) if lead or mid else inputs[0]
    shape = ([1] if lead else []) + shape[:len(shape) - (1 if one_d else 2)] + ([1] if one_d else []) + \
        shape[len(shape) - (1 if one_d else 2):]
    oh, ow = (1, int(out.shape[-1])) if one_d else (int(out.shape[-2]), int(out.shape[-1]))
    y = _adaptive(ctx, x, shape, oh, ow, "max")
    return ctx.squeeze(y, lead + mid) if lead or mid else y


register_layer_exporter(nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d)(_adaptive_max_layer)


@register_op_exporter("adaptive_max_pool2d")
def _adaptive_max_op(ctx, args, kwargs, names, out):
    return _adaptive(ctx, names[0], args[0].shape, int(args[1]), int(args[2]), "max")


_PAD_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _mode_pad(ctx, x, ndim, pad, mode):
    """F.pad's reflect / replicate / circular of the last len(pad)/2 axes (pad lists (before, after)
    from the last axis backwards) as ONNX Pad mode reflect / edge / wrap. 'wrap' exists from opset 19;
    below it, circular padding is a Concat of the input's last `before` and first `after` entries
    around it along each axis (Slice with negative starts, so symbolic sizes stay symbolic)."""
    widths = [(0, 0)] * ndim
    for k in range(len(pad) // 2):
        widths[ndim - 1 - k] = (int(pad[2 * k]), int(pad[2 * k + 1]))
    if mode == "circular" and ctx.opset < 19:
        for axis, (a, b) in enumerate(widths):
            if a or b:
                parts = ([ctx.slice(x, [-a], [_I64_MAX], [axis])] if a else []) + [x] + \
                    ([ctx.slice(x, [0], [b], [axis])] if b else [])
                x = ctx.op("Concat", parts, axis=axis)
        return x
    pads = [a for a, _ in widths] + [b for _, b in widths]
    return ctx.op("Pad", [x, ctx.ints(pads, "pads")], mode=_PAD_MODES[mode])


@register_op_exporter("pad")
def _pad_op(ctx, args, kwargs, names, out):
    if isinstance(args[2], str):              # PadMode.apply(x, pad, mode)
        return _mode_pad(ctx, names[0], args[0].ndim, args[1], args[2])
    x, widths, value = args[:3]
    pads = [int(a) for a, _ in widths] + [int(b) for _, b in widths]
    return ctx.op("Pad", [names[0], ctx.ints(pads, "pads"), ctx.const(np.asarray(value, _dtype_of(x)), "pad_value")],
                  mode="constant")


# ------------------------------------------------------------------------------ resampling
def _resize_attrs(mode, align_corners):
    """ONNX Resize attributes giving PyTorch's source positions (pyengine.autograd.upsample):
    nearest        floor(o / scale)               asymmetric, nearest_mode floor
    nearest-exact  floor((o + ½) / scale)         half_pixel, round_prefer_ceil (floor((o + ½)/scale − ½ + ½))
    linear         o·(n − 1)/(m − 1)              align_corners
                   max((o + ½)/scale − ½, 0)      half_pixel (ONNX clamps the neighbours to the edge,
                                                  which is the same as clamping the position at 0)."""
    if mode == "nearest":
        return dict(mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    if mode == "nearest-exact":
        return dict(mode="nearest", coordinate_transformation_mode="half_pixel", nearest_mode="round_prefer_ceil")
    return dict(mode="linear", coordinate_transformation_mode="align_corners" if align_corners else "half_pixel")


@register_op_exporter("interpolate")
def _interpolate_op(ctx, args, kwargs, names, out):
    """Resize over the last len(size) axes. A scale factor that PyTorch uses as such (given, not
    recomputed, and not align_corners, where only the sizes count) is written as Resize's scales, so
    the positions are o / scale_factor exactly as PyTorch's; otherwise the sizes, as the input's
    leading dimensions (Shape → Slice, so a symbolic batch stays symbolic) and the fixed spatial sizes."""
    x, size, mode, align_corners, scales = args[:5]
    nd, ndim = len(size), args[0].ndim
    attrs = _resize_attrs(mode, align_corners)
    empty = ctx.const(np.zeros(0, np.float32), "empty") if ctx.opset < 13 else ""
    if all(f is not None for f in scales) and not (attrs["mode"] == "linear" and align_corners):
        sc = ctx.const(np.asarray([1.0] * (ndim - nd) + [float(f) for f in scales], np.float32), "scales")
        return ctx.op("Resize", [names[0], empty, sc], **attrs)
    lead = ctx.slice(ctx.op("Shape", [names[0]]), [0], [ndim - nd], [0])
    sizes = ctx.op("Concat", [lead, ctx.ints(size, "sizes")], axis=0)
    return ctx.op("Resize", [names[0], empty, empty, sizes], **attrs)


# ------------------------------------------------------------------------------ linear
def _linear(ctx, x, x_ndim, w_name, b_name):
    if x_ndim == 2:
        return ctx.op("Gemm", [x, w_name] + ([b_name] if b_name else []), transB=1)
    y = ctx.op("MatMul", [x, ctx.op("Transpose", [w_name], perm=[1, 0])])
    return ctx.op("Add", [y, b_name]) if b_name else y


@register_layer_exporter(nn.Linear)
def _linear_layer(ctx, m, inputs, args, out, **kw):
    return _linear(ctx, inputs[0], args[0].ndim, ctx.param(m.weight), ctx.param(m.bias) if m.bias is not None else "")


@register_op_exporter("linear")
def _linear_op(ctx, args, kwargs, names, out):
    return _linear(ctx, names[0], args[0].ndim, names[1], names[2] if args[2] is not None else "")


@register_op_exporter("matmul")
def _matmul_op(ctx, args, kwargs, names, out):
    return ctx.op("MatMul", [names[0], names[1]])


# ------------------------------------------------------------------------------ batch norm
def _batch_norm(ctx, x, C, w, b, rm, rv, eps, momentum, dtype):
    w = w if w else ctx.const(np.ones(C, dtype), "bn_scale")
    b = b if b else ctx.const(np.zeros(C, dtype), "bn_bias")
    mom = None if momentum is None else 1.0 - float(momentum)
    return ctx.op("BatchNormalization", [x, w, b, rm, rv], epsilon=float(eps), momentum=mom)


@register_layer_exporter(nn.BatchNorm1d, nn.BatchNorm2d)
def _bn_layer(ctx, m, inputs, args, out, **kw):
    if m.running_mean is None:
        raise ctx.unsupported("batch norm without running statistics (track_running_stats=False) normalises "
                              "with batch statistics even in eval mode; only the inference form exports")
    x = inputs[0]
    two_d = args[0].ndim == 2
    if two_d:        # (N, C): runtimes differ on 2-D BatchNormalization; (N, C, 1) is safe everywhere
        x = ctx.unsqueeze(x, [2])
    y = _batch_norm(ctx, x, m.num_features, ctx.param(m.weight) if m.weight is not None else "",
                    ctx.param(m.bias) if m.bias is not None else "", ctx.param(m.running_mean),
                    ctx.param(m.running_var), m.eps, m.momentum, _dtype_of(args[0]))
    return ctx.squeeze(y, [2]) if two_d else y


@register_op_exporter("batch_norm")
def _bn_op(ctx, args, kwargs, names, out):
    x, w, b, rm, rv, training, momentum, eps = args[:8]
    if training or rm is None:
        raise ctx.unsupported("batch norm with batch statistics (training mode) has no inference form")
    xn = names[0]
    two_d = x.ndim == 2
    if two_d:
        xn = ctx.unsqueeze(xn, [2])
    y = _batch_norm(ctx, xn, x.shape[1], names[1] if w is not None else "", names[2] if b is not None else "",
                    names[3], names[4], eps, momentum, _dtype_of(x))
    return ctx.squeeze(y, [2]) if two_d else y


# ------------------------------------------------------------------------------ activations
def _unary(op_type):
    def fn(ctx, m, inputs, args, out, **kw):
        return ctx.op(op_type, [inputs[0]])
    return fn


register_layer_exporter(nn.ReLU)(_unary("Relu"))
register_layer_exporter(nn.Sigmoid)(_unary("Sigmoid"))
register_layer_exporter(nn.Tanh)(_unary("Tanh"))
register_layer_exporter(nn.Identity)(_unary("Identity"))
register_layer_exporter(nn.Dropout)(_unary("Identity"))      # inference: the identity


@register_layer_exporter(nn.ReLU6)
def _relu6_layer(ctx, m, inputs, args, out, **kw):
    return ctx.clip(inputs[0], 0, 6, _dtype_of(args[0]))


@register_layer_exporter(nn.LeakyReLU)
def _leaky_layer(ctx, m, inputs, args, out, **kw):
    return ctx.op("LeakyRelu", [inputs[0]], alpha=float(m.negative_slope))


@register_layer_exporter(nn.RReLU)
def _rrelu_layer(ctx, m, inputs, args, out, **kw):      # an exported graph is evaluation: the mean slope
    return ctx.op("LeakyRelu", [inputs[0]], alpha=(float(m.lower) + float(m.upper)) / 2)


@register_layer_exporter(nn.ELU)
def _elu_layer(ctx, m, inputs, args, out, **kw):
    return ctx.op("Elu", [inputs[0]], alpha=float(m.alpha))


def _prelu(ctx, x, x_ndim, slope_name, slope):
    if slope.numel() > 1 and x_ndim > 2:          # (C,) -> (C, 1, ..., 1) to broadcast over NCHW
        slope_name = ctx.op("Reshape", [slope_name, ctx.ints([slope.numel()] + [1] * (x_ndim - 2), "shape")])
    return ctx.op("PRelu", [x, slope_name])


@register_layer_exporter(nn.PReLU)
def _prelu_layer(ctx, m, inputs, args, out, **kw):
    return _prelu(ctx, inputs[0], args[0].ndim, ctx.param(m.weight), m.weight)


@register_op_exporter("prelu")
def _prelu_op(ctx, args, kwargs, names, out):
    return _prelu(ctx, names[0], args[0].ndim, names[1], args[1])


def _softmax(ctx, op_type, x, ndim, dim):
    if dim is None:
        dim = 0 if ndim in (0, 1, 3) else 1
    axis = dim % max(ndim, 1)
    if ctx.opset >= 13 or axis == ndim - 1:
        return ctx.op(op_type, [x], axis=axis if ctx.opset >= 13 else axis)
    perm = list(range(ndim))
    perm[axis], perm[-1] = perm[-1], perm[axis]
    y = ctx.op(op_type, [ctx.op("Transpose", [x], perm=perm)], axis=ndim - 1)
    return ctx.op("Transpose", [y], perm=perm)


@register_layer_exporter(nn.Softmax)
def _softmax_layer(ctx, m, inputs, args, out, **kw):
    op = "LogSoftmax" if isinstance(m, nn.LogSoftmax) else "Softmax"
    return _softmax(ctx, op, inputs[0], args[0].ndim, m.dim)


def _act_op(op_type, **fixed):
    def fn(ctx, args, kwargs, names, out):
        attrs = {k: float(kwargs[v]) for k, v in fixed.items() if v in kwargs}
        return ctx.op(op_type, [names[0]], **attrs)
    return fn


register_op_exporter("relu")(_act_op("Relu"))
register_op_exporter("sigmoid")(_act_op("Sigmoid"))
register_op_exporter("tanh")(_act_op("Tanh"))
register_op_exporter("leaky_relu")(_act_op("LeakyRelu", alpha="negative_slope"))
register_op_exporter("elu")(_act_op("Elu", alpha="alpha"))
register_op_exporter("exp")(_act_op("Exp"))
register_op_exporter("log")(_act_op("Log"))
register_op_exporter("sqrt")(_act_op("Sqrt"))
register_op_exporter("abs")(_act_op("Abs"))
register_op_exporter("neg")(_act_op("Neg"))
register_op_exporter("clone", "to_device")(_act_op("Identity"))


@register_op_exporter("relu6")
def _relu6_op(ctx, args, kwargs, names, out):
    return ctx.clip(names[0], 0, 6, _dtype_of(args[0]))


@register_op_exporter("softmax", "log_softmax")
def _softmax_op(ctx, args, kwargs, names, out):
    op = "LogSoftmax" if ctx.op_name == "log_softmax" else "Softmax"
    return _softmax(ctx, op, names[0], args[0].ndim, kwargs.get("axis", -1))


@register_op_exporter("clamp")
def _clamp_op(ctx, args, kwargs, names, out):
    a = args[0]
    lo = args[1] if len(args) > 1 else kwargs.get("lo")
    hi = args[2] if len(args) > 2 else kwargs.get("hi")
    return ctx.clip(names[0], lo, hi, _dtype_of(a))


@register_op_exporter("to")
def _cast_op(ctx, args, kwargs, names, out):
    from ._onnx import ONNX_OF_NUMPY
    return ctx.op("Cast", [names[0]], to=ONNX_OF_NUMPY[np.dtype(out.dtype)])


# ------------------------------------------------------------------------------ elementwise
def _operand(ctx, v, name, like):
    if name is not None:
        if np.dtype(v.dtype) != np.dtype(like):
            from ._onnx import ONNX_OF_NUMPY
            return ctx.op("Cast", [name], to=ONNX_OF_NUMPY[np.dtype(like)])
        return name
    return ctx.const(np.asarray(v, dtype=like), "scalar")


def _binary(op_type):
    def fn(ctx, args, kwargs, names, out):
        a, b = args[:2]
        dt = np.dtype(out.dtype)
        return ctx.op(op_type, [_operand(ctx, a, names[0], dt), _operand(ctx, b, names[1], dt)])
    return fn


register_op_exporter("add")(_binary("Add"))
register_op_exporter("sub")(_binary("Sub"))
register_op_exporter("mul")(_binary("Mul"))
register_op_exporter("div")(_binary("Div"))


@register_op_exporter("pow")
def _pow_op(ctx, args, kwargs, names, out):
    a, b = args[:2]
    dt = np.dtype(out.dtype)
    return ctx.op("Pow", [_operand(ctx, a, names[0], dt), _operand(ctx, b, names[1], dt)])


@register_op_exporter("where")
def _where_op(ctx, args, kwargs, names, out):
    cond, a, b = args[:3]
    dt = np.dtype(out.dtype)
    c = names[0] if names[0] is not None else ctx.const(np.asarray(cond, bool), "cond")
    return ctx.op("Where", [c, _operand(ctx, a, names[1], dt), _operand(ctx, b, names[2], dt)])


# ------------------------------------------------------------------------------ reductions
def _axes(axis, ndim):
    if axis is None:
        return None
    if isinstance(axis, (tuple, list)):
        return [int(a) % ndim for a in axis]
    return [int(axis) % ndim]


def _reduce(op_type):
    def fn(ctx, args, kwargs, names, out):
        a = args[0]
        axis = args[1] if len(args) > 1 else kwargs.get("axis")
        keep = args[2] if len(args) > 2 else kwargs.get("keepdim", False)
        axes = _axes(axis, a.ndim)
        if axes is None and op_type != "ReduceSum":
            axes = list(range(a.ndim))
        return ctx.reduce(op_type, names[0], axes, keep)
    return fn


register_op_exporter("sum")(_reduce("ReduceSum"))
register_op_exporter("mean")(_reduce("ReduceMean"))


def _extreme(op_type, arg_type):
    """max / min: over axes (one output), or along one dim as (values, indices) — ArgMax/ArgMin give
    the first extreme, as PyTorch does."""
    plain = _reduce(op_type)

    def fn(ctx, args, kwargs, names, out):
        if not isinstance(out, (tuple, list)):
            return plain(ctx, args, kwargs, names, out)
        a = args[0]
        axis = int(args[1] if len(args) > 1 else kwargs.get("axis")) % max(a.ndim, 1)
        keep = bool(args[2] if len(args) > 2 else kwargs.get("keepdim", False))
        return (ctx.reduce(op_type, names[0], [axis], keep),
                ctx.op(arg_type, [names[0]], axis=axis, keepdims=int(keep)))
    return fn


register_op_exporter("max")(_extreme("ReduceMax", "ArgMax"))
register_op_exporter("min")(_extreme("ReduceMin", "ArgMin"))


@register_op_exporter("var")
def _var_op(ctx, args, kwargs, names, out):
    a = args[0]
    axis = args[1] if len(args) > 1 else kwargs.get("axis")
    keep = args[2] if len(args) > 2 else kwargs.get("keepdim", False)
    corr = args[3] if len(args) > 3 else kwargs.get("correction", 1)
    axes = _axes(axis, a.ndim) or list(range(a.ndim))
    n = int(np.prod([a.shape[i] for i in axes]))
    d = ctx.op("Sub", [names[0], ctx.reduce("ReduceMean", names[0], axes, True)])
    s = ctx.reduce("ReduceSum", ctx.op("Mul", [d, d]), axes, keep)
    return ctx.op("Div", [s, ctx.const(np.asarray(max(n - corr, 0), _dtype_of(a)), "dof")])


# ------------------------------------------------------------------------------ shapes
def _relative_shape(in_shape, out_shape):
    """A Reshape target equal to out_shape for this input that copies leading dimensions shared with
    the input (0) and infers one merged dimension (-1), so a symbolic batch survives."""
    in_shape, out_shape = list(in_shape), list(out_shape)
    p = 0
    while p < min(len(in_shape), len(out_shape)) and in_shape[p] == out_shape[p]:
        p += 1
    q = 0
    while (q < min(len(in_shape), len(out_shape)) - p and in_shape[-1 - q] == out_shape[-1 - q]):
        q += 1
    middle = out_shape[p:len(out_shape) - q]
    mid = [-1] if len(middle) == 1 and 0 not in out_shape else [int(v) for v in middle]
    if not middle and p == len(out_shape) and len(in_shape) != len(out_shape) and 0 not in out_shape:
        mid = []
    return [0] * p + mid + [int(v) for v in out_shape[len(out_shape) - q:]]


@register_op_exporter("reshape")
def _reshape_op(ctx, args, kwargs, names, out):
    target = _relative_shape(args[0].shape, out.shape)
    if 0 in out.shape or 0 in args[0].shape:
        target = [int(v) for v in out.shape]
    return ctx.op("Reshape", [names[0], ctx.ints(target, "shape")])


@register_layer_exporter(nn.Flatten)
def _flatten_layer(ctx, m, inputs, args, out, **kw):
    return ctx.op("Reshape", [inputs[0], ctx.ints(_relative_shape(args[0].shape, out.shape), "shape")])


@register_op_exporter("permute")
def _permute_op(ctx, args, kwargs, names, out):
    a, dims = args[:2]
    return ctx.op("Transpose", [names[0]], perm=[int(d) % max(a.ndim, 1) for d in dims])


@register_op_exporter("expand")
def _expand_op(ctx, args, kwargs, names, out):
    a = args[0]
    off = out.ndim - a.ndim
    target = [1 if j >= off and a.shape[j - off] == out.shape[j] else int(out.shape[j]) for j in range(out.ndim)]
    return ctx.op("Expand", [names[0], ctx.ints(target, "shape")])


@register_op_exporter("cat")
def _cat_op(ctx, args, kwargs, names, out):
    axis = int(kwargs.get("axis", 0)) % max(args[0].ndim, 1)
    return ctx.op("Concat", names, axis=axis)


@register_op_exporter("stack")
def _stack_op(ctx, args, kwargs, names, out):
    axis = int(kwargs.get("axis", 0)) % out.ndim
    return ctx.op("Concat", [ctx.unsqueeze(n, [axis]) for n in names], axis=axis)


@register_op_exporter("getitem")
def _getitem_op(ctx, args, kwargs, names, out):
    """Basic indexing (ints, slices, None, Ellipsis) as Slice → Squeeze → Unsqueeze, and one 1-D
    integer array on one axis as Gather."""
    a, idx = args[:2]
    shape, ndim = a.shape, a.ndim
    items = list(idx) if isinstance(idx, tuple) else [idx]

    def is_array(it):
        return isinstance(it, (list, np.ndarray)) or hasattr(it, "__cuda_array_interface__")
    for k, it in enumerate(items):
        if is_array(it):
            arr = np.asarray(it.get() if hasattr(it, "get") and not isinstance(it, np.ndarray) else it)
            if arr.dtype == np.bool_:
                raise ctx.unsupported("boolean-mask indexing (its output size depends on the data)")
            if arr.ndim == 0:
                items[k] = int(arr)
    real = sum(1 for it in items if it is not None and it is not Ellipsis)
    expanded = []
    for it in items:
        if it is Ellipsis:
            expanded += [slice(None)] * (ndim - real)
        else:
            expanded.append(it)
    expanded += [slice(None)] * (ndim - sum(1 for it in expanded if it is not None))
    starts, ends, axes, steps, squeeze, unsq = [], [], [], [], [], []
    gather = None
    axis = out_pos = 0
    for it in expanded:
        if it is None:
            unsq.append(out_pos)
            out_pos += 1
            continue
        dim = int(shape[axis])
        if isinstance(it, (int, np.integer)) and not isinstance(it, bool):
            i = int(it) + (dim if int(it) < 0 else 0)
            starts.append(i), ends.append(i + 1), axes.append(axis), steps.append(1)
            squeeze.append(axis)
        elif isinstance(it, slice):
            st, sp, stp = it.indices(dim)
            if (st, sp, stp) != (0, dim, 1):
                starts.append(st), ends.append(_I64_MIN if stp < 0 and sp < 0 else sp), axes.append(axis)
                steps.append(stp)
            out_pos += 1
        elif is_array(it):
            arr = np.asarray(it.get() if hasattr(it, "get") and not isinstance(it, np.ndarray) else it)
            if gather is not None or arr.ndim != 1:
                raise ctx.unsupported("advanced indexing beyond one 1-D integer index array")
            gather = (axis, arr.astype(np.int64))
            out_pos += 1
        else:
            raise ctx.unsupported(f"index of type {type(it).__name__}")
        axis += 1
    y = names[0]
    if axes:
        y = ctx.slice(y, starts, ends, axes, steps)
    if gather is not None:
        y = ctx.op("Gather", [y, ctx.const(gather[1], "indices")], axis=gather[0])
    if squeeze:
        y = ctx.squeeze(y, squeeze)
    if unsq:
        y = ctx.unsqueeze(y, unsq)
    if y == names[0]:
        y = ctx.op("Identity", [y])
    return y


# ------------------------------------------------------------------------------ recurrent
_LSTM_GATES = [0, 3, 1, 2]          # PyTorch i, f, g, o -> ONNX i, o, f, c


def _gates(order, n):
    def f(a):
        blocks = np.split(a, n, axis=0)
        return np.concatenate([blocks[i] for i in order], axis=0)
    return f


# gate blocks per op and the order ONNX wants PyTorch's blocks in
_GATES = {"LSTM": (4, _LSTM_GATES), "GRU": (3, [1, 0, 2]), "RNN": (1, [0])}   # GRU: r, z, n -> z, r, h


def _host(t):
    return t._data if isinstance(t._data, np.ndarray) else t._data.get()


def _recurrent_layer(ctx, op_type, x, w_ih, w_hh, b_ih, b_hh, H, initial, extra_attrs, reverse=None):
    """One layer, forward only or (with reverse = the backward direction's (w_ih, w_hh, b_ih, b_hh))
    bidirectional: returns (Y as (T, N, D·H), the forward half first as PyTorch joins them, and
    [Y_h, (Y_c)] each (D, N, H)). ONNX's Y is (T, D, N, H): Transpose to (T, N, D, H), then Reshape."""
    n, order = _GATES[op_type]
    dirs = [(w_ih, w_hh, b_ih, b_hh)] + ([reverse] if reverse is not None else [])
    if reverse is None:
        W = ctx.param(w_ih, lambda a: _gates(order, n)(a)[None], "W")
        R = ctx.param(w_hh, lambda a: _gates(order, n)(a)[None], "R")
    else:
        base = ctx._params.get(id(w_ih)) or "W"
        W = ctx.const(np.stack([_gates(order, n)(_host(d[0])) for d in dirs]), base + "_bidirectional", dedupe=False)
        base = ctx._params.get(id(w_hh)) or "R"
        R = ctx.const(np.stack([_gates(order, n)(_host(d[1])) for d in dirs]), base + "_bidirectional", dedupe=False)
    ins = [x, W, R]
    if b_ih is not None or b_hh is not None:
        zeros = np.zeros(n * H, _dtype_of(w_ih))
        B = [np.concatenate([_gates(order, n)(_host(bi)) if bi is not None else zeros,
                             _gates(order, n)(_host(bh)) if bh is not None else zeros]) for _, _, bi, bh in dirs]
        ins.append(ctx.const(np.stack(B), "B", dedupe=False))
    else:
        ins.append("")
    ins.append("")                                   # sequence_lens
    ins += initial
    while ins and ins[-1] == "":
        ins.pop()
    n_out = 3 if op_type == "LSTM" else 2
    attrs = dict(extra_attrs)
    if reverse is not None:
        attrs["direction"] = "bidirectional"
        if "activations" in attrs:
            attrs["activations"] = list(attrs["activations"]) * 2
    outs = ctx.op(op_type, ins, n_outputs=n_out, hidden_size=int(H), **attrs)
    if reverse is None:
        return ctx.squeeze(outs[0], [1]), outs[1:]
    y = ctx.op("Transpose", [outs[0]], perm=[0, 2, 1, 3])
    return ctx.op("Reshape", [y, ctx.ints([0, 0, -1])]), outs[1:]


def _layer_state(ctx, name, layer, D=1):
    return ctx.slice(name, [layer * D], [layer * D + D], [0]) if name else ""


def _rnn_export(ctx, m, inputs, args, out, hx, op_type, extra_attrs):
    """A stack of num_layers nodes, each forward or bidirectional; layer l reads the initial states
    l·D .. l·D + D − 1 of h0 (c0), and the final states are concatenated layer-major, PyTorch's (L·D, N, H)."""
    bidir = bool(getattr(m, "bidirectional", False))
    D = 2 if bidir else 1
    x_t = args[0]
    x = inputs[0]
    unbatched = x_t.ndim == 2
    if unbatched:
        x = ctx.unsqueeze(x, [1])
    elif m.batch_first:
        x = ctx.op("Transpose", [x], perm=[1, 0, 2])
    states = []
    if hx is not None:
        parts = hx if op_type == "LSTM" else (hx,)
        for p in parts:
            nm = ctx.name_of(p, "state")
            states.append(ctx.unsqueeze(nm, [1]) if unbatched else nm)
    finals = [[] for _ in range(2 if op_type == "LSTM" else 1)]
    for layer in range(m.num_layers):
        w_ih, w_hh, b_ih, b_hh = m._layer_params(layer)
        rev = m._layer_params(layer, True) if bidir else None
        init = [_layer_state(ctx, s, layer, D) for s in states]
        x, fin = _recurrent_layer(ctx, op_type, x, w_ih, w_hh, b_ih, b_hh, m.hidden_size, init, extra_attrs, rev)
        for k, f in enumerate(fin):
            finals[k].append(f)
    cat = [f[0] if len(f) == 1 else ctx.op("Concat", f, axis=0) for f in finals]
    if unbatched:
        x = ctx.squeeze(x, [1])
        cat = [ctx.squeeze(c, [1]) for c in cat]
    elif m.batch_first:
        x = ctx.op("Transpose", [x], perm=[1, 0, 2])
    return (x, tuple(cat)) if op_type == "LSTM" else (x, cat[0])


@register_layer_exporter(nn.LSTM)
def _lstm_layer(ctx, m, inputs, args, out, **kw):
    hx = args[1] if len(args) > 1 else kw.get("hx")
    return _rnn_export(ctx, m, inputs, args, out, hx, "LSTM", {})


@register_layer_exporter(nn.RNN)
def _rnn_layer(ctx, m, inputs, args, out, **kw):
    hx = args[1] if len(args) > 1 else kw.get("hx")
    act = "Tanh" if m.nonlinearity == "tanh" else "Relu"
    return _rnn_export(ctx, m, inputs, args, out, hx, "RNN", {"activations": [act]})


def _cell(ctx, x, x_ndim, w_ih, w_hh, b_ih, b_hh, H, h, c):
    unbatched = x_ndim == 1
    X = ctx.unsqueeze(x, [0, 1] if unbatched else [0])
    init = []
    if h is not None:
        init = [ctx.unsqueeze(h, [0, 1] if unbatched else [0]), ctx.unsqueeze(c, [0, 1] if unbatched else [0])]
    _, (yh, yc) = _recurrent_layer(ctx, "LSTM", X, w_ih, w_hh, b_ih, b_hh, H, init, {})
    ax = [0, 1] if unbatched else [0]
    return ctx.squeeze(yh, ax), ctx.squeeze(yc, ax)


@register_layer_exporter(nn.LSTMCell)
def _lstm_cell_layer(ctx, m, inputs, args, out, **kw):
    hx = args[1] if len(args) > 1 else kw.get("hx")
    h = c = None
    if hx is not None:
        h, c = ctx.name_of(hx[0], "h"), ctx.name_of(hx[1], "c")
    return _cell(ctx, inputs[0], args[0].ndim, m.weight_ih, m.weight_hh, m.bias_ih, m.bias_hh, m.hidden_size, h, c)


def _as_param(ctx, t):
    """A raw weight array handed to a Function, as a Tensor-like for ctx.param."""
    from ..tensor import Tensor, _wrap
    if t is None or isinstance(t, Tensor):
        return t
    w = _wrap(t)
    name = ctx._params.get(id(t))
    if name is not None:
        ctx._params[id(w)] = name
    return w


@register_op_exporter("lstm")
def _lstm_op(ctx, args, kwargs, names, out):
    x, h0, c0, w_ih, w_hh, b_ih, b_hh = args[:7]
    H = w_hh.shape[1]
    init = [ctx.unsqueeze(names[1], [0]), ctx.unsqueeze(names[2], [0])]
    y, (yh, yc) = _recurrent_layer(ctx, "LSTM", names[0], _as_param(ctx, w_ih), _as_param(ctx, w_hh),
                                   _as_param(ctx, b_ih), _as_param(ctx, b_hh), H, init, {})
    return y, ctx.squeeze(yh, [0]), ctx.squeeze(yc, [0])


@register_op_exporter("lstm_cell")
def _lstm_cell_op(ctx, args, kwargs, names, out):
    x, h, c, w_ih, w_hh, b_ih, b_hh = args[:7]
    return _cell(ctx, names[0], 2, _as_param(ctx, w_ih), _as_param(ctx, w_hh), _as_param(ctx, b_ih),
                 _as_param(ctx, b_hh), w_hh.shape[1], names[1], names[2])


# ------------------------------------------------------------------------------ layers to come
# Exporters for layers pyengine is about to get (GRU, LayerNorm, Embedding, ConvTranspose2d), written
# against PyTorch's attribute names; each registers once its class exists in pyengine.nn, and the
# export test of every layer in tests/layer_cases.py then runs it.
def _when_layer(name):
    cls = getattr(nn, name, None)
    return register_layer_exporter(cls) if cls is not None else (lambda fn: fn)


@_when_layer("GRU")
def _gru_layer(ctx, m, inputs, args, out, **kw):
    hx = args[1] if len(args) > 1 else kw.get("hx")
    return _rnn_export(ctx, m, inputs, args, out, hx, "GRU", {"linear_before_reset": 1})


def _single_state_cell(ctx, m, inputs, args, kw, op_type, attrs):
    """RNNCell / GRUCell as a one-step RNN / GRU node: x (N, I) or (I,), hx likewise -> h'."""
    hx = args[1] if len(args) > 1 else kw.get("hx")
    ax = [0, 1] if args[0].ndim == 1 else [0]
    init = [ctx.unsqueeze(ctx.name_of(hx, "h"), ax)] if hx is not None else []
    _, (yh,) = _recurrent_layer(ctx, op_type, ctx.unsqueeze(inputs[0], ax), m.weight_ih, m.weight_hh, m.bias_ih,
                                m.bias_hh, m.hidden_size, init, attrs)
    return ctx.squeeze(yh, ax)


@_when_layer("GRUCell")
def _gru_cell_layer(ctx, m, inputs, args, out, **kw):
    return _single_state_cell(ctx, m, inputs, args, kw, "GRU", {"linear_before_reset": 1})


@_when_layer("RNNCell")
def _rnn_cell_layer(ctx, m, inputs, args, out, **kw):
    act = "Tanh" if m.nonlinearity == "tanh" else "Relu"
    return _single_state_cell(ctx, m, inputs, args, kw, "RNN", {"activations": [act]})


@_when_layer("LayerNorm")
def _layer_norm_layer(ctx, m, inputs, args, out, **kw):
    shape = tuple(m.normalized_shape) if isinstance(m.normalized_shape, (tuple, list)) else (m.normalized_shape,)
    dt = _dtype_of(args[0])
    w = ctx.param(m.weight) if getattr(m, "weight", None) is not None else ctx.const(np.ones(shape, dt), "ln_scale")
    b = ctx.param(m.bias) if getattr(m, "bias", None) is not None else ""
    if ctx.opset >= 17:
        return ctx.op("LayerNormalization", [inputs[0], w] + ([b] if b else []), axis=-len(shape), epsilon=float(m.eps))
    axes = list(range(args[0].ndim - len(shape), args[0].ndim))
    d = ctx.op("Sub", [inputs[0], ctx.reduce("ReduceMean", inputs[0], axes, True)])
    var = ctx.reduce("ReduceMean", ctx.op("Mul", [d, d]), axes, True)
    y = ctx.op("Div", [d, ctx.op("Sqrt", [ctx.op("Add", [var, ctx.const(np.asarray(m.eps, dt), "eps")])])])
    y = ctx.op("Mul", [y, w])
    return ctx.op("Add", [y, b]) if b else y


@_when_layer("Embedding")
def _embedding_layer(ctx, m, inputs, args, out, **kw):
    return ctx.op("Gather", [ctx.param(m.weight), inputs[0]], axis=0)


@_when_layer("ConvTranspose2d")
def _conv_transpose_layer(ctx, m, inputs, args, out, **kw):
    """output_padding is read off the traced output, so forward(x, output_size) exports as run; an
    unbatched (C, H, W) input runs as (1, C, H, W)."""
    kh, kw_ = (int(v) for v in m.weight.shape[2:])
    ph, pw = _pair(m.padding)
    (sh, sw), (dh, dw) = _pair(m.stride), _pair(m.dilation)
    H, W = args[0].shape[-2:]
    op_ = [int(out.shape[-2]) - ((H - 1) * sh - 2 * ph + dh * (kh - 1) + 1),
           int(out.shape[-1]) - ((W - 1) * sw - 2 * pw + dw * (kw_ - 1) + 1)]
    unbatched = args[0].ndim == 3
    x = ctx.unsqueeze(inputs[0], [0]) if unbatched else inputs[0]
    ins = [x, ctx.param(m.weight)] + ([ctx.param(m.bias)] if m.bias is not None else [])
    y = ctx.op("ConvTranspose", ins, kernel_shape=[kh, kw_], strides=[sh, sw], pads=[ph, pw, ph, pw],
               output_padding=op_, dilations=[dh, dw], group=int(m.groups))
    return ctx.squeeze(y, [0]) if unbatched else y


@register_op_exporter("conv_transpose2d")
def _conv_transpose_op(ctx, args, kwargs, names, out):
    x, w, b, stride, padding, output_padding, groups, dilation = args[:8]
    kh, kw_ = (int(v) for v in w.shape[2:])
    ph, pw = _pair(padding)
    ins = [names[0], names[1]] + ([names[2]] if b is not None else [])
    return ctx.op("ConvTranspose", ins, kernel_shape=[kh, kw_], strides=list(_pair(stride)), pads=[ph, pw, ph, pw],
                  output_padding=list(_pair(output_padding)), dilations=list(_pair(dilation)), group=int(groups))
