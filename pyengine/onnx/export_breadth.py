"""ONNX exporters of the activations, GroupNorm/InstanceNorm and Embedding that came with the nn
breadth (pyengine.autograd.activation's second half, autograd.group_norm), keyed by their Function
names. Each is written with opset-11 ops that pyengine.onnx.load reads back (Where, Greater, Exp,
Tanh, Softplus, Erf ...), so one form serves every opset:

    gelu       0.5·x·(1 + Erf(x/√2))  or  0.5·x·(1 + Tanh(√(2/π)·(x + 0.044715·x³)))
    silu       x·Sigmoid(x)                 mish        x·Tanh(Softplus(x))
    hardswish  x·HardSigmoid(x; 1/6, ½)     hardsigmoid HardSigmoid(x; 1/6, ½)
    celu/selu  scale·Where(x > 0, x, α·(Exp(k·x) − 1))
    softplus   Where(β·x > threshold, x, Softplus(β·x)/β)
    group_norm Reshape(N, G, −1) → (x − mean)/√(var + eps) → Reshape(shape of x) → ·w + b
"""
from __future__ import annotations

import math

import numpy as np

from .export import register_op_exporter


def _dt(a):
    return np.dtype(getattr(a, "dtype", np.float32))


def _c(ctx, v, a, hint="c"):
    return ctx.const(np.asarray(v, _dt(a)), hint)


def _mul(ctx, x, k, a):
    return ctx.op("Mul", [x, _c(ctx, k, a)])


@register_op_exporter("gelu")
def _gelu(ctx, args, kwargs, names, out):
    x, a = names[0], args[0]
    approximate = args[1] if len(args) > 1 else "none"
    if approximate == "tanh":
        cube = ctx.op("Mul", [ctx.op("Mul", [x, x]), x])
        inner = _mul(ctx, ctx.op("Add", [x, _mul(ctx, cube, 0.044715, a)]), math.sqrt(2 / math.pi), a)
        t = ctx.op("Tanh", [inner])
    else:
        t = ctx.op("Erf", [_mul(ctx, x, 1 / math.sqrt(2), a)])
    return _mul(ctx, ctx.op("Mul", [x, ctx.op("Add", [t, _c(ctx, 1.0, a)])]), 0.5, a)


@register_op_exporter("silu")
def _silu(ctx, args, kwargs, names, out):
    return ctx.op("Mul", [names[0], ctx.op("Sigmoid", [names[0]])])


@register_op_exporter("mish")
def _mish(ctx, args, kwargs, names, out):
    return ctx.op("Mul", [names[0], ctx.op("Tanh", [ctx.op("Softplus", [names[0]])])])


@register_op_exporter("hardsigmoid")
def _hardsigmoid(ctx, args, kwargs, names, out):
    return ctx.op("HardSigmoid", [names[0]], alpha=1 / 6, beta=0.5)


@register_op_exporter("hardswish")
def _hardswish(ctx, args, kwargs, names, out):
    return ctx.op("Mul", [names[0], ctx.op("HardSigmoid", [names[0]], alpha=1 / 6, beta=0.5)])


@register_op_exporter("celu", "selu")
def _elu_family(ctx, args, kwargs, names, out):
    x, a = names[0], args[0]
    alpha, k, scale = args[1:4]
    neg = _mul(ctx, ctx.op("Sub", [ctx.op("Exp", [_mul(ctx, x, k, a)]), _c(ctx, 1.0, a)]), alpha, a)
    y = ctx.op("Where", [ctx.op("Greater", [x, _c(ctx, 0.0, a)]), x, neg])
    return y if scale == 1 else _mul(ctx, y, scale, a)


@register_op_exporter("softplus")
def _softplus(ctx, args, kwargs, names, out):
    x, a = names[0], args[0]
    beta, threshold = args[1], args[2]
    bx = _mul(ctx, x, beta, a)
    soft = _mul(ctx, ctx.op("Softplus", [bx]), 1 / beta, a)
    return ctx.op("Where", [ctx.op("Greater", [bx, _c(ctx, threshold, a)]), x, soft])


@register_op_exporter("softsign")
def _softsign(ctx, args, kwargs, names, out):
    return ctx.op("Softsign", [names[0]])


@register_op_exporter("log_sigmoid")
def _log_sigmoid(ctx, args, kwargs, names, out):
    return ctx.op("Neg", [ctx.op("Softplus", [ctx.op("Neg", [names[0]])])])


@register_op_exporter("hardtanh")
def _hardtanh(ctx, args, kwargs, names, out):
    return ctx.clip(names[0], args[1], args[2], _dt(args[0]))


@register_op_exporter("tanhshrink")
def _tanhshrink(ctx, args, kwargs, names, out):
    return ctx.op("Sub", [names[0], ctx.op("Tanh", [names[0]])])


def _outside(ctx, x, lam, a):
    return ctx.op("Or", [ctx.op("Greater", [x, _c(ctx, lam, a)]), ctx.op("Less", [x, _c(ctx, -lam, a)])])


@register_op_exporter("softshrink")
def _softshrink(ctx, args, kwargs, names, out):
    x, a, lam = names[0], args[0], args[1]
    shifted = ctx.op("Where", [ctx.op("Greater", [x, _c(ctx, 0.0, a)]), ctx.op("Sub", [x, _c(ctx, lam, a)]),
                               ctx.op("Add", [x, _c(ctx, lam, a)])])
    return ctx.op("Where", [_outside(ctx, x, lam, a), shifted, _c(ctx, 0.0, a)])


@register_op_exporter("hardshrink")
def _hardshrink(ctx, args, kwargs, names, out):
    x, a, lam = names[0], args[0], args[1]
    return ctx.op("Where", [_outside(ctx, x, lam, a), x, _c(ctx, 0.0, a)])


@register_op_exporter("threshold")
def _threshold(ctx, args, kwargs, names, out):
    x, a = names[0], args[0]
    return ctx.op("Where", [ctx.op("Greater", [x, _c(ctx, args[1], a)]), x, _c(ctx, args[2], a)])


@register_op_exporter("group_norm")
def _group_norm(ctx, args, kwargs, names, out):
    x, w, b, G, eps = args[:5]
    a = x
    grouped = ctx.op("Reshape", [names[0], ctx.ints([0, G, -1])])
    mean = ctx.reduce("ReduceMean", grouped, [2], True)
    d = ctx.op("Sub", [grouped, mean])
    var = ctx.reduce("ReduceMean", ctx.op("Mul", [d, d]), [2], True)
    y = ctx.op("Div", [d, ctx.op("Sqrt", [ctx.op("Add", [var, _c(ctx, eps, a, "eps")])])])
    y = ctx.op("Reshape", [y, ctx.op("Shape", [names[0]])])
    spatial = list(range(1, x.ndim - 1))
    if w is not None:
        y = ctx.op("Mul", [y, ctx.unsqueeze(names[1], spatial) if spatial else names[1]])
    if b is not None:
        y = ctx.op("Add", [y, ctx.unsqueeze(names[2], spatial) if spatial else names[2]])
    return y


@register_op_exporter("embedding")
def _embedding(ctx, args, kwargs, names, out):
    return ctx.op("Gather", [names[0], names[1]], axis=0)
