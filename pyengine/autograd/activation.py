"""Activations as autograd Functions over the device's kernels (``<op>_forward`` / ``<op>_backward``
of pyengine.kernels.cpu / .cuda): ReLU, leaky ReLU, ELU, sigmoid, tanh — and PReLU, in NumPy.

ReLU6 (MobileNet's min(max(x, 0), 6)) is NumPy too. Any shape; the output has the input's shape and dtype. ReLU, leaky ReLU and ELU save their input,
sigmoid and tanh their output (the backward kernels take what is saved). At x = 0 the gradient is
PyTorch's: 0 for ReLU, negative_slope for leaky ReLU, alpha for ELU and PReLU's slope (the kernels
test x > 0).
"""
from __future__ import annotations

import numpy as np

from .core import Function
from .device import kernels_of

__all__ = ["Relu", "LeakyRelu", "Elu", "Sigmoid", "Tanh", "PRelu", "Relu6", "relu", "leaky_relu", "elu",
           "sigmoid", "tanh", "prelu", "relu6"]


class _Act(Function):
    """y = <name>_forward(x, **kw); backward <name>_backward(g, saved, **kw) with saved = x or y."""
    save_output = False

    def __init_subclass__(cls):
        cls._fwd, cls._bwd = cls.name + "_forward", cls.name + "_backward"

    @classmethod
    def forward(cls, ctx, x, **kw):
        K = kernels_of(x)
        y = getattr(K, cls._fwd)(x, **kw)
        if ctx.needs_input_grad[0]:
            ctx.saved, ctx.K, ctx.kw = (y if cls.save_output else x), K, kw
        return y

    @classmethod
    def backward(cls, ctx, g):
        return getattr(ctx.K, cls._bwd)(g, ctx.saved, **ctx.kw)


class Relu(_Act):
    name = "relu"


class LeakyRelu(_Act):
    name = "leaky_relu"


class Elu(_Act):
    name = "elu"


class Sigmoid(_Act):
    name, save_output = "sigmoid", True


class Tanh(_Act):
    name, save_output = "tanh", True


def relu(input, inplace=False):
    return Relu.apply(input)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    return LeakyRelu.apply(input, negative_slope=float(negative_slope))


def elu(input, alpha=1.0, inplace=False):
    return Elu.apply(input, alpha=float(alpha))


def sigmoid(input):
    return Sigmoid.apply(input)


def tanh(input):
    return Tanh.apply(input)


class PRelu(Function):
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
    return PRelu.apply(input, weight)


class Relu6(Function):
    """y = min(max(x, 0), 6); the gradient passes only strictly inside (0, 6), as torch's hardtanh."""
    name = "relu6"
    torch_name = "HardtanhBackward0"

    @staticmethod
    def forward(ctx, x):
        ctx.x = x
        return x.clip(0, 6)

    @staticmethod
    def backward(ctx, g):
        x = ctx.x
        return g * ((x > 0) & (x < 6))


def relu6(input, inplace=False):
    return Relu6.apply(input)
