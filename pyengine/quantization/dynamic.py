"""Dynamic quantization: int8 weights stored once, activations quantized on the fly at every call.

``quantize_dynamic(model)`` replaces every Linear and LSTM (PyTorch's default set) with:

* DynamicQuantizedLinear: weight int8 per output channel (symmetric, [−127, 127]). Each call takes
  the range of its input x, quantizes it to uint8 (affine, that range widened to 0), runs the int8
  kernel with a float32 output, y = float32(acc − z_x·Σw) · (s_x·s_w[o]), and adds the float bias.
* DynamicQuantizedLSTM: the same for the input projection of all steps at once (one int8 GEMM over
  (T·N, I)) and for the recurrent product of every step (h_{t−1} quantized per step); the gates,
  the cell and the nonlinearities stay float32, as in PyTorch's dynamic LSTM. Inference only:
  nothing is recorded for a backward and no activations are kept.
No calibration is needed; accuracy is that of 8-bit weights plus per-call 8-bit activations.
"""
from __future__ import annotations

import copy

import numpy as np

from .. import nn
from ..kernels.cpu._ext import _C
from ..nn.module import Module
from ..tensor import Tensor, _wrap
from .observer import affine_qparams, quantize_weight

__all__ = ["DynamicQuantizedLinear", "DynamicQuantizedLSTM", "quantize_dynamic", "dynamic_linear"]


def dynamic_linear(a: np.ndarray, wq: np.ndarray, w_scale: np.ndarray, bias) -> np.ndarray:
    """float32 a (M, I) · dequant(wq)ᵀ (+ bias) with a quantized to uint8 from its own range."""
    a = np.ascontiguousarray(a, np.float32)
    if a.size:
        s, z = affine_qparams(float(a.min()), float(a.max()))
    else:
        s, z = 1.0, 0
    q = _C.quantize_per_tensor(a, s, z)
    y = _C.quantized_linear(q, z, wq, None, (s * w_scale).astype(np.float32), 0, 0, 255, "float32")
    if bias is not None:
        y += bias
    return y


class DynamicQuantizedLinear(Module):
    """Linear with int8 weights and activations quantized per call; float in, float out."""

    def __init__(self, weight, bias):
        super().__init__()
        wq, ws = quantize_weight(np.asarray(weight, np.float64))
        self.out_features, self.in_features = wq.shape
        self.register_buffer("weight", _wrap(wq))
        self.register_buffer("weight_scale", _wrap(ws))
        self.register_buffer("bias", None if bias is None else _wrap(np.asarray(bias, np.float32)))

    @classmethod
    def from_float(cls, linear):
        return cls(linear.weight._data, None if linear.bias is None else linear.bias._data)

    def forward(self, x):
        if not isinstance(x, Tensor):
            raise TypeError(f"DynamicQuantizedLinear: expected a Tensor, got {type(x).__name__}")
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise ValueError(f"DynamicQuantizedLinear(in_features={self.in_features}): expected input of shape "
                             f"(*, {self.in_features}), got {tuple(x.shape)}")
        a = x._data.reshape(-1, self.in_features)
        y = dynamic_linear(a, self.weight._data, self.weight_scale._data,
                           None if self.bias is None else self.bias._data)
        return _wrap(y.reshape(tuple(x.shape[:-1]) + (self.out_features,)))

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, dtype=qint8"


def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


class DynamicQuantizedLSTM(Module):
    """LSTM with int8 weights (see the module docstring); same inputs and outputs as nn.LSTM."""

    def __init__(self, lstm):
        super().__init__()
        if not isinstance(lstm, nn.LSTM):
            raise TypeError(f"DynamicQuantizedLSTM: expected an nn.LSTM, got {type(lstm).__name__}")
        self.input_size, self.hidden_size, self.num_layers = lstm.input_size, lstm.hidden_size, lstm.num_layers
        self.batch_first = lstm.batch_first
        for layer in range(self.num_layers):
            w_ih, w_hh, b_ih, b_hh = lstm._layer_params(layer)
            for name, w in (("ih", w_ih), ("hh", w_hh)):
                wq, ws = quantize_weight(w._data.astype(np.float64))
                self.register_buffer(f"weight_{name}_l{layer}", _wrap(wq))
                self.register_buffer(f"weight_{name}_scale_l{layer}", _wrap(ws))
            b = np.zeros(4 * self.hidden_size, np.float32)
            for bb in (b_ih, b_hh):
                if bb is not None:
                    b = b + bb._data.astype(np.float32)
            self.register_buffer(f"bias_l{layer}", _wrap(b))

    def forward(self, x, hx=None):
        name = f"DynamicQuantizedLSTM(input_size={self.input_size}, hidden_size={self.hidden_size})"
        if not isinstance(x, Tensor) or x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            raise ValueError(f"{name}: expected input of shape (T, N, {self.input_size}), got "
                             f"{tuple(getattr(x, 'shape', ()))}")
        a = x._data.astype(np.float32, copy=False)
        unbatched = a.ndim == 2
        if unbatched:
            a = a[:, None]
        elif self.batch_first:
            a = a.transpose(1, 0, 2)
        T, N, _ = a.shape
        H, L = self.hidden_size, self.num_layers
        if hx is None:
            h0 = np.zeros((L, N, H), np.float32)
            c0 = np.zeros((L, N, H), np.float32)
        else:
            h0, c0 = (np.asarray(t._data, np.float32) for t in hx)
            if unbatched:
                h0, c0 = h0[:, None], c0[:, None]
            if h0.shape != (L, N, H) or c0.shape != (L, N, H):
                raise ValueError(f"{name}: expected h0 and c0 of shape {(L, N, H)}, got {h0.shape} and {c0.shape}")
        out = a
        hs, cs = [], []
        for layer in range(L):
            b = self._buffers[f"bias_l{layer}"]._data
            wih, sih = self._buffers[f"weight_ih_l{layer}"]._data, self._buffers[f"weight_ih_scale_l{layer}"]._data
            whh, shh = self._buffers[f"weight_hh_l{layer}"]._data, self._buffers[f"weight_hh_scale_l{layer}"]._data
            xp = dynamic_linear(out.reshape(T * N, -1), wih, sih, b).reshape(T, N, 4 * H)
            h, c = h0[layer], c0[layer]
            ys = np.empty((T, N, H), np.float32)
            for t in range(T):
                g = xp[t] + dynamic_linear(h, whh, shh, None)
                i, f = _sigmoid(g[:, :H]), _sigmoid(g[:, H:2 * H])
                gg, o = np.tanh(g[:, 2 * H:3 * H]), _sigmoid(g[:, 3 * H:])
                c = f * c + i * gg
                h = (o * np.tanh(c)).astype(np.float32)
                ys[t] = h
            out = ys
            hs.append(h)
            cs.append(c.astype(np.float32))
        h_n, c_n = np.stack(hs), np.stack(cs)
        if unbatched:
            return _wrap(out[:, 0]), (_wrap(h_n[:, 0]), _wrap(c_n[:, 0]))
        if self.batch_first:
            out = out.transpose(1, 0, 2)
        return _wrap(np.ascontiguousarray(out)), (_wrap(h_n), _wrap(c_n))

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, dtype=qint8"


def quantize_dynamic(model: Module, qconfig_spec=None, dtype="qint8", inplace: bool = False) -> Module:
    """Replaces every module whose type is in qconfig_spec (default {nn.Linear, nn.LSTM}) with its
    dynamic int8 version; returns the model (a copy unless inplace)."""
    if dtype != "qint8":
        raise ValueError(f"quantize_dynamic: only dtype='qint8' is supported, got {dtype!r}")
    spec = set(qconfig_spec) if qconfig_spec is not None else {nn.Linear, nn.LSTM}
    unknown = spec - {nn.Linear, nn.LSTM}
    if unknown:
        raise ValueError(f"quantize_dynamic: no dynamic int8 version of {sorted(t.__name__ for t in unknown)}; "
                         "supported: Linear, LSTM")
    if not isinstance(model, Module):
        raise TypeError(f"quantize_dynamic: model must be a pyengine.nn.Module, got {type(model).__name__}")
    if not inplace:
        model = copy.deepcopy(model)

    def swap(m):
        if nn.Linear in spec and isinstance(m, nn.Linear):
            return DynamicQuantizedLinear.from_float(m)
        if nn.LSTM in spec and isinstance(m, nn.LSTM):
            return DynamicQuantizedLSTM(m)
        return None

    top = swap(model)
    if top is not None:
        return top
    for m in list(model.modules()):
        for name, child in list(m._modules.items()):
            q = swap(child) if child is not None else None
            if q is not None:
                m._modules[name] = q
    return model.eval()
