"""pyengine.nn.functional — differentiable layers and losses as autograd Functions.

Layer ops (conv, pooling, linear, activations, softmax, batch norm, dropout, LSTM, cross-entropy)
call the kernel contract by its fixed names on the device's kernel module
(``kernels_for(x.device)``: ``pyengine.kernels.cpu`` for CPU tensors). The other losses are
compositions of differentiable tensor ops, except binary cross-entropy with logits, written as one
Function in its stable form. Shapes follow PyTorch: images NCHW, sequences (T, N, I).
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.device import kernels_for, xp_of
from ..autograd.function import Function
from ..tensor import Tensor, _wrap, default_generator, where

__all__ = ["conv2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "global_avg_pool2d", "linear", "relu",
           "leaky_relu", "relu6", "prelu", "elu", "sigmoid", "tanh", "softmax", "log_softmax", "dropout", "batch_norm",
           "lstm", "lstm_cell", "rnn_tanh_cell", "flatten", "pad", "cross_entropy", "nll_loss", "mse_loss",
           "l1_loss", "smooth_l1_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
           "multi_margin_loss", "hinge_embedding_loss", "kl_div", "one_hot"]


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _K(fn, x):
    """The kernel module for x's device; a TypeError naming fn when x is not a Tensor."""
    try:
        dev = x._device
    except AttributeError:
        raise TypeError(f"{fn}: input must be a pyengine.Tensor, got {type(x).__name__}") from None
    return kernels_for(dev)


def _need_tensor(fn, name, x):
    if not isinstance(x, Tensor):
        raise TypeError(f"{fn}: {name} must be a pyengine.Tensor, got {type(x).__name__}")


def _same(fn, a_name, a, b_name, b):
    """dtype and device agreement between two tensors, naming both."""
    if b is None:
        return
    if a._data.dtype != b._data.dtype:
        raise TypeError(f"{fn}: {a_name} {tuple(a.shape)} is {a.dtype} but {b_name} {tuple(b.shape)} is {b.dtype}")
    if a._device != b._device:
        raise ValueError(f"{fn}: {a_name} is on {a._device} but {b_name} is on {b._device}")


# ---------------------------------------------------------------- convolution and pooling
class _Conv2d(Function):
    name = "conv2d"

    @staticmethod
    def forward(ctx, x, w, b, stride, padding, dilation, groups, K):
        ctx.x, ctx.w, ctx.args, ctx.K = x, w, (stride, padding, dilation, groups), K
        return K.conv2d_forward(x, w, b, stride, padding, dilation, groups)

    @staticmethod
    def backward(ctx, g):
        K, x, w = ctx.K, ctx.x, ctx.w
        n = ctx.needs_input_grad
        return (K.conv2d_backward_input(g, w, x.shape, *ctx.args) if n[0] else None,
                K.conv2d_backward_weight(g, x, w.shape, *ctx.args) if n[1] else None,
                K.conv2d_backward_bias(g) if n[2] else None)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """input (N, C, H, W), weight (K, C/groups, R, S), bias (K,) -> (N, K, OH, OW),
    OH = (H + 2·pad − dil·(R−1) − 1) // stride + 1. padding may be 'valid' or 'same' (stride 1)."""
    _need_tensor("conv2d", "input", input)
    if input.ndim != 4 or weight.ndim != 4:
        raise ValueError(f"conv2d: expects input (N, C, H, W) and weight (K, C/groups, R, S), got input "
                         f"{tuple(input.shape)} and weight {tuple(weight.shape)}")
    if input.shape[1] != weight.shape[1] * groups:
        raise ValueError(f"conv2d: input {tuple(input.shape)} has {input.shape[1]} channels but weight "
                         f"{tuple(weight.shape)} with groups={groups} expects {weight.shape[1] * groups}")
    _same("conv2d", "input", input, "weight", weight)
    _same("conv2d", "input", input, "bias", bias)
    if isinstance(padding, str):
        if padding == "valid":
            padding = 0
        elif padding == "same":
            if _pair(stride) != (1, 1):
                raise ValueError("conv2d: padding='same' needs stride 1")
            dh, dw = _pair(dilation)
            th, tw = dh * (weight.shape[2] - 1), dw * (weight.shape[3] - 1)
            if th % 2 or tw % 2:
                # An odd total goes one extra on the bottom/right, as PyTorch does.
                input = pad(input, (tw // 2, tw - tw // 2, th // 2, th - th // 2))
                padding = 0
            else:
                padding = (th // 2, tw // 2)
        else:
            raise ValueError(f"conv2d: padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
    return _Conv2d.apply(input, weight, bias, stride, padding, dilation, groups, K=_K("conv2d", input))


class _MaxPool2d(Function):
    name = "max_pool2d"

    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding, dilation, ceil_mode, K):
        y, idx = K.max_pool2d_forward(x, kernel_size, stride, padding, dilation, ceil_mode)
        ctx.idx, ctx.shape, ctx.K = idx, x.shape, K
        return y

    @staticmethod
    def backward(ctx, g):
        return ctx.K.max_pool2d_backward_input(g, ctx.idx, ctx.shape)


def _check4d(fn, x):
    _need_tensor(fn, "input", x)
    if x.ndim != 4:
        raise ValueError(f"{fn}: expects input of shape (N, C, H, W), got {tuple(x.shape)}")


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """input (N, C, H, W) -> (N, C, OH, OW); stride defaults to kernel_size. With return_indices, also
    the flat h·W+w position of each maximum in its input plane (int64)."""
    _check4d("max_pool2d", input)
    if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0):
        stride = kernel_size
    y = _MaxPool2d.apply(input, kernel_size, stride, padding, dilation, ceil_mode, K=_K("max_pool2d", input))
    if return_indices:
        return y, _wrap(y._grad_fn.idx if y._grad_fn is not None else
                        _K("max_pool2d", input).max_pool2d_forward(input._data, kernel_size, stride, padding,
                                                                      dilation, ceil_mode)[1])
    return y


class _AvgPool2d(Function):
    name = "avg_pool2d"

    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding, ceil_mode, count_include_pad, K):
        ctx.args = (x.shape, kernel_size, stride, padding, ceil_mode, count_include_pad)
        ctx.K = K
        return K.avg_pool2d_forward(x, kernel_size, stride, padding, ceil_mode, count_include_pad)

    @staticmethod
    def backward(ctx, g):
        return ctx.K.avg_pool2d_backward_input(g, *ctx.args)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """input (N, C, H, W) -> (N, C, OH, OW), OH = (H + 2·pad − k) // stride + 1."""
    _check4d("avg_pool2d", input)
    if stride is None:
        stride = kernel_size
    return _AvgPool2d.apply(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                            K=_K("avg_pool2d", input))


class _GlobalAvgPool2d(Function):
    name = "global_avg_pool2d"

    @staticmethod
    def forward(ctx, x, K):
        ctx.shape, ctx.K = x.shape, K
        return K.global_avg_pool2d_forward(x)

    @staticmethod
    def backward(ctx, g):
        return ctx.K.global_avg_pool2d_backward_input(g, ctx.shape)


def global_avg_pool2d(input):
    """input (N, C, H, W) -> (N, C, 1, 1), the mean over each plane."""
    _check4d("global_avg_pool2d", input)
    return _GlobalAvgPool2d.apply(input, K=_K("global_avg_pool2d", input))


class _AdaptiveAvgPool2d(Function):
    """Output cell (i, j) averages rows floor(i·H/OH) .. ceil((i+1)·H/OH) and the same for columns."""
    name = "adaptive_avg_pool2d"

    @staticmethod
    def forward(ctx, x, oh, ow):
        H, W = x.shape[2:]
        rows = [(i * H // oh, -(-(i + 1) * H // oh)) for i in range(oh)]
        cols = [(j * W // ow, -(-(j + 1) * W // ow)) for j in range(ow)]
        y = xp_of(x).empty(x.shape[:2] + (oh, ow), x.dtype)
        for i, (r0, r1) in enumerate(rows):
            for j, (c0, c1) in enumerate(cols):
                y[:, :, i, j] = x[:, :, r0:r1, c0:c1].mean(axis=(2, 3))
        ctx.shape, ctx.rows, ctx.cols = x.shape, rows, cols
        return y

    @staticmethod
    def backward(ctx, g):
        gx = xp_of(g).zeros(ctx.shape, g.dtype)
        for i, (r0, r1) in enumerate(ctx.rows):
            for j, (c0, c1) in enumerate(ctx.cols):
                gx[:, :, r0:r1, c0:c1] += (g[:, :, i, j] / ((r1 - r0) * (c1 - c0)))[:, :, None, None]
        return gx


def adaptive_avg_pool2d(input, output_size):
    """input (N, C, H, W) -> (N, C, OH, OW) for output_size (OH, OW) (None keeps that size)."""
    _check4d("adaptive_avg_pool2d", input)
    oh, ow = _pair(output_size)
    H, W = input.shape[2:]
    oh, ow = oh or H, ow or W
    if (oh, ow) == (1, 1):
        return global_avg_pool2d(input)
    if H % oh == 0 and W % ow == 0:
        k = (H // oh, W // ow)
        return avg_pool2d(input, k, k)
    return _AdaptiveAvgPool2d.apply(input, oh, ow)


class _Pad(Function):
    name = "pad"

    @staticmethod
    def forward(ctx, x, widths, value):
        ctx.sl = tuple(slice(a, a + s) for (a, _), s in zip(widths, x.shape))
        return np.pad(x, widths, constant_values=value)

    @staticmethod
    def backward(ctx, g):
        return g[ctx.sl]


def pad(input, pad, mode="constant", value=0.0):
    """Constant padding; ``pad`` lists (before, after) pairs from the last axis backwards, as torch."""
    if mode != "constant":
        raise ValueError(f"pad: only mode='constant' is supported, got {mode!r}")
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ValueError(f"pad: pad {tuple(pad)} must hold (before, after) pairs for at most {input.ndim} axes")
    widths = [(0, 0)] * input.ndim
    for k in range(len(pad) // 2):
        widths[input.ndim - 1 - k] = (pad[2 * k], pad[2 * k + 1])
    return _Pad.apply(input, widths, value)


# ---------------------------------------------------------------- linear and activations
class _Linear(Function):
    name = "linear"

    @staticmethod
    def forward(ctx, x, w, b, K):
        ctx.x, ctx.w, ctx.K = x, w, K
        return K.linear_forward(x, w, b)

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        return ctx.K.linear_backward(g, ctx.x, ctx.w, needs_input_grad=(n[0], n[1], n[2]))


def linear(input, weight, bias=None):
    """input (N, I) or (*, I), weight (O, I), bias (O,) -> input·weightᵀ + bias, shape (*, O)."""
    _need_tensor("linear", "input", input)
    if input.ndim < 1 or weight.ndim != 2 or input.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: input {tuple(input.shape)} has {input.shape[-1] if input.ndim else 0} "
                         f"features but weight {tuple(weight.shape)} expects {weight.shape[1]}")
    _same("linear", "input", input, "weight", weight)
    _same("linear", "input", input, "bias", bias)
    K = _K("linear", input)
    if input.ndim == 2:
        return _Linear.apply(input, weight, bias, K=K)
    lead = input.shape[:-1]
    y = _Linear.apply(input.reshape(-1, input.shape[-1]), weight, bias, K=K)
    return y.reshape(lead + (weight.shape[0],))


class _Act(Function):
    """Elementwise activation through <op>_forward / <op>_backward; saves x or the output."""

    def __init_subclass__(cls):
        cls._fwd, cls._bwd = cls.name + "_forward", cls.name + "_backward"

    @classmethod
    def forward(cls, ctx, x, K, **kw):
        y = getattr(K, cls._fwd)(x, **kw)
        ctx.saved, ctx.K, ctx.kw = (y if cls.save_output else x), K, kw
        return y

    @classmethod
    def backward(cls, ctx, g):
        return getattr(ctx.K, cls._bwd)(g, ctx.saved, **ctx.kw)


class _Relu(_Act):
    name, save_output = "relu", False


class _LeakyRelu(_Act):
    name, save_output = "leaky_relu", False


class _Elu(_Act):
    name, save_output = "elu", False


class _Sigmoid(_Act):
    name, save_output = "sigmoid", True


class _Tanh(_Act):
    name, save_output = "tanh", True


class _Softmax(_Act):
    name, save_output = "softmax", True


class _LogSoftmax(_Act):
    name, save_output = "log_softmax", True


def relu(input, inplace=False):
    return _Relu.apply(input, K=_K("relu", input))


class _Relu6(Function):
    """y = min(max(x, 0), 6); the gradient passes only strictly inside (0, 6), as torch's hardtanh."""
    name = "relu6"

    @staticmethod
    def forward(ctx, x):
        ctx.x = x
        return x.clip(0, 6)

    @staticmethod
    def backward(ctx, g):
        x = ctx.x
        return g * ((x > 0) & (x < 6))


def relu6(input, inplace=False):
    _need_tensor("relu6", "input", input)
    return _Relu6.apply(input)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    return _LeakyRelu.apply(input, K=_K("leaky_relu", input), negative_slope=float(negative_slope))


def elu(input, alpha=1.0, inplace=False):
    return _Elu.apply(input, K=_K("elu", input), alpha=float(alpha))


def sigmoid(input):
    return _Sigmoid.apply(input, K=_K("sigmoid", input))


def tanh(input):
    return _Tanh.apply(input, K=_K("tanh", input))


def _dim(fn, input, dim):
    if dim is None:
        dim = 0 if input.ndim in (0, 1, 3) else 1   # torch's legacy implicit choice
    if not -input.ndim <= dim < max(input.ndim, 1):
        raise ValueError(f"{fn}: dim {dim} is out of range for input of shape {tuple(input.shape)}")
    return dim


def softmax(input, dim=None):
    return _Softmax.apply(input, K=_K("softmax", input), axis=_dim("softmax", input, dim))


def log_softmax(input, dim=None):
    return _LogSoftmax.apply(input, K=_K("log_softmax", input), axis=_dim("log_softmax", input, dim))


class _PRelu(Function):
    """y = x if x > 0 else a·x, a per channel (axis 1) or shared; dL/da sums over every other axis."""
    name = "prelu"

    @staticmethod
    def forward(ctx, x, a):
        shape = [1] * x.ndim
        if a.size > 1:
            shape[1] = a.size
        ar = a.reshape(shape)
        ctx.x, ctx.ar, ctx.ashape = x, ar, a.shape
        return np.where(x > 0, x, ar * x)

    @staticmethod
    def backward(ctx, g):
        x, ar = ctx.x, ctx.ar
        n = ctx.needs_input_grad
        gx = np.where(x > 0, g, ar * g) if n[0] else None
        ga = None
        if n[1]:
            t = np.where(x > 0, 0, x * g)
            axes = tuple(i for i in range(x.ndim) if not (ar.shape[i] > 1))
            ga = t.sum(axis=axes).reshape(ctx.ashape)
        return gx, ga


def prelu(input, weight):
    """input (N, C, ...) and weight (C,) or (1,)."""
    if weight.numel() not in (1, input.shape[1] if input.ndim > 1 else 1):
        raise ValueError(f"prelu: weight {tuple(weight.shape)} must have 1 or C={input.shape[1]} elements "
                         f"for input {tuple(input.shape)}")
    return _PRelu.apply(input, weight)


class _Dropout(Function):
    name = "dropout"

    @staticmethod
    def forward(ctx, x, p, seed, K):
        y, mask = K.dropout_forward(x, p, seed)
        ctx.mask, ctx.p, ctx.K = mask, p, K
        return y

    @staticmethod
    def backward(ctx, g):
        return ctx.K.dropout_backward(g, ctx.mask, ctx.p)


def dropout(input, p=0.5, training=True, inplace=False):
    """Zeroes each element with probability p and scales the rest by 1/(1−p); identity when not training."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:                      # every element dropped (the kernel contract takes p < 1)
        return input * 0.0
    return _Dropout.apply(input, float(p), default_generator.next_seed(), K=_K("dropout", input))


# ---------------------------------------------------------------- batch norm
class _BatchNorm(Function):
    name = "batch_norm"

    @staticmethod
    def forward(ctx, x, w, b, rm, rv, training, momentum, eps, K):
        shape = x.shape
        if x.ndim == 3:                         # (N, C, L) -> (N, C, L, 1): the kernel takes 2-D or 4-D
            x = x.reshape(shape + (1,))
        y, mean, invstd = K.batch_norm_forward(x, w, b, rm, rv, training, momentum, eps)
        ctx.x, ctx.w, ctx.mean, ctx.invstd, ctx.training, ctx.K, ctx.shape = x, w, mean, invstd, training, K, shape
        return y.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        gx, gw, gb = ctx.K.batch_norm_backward(g.reshape(ctx.x.shape), ctx.x, ctx.w, ctx.mean, ctx.invstd,
                                               ctx.training, needs_input_grad=(n[0], n[1], n[2]))
        return (gx.reshape(ctx.shape) if gx is not None else None), gw, gb


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """input (N, C), (N, C, L) or (N, C, H, W); running stats (C,) updated in place when training."""
    _need_tensor("batch_norm", "input", input)
    if input.ndim not in (2, 3, 4):
        raise ValueError(f"batch_norm: expects input (N, C), (N, C, L) or (N, C, H, W), got {tuple(input.shape)}")
    C = input.shape[1]
    for nm, t in (("weight", weight), ("bias", bias), ("running_mean", running_mean), ("running_var", running_var)):
        if t is not None and tuple(t.shape) != (C,):
            raise ValueError(f"batch_norm: {nm} has shape {tuple(t.shape)} but input {tuple(input.shape)} has "
                             f"{C} channels")
    if not training and (running_mean is None or running_var is None):
        raise ValueError("batch_norm: evaluation mode needs running_mean and running_var")
    if training and input.shape[0] * (input.numel() // max(input.shape[0] * C, 1)) <= 1 and input.numel():
        raise ValueError(f"batch_norm: expected more than 1 value per channel when training, got input "
                         f"{tuple(input.shape)}")
    rm = running_mean._data if running_mean is not None else None
    rv = running_var._data if running_var is not None else None
    return _BatchNorm.apply(input, weight, bias, rm, rv, bool(training), float(momentum), float(eps),
                            K=_K("batch_norm", input))


# ---------------------------------------------------------------- recurrent
class _LSTM(Function):
    name = "lstm"

    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh, K):
        y, h, c, saved = K.lstm_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh)
        ctx.x, ctx.h0, ctx.c0, ctx.w_ih, ctx.w_hh, ctx.saved, ctx.K = x, h0, c0, w_ih, w_hh, saved, K
        ctx.n_outputs = 3
        return y, h, c

    @staticmethod
    def backward(ctx, gy, gh, gc):
        if gy is None:
            gy = xp_of(ctx.x).zeros((ctx.x.shape[0],) + ctx.h0.shape, ctx.x.dtype)
        gx, gh0, gc0, gwi, gwh, gbi, gbh = ctx.K.lstm_backward(gy, gh, gc, ctx.x, ctx.h0, ctx.c0, ctx.w_ih,
                                                               ctx.w_hh, ctx.saved)
        n = ctx.needs_input_grad
        return tuple(v if need else None for v, need in zip((gx, gh0, gc0, gwi, gwh, gbi, gbh), n))


def lstm(input, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM layer over a sequence: input (T, N, I), h0, c0 (N, H), w_ih (4H, I), w_hh (4H, H),
    b (4H,) -> (y (T, N, H), h_T, c_T). Gates i, f, g, o (PyTorch order)."""
    _need_tensor("lstm", "input", input)
    if input.ndim != 3:
        raise ValueError(f"lstm: expects input (T, N, I), got {tuple(input.shape)}")
    H4 = w_ih.shape[0]
    if w_ih.shape[1] != input.shape[2]:
        raise ValueError(f"lstm: input {tuple(input.shape)} has {input.shape[2]} features but weight_ih "
                         f"{tuple(w_ih.shape)} expects {w_ih.shape[1]}")
    if tuple(h0.shape) != (input.shape[1], H4 // 4) or tuple(c0.shape) != tuple(h0.shape):
        raise ValueError(f"lstm: h0 {tuple(h0.shape)} and c0 {tuple(c0.shape)} must be (N, H) = "
                         f"{(input.shape[1], H4 // 4)}")
    for nm, t in (("h0", h0), ("c0", c0), ("weight_ih", w_ih), ("weight_hh", w_hh), ("bias_ih", b_ih),
                  ("bias_hh", b_hh)):
        _same("lstm", "input", input, nm, t)
    return _LSTM.apply(input, h0, c0, w_ih, w_hh, b_ih, b_hh, K=_K("lstm", input))


class _LSTMCell(Function):
    name = "lstm_cell"

    @staticmethod
    def forward(ctx, x, h, c, w_ih, w_hh, b_ih, b_hh, K):
        hn, cn, saved = K.lstm_cell_forward(x, h, c, w_ih, w_hh, b_ih, b_hh)
        ctx.args, ctx.saved, ctx.K, ctx.n_outputs = (x, h, c, w_ih, w_hh), saved, K, 2
        return hn, cn

    @staticmethod
    def backward(ctx, gh, gc):
        if gh is None:
            gh = np.zeros_like(ctx.args[1])
        grads = ctx.K.lstm_cell_backward(gh, gc, *ctx.args, ctx.saved)
        return tuple(v if need else None for v, need in zip(grads, ctx.needs_input_grad))


def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """input (N, I), hx = (h, c) each (N, H) -> (h', c')."""
    h, c = hx
    if input.ndim != 2 or input.shape[1] != w_ih.shape[1]:
        raise ValueError(f"lstm_cell: input {tuple(input.shape)} must be (N, {w_ih.shape[1]})")
    return _LSTMCell.apply(input, h, c, w_ih, w_hh, b_ih, b_hh, K=_K("lstm_cell", input))


def rnn_tanh_cell(input, h, w_ih, w_hh, b_ih=None, b_hh=None):
    """h' = tanh(x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh)."""
    return tanh(linear(input, w_ih, b_ih) + linear(h, w_hh, b_hh))


def flatten(input, start_dim=0, end_dim=-1):
    return input.flatten(start_dim, end_dim)


# ---------------------------------------------------------------- losses
_REDUCTIONS = ("none", "mean", "sum")


def _check_reduction(fn, reduction, extra=()):
    if reduction not in _REDUCTIONS + tuple(extra):
        raise ValueError(f"{fn}: reduction must be one of {_REDUCTIONS + tuple(extra)}, got {reduction!r}")


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _check_same_shape(fn, input, target):
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"{fn}: input {tuple(input.shape)} and target {tuple(target.shape)} must have the same shape")


def _as_target(fn, target, like):
    if isinstance(target, Tensor):
        return target
    return Tensor(np.asarray(target, dtype=like.dtype if np.asarray(target).dtype.kind == "f" else None))


class _CrossEntropy(Function):
    name = "cross_entropy"

    @staticmethod
    def forward(ctx, logits, target, reduction, K):
        ctx.logits, ctx.target, ctx.reduction, ctx.K = logits, target, reduction, K
        return K.cross_entropy_forward(logits, target, reduction)

    @staticmethod
    def backward(ctx, g):
        return ctx.K.cross_entropy_backward(g, ctx.logits, ctx.target, ctx.reduction), None


def _class_last(input):
    """(N, C, d1, ...) -> (N·d1·..., C) so per-position losses are rows."""
    if input.ndim == 2:
        return input
    perm = (0,) + tuple(range(2, input.ndim)) + (1,)
    return input.permute(*perm).reshape(-1, input.shape[1])


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """input (N, C) logits (or (N, C, d...)); target (N,) class indices or (N, C) probabilities.
    loss = −Σ_c w_c·t_c·log_softmax(x)_c with t smoothed by label_smoothing; mean divides by the summed
    weight of the non-ignored targets (index targets) or by N (probability targets)."""
    _need_tensor("cross_entropy", "input", input)
    _check_reduction("cross_entropy", reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    target = _as_target("cross_entropy", target, input)
    if input.ndim < 2:
        raise ValueError(f"cross_entropy: expects input (N, C), got {tuple(input.shape)}")
    C = input.shape[1]
    if target.dtype.kind == "f":
        _check_same_shape("cross_entropy", input, target)
        logp = _class_last(log_softmax(input, 1))
        t = _class_last(target)
        if label_smoothing:
            t = t * (1 - label_smoothing) + label_smoothing / C
        if weight is not None:
            t = t * weight
        loss = -(t * logp).sum(1)
        if input.ndim > 2 and reduction == "none":
            return loss.reshape((input.shape[0],) + tuple(input.shape[2:]))
        return _reduce(loss, reduction)
    expect = (input.shape[0],) + tuple(input.shape[2:])
    if tuple(target.shape) != expect:
        raise ValueError(f"cross_entropy: input {tuple(input.shape)} needs class-index target of shape {expect}, "
                         f"got {tuple(target.shape)}")
    tgt = target._data
    if tgt.dtype != np.int64:
        tgt = tgt.astype(np.int64)
    # The fused kernel has no ignore_index: it runs only when every target is a real class that
    # is not the ignored one (an in-range ignore_index, e.g. 0, would otherwise be counted).
    if (input.ndim == 2 and weight is None and not label_smoothing and tgt.size
            and 0 <= int(tgt.min()) and int(tgt.max()) < C
            and not (0 <= ignore_index < C and bool((tgt == ignore_index).any()))):
        return _CrossEntropy.apply(input, tgt, reduction, K=_K("cross_entropy", input))
    valid = tgt != ignore_index
    if tgt.size and (np.any((tgt[valid] < 0) | (tgt[valid] >= C))):
        bad = tgt[valid][(tgt[valid] < 0) | (tgt[valid] >= C)][0]
        raise ValueError(f"cross_entropy: target {int(bad)} is out of range for {C} classes")
    logp = _class_last(log_softmax(input, 1))
    flat_t = np.where(valid, tgt, 0).reshape(-1)
    vmask = valid.reshape(-1).astype(input.dtype)
    w = weight._data if weight is not None else xp_of(input._data).ones(C, input.dtype)
    wt = w[flat_t] * vmask                                   # weight of each row's target, 0 if ignored
    picked = logp[np.arange(flat_t.size), flat_t]
    loss = -(picked * (wt * (1 - label_smoothing)))
    if label_smoothing:
        smooth = -(logp * Tensor(w)).sum(1) * Tensor(vmask * (label_smoothing / C))
        loss = loss + smooth
    if reduction == "mean":
        den = float(wt.sum())
        # every target ignored: the mean is 0/0 = NaN, as in torch, and the gradient stays 0
        return loss.sum() / den if den else loss.sum() + float("nan")
    if reduction == "sum":
        return loss.sum()
    return loss.reshape(expect)


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """input (N, C) log-probabilities, target (N,) class indices: loss_i = −w[t_i]·input[i, t_i]."""
    _check_reduction("nll_loss", reduction)
    target = _as_target("nll_loss", target, input)
    if input.ndim != 2 or tuple(target.shape) != (input.shape[0],):
        raise ValueError(f"nll_loss: expects input (N, C) and target (N,), got {tuple(input.shape)} and "
                         f"{tuple(target.shape)}")
    C = input.shape[1]
    tgt = target._data.astype(np.int64)
    valid = tgt != ignore_index
    if np.any((tgt[valid] < 0) | (tgt[valid] >= C)):
        raise ValueError(f"nll_loss: target out of range for {C} classes")
    t = np.where(valid, tgt, 0)
    w = weight._data if weight is not None else xp_of(input._data).ones(C, input.dtype)
    wt = w[t] * valid
    loss = -(input[np.arange(t.size), t] * wt)
    if reduction == "mean":
        den = float(wt.sum())
        return loss.sum() / den if den else loss.sum() + float("nan")    # all ignored: NaN, gradient 0
    return _reduce(loss, reduction)


def mse_loss(input, target, reduction="mean"):
    _check_reduction("mse_loss", reduction)
    target = _as_target("mse_loss", target, input)
    _check_same_shape("mse_loss", input, target)
    d = input - target
    return _reduce(d * d, reduction)


def l1_loss(input, target, reduction="mean"):
    _check_reduction("l1_loss", reduction)
    target = _as_target("l1_loss", target, input)
    _check_same_shape("l1_loss", input, target)
    return _reduce((input - target).abs(), reduction)


def smooth_l1_loss(input, target, reduction="mean", beta=1.0):
    """0.5·d²/beta where |d| < beta, |d| − 0.5·beta elsewhere."""
    _check_reduction("smooth_l1_loss", reduction)
    target = _as_target("smooth_l1_loss", target, input)
    _check_same_shape("smooth_l1_loss", input, target)
    d = input - target
    ad = d.abs()
    if beta == 0:
        return _reduce(ad, reduction)
    return _reduce(where(ad._data < beta, d * d * (0.5 / beta), ad - 0.5 * beta), reduction)


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """input probabilities in (0, 1): −w·(t·log x + (1−t)·log(1−x)), logs clamped at −100 as torch."""
    _check_reduction("binary_cross_entropy", reduction)
    target = _as_target("binary_cross_entropy", target, input)
    _check_same_shape("binary_cross_entropy", input, target)
    d = input._data
    if d.size and (d.min() < 0 or d.max() > 1):
        raise ValueError("binary_cross_entropy: input must hold probabilities in [0, 1]")
    loss = -(target * input.log().clamp(min=-100) + (1 - target) * (1 - input).log().clamp(min=-100))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


class _BCEWithLogits(Function):
    """l = (1 − t)·x + (1 + (pw − 1)·t)·(log1p(exp(−|x|)) + max(−x, 0)), the stable form.
    dl/dx = σ(x)·(1 + (pw − 1)·t) − pw·t; dl/dt = −x + (pw − 1)·softplus(−x); dl/dpw = t·softplus(−x)."""
    name = "binary_cross_entropy_with_logits"

    @staticmethod
    def forward(ctx, x, t, pw):
        sp = np.log1p(np.exp(-np.abs(x))) + np.maximum(-x, 0)   # softplus(−x) = −log σ(x)
        lw = 1 + (pw - 1) * t if pw is not None else 1
        ctx.x, ctx.t, ctx.pw, ctx.lw = x, t, pw, lw
        return (1 - t) * x + lw * sp

    @staticmethod
    def backward(ctx, g):
        x, t, pw, lw = ctx.x, ctx.t, ctx.pw, ctx.lw
        sig = np.where(x >= 0, 1 / (1 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1 + np.exp(-np.abs(x))))
        n = ctx.needs_input_grad
        gx = g * (lw * sig - (pw if pw is not None else 1) * t) if n[0] else None
        gt = None
        if n[1]:
            sp = np.log1p(np.exp(-np.abs(x))) + np.maximum(-x, 0)
            gt = g * (-x + ((pw - 1) * sp if pw is not None else 0))
        gpw = g * t * (np.log1p(np.exp(-np.abs(x))) + np.maximum(-x, 0)) if len(n) > 2 and n[2] else None
        if gpw is not None and pw is not None:
            from ..autograd.ops import unbroadcast
            gpw = unbroadcast(gpw, pw.shape)
        return gx, gt, gpw


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean", pos_weight=None):
    _check_reduction("binary_cross_entropy_with_logits", reduction)
    target = _as_target("binary_cross_entropy_with_logits", target, input)
    _check_same_shape("binary_cross_entropy_with_logits", input, target)
    loss = _BCEWithLogits.apply(input, target, pos_weight)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, reduction="mean"):
    """Multi-class hinge: loss_i = Σ_{j≠y_i} w_{y_i}·max(0, margin − x[i, y_i] + x[i, j])^p / C."""
    _check_reduction("multi_margin_loss", reduction)
    if p not in (1, 2):
        raise ValueError(f"multi_margin_loss: p must be 1 or 2, got {p}")
    target = _as_target("multi_margin_loss", target, input)
    if input.ndim != 2 or tuple(target.shape) != (input.shape[0],):
        raise ValueError(f"multi_margin_loss: expects input (N, C) and target (N,), got {tuple(input.shape)} "
                         f"and {tuple(target.shape)}")
    N, C = input.shape
    t = target._data.astype(np.int64)
    xy = input[np.arange(N), t].reshape(N, 1)
    m = (margin - xy + input).clamp(min=0)
    if p == 2:
        m = m * m
    other = xp_of(input._data).ones((N, C), input.dtype)
    other[np.arange(N), t] = 0
    if weight is not None:
        other = other * weight._data[t][:, None]
    loss = (m * Tensor(other)).sum(1) / C
    return _reduce(loss, reduction)


def hinge_embedding_loss(input, target, margin=1.0, reduction="mean"):
    """loss = x where t = 1, max(0, margin − x) where t = −1."""
    _check_reduction("hinge_embedding_loss", reduction)
    target = _as_target("hinge_embedding_loss", target, input)
    _check_same_shape("hinge_embedding_loss", input, target)
    t = target._data
    pos = Tensor((t == 1).astype(input.dtype))
    neg = Tensor((t == -1).astype(input.dtype))
    loss = input * pos + (margin - input).clamp(min=0) * neg
    return _reduce(loss, reduction)


def kl_div(input, target, reduction="mean", log_target=False):
    """input log-probabilities; pointwise t·(log t − input) (0 where t = 0), or exp(t)·(t − input) with
    log_target. reduction 'batchmean' divides the sum by N (the mathematically correct KL)."""
    _check_reduction("kl_div", reduction, ("batchmean",))
    target = _as_target("kl_div", target, input)
    _check_same_shape("kl_div", input, target)
    if log_target:
        loss = target.exp() * (target - input)
    else:
        t = target._data
        logt = np.where(t > 0, np.log(np.where(t > 0, t, 1)), 0).astype(input.dtype)
        if target.requires_grad:
            logt_t = where(t > 0, target.clamp(min=1e-300).log(), 0.0)
            loss = target * (logt_t - input)
        else:
            loss = target * (Tensor(logt) - input)
    if reduction == "batchmean":
        return loss.sum() / input.shape[0]
    return _reduce(loss, reduction)


def one_hot(tensor, num_classes=-1):
    t = tensor._data.astype(np.int64)
    n = int(t.max()) + 1 if num_classes < 0 else num_classes
    return _wrap(np.eye(n, dtype=np.int64)[t])
