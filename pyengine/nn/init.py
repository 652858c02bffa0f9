"""pyengine.nn.init — in-place parameter initialisers with PyTorch's formulas and defaults.

fan_in/fan_out of a weight (out, in, *kernel) are in·receptive and out·receptive;
gain(relu) = √2, gain(leaky_relu, a) = √(2/(1+a²)), gain(tanh) = 5/3.
kaiming_uniform bound = gain·√(3/fan), xavier_uniform bound = gain·√(6/(fan_in+fan_out)).
All draw from the global generator (``pyengine.manual_seed``).
"""
from __future__ import annotations

import math

import numpy as np

from ..tensor import default_generator

__all__ = ["calculate_gain", "uniform_", "normal_", "zeros_", "ones_", "constant_", "xavier_uniform_",
           "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "eye_"]


def calculate_gain(nonlinearity, param=None):
    if nonlinearity in ("linear", "conv1d", "conv2d", "sigmoid", "identity"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        a = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + a * a))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _fans(t):
    s = t.shape
    if len(s) < 2:
        raise ValueError(f"fan in and fan out need a tensor with at least 2 dimensions, got shape {tuple(s)}")
    rf = 1
    for d in s[2:]:
        rf *= d
    return s[1] * rf, s[0] * rf


def _set(t, values):
    t._data[...] = values.astype(t._data.dtype, copy=False)
    return t


def _rng(generator):
    return (generator or default_generator).rng


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    return _set(tensor, _rng(generator).uniform(a, b, tensor.shape))


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    return _set(tensor, _rng(generator).normal(mean, std, tensor.shape))


def constant_(tensor, val):
    tensor._data[...] = val
    return tensor


def zeros_(tensor):
    return constant_(tensor, 0)


def ones_(tensor):
    return constant_(tensor, 1)


def eye_(tensor):
    tensor._data[...] = np.eye(*tensor.shape)
    return tensor


def xavier_uniform_(tensor, gain=1.0, generator=None):
    fi, fo = _fans(tensor)
    a = gain * math.sqrt(6.0 / (fi + fo))
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    fi, fo = _fans(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fi + fo)), generator)


def _kaiming_std(tensor, a, mode, nonlinearity):
    fi, fo = _fans(tensor)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan = fi if mode == "fan_in" else fo
    return calculate_gain(nonlinearity, a) / math.sqrt(fan) if fan else 0.0


def kaiming_uniform_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity), generator)


uniform, normal, constant, zeros, ones = uniform_, normal_, constant_, zeros_, ones_
xavier_uniform, xavier_normal, kaiming_uniform, kaiming_normal = (xavier_uniform_, xavier_normal_,
                                                                  kaiming_uniform_, kaiming_normal_)
