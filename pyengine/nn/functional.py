"""pyengine.nn.functional — the differentiable layers and losses as functions (PyTorch's names).

The layer ops (conv2d, pooling, linear, activations, softmax, batch norm, dropout, LSTM) are the
autograd Functions of ``pyengine.autograd`` (one module per op family, over the device's kernels),
re-exported here; the kernel bindings check their arguments, so nothing is re-checked on the way.
The losses are compositions of differentiable tensor ops, except cross-entropy of class indices
(the fused kernel) and binary cross-entropy with logits, written as one Function in its stable form.
Shapes follow PyTorch: images NCHW, sequences (T, N, I).
"""
from __future__ import annotations

import numpy as np

import warnings

from ..autograd import batch_norm as _bn, conv2d as _conv, gru as _gru, layer_norm as _ln, linear as _lin, lstm as _lstm, pool2d as _pool
from ..autograd import padding as _padding, upsample as _upsample
from ..autograd.generator import default_generator
from ..autograd.activation import elu, leaky_relu, prelu, relu, relu6, sigmoid, tanh
from ..autograd.activation import (celu, gelu, glu, hardshrink, hardsigmoid, hardswish, hardtanh, logsigmoid, mish,
                                   selu, silu, softplus, softshrink, softsign, tanhshrink, threshold)
from ..autograd.device import xp_of
from ..autograd.dropout import ChannelDropout as _ChannelDropout, dropout
from ..autograd.function import Function
from ..autograd.ops import Pad, unbroadcast
from ..autograd.softmax import CrossEntropy, log_softmax, softmax
from ..tensor import Tensor, _wrap, where

__all__ = ["conv2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "global_avg_pool2d", "linear", "relu",
           "leaky_relu", "relu6", "prelu", "elu", "sigmoid", "tanh", "softmax", "log_softmax", "dropout", "batch_norm", "layer_norm",
           "lstm", "lstm_cell", "gru", "gru_cell", "rnn_tanh_cell", "rnn_relu_cell", "flatten", "pad", "cross_entropy", "nll_loss", "mse_loss",
           "l1_loss", "smooth_l1_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
           "multi_margin_loss", "hinge_embedding_loss", "kl_div", "one_hot",
           "conv1d", "conv_transpose2d", "max_pool1d", "avg_pool1d", "adaptive_avg_pool1d", "adaptive_max_pool1d",
           "adaptive_max_pool2d", "dropout1d", "dropout2d", "interpolate", "upsample", "pixel_shuffle",
           "pixel_unshuffle"]
__all__ += ["gelu", "silu", "mish", "hardswish", "hardsigmoid", "selu", "celu", "softplus", "softsign", "logsigmoid",
            "softmin", "hardtanh", "tanhshrink", "softshrink", "hardshrink", "threshold", "glu"]


# ---------------------------------------------------------------- kernel-backed layers
# The kernel bindings check every argument. When one raises, and only then, the functions below look
# at the Tensors themselves to say what is wrong in the caller's terms (their shapes, dtypes, devices).

def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """input (N, C, H, W), weight (K, C/groups, R, S), bias (K,) -> (N, K, OH, OW),
    OH = (H + 2·pad − dil·(R−1) − 1) // stride + 1. padding may be 'valid' or 'same' (stride 1).
    An unbatched input (C, H, W) gives (K, OH, OW)."""
    if isinstance(input, Tensor) and input.ndim == 3:
        return conv2d(input.unsqueeze(0), weight, bias, stride, padding, dilation, groups).squeeze(0)
    try:
        return _conv.conv2d(input, weight, bias, stride, padding, dilation, groups)
    except (ValueError, TypeError) as e:
        _explain(e, conv2d_problem(input, weight, bias, groups))


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """input (N, C, H, W) -> (N, C, OH, OW); stride defaults to kernel_size. With return_indices, also
    the flat h·W+w position of each maximum in its input plane (int64). Unbatched (C, H, W) works too."""
    if isinstance(input, Tensor) and input.ndim == 3:
        return _unbatched(max_pool2d, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)
    try:
        return _pool.max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)
    except (ValueError, TypeError) as e:
        _explain(e, pool_problem("max_pool2d", input))


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """input (N, C, H, W) -> (N, C, OH, OW), OH = (H + 2·pad − k) // stride + 1; or unbatched (C, H, W)."""
    if isinstance(input, Tensor) and input.ndim == 3:
        return _unbatched(avg_pool2d, input, kernel_size, stride, padding, ceil_mode, count_include_pad)
    try:
        return _pool.avg_pool2d(input, kernel_size, stride, padding, ceil_mode, count_include_pad)
    except (ValueError, TypeError) as e:
        _explain(e, pool_problem("avg_pool2d", input))


def adaptive_avg_pool2d(input, output_size):
    """input (N, C, H, W) or (C, H, W) -> (N, C, OH, OW) for output_size (OH, OW) (None keeps that size)."""
    if isinstance(input, Tensor) and input.ndim == 3:
        return _unbatched(adaptive_avg_pool2d, input, output_size)
    _need_tensor("adaptive_avg_pool2d", "input", input)
    return _pool.adaptive_avg_pool2d(input, output_size)


def global_avg_pool2d(input):
    """input (N, C, H, W) -> (N, C, 1, 1), the mean over each plane."""
    try:
        return _pool.global_avg_pool2d(input)
    except (ValueError, TypeError) as e:
        _explain(e, pool_problem("global_avg_pool2d", input))


def linear(input, weight, bias=None):
    """input (N, I) or (*, I), weight (O, I), bias (O,) -> input·weightᵀ + bias, shape (*, O)."""
    try:
        return _lin.linear(input, weight, bias)
    except (ValueError, TypeError) as e:
        _explain(e, linear_problem(input, weight, bias))


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """input (N, C), (N, C, L) or (N, C, H, W); running stats (C,) updated in place when training."""
    try:
        return _bn.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)
    except (ValueError, TypeError) as e:
        _explain(e, batch_norm_problem(input, running_mean, running_var, weight, bias, training))


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """input (..., *normalized_shape) normalised over its last len(normalized_shape) dimensions:
    (x − mean)/√(biased variance + eps)·weight + bias, as torch.nn.functional.layer_norm."""
    return _ln.layer_norm(input, normalized_shape, weight, bias, eps)


def lstm(input, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM layer over a sequence: input (T, N, I), h0, c0 (N, H), w_ih (4H, I), w_hh (4H, H),
    b (4H,) -> (y (T, N, H), h_T, c_T). Gates i, f, g, o (PyTorch order)."""
    try:
        return _lstm.lstm(input, h0, c0, w_ih, w_hh, b_ih, b_hh)
    except (ValueError, TypeError) as e:
        _explain(e, lstm_problem(input, h0, c0, w_ih, w_hh, b_ih, b_hh))


def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """input (N, I), hx = (h, c) each (N, H) -> (h', c')."""
    try:
        return _lstm.lstm_cell(input, hx, w_ih, w_hh, b_ih, b_hh)
    except (ValueError, TypeError) as e:
        _explain(e, None if input.ndim == 2 and input.shape[1] == w_ih.shape[1] else
                 ValueError(f"lstm_cell: input {tuple(input.shape)} must be (N, {w_ih.shape[1]})"))


def gru(input, h0, w_ih, w_hh, b_ih=None, b_hh=None):
    """One GRU layer over a sequence: input (T, N, I), h0 (N, H), w_ih (3H, I), w_hh (3H, H), b (3H,)
    -> (y (T, N, H), h_T). Gates r, z, n (PyTorch order), b_hn inside the reset product."""
    try:
        return _gru.gru(input, h0, w_ih, w_hh, b_ih, b_hh)
    except (ValueError, TypeError) as e:
        _explain(e, gru_problem(input, h0, w_ih, w_hh, b_ih, b_hh))


def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """input (N, I), hx (N, H) -> h'."""
    try:
        return _gru.gru_cell(input, hx, w_ih, w_hh, b_ih, b_hh)
    except (ValueError, TypeError) as e:
        _explain(e, None if input.ndim == 2 and input.shape[1] == w_ih.shape[1] else
                 ValueError(f"gru_cell: input {tuple(input.shape)} must be (N, {w_ih.shape[1]})"))


def _explain(e, problem):
    """Raises problem (what is wrong, in the caller's terms) if there is one, else the binding's error e."""
    if problem is None:
        raise e
    raise problem from None


def _need_tensor(fn, name, x):
    if not isinstance(x, Tensor):
        raise TypeError(f"{fn}: {name} must be a pyengine.Tensor, got {type(x).__name__}")


def _mismatch(fn, a_name, a, b_name, b):
    """A dtype or device disagreement between two tensors, naming both, or None."""
    if b is None or not isinstance(b, Tensor):
        return None
    if a._device != b._device:
        return ValueError(f"{fn}: {a_name} is on {a._device} but {b_name} is on {b._device}")
    if a._data.dtype != b._data.dtype:
        return TypeError(f"{fn}: {a_name} {tuple(a.shape)} is {a.dtype} but {b_name} {tuple(b.shape)} is {b.dtype}")
    return None


def _first(*problems):
    return next((p for p in problems if p is not None), None)


def conv2d_problem(input, weight, bias, groups):
    if not isinstance(input, Tensor):
        return TypeError(f"conv2d: input must be a pyengine.Tensor, got {type(input).__name__}")
    if input.ndim != 4 or weight.ndim != 4:
        return ValueError(f"conv2d: expects input (N, C, H, W) and weight (K, C/groups, R, S), got input "
                          f"{tuple(input.shape)} and weight {tuple(weight.shape)}")
    if input.shape[1] != weight.shape[1] * groups:
        return ValueError(f"conv2d: input {tuple(input.shape)} has {input.shape[1]} channels but weight "
                          f"{tuple(weight.shape)} with groups={groups} expects {weight.shape[1] * groups}")
    return _first(_mismatch("conv2d", "input", input, "weight", weight),
                  _mismatch("conv2d", "input", input, "bias", bias))


def pool_problem(fn, input):
    if not isinstance(input, Tensor):
        return TypeError(f"{fn}: input must be a pyengine.Tensor, got {type(input).__name__}")
    if input.ndim != 4:
        return ValueError(f"{fn}: expects input of shape (N, C, H, W), got {tuple(input.shape)}")
    return None


def linear_problem(input, weight, bias):
    if not isinstance(input, Tensor):
        return TypeError(f"linear: input must be a pyengine.Tensor, got {type(input).__name__}")
    if input.ndim < 1 or weight.ndim != 2 or input.shape[-1] != weight.shape[1]:
        return ValueError(f"linear: input {tuple(input.shape)} has {input.shape[-1] if input.ndim else 0} "
                          f"features but weight {tuple(weight.shape)} expects {weight.shape[-1]}")
    return _first(_mismatch("linear", "input", input, "weight", weight),
                  _mismatch("linear", "input", input, "bias", bias))


def batch_norm_problem(input, running_mean, running_var, weight, bias, training):
    if not isinstance(input, Tensor):
        return TypeError(f"batch_norm: input must be a pyengine.Tensor, got {type(input).__name__}")
    if input.ndim not in (2, 3, 4):
        return ValueError(f"batch_norm: expects input (N, C), (N, C, L) or (N, C, H, W), got {tuple(input.shape)}")
    C = input.shape[1]
    for nm, t in (("weight", weight), ("bias", bias), ("running_mean", running_mean), ("running_var", running_var)):
        if t is not None and tuple(t.shape) != (C,):
            return ValueError(f"batch_norm: {nm} has shape {tuple(t.shape)} but input {tuple(input.shape)} has "
                              f"{C} channels")
    if training and input.shape[0] * (input.numel() // max(input.shape[0] * C, 1)) <= 1 and input.numel():
        return ValueError(f"batch_norm: expected more than 1 value per channel when training, got input "
                          f"{tuple(input.shape)}")
    return None


def lstm_problem(input, h0, c0, w_ih, w_hh, b_ih, b_hh):
    if not isinstance(input, Tensor):
        return TypeError(f"lstm: input must be a pyengine.Tensor, got {type(input).__name__}")
    if input.ndim != 3:
        return ValueError(f"lstm: expects input (T, N, I), got {tuple(input.shape)}")
    H4 = w_ih.shape[0]
    if w_ih.shape[1] != input.shape[2]:
        return ValueError(f"lstm: input {tuple(input.shape)} has {input.shape[2]} features but weight_ih "
                          f"{tuple(w_ih.shape)} expects {w_ih.shape[1]}")
    if tuple(h0.shape) != (input.shape[1], H4 // 4) or tuple(c0.shape) != tuple(h0.shape):
        return ValueError(f"lstm: h0 {tuple(h0.shape)} and c0 {tuple(c0.shape)} must be (N, H) = "
                          f"{(input.shape[1], H4 // 4)}")
    return _first(*(_mismatch("lstm", "input", input, nm, t) for nm, t in
                    (("h0", h0), ("c0", c0), ("weight_ih", w_ih), ("weight_hh", w_hh), ("bias_ih", b_ih),
                     ("bias_hh", b_hh))))


def gru_problem(input, h0, w_ih, w_hh, b_ih, b_hh):
    if not isinstance(input, Tensor):
        return TypeError(f"gru: input must be a pyengine.Tensor, got {type(input).__name__}")
    if input.ndim != 3:
        return ValueError(f"gru: expects input (T, N, I), got {tuple(input.shape)}")
    if w_ih.shape[1] != input.shape[2]:
        return ValueError(f"gru: input {tuple(input.shape)} has {input.shape[2]} features but weight_ih "
                          f"{tuple(w_ih.shape)} expects {w_ih.shape[1]}")
    if tuple(h0.shape) != (input.shape[1], w_ih.shape[0] // 3):
        return ValueError(f"gru: h0 {tuple(h0.shape)} must be (N, H) = {(input.shape[1], w_ih.shape[0] // 3)}")
    return _first(*(_mismatch("gru", "input", input, nm, t) for nm, t in
                    (("h0", h0), ("weight_ih", w_ih), ("weight_hh", w_hh), ("bias_ih", b_ih), ("bias_hh", b_hh))))


def pad(input, pad, mode="constant", value=None):
    """``pad`` lists (before, after) pairs from the last axis backwards, as torch. Modes 'constant'
    (value, default 0), 'reflect', 'replicate' and 'circular' (see pyengine.autograd.padding); the
    latter three pad the last 1, 2 or 3 axes of an input with 1 or 2 more axes, as torch."""
    _need_tensor("pad", "input", input)
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ValueError(f"pad: pad {tuple(pad)} must hold (before, after) pairs for at most {input.ndim} axes")
    if mode != "constant":
        if mode not in _padding.MODES:
            raise ValueError(f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got {mode!r}")
        k = len(pad) // 2
        if k not in (1, 2, 3) or input.ndim not in (k + 1, k + 2):
            raise ValueError(f"pad: mode={mode!r} pads the last 1, 2 or 3 axes of an input with 1 or 2 more, got "
                             f"pad of {len(pad)} values for input {tuple(input.shape)}")
        if min(pad) < 0:
            raise ValueError(f"pad: negative padding is supported with mode='constant' only, got {pad}")
        for j in range(k):
            n, (a, b) = input.shape[input.ndim - 1 - j], pad[2 * j:2 * j + 2]
            if (mode == "reflect" and max(a, b) >= n) or (mode == "circular" and max(a, b) > n) or \
                    (mode == "replicate" and n == 0 and a + b):
                limit = "less than" if mode == "reflect" else "at most"
                raise ValueError(f"pad: mode={mode!r} needs padding {limit} the axis size, got padding {(a, b)} "
                                 f"for axis {input.ndim - 1 - j} of size {n} (input {tuple(input.shape)})")
        if not any(pad):
            return input
        return _padding.PadMode.apply(input, pad, mode)
    value = 0.0 if value is None else value
    widths = [(0, 0)] * input.ndim
    for k in range(len(pad) // 2):
        widths[input.ndim - 1 - k] = (pad[2 * k], pad[2 * k + 1])
    return Pad.apply(input, widths, value)


def _unbatched(fn, input, *args):
    """fn on input[None] with the batch axis taken off again (every output, e.g. pooling indices)."""
    out = fn(input.unsqueeze(0), *args)
    return tuple(o.squeeze(0) for o in out) if isinstance(out, tuple) else out.squeeze(0)


def _one(fn, name, v):
    if isinstance(v, (tuple, list)):
        if len(v) != 1:
            raise ValueError(f"{fn}: {name} must be an int or a 1-tuple, got {tuple(v)}")
        return v[0]
    return v


def _need_rank(fn, input, ranks, expected):
    _need_tensor(fn, "input", input)
    if input.ndim not in ranks:
        raise ValueError(f"{fn}: expects input of shape {expected}, got {tuple(input.shape)}")


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """input (N, C, L) or unbatched (C, L), weight (K, C/groups, k), bias (K,) -> (N, K, OL),
    OL = (L + 2·pad − dil·(k − 1) − 1) // stride + 1; padding may be 'valid' or 'same' (stride 1).
    Runs the 2-D kernels on (N, C, 1, L) views."""
    _need_rank("conv1d", input, (2, 3), "(N, C, L) or (C, L)")
    if input.ndim == 2:
        return conv1d(input.unsqueeze(0), weight, bias, stride, padding, dilation, groups).squeeze(0)
    if weight.ndim != 3:
        raise ValueError(f"conv1d: weight must be (K, C/groups, k), got {tuple(weight.shape)}")
    stride, dilation = _one("conv1d", "stride", stride), _one("conv1d", "dilation", dilation)
    padding = padding if isinstance(padding, str) else _one("conv1d", "padding", padding)
    try:
        return _conv.conv1d(input, weight, bias, stride, padding, dilation, groups)
    except (ValueError, TypeError) as e:
        raise type(e)(str(e).replace("conv2d", "conv1d")) from None


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """input (N, C_in, H, W) or unbatched (C_in, H, W), weight (C_in, C_out/groups, R, S), bias (C_out,)
    -> (N, C_out, OH, OW), OH = (H − 1)·stride − 2·padding + dilation·(R − 1) + output_padding + 1."""
    _need_rank("conv_transpose2d", input, (3, 4), "(N, C_in, H, W) or (C_in, H, W)")
    if input.ndim == 3:
        return conv_transpose2d(input.unsqueeze(0), weight, bias, stride, padding, output_padding, groups,
                                dilation).squeeze(0)
    try:
        return _conv.conv_transpose2d(input, weight, bias, stride, padding, output_padding, groups, dilation)
    except (ValueError, TypeError) as e:
        _explain(e, _first(_mismatch("conv_transpose2d", "input", input, "weight", weight),
                           _mismatch("conv_transpose2d", "input", input, "bias", bias)))


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """input (N, C, L) or (C, L) -> (N, C, OL), OL = (L + 2·pad − dil·(k − 1) − 1) // stride + 1;
    stride defaults to kernel_size; indices are positions along L. The 2-D kernels on (N, C, 1, L)."""
    _need_rank("max_pool1d", input, (2, 3), "(N, C, L) or (C, L)")
    if input.ndim == 2:
        return _unbatched(max_pool1d, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)
    k = _one("max_pool1d", "kernel_size", kernel_size)
    s = k if stride is None or stride == () or stride == [] else _one("max_pool1d", "stride", stride)
    out = max_pool2d(input.unsqueeze(2), (1, k), (1, s), (0, _one("max_pool1d", "padding", padding)),
                     (1, _one("max_pool1d", "dilation", dilation)), ceil_mode, return_indices)
    return tuple(o.squeeze(2) for o in out) if return_indices else out.squeeze(2)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """input (N, C, L) or (C, L) -> (N, C, OL), OL = (L + 2·pad − k) // stride + 1."""
    _need_rank("avg_pool1d", input, (2, 3), "(N, C, L) or (C, L)")
    if input.ndim == 2:
        return _unbatched(avg_pool1d, input, kernel_size, stride, padding, ceil_mode, count_include_pad)
    k = _one("avg_pool1d", "kernel_size", kernel_size)
    s = k if stride is None or stride == () or stride == [] else _one("avg_pool1d", "stride", stride)
    return avg_pool2d(input.unsqueeze(2), (1, k), (1, s), (0, _one("avg_pool1d", "padding", padding)), ceil_mode,
                      count_include_pad).squeeze(2)


def adaptive_avg_pool1d(input, output_size):
    """input (N, C, L) or (C, L) -> (N, C, output_size), cell i the mean of L-bin [⌊iL/O⌋, ⌈(i+1)L/O⌉)."""
    _need_rank("adaptive_avg_pool1d", input, (2, 3), "(N, C, L) or (C, L)")
    if input.ndim == 2:
        return _unbatched(adaptive_avg_pool1d, input, output_size)
    return adaptive_avg_pool2d(input.unsqueeze(2), (1, _one("adaptive_avg_pool1d", "output_size", output_size))
                               ).squeeze(2)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """input (N, C, H, W) or (C, H, W) -> (N, C, OH, OW), each cell the maximum of its adaptive bin; with
    return_indices also the flat h·W + w position of each maximum (int64). None in output_size keeps
    that size."""
    _need_rank("adaptive_max_pool2d", input, (3, 4), "(N, C, H, W) or (C, H, W)")
    if input.ndim == 3:
        return _unbatched(adaptive_max_pool2d, input, output_size, return_indices)
    return _pool.adaptive_max_pool2d(input, output_size, return_indices)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """input (N, C, L) or (C, L) -> (N, C, output_size) (and the positions along L of the maxima)."""
    _need_rank("adaptive_max_pool1d", input, (2, 3), "(N, C, L) or (C, L)")
    if input.ndim == 2:
        return _unbatched(adaptive_max_pool1d, input, output_size, return_indices)
    out = _pool.adaptive_max_pool2d(input.unsqueeze(2), (1, _one("adaptive_max_pool1d", "output_size", output_size)),
                                    return_indices)
    return tuple(o.squeeze(2) for o in out) if return_indices else out.squeeze(2)


def _channel_dropout(fn, input, p, training, batched_ndim):
    """Zeroes whole channels: one Bernoulli(1 − p) draw per (n, c) (the channel dropout kernels, seeded
    from the global generator), the kept channels scaled by 1/(1 − p). Unbatched inputs (batched_ndim − 1
    axes) draw one per channel."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{fn}: p must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:                      # every channel dropped (the kernel contract takes p < 1)
        return input * 0.0
    if input.ndim < batched_ndim:
        return _ChannelDropout.apply(input.unsqueeze(0), float(p), default_generator.next_seed()).squeeze(0)
    return _ChannelDropout.apply(input, float(p), default_generator.next_seed())


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Channel dropout for (N, C, L) or unbatched (C, L) inputs."""
    _need_rank("dropout1d", input, (2, 3), "(N, C, L) or (C, L)")
    return _channel_dropout("dropout1d", input, p, training, 3)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Channel dropout for (N, C, H, W) or unbatched (C, H, W) inputs. As torch 2.13, a 3-D input is
    taken as (N, C, L) (with torch's warning) — pass 4-D, or use dropout1d, to say which is meant."""
    _need_rank("dropout2d", input, (3, 4), "(N, C, H, W) or (C, H, W)")
    if input.ndim == 3:
        warnings.warn("dropout2d: received a 3-D input, taken as (N, C, L) (channel-wise 1-D dropout), as "
                      "torch does; use dropout1d for that, or a 4-D input", UserWarning, stacklevel=2)
        return _channel_dropout("dropout2d", input, p, training, 3)
    return _channel_dropout("dropout2d", input, p, training, 4)


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None,
                antialias=False):
    """Resamples (N, C, L) or (N, C, H, W) to size, or to floor(in · scale_factor): modes 'nearest',
    'nearest-exact', 'linear' (3-D) and 'bilinear' (4-D), align_corners as torch (see
    pyengine.autograd.upsample for the source positions)."""
    _need_tensor("interpolate", "input", input)
    return _upsample.interpolate(input, size, scale_factor, mode, align_corners, recompute_scale_factor, antialias)


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """The old name of interpolate."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def pixel_shuffle(input, upscale_factor):
    """(*, C·r², H, W) -> (*, C, H·r, W·r): y[c, h·r + i, w·r + j] = x[c·r² + i·r + j, h, w]."""
    _need_tensor("pixel_shuffle", "input", input)
    r = int(upscale_factor)
    if input.ndim < 3 or r < 1 or input.shape[-3] % (r * r):
        raise ValueError(f"pixel_shuffle: expects input (*, C·r², H, W) with r = upscale_factor = {upscale_factor} "
                         f">= 1, got {tuple(input.shape)}")
    *lead, C, H, W = input.shape
    c = C // (r * r)
    n = len(lead)
    y = input.reshape(*lead, c, r, r, H, W).permute(*range(n), n, n + 3, n + 1, n + 4, n + 2)
    return y.reshape(*lead, c, H * r, W * r)


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H·r, W·r) -> (*, C·r², H, W), the inverse of pixel_shuffle."""
    _need_tensor("pixel_unshuffle", "input", input)
    r = int(downscale_factor)
    if input.ndim < 3 or r < 1 or input.shape[-1] % r or input.shape[-2] % r:
        raise ValueError(f"pixel_unshuffle: expects input (*, C, H·r, W·r) with r = downscale_factor = "
                         f"{downscale_factor} >= 1, got {tuple(input.shape)}")
    *lead, C, Hr, Wr = input.shape
    H, W, n = Hr // r, Wr // r, len(lead)
    y = input.reshape(*lead, C, H, r, W, r).permute(*range(n), n, n + 2, n + 4, n + 1, n + 3)
    return y.reshape(*lead, C * r * r, H, W)


def rnn_tanh_cell(input, h, w_ih, w_hh, b_ih=None, b_hh=None):
    """h' = tanh(x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh)."""
    return tanh(linear(input, w_ih, b_ih) + linear(h, w_hh, b_hh))


def rnn_relu_cell(input, h, w_ih, w_hh, b_ih=None, b_hh=None):
    """h' = relu(x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh)."""
    return relu(linear(input, w_ih, b_ih) + linear(h, w_hh, b_hh))


def softmin(input, dim=None):
    """softmax(−input) along dim."""
    return softmax(-input, dim)


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
        return CrossEntropy.apply(input, tgt, reduction)
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


# ---------------------------------------------------------------- normalisation and embedding
# (GroupNorm / InstanceNorm / Embedding: pyengine.autograd.group_norm holds the Functions and the maths)
from ..autograd import group_norm as _gn  # noqa: E402
from ..autograd._args import IndexOutOfRange as _IndexOutOfRange  # noqa: E402
from ..autograd.grad_mode import no_grad as _no_grad  # noqa: E402


def _channel_param(fn, what, p, C):
    if p is None:
        return None
    _need_tensor(fn, what, p)
    if tuple(p.shape) != (C,):
        raise ValueError(f"{fn}: {what} must have shape ({C},) for {C} channels, got {tuple(p.shape)}")
    return p


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """input (N, C, *) normalised over each group of C/num_groups channels (and all of *), then
    scaled and shifted per channel: y = (x − μ_g)/√(σ²_g + eps)·w_c + b_c (biased σ²)."""
    _need_tensor("group_norm", "input", input)
    if input.ndim < 2:
        raise ValueError(f"group_norm: expects input of shape (N, C, *), got {tuple(input.shape)}")
    if input.dtype.kind != "f":
        raise TypeError(f"group_norm: expected a floating-point input, got dtype {input.dtype}")
    C = input.shape[1]
    if isinstance(num_groups, bool) or not isinstance(num_groups, (int, np.integer)) or num_groups <= 0:
        raise ValueError(f"group_norm: num_groups must be a positive int, got {num_groups!r}")
    if C % num_groups:
        raise ValueError(f"group_norm: num_groups ({num_groups}) must divide the number of channels ({C})")
    weight = _channel_param("group_norm", "weight", weight, C)
    bias = _channel_param("group_norm", "bias", bias, C)
    return _gn.GroupNormFn.apply(input, weight, bias, int(num_groups), float(eps))


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5):
    """input (N, C, *) normalised per sample and channel over * (group_norm with one channel per
    group). With running stats and use_input_stats, they move toward the batch's average of the
    per-instance means and unbiased variances (momentum); without use_input_stats they normalise."""
    _need_tensor("instance_norm", "input", input)
    if input.ndim < 3:
        raise ValueError(f"instance_norm: expects input of shape (N, C, *) with spatial dimensions, got "
                         f"{tuple(input.shape)}")
    C = input.shape[1]
    weight = _channel_param("instance_norm", "weight", weight, C)
    bias = _channel_param("instance_norm", "bias", bias, C)
    for what, r in (("running_mean", running_mean), ("running_var", running_var)):
        _channel_param("instance_norm", what, r, C)
    cshape = (1, C) + (1,) * (input.ndim - 2)
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise ValueError("instance_norm: use_input_stats=False needs running_mean and running_var")
        y = (input - running_mean.reshape(cshape)) / (running_var.reshape(cshape) + eps).sqrt()
        if weight is not None:
            y = y * weight.reshape(cshape)
        return y + bias.reshape(cshape) if bias is not None else y
    if running_mean is not None or running_var is not None:
        M = int(np.prod(input.shape[2:]))
        with _no_grad():
            _, _, mu, var = _gn.group_norm_arrays(input._data, C, eps)
            if running_mean is not None:
                running_mean._data[...] = (1 - momentum) * running_mean._data + momentum * mu.reshape(-1, C).mean(0)
                running_mean._bump_version()
            if running_var is not None:
                unbiased = var.reshape(-1, C) * (M / max(M - 1, 1))
                running_var._data[...] = (1 - momentum) * running_var._data + momentum * unbiased.mean(0)
                running_var._bump_version()
    return _gn.GroupNormFn.apply(input, weight, bias, C, float(eps))


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """weight[input]: input (*) integer indices into weight (V, D), out (*, D). The padding_idx row gets
    no gradient; with max_norm, each row looked up whose norm_type-norm exceeds max_norm is first
    rescaled to max_norm in place (torch's embedding_renorm_)."""
    _need_tensor("embedding", "input", input)
    _need_tensor("embedding", "weight", weight)
    if input.dtype.kind not in "iu":
        raise TypeError(f"embedding: argument 'input' must be an integer tensor of indices, got dtype {input.dtype}")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got {tuple(weight.shape)}")
    if sparse:
        raise ValueError("embedding: sparse=True is not supported (pyengine has no sparse gradients); use sparse=False")
    V = weight.shape[0]
    idx = input._data.astype(np.int64, copy=False)
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= V):
        bad = int(idx.min()) if int(idx.min()) < 0 else int(idx.max())
        raise _IndexOutOfRange(f"embedding: index {bad} is out of range for {V} embeddings (expected 0 <= index < {V})")
    if padding_idx is not None:
        if not -V <= padding_idx < V:
            raise ValueError(f"embedding: padding_idx must be within num_embeddings ({V}), got {padding_idx}")
        padding_idx = int(padding_idx) % V
    if max_norm is not None:
        rows = xp_of(idx).unique(idx)
        w = weight._data
        norms = (np.abs(w[rows]) ** norm_type).sum(1) ** (1.0 / norm_type)
        big = norms > max_norm
        if big.any():
            w[rows[big]] *= (max_norm / (norms[big] + 1e-7))[:, None].astype(w.dtype)
            weight._bump_version()
    return _gn.EmbeddingFn.apply(weight, idx, padding_idx, bool(scale_grad_by_freq))


__all__ += ["group_norm", "instance_norm", "embedding"]


# ---------------------------------------------------------------- more losses and distances
# Compositions of differentiable tensor ops (autograd does the gradients), torch's formulas and
# argument names; every one takes reduction 'none' | 'mean' | 'sum'.
def _pair_check(fn, a_name, a, b_name, b):
    _need_tensor(fn, a_name, a)
    _need_tensor(fn, b_name, b)
    try:
        np.broadcast_shapes(tuple(a.shape), tuple(b.shape))
    except ValueError:
        raise ValueError(f"{fn}: {a_name} {tuple(a.shape)} and {b_name} {tuple(b.shape)} cannot be broadcast "
                         "together") from None


def huber_loss(input, target, reduction="mean", delta=1.0):
    """0.5·d² where |d| < delta, delta·(|d| − 0.5·delta) elsewhere (d = input − target)."""
    _check_reduction("huber_loss", reduction)
    if not delta > 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    target = _as_target("huber_loss", target, input)
    _check_same_shape("huber_loss", input, target)
    d = input - target
    ad = d.abs()
    return _reduce(where(ad._data < delta, d * d * 0.5, (ad - 0.5 * delta) * delta), reduction)


def soft_margin_loss(input, target, reduction="mean"):
    """log(1 + exp(−y·x)), y ∈ {1, −1}."""
    _check_reduction("soft_margin_loss", reduction)
    target = _as_target("soft_margin_loss", target, input)
    _check_same_shape("soft_margin_loss", input, target)
    return _reduce(softplus(-(input * target)), reduction)


def _lifted(t, lo):
    """max(t, lo) whose gradient is 1 everywhere (torch clamps such a tensor in place under no_grad)."""
    return t + Tensor((xp_of(t._data).maximum(t._data, lo) - t._data).astype(t.dtype, copy=False))


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """Σ_dim (x1/max(‖x1‖, eps))·(x2/max(‖x2‖, eps)), broadcast (torch's normalise-first form; as
    there, the clamp at eps passes the gradient through)."""
    _pair_check("cosine_similarity", "x1", x1, "x2", x2)
    n1 = _lifted(x1.norm(2, dim, keepdim=True), eps)
    n2 = _lifted(x2.norm(2, dim, keepdim=True), eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """‖x1 − x2 + eps‖_p along the last dimension."""
    _pair_check("pairwise_distance", "x1", x1, "x2", x2)
    return (x1 - x2 + eps).norm(p, -1, keepdim=keepdim)


def cosine_embedding_loss(input1, input2, target, margin=0.0, reduction="mean"):
    """1 − cos(x1, x2) where y = 1, max(0, cos(x1, x2) − margin) where y = −1; cos over dim 1 (or the
    only dim of unbatched 1-D inputs) with torch's ε = 1e-12 under the square root."""
    _check_reduction("cosine_embedding_loss", reduction)
    _pair_check("cosine_embedding_loss", "input1", input1, "input2", input2)
    if input1.ndim not in (1, 2) or tuple(input1.shape) != tuple(input2.shape):
        raise ValueError(f"cosine_embedding_loss: input1 and input2 must be (N, D) or (D,) of one shape, got "
                         f"{tuple(input1.shape)} and {tuple(input2.shape)}")
    target = _as_target("cosine_embedding_loss", target, input1)
    d = input1.ndim - 1
    if tuple(target.shape) != tuple(input1.shape[:d]):
        raise ValueError(f"cosine_embedding_loss: target must have shape {tuple(input1.shape[:d])}, got "
                         f"{tuple(target.shape)}")
    cos = (input1 * input2).sum(d) / (((input1 * input1).sum(d) + 1e-12) * ((input2 * input2).sum(d) + 1e-12)).sqrt()
    t = target._data
    pos = Tensor((t == 1).astype(input1.dtype))
    neg = Tensor((t == -1).astype(input1.dtype))
    return _reduce((1 - cos) * pos + (cos - margin).clamp(min=0) * neg, reduction)


def margin_ranking_loss(input1, input2, target, margin=0.0, reduction="mean"):
    """max(0, −y·(x1 − x2) + margin)."""
    _check_reduction("margin_ranking_loss", reduction)
    _pair_check("margin_ranking_loss", "input1", input1, "input2", input2)
    target = _as_target("margin_ranking_loss", target, input1)
    return _reduce((-(target * (input1 - input2)) + margin).clamp(min=0), reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """0.5·(log max(var, eps) + (input − target)²/max(var, eps)) (+ 0.5·log 2π with full). var has
    input's shape, or one dimension fewer / a last dimension of 1 (one variance per sample). As in
    torch, the clamp at eps passes the gradient through unchanged."""
    _check_reduction("gaussian_nll_loss", reduction)
    _need_tensor("gaussian_nll_loss", "input", input)
    target = _as_target("gaussian_nll_loss", target, input)
    if not isinstance(var, Tensor):
        var = Tensor(np.full(tuple(input.shape), float(var), input.dtype))
    if tuple(var.shape) != tuple(input.shape):
        if tuple(var.shape) == tuple(input.shape[:-1]):
            var = var.unsqueeze(-1)
        elif not (var.ndim == input.ndim and tuple(var.shape[:-1]) == tuple(input.shape[:-1]) and var.shape[-1] == 1):
            raise ValueError(f"gaussian_nll_loss: var {tuple(var.shape)} must have input's shape {tuple(input.shape)}, "
                             "or one dimension fewer, or a last dimension of 1")
    if np.any(var._data < 0):
        raise ValueError("gaussian_nll_loss: var has negative entry/entries")
    if eps < 0:
        raise ValueError(f"gaussian_nll_loss: eps must be non-negative, got {eps}")
    v = _lifted(var, eps)
    d = input - target
    loss = (v.log() + d * d / v) * 0.5
    if full:
        loss = loss + 0.5 * float(np.log(2 * np.pi))
    return _reduce(loss, reduction)


def poisson_nll_loss(input, target, log_input=True, full=False, eps=1e-8, reduction="mean"):
    """exp(x) − t·x with log_input, else x − t·log(x + eps); full adds Stirling's
    t·log t − t + 0.5·log(2π·t) where t > 1."""
    _check_reduction("poisson_nll_loss", reduction)
    _need_tensor("poisson_nll_loss", "input", input)
    target = _as_target("poisson_nll_loss", target, input)
    _pair_check("poisson_nll_loss", "input", input, "target", target)
    loss = input.exp() - target * input if log_input else input - target * (input + eps).log()
    if full:      # differentiable in target where t > 1 (torch's NaN gradient at t = 0 is not copied)
        big = target._data > 1
        t = where(big, target, 1.0)
        loss = loss + where(big, t * t.log() - t + (t * (2 * np.pi)).log() * 0.5, 0.0)
    return _reduce(loss, reduction)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=False, reduction="mean"):
    """max(d(a, p) − d(a, n) + margin, 0), d = pairwise_distance; swap uses min(d(a, n), d(p, n))."""
    _check_reduction("triplet_margin_loss", reduction)
    for what, t in (("anchor", anchor), ("positive", positive), ("negative", negative)):
        _need_tensor("triplet_margin_loss", what, t)
    if not (anchor.ndim == positive.ndim == negative.ndim) or anchor.ndim not in (1, 2):
        raise ValueError(f"triplet_margin_loss: anchor, positive and negative must all be (N, D) or (D,), got "
                         f"{tuple(anchor.shape)}, {tuple(positive.shape)} and {tuple(negative.shape)}")
    if margin <= 0:
        raise ValueError(f"triplet_margin_loss: margin must be greater than 0, got {margin}")
    dp = pairwise_distance(anchor, positive, p, eps)
    dn = pairwise_distance(anchor, negative, p, eps)
    if swap:
        dn = dn.minimum(pairwise_distance(positive, negative, p, eps))
    return _reduce((dp - dn + margin).clamp(min=0), reduction)


def multilabel_soft_margin_loss(input, target, weight=None, reduction="mean"):
    """−mean_c w_c·(y·log σ(x) + (1 − y)·log σ(−x)) per sample: input and target (N, C)."""
    _check_reduction("multilabel_soft_margin_loss", reduction)
    target = _as_target("multilabel_soft_margin_loss", target, input)
    _check_same_shape("multilabel_soft_margin_loss", input, target)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss.mean(input.ndim - 1), reduction)


__all__ += ["huber_loss", "soft_margin_loss", "cosine_similarity", "pairwise_distance", "cosine_embedding_loss",
            "margin_ranking_loss", "gaussian_nll_loss", "poisson_nll_loss", "triplet_margin_loss",
            "multilabel_soft_margin_loss"]


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False):
    """softmax(q·kᵀ·scale + mask)·v; see pyengine.nn.attention."""
    from .attention import scaled_dot_product_attention as sdpa
    return sdpa(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa)


__all__ += ["scaled_dot_product_attention"]


# ---------------------------------------------------------------- rrelu, multilabel margin, CTC
from ..autograd.activation import rrelu  # noqa: E402
from ..autograd.ctc_loss import CtcLoss as _CtcLoss  # noqa: E402


def multilabel_margin_loss(input, target, reduction="mean"):
    """Σ_j Σ_{i ∉ targets} max(0, 1 − (x[y_j] − x[i])) / C per sample: input (N, C) or (C,), target of
    the same shape holding class indices, the labels of a sample being the entries before its first −1
    (a label given twice counts twice, as in torch)."""
    fn = "multilabel_margin_loss"
    _check_reduction(fn, reduction)
    _need_tensor(fn, "input", input)
    if input.ndim not in (1, 2) or input._data.dtype.kind != "f":
        raise ValueError(f"{fn}: input must be a 1-D (C,) or 2-D (N, C) floating-point tensor, got shape "
                         f"{tuple(input.shape)} and dtype {input.dtype}")
    t = np.asarray(target._data.get() if isinstance(target, Tensor) and hasattr(target._data, "get")
                   else (target._data if isinstance(target, Tensor) else target))
    if t.dtype.kind not in "iu":
        raise TypeError(f"{fn}: target must hold integer class indices, got dtype {t.dtype}")
    if t.shape != tuple(input.shape):
        raise ValueError(f"{fn}: target must have input's shape {tuple(input.shape)}, got {t.shape}")
    C = input.shape[-1]
    t2 = t.reshape(-1, C).astype(np.int64)
    if t2.size and (t2.min() < -1 or t2.max() >= C):
        raise ValueError(f"{fn}: target values must be class indices in [0, {C}) or -1 (end of the labels), got "
                         f"values in [{t2.min()}, {t2.max()}]")
    valid = np.cumprod(t2 >= 0, axis=1).astype(bool)          # the labels before the first −1
    idx = np.where(valid, t2, 0)
    is_target = np.zeros(t2.shape, bool)
    rows = np.repeat(np.arange(t2.shape[0]), C)
    is_target[rows[valid.ravel()], idx.ravel()[valid.ravel()]] = True
    xp = xp_of(input._data)
    x2 = input.reshape(-1, C)
    xy = x2.gather(1, _wrap(xp.asarray(idx)))                  # (N, J): x[y_j]
    pair = (valid[:, :, None] & ~is_target[:, None, :]).astype(input._data.dtype)
    margins = (x2.unsqueeze(1) - xy.unsqueeze(2) + 1.0).clamp(min=0) * _wrap(xp.asarray(pair))
    loss = margins.sum((1, 2)) / C
    if input.ndim == 1:
        loss = loss.reshape(())
    return _reduce(loss, reduction)


def _lengths(fn, name, value, count):
    v = value._data if isinstance(value, Tensor) else value
    v = np.asarray(v.get() if hasattr(v, "get") else v)
    if v.ndim == 0:
        v = v.reshape(1)
    if v.dtype.kind not in "iu":
        raise TypeError(f"{fn}: {name} must hold ints, got dtype {v.dtype}")
    if v.shape != (count,):
        raise ValueError(f"{fn}: {name} must have one entry per batch element ({count}), got shape {v.shape}")
    return v.astype(np.int64)


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean", zero_infinity=False):
    """CTC loss (pyengine.autograd.ctc_loss): log_probs (T, N, C) or unbatched (T, C); targets padded
    (N, S), concatenated (Σ target_lengths,), or (S,) unbatched; lengths per batch element. 'mean'
    divides each loss by its target length (at least 1) and averages over the batch."""
    fn = "ctc_loss"
    _check_reduction(fn, reduction)
    _need_tensor(fn, "log_probs", log_probs)
    if log_probs.ndim not in (2, 3) or log_probs._data.dtype.kind != "f":
        raise ValueError(f"{fn}: log_probs must be a (T, N, C) or unbatched (T, C) floating-point tensor, got "
                         f"shape {tuple(log_probs.shape)} and dtype {log_probs.dtype}")
    if isinstance(blank, bool) or not isinstance(blank, (int, np.integer)):
        raise TypeError(f"{fn}: blank must be an int, got {type(blank).__name__} {blank!r}")
    if not isinstance(zero_infinity, (bool, np.bool_)):
        raise TypeError(f"{fn}: zero_infinity must be a bool, got {type(zero_infinity).__name__} {zero_infinity!r}")
    batched = log_probs.ndim == 3
    lp = log_probs if batched else log_probs.unsqueeze(1)
    T, N, C = lp.shape
    if not 0 <= blank < C:
        raise ValueError(f"{fn}: blank must be a class index in [0, {C}), got {blank}")
    il = _lengths(fn, "input_lengths", input_lengths, N)
    tl = _lengths(fn, "target_lengths", target_lengths, N)
    if il.size and (il.min() < 0 or il.max() > T):
        raise ValueError(f"{fn}: input_lengths must be in [0, T] = [0, {T}], got {il.tolist()}")
    if tl.size and tl.min() < 0:
        raise ValueError(f"{fn}: target_lengths must be >= 0, got {tl.tolist()}")
    tg = targets._data if isinstance(targets, Tensor) else targets
    tg = np.asarray(tg.get() if hasattr(tg, "get") else tg)
    if tg.dtype.kind not in "iu":
        raise TypeError(f"{fn}: targets must hold integer class indices, got dtype {tg.dtype}")
    if not batched and tg.ndim == 1:
        tg = tg.reshape(1, -1)
    if tg.ndim == 2:
        if tg.shape[0] != N:
            raise ValueError(f"{fn}: padded targets must have shape (N, S) with N = {N}, got {tg.shape}")
        if tl.size and tl.max() > tg.shape[1]:
            raise ValueError(f"{fn}: target_lengths {tl.tolist()} exceed the padded targets' length {tg.shape[1]}")
        seqs = [tg[n, :tl[n]] for n in range(N)]
    elif tg.ndim == 1:
        if int(tl.sum()) != tg.shape[0]:
            raise ValueError(f"{fn}: concatenated targets must have sum(target_lengths) = {int(tl.sum())} entries, "
                             f"got {tg.shape[0]}")
        ends = np.cumsum(tl)
        seqs = [tg[e - n:e] for e, n in zip(ends, tl)]
    else:
        raise ValueError(f"{fn}: targets must be 2-D (N, S) padded or 1-D concatenated, got shape {tg.shape}")
    for n, s in enumerate(seqs):
        if s.size and (s.min() < 0 or s.max() >= C or (s == blank).any()):
            raise ValueError(f"{fn}: targets must be class indices in [0, {C}) other than blank ({blank}), got "
                             f"{s.tolist()} for batch element {n}")
    xp = xp_of(lp._data)
    dev = [xp.ascontiguousarray(xp.asarray(a, dtype=np.int64)) for a in (tg, il, tl)]
    nll = _CtcLoss.apply(lp, dev[0], dev[1], dev[2], int(blank), bool(zero_infinity))
    if reduction == "mean":
        return (nll / _wrap(xp_of(nll._data).asarray(np.maximum(tl, 1).astype(nll._data.dtype)))).mean()
    if reduction == "sum":
        return nll.sum()
    return nll if batched else nll.reshape(())


__all__ += ["rrelu", "multilabel_margin_loss", "ctc_loss"]
