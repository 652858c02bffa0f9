"""The recurrent layers: RNN, LSTM and GRU over whole sequences, RNNCell, LSTMCell and GRUCell for one
step, with PyTorch's constructor arguments, parameter names and shapes, initialisation and outputs.

Parameters of a stack, per layer l and direction (suffix "" forward, "_reverse" backward), with
G = gates·H (gates 1 for RNN, 3 for GRU in the order r, z, n, 4 for LSTM in the order i, f, g, o):
  weight_ih_l{l}{sfx} (G, I_l), weight_hh_l{l}{sfx} (G, H), bias_ih_l{l}{sfx}, bias_hh_l{l}{sfx} (G,)
with I_0 = input_size and I_l = num_directions·H above it; registered in PyTorch's order (layer,
then direction, then w_ih, w_hh, b_ih, b_hh), so state dicts move both ways. Every weight and bias
starts uniform(±1/√H), as in PyTorch. A cell has weight_ih (G, I), weight_hh (G, H), bias_ih, bias_hh.

A stack runs layer by layer. Each direction of a layer is one kernel call over the whole sequence
(the LSTM and GRU kernels project every step's input with one GEMM, then run the recurrence); the
reverse direction runs on the time-reversed sequence and its output is reversed back, and the two
outputs are joined on the feature axis (forward first). In training mode, dropout(p) is applied to
every layer's output except the last one's. h_n (and c_n) stack the final state of every
(layer, direction) pair, layer-major: shape (num_layers·num_directions, N, H).

Inputs: (T, N, I), or (N, T, I) with batch_first, or unbatched (T, I) (then the states drop their
batch axis too). LSTM's proj_size is not supported: any value but 0 raises NotImplementedError.
"""
from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from ..autograd.gru import GRUCell as _GRUCellFn
from ..autograd.lstm import LSTMCell as _LSTMCellFn
from ..tensor import Tensor, get_default_dtype
from ..tensor import cat as _cat, stack as _stack, zeros as _zeros
from . import functional as F
from . import init
from .module import Module, Parameter

__all__ = ["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"]


def _param(*shape, dtype=None):
    return Parameter(np.empty(shape, dtype=dtype or get_default_dtype()))


def _positive_int(layer, what, v, minimum=1):
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{layer}: {what} must be an int, got {type(v).__name__}")
    if v < minimum:
        raise ValueError(f"{layer}: {what} must be at least {minimum}, got {v}")
    return int(v)


class _RNNBase(Module):
    """The stack shared by RNN, LSTM and GRU (see the module docstring)."""
    _gates = 1
    _mode = "RNN"

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, dtype=None):
        super().__init__()
        name = type(self).__name__
        input_size = _positive_int(name, "input_size", input_size, 0)
        hidden_size = _positive_int(name, "hidden_size", hidden_size)
        num_layers = _positive_int(name, "num_layers", num_layers)
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real) or not 0 <= dropout <= 1:
            raise ValueError(f"{name}: dropout must be a number in [0, 1], got {dropout!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"{name}: dropout is applied between stacked layers only, so dropout={dropout} "
                          f"with num_layers=1 has no effect", UserWarning, stacklevel=3)
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bool(bias), bool(batch_first), float(dropout)
        self.bidirectional = bool(bidirectional)
        G = self._gates * hidden_size
        D = 2 if self.bidirectional else 1
        for layer in range(num_layers):
            i = input_size if layer == 0 else hidden_size * D
            for sfx in ("", "_reverse")[:D]:
                setattr(self, f"weight_ih_l{layer}{sfx}", _param(G, i, dtype=dtype))
                setattr(self, f"weight_hh_l{layer}{sfx}", _param(G, hidden_size, dtype=dtype))
                if bias:
                    setattr(self, f"bias_ih_l{layer}{sfx}", _param(G, dtype=dtype))
                    setattr(self, f"bias_hh_l{layer}{sfx}", _param(G, dtype=dtype))
        self.reset_parameters()

    @property
    def num_directions(self):
        return 2 if self.bidirectional else 1

    def reset_parameters(self):
        b = 1 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -b, b)

    def flatten_parameters(self):
        """PyTorch compacts cuDNN's weight buffer here; our kernels read the parameters as they are."""

    def _layer_params(self, layer, reverse=False):
        p, sfx = self._parameters, "_reverse" if reverse else ""
        return (p[f"weight_ih_l{layer}{sfx}"], p[f"weight_hh_l{layer}{sfx}"], p.get(f"bias_ih_l{layer}{sfx}"),
                p.get(f"bias_hh_l{layer}{sfx}"))

    def _name(self):
        return f"{type(self).__name__}(input_size={self.input_size}, hidden_size={self.hidden_size})"

    def _prepare(self, x):
        """x as (T, N, I), whether it came unbatched, and N."""
        name = self._name()
        if not isinstance(x, Tensor):
            raise TypeError(f"{name}: input must be a pyengine.Tensor, got {type(x).__name__}")
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            exp = "(N, T, {0})" if self.batch_first else "(T, N, {0})"
            raise ValueError(f"{name}: expected input of shape {exp.format(self.input_size)} or unbatched "
                             f"(T, {self.input_size}), got {tuple(x.shape)}")
        unbatched = x.ndim == 2
        if unbatched:
            x = x.unsqueeze(1)
        elif self.batch_first:
            x = x.transpose(0, 1)
        return x, unbatched, x.shape[1]

    def _state(self, what, h, x, N, unbatched):
        """A given initial state, checked and made (L·D, N, H); zeros when h is None."""
        LD, H = self.num_layers * self.num_directions, self.hidden_size
        if h is None:
            return _zeros(LD, N, H, dtype=x.dtype, device=x.device)
        if not isinstance(h, Tensor):
            raise TypeError(f"{self._name()}: {what} must be a pyengine.Tensor, got {type(h).__name__}")
        want = (LD, H) if unbatched else (LD, N, H)
        if tuple(h.shape) != want:
            raise ValueError(f"{self._name()}: expected {what} of shape {want}, got {tuple(h.shape)} ({what} is "
                             f"(num_layers*num_directions, {'' if unbatched else 'N, '}hidden_size))")
        return h.unsqueeze(1) if unbatched else h

    def _run(self, x, run):
        """Every layer and direction over x (T, N, I): run(k, x_in, params) -> (y, *final states) for
        the k-th (layer, direction). Returns the last layer's output and the stacked final states."""
        D = self.num_directions
        finals = []
        out = x
        for layer in range(self.num_layers):
            if layer and self.dropout and self.training:
                out = F.dropout(out, self.dropout, True)
            ys = []
            for d in range(D):
                x_in = out if d == 0 else out[::-1]
                y, *fin = run(layer * D + d, x_in, self._layer_params(layer, d == 1))
                ys.append(y if d == 0 else y[::-1])
                finals.append(fin)
            out = ys[0] if D == 1 else _cat(ys, 2)
        return out, [_stack([f[i] for f in finals]) for i in range(len(finals[0]))]

    def _finish(self, out, states, unbatched):
        if unbatched:
            return out.squeeze(1), [s.squeeze(1) for s in states]
        if self.batch_first:
            out = out.transpose(0, 1)
        return out, states

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RNN(_RNNBase):
    """Elman RNN: h_t = act(x_t·W_ihᵀ + b_ih + h_{t−1}·W_hhᵀ + b_hh), act tanh or relu.
    forward(input, hx=None) -> (output (T, N, D·H), h_n (L·D, N, H))."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, x, hx=None):
        x, unbatched, N = self._prepare(x)
        h0 = self._state("h0", hx, x, N, unbatched)
        act = F.tanh if self.nonlinearity == "tanh" else F.relu
        T, H = x.shape[0], self.hidden_size

        def run(k, x_in, params):
            w_ih, w_hh, b_ih, b_hh = params
            xp = F.linear(x_in, w_ih, b_ih)           # the input projection of every step at once
            h, steps = h0[k], []
            for t in range(T):
                h = act(xp[t] + F.linear(h, w_hh, b_hh))
                steps.append(h)
            return (_stack(steps) if steps else xp[:, :, :H] * 0), h

        out, (h_n,) = self._finish(*self._run(x, run), unbatched)
        return out, h_n

    def extra_repr(self):
        s = super().extra_repr()
        return s + (", nonlinearity='relu'" if self.nonlinearity != "tanh" else "")


class LSTM(_RNNBase):
    """forward(input, hx=None) with hx = (h0, c0), each (L·D, N, H), zeros when omitted ->
    (output (T, N, D·H), (h_n, c_n) each (L·D, N, H))."""
    _gates = 4
    _mode = "LSTM"

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, dtype=None):
        if proj_size != 0:
            if isinstance(proj_size, numbers.Integral) and proj_size < 0:
                raise ValueError(f"LSTM: proj_size must be >= 0, got {proj_size}")
            raise NotImplementedError(f"LSTM: proj_size (an output projection of h) is not supported; got "
                                      f"proj_size={proj_size!r}, only proj_size=0 is")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, dtype)
        self.proj_size = 0

    def forward(self, x, hx=None):
        x, unbatched, N = self._prepare(x)
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise TypeError(f"{self._name()}: hx must be a tuple (h0, c0), got {type(hx).__name__}")
        h0 = self._state("h0", None if hx is None else hx[0], x, N, unbatched)
        c0 = self._state("c0", None if hx is None else hx[1], x, N, unbatched)
        out, (h_n, c_n) = self._finish(*self._run(x, lambda k, x_in, p: F.lstm(x_in, h0[k], c0[k], *p)), unbatched)
        return out, (h_n, c_n)


class GRU(_RNNBase):
    """Gated recurrent unit (gates r, z, n; PyTorch's equations, b_hn inside the reset product):
        r = σ(x·W_irᵀ + b_ir + h·W_hrᵀ + b_hr)     z = σ(x·W_izᵀ + b_iz + h·W_hzᵀ + b_hz)
        n = tanh(x·W_inᵀ + b_in + r ⊙ (h·W_hnᵀ + b_hn))     h' = (1 − z) ⊙ n + z ⊙ h
    forward(input, hx=None) -> (output (T, N, D·H), h_n (L·D, N, H))."""
    _gates = 3
    _mode = "GRU"

    def forward(self, x, hx=None):
        x, unbatched, N = self._prepare(x)
        h0 = self._state("h0", hx, x, N, unbatched)
        out, (h_n,) = self._finish(*self._run(x, lambda k, x_in, p: F.gru(x_in, h0[k], *p)), unbatched)
        return out, h_n


# ------------------------------------------------------------------------------------- cells
class _CellBase(Module):
    _gates = 1

    def __init__(self, input_size, hidden_size, bias=True, dtype=None):
        super().__init__()
        name = type(self).__name__
        self.input_size = _positive_int(name, "input_size", input_size, 0)
        self.hidden_size = _positive_int(name, "hidden_size", hidden_size)
        self.bias = bool(bias)
        G = self._gates * hidden_size
        self.weight_ih = _param(G, input_size, dtype=dtype)
        self.weight_hh = _param(G, hidden_size, dtype=dtype)
        if bias:
            self.bias_ih = _param(G, dtype=dtype)
            self.bias_hh = _param(G, dtype=dtype)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        b = 1 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -b, b)

    def _name(self):
        return f"{type(self).__name__}(input_size={self.input_size}, hidden_size={self.hidden_size})"

    def _prepare(self, x):
        if not isinstance(x, Tensor):
            raise TypeError(f"{self._name()}: input must be a pyengine.Tensor, got {type(x).__name__}")
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(f"{self._name()}: expected input of shape (N, {self.input_size}) or unbatched "
                             f"({self.input_size},), got {tuple(x.shape)}")
        unbatched = x.ndim == 1
        return (x.unsqueeze(0) if unbatched else x), unbatched

    def _state(self, what, h, x, unbatched):
        N, H = x.shape[0], self.hidden_size
        if h is None:
            return _zeros(N, H, dtype=x.dtype, device=x.device)
        if not isinstance(h, Tensor):
            raise TypeError(f"{self._name()}: {what} must be a pyengine.Tensor, got {type(h).__name__}")
        want = (H,) if unbatched else (N, H)
        if tuple(h.shape) != want:
            raise ValueError(f"{self._name()}: expected {what} of shape {want}, got {tuple(h.shape)}")
        return h.unsqueeze(0) if unbatched else h

    def _call(self, fn, *args):
        try:
            return fn(*args)
        except (ValueError, TypeError) as e:   # dtype or device disagreement, found by the binding
            raise type(e)(f"{self._name()}: {e}") from None

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        return s if self.bias else s + ", bias=False"


class RNNCell(_CellBase):
    """h' = act(x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh), act tanh or relu; input (N, I) or (I,), hx (N, H)."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, x, hx=None):
        x, unbatched = self._prepare(x)
        h = self._state("hx", hx, x, unbatched)
        act = F.tanh if self.nonlinearity == "tanh" else F.relu
        h = self._call(lambda: act(F.linear(x, self.weight_ih, self.bias_ih) + F.linear(h, self.weight_hh,
                                                                                         self.bias_hh)))
        return h.squeeze(0) if unbatched else h

    def extra_repr(self):
        s = super().extra_repr()
        return s + (", nonlinearity='relu'" if self.nonlinearity != "tanh" else "")


class LSTMCell(_CellBase):
    """One LSTM step: input (N, I) or (I,), hx = (h, c) each (N, H) (zeros when omitted) -> (h', c')."""
    _gates = 4

    def forward(self, x, hx=None):
        x, unbatched = self._prepare(x)
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise TypeError(f"{self._name()}: hx must be a tuple (h, c), got {type(hx).__name__}")
        h = self._state("h", None if hx is None else hx[0], x, unbatched)
        c = self._state("c", None if hx is None else hx[1], x, unbatched)
        h, c = self._call(_LSTMCellFn.apply, x, h, c, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return (h.squeeze(0), c.squeeze(0)) if unbatched else (h, c)


class GRUCell(_CellBase):
    """One GRU step (the equations under GRU): input (N, I) or (I,), hx (N, H) (zeros when omitted) -> h'."""
    _gates = 3

    def forward(self, x, hx=None):
        x, unbatched = self._prepare(x)
        h = self._state("hx", hx, x, unbatched)
        h = self._call(_GRUCellFn.apply, x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return h.squeeze(0) if unbatched else h
