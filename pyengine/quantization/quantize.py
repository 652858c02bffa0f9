"""Post-training static quantization in PyTorch's eager-mode steps: fuse, prepare, calibrate, convert.

    model.eval()
    model = fuse_modules(model)                  # Conv → BN → ReLU(6) folded and fused, Linear → ReLU
    model = QuantWrapper(model)                  # float in, float out (or put QuantStub/DeQuantStub in)
    model.qconfig = get_default_qconfig("histogram")
    prepare(model, inplace=True)                 # an observer on every quantizable output
    for x in calibration_batches: model(x)       # record activation ranges (a few hundred samples)
    convert(model, inplace=True)                 # int8 layers in place of float ones

``quantize(model, calibration_data)`` runs all of it. ``prepare`` attaches an observer as
``activation_post_process`` to QuantStub, every Conv2d / ConvReLU2d / Linear / LinearReLU, unfused
ReLU/ReLU6, and MobileNetV2's residual blocks, and a forward hook that feeds it the module's output.
``convert`` swaps each module for its int8 version (quantization/modules.py) with the observed scale
and zero point; max pooling, flattening and Identity keep the input's parameters, Dropout becomes
Identity. A layer with no int8 version (an unfused BatchNorm, an LSTM) raises, naming it.
"""
from __future__ import annotations

import copy
from collections import namedtuple
from functools import partial

from .. import nn
from ..nn.fused import ConvReLU2d, LinearReLU
from ..nn.module import Module, Sequential
from ..nn.utils.fusion import fuse_conv_bn_eval
from ..tensor import Tensor, as_tensor
from .modules import (DeQuantize, QuantizedAdaptiveAvgPool2d, QuantizedAdd, QuantizedConv2d,
                      QuantizedInvertedResidual, QuantizedLinear, QuantizedMaxPool2d, QuantizedMobileNetV2,
                      QuantizedReLU, QuantizedReLU6, Quantize)
from .observer import HistogramObserver, MinMaxObserver

__all__ = ["QConfig", "default_qconfig", "get_default_qconfig", "QuantStub", "DeQuantStub", "QuantWrapper",
           "fuse_modules", "prepare", "convert", "quantize"]

QConfig = namedtuple("QConfig", ["activation", "weight"])
QConfig.__doc__ = "How to observe activations (a factory of observers) and weights ('per_channel_symmetric')."

default_qconfig = QConfig(activation=MinMaxObserver, weight="per_channel_symmetric")


def get_default_qconfig(observer: str = "minmax", percentile: float = 99.99) -> QConfig:
    """'minmax', 'histogram' (percentile clipping, default 99.99%) or 'mse' (least expected error)."""
    if observer == "minmax":
        return default_qconfig
    if observer == "histogram":
        return QConfig(partial(HistogramObserver, method="percentile", percentile=percentile), "per_channel_symmetric")
    if observer == "mse":
        return QConfig(partial(HistogramObserver, method="mse"), "per_channel_symmetric")
    raise ValueError(f"get_default_qconfig: observer must be 'minmax', 'histogram' or 'mse', got {observer!r}")


class QuantStub(Module):
    """Marks where float becomes int8: identity while float, Quantize after convert."""

    def forward(self, x):
        return x


class DeQuantStub(Module):
    """Marks where int8 becomes float again: identity while float, DeQuantize after convert."""

    def forward(self, x):
        return x


class QuantWrapper(Module):
    """quant → module → dequant, so a float model's input and output stay float once converted."""

    def __init__(self, module):
        super().__init__()
        self.quant = QuantStub()
        self.module = module
        self.dequant = DeQuantStub()

    def forward(self, x):
        return self.dequant(self.module(self.quant(x)))


# ------------------------------------------------------------------ fusion
def _fuse_sequential(seq):
    names = list(seq._modules.keys())
    i = 0
    while i < len(names):
        m = seq._modules[names[i]]
        nxt = lambda j: seq._modules[names[j]] if j < len(names) else None  # noqa: E731
        if type(m) is nn.Conv2d:
            j = i + 1
            if isinstance(nxt(j), nn.BatchNorm2d) and nxt(j).running_mean is not None:
                m = fuse_conv_bn_eval(m, nxt(j))
                seq._modules[names[j]] = nn.Identity()
                j += 1
            if type(nxt(j)) in (nn.ReLU, nn.ReLU6):
                m = ConvReLU2d.from_conv(m, None if type(nxt(j)) is nn.ReLU else 6.0)
                seq._modules[names[j]] = nn.Identity()
                j += 1
            seq._modules[names[i]] = m
            i = j
        elif type(m) is nn.Linear and type(nxt(i + 1)) is nn.ReLU:
            seq._modules[names[i]] = LinearReLU.from_linear(m)
            seq._modules[names[i + 1]] = nn.Identity()
            i += 2
        else:
            i += 1


def fuse_modules(model: Module, modules_to_fuse=None, inplace: bool = False) -> Module:
    """Folds batch norms into convolutions and fuses activations, in eval mode.

    With modules_to_fuse None, every Conv2d → [BatchNorm2d] → [ReLU | ReLU6] and Linear → ReLU run of
    the model's Sequential containers is fused. Otherwise it is a list of lists of module names
    (``[["0", "1", "2"], ["features.4", "features.5"]]``, PyTorch's form): each list becomes one fused
    module at the first name and Identity at the others."""
    if not isinstance(model, Module):
        raise TypeError(f"fuse_modules: model must be a pyengine.nn.Module, got {type(model).__name__}")
    if model.training:
        raise ValueError("fuse_modules: call model.eval() first; folding uses the batch norms' running statistics")
    if not inplace:
        model = copy.deepcopy(model)
    if modules_to_fuse is None:
        for seq in [m for m in model.modules() if isinstance(m, Sequential)]:
            _fuse_sequential(seq)
        return model
    lookup = dict(model.named_modules())
    for group in modules_to_fuse:
        if not isinstance(group, (list, tuple)) or not group:
            raise ValueError(f"fuse_modules: each entry must be a non-empty list of module names, got {group!r}")
        missing = [n for n in group if n not in lookup]
        if missing:
            raise ValueError(f"fuse_modules: no module named {missing[0]!r} in {type(model).__name__}")
        mods = [lookup[n] for n in group]
        kinds = tuple(type(m) for m in mods)
        if kinds[0] is nn.Conv2d:
            fused = mods[0]
            rest = list(mods[1:])
            if rest and isinstance(rest[0], nn.BatchNorm2d):
                fused = fuse_conv_bn_eval(fused, rest.pop(0))
            if rest and type(rest[0]) in (nn.ReLU, nn.ReLU6):
                fused = ConvReLU2d.from_conv(fused, None if type(rest.pop(0)) is nn.ReLU else 6.0)
            if rest:
                raise ValueError(f"fuse_modules: cannot fuse {[k.__name__ for k in kinds]}; supported: Conv2d, "
                                 "[BatchNorm2d], [ReLU | ReLU6] and Linear, ReLU")
        elif kinds == (nn.Linear, nn.ReLU):
            fused = LinearReLU.from_linear(mods[0])
        else:
            raise ValueError(f"fuse_modules: cannot fuse {[k.__name__ for k in kinds]}; supported: Conv2d, "
                             "[BatchNorm2d], [ReLU | ReLU6] and Linear, ReLU")
        for k, name in enumerate(group):
            parent_name, _, leaf = name.rpartition(".")
            parent = lookup[parent_name] if parent_name else model
            parent._modules[leaf] = fused if k == 0 else nn.Identity()
    return model


# ------------------------------------------------------------------ prepare / convert
def _observed(m) -> bool:
    from ..models.mobilenet import InvertedResidual
    if isinstance(m, (QuantStub, nn.Conv2d, nn.Linear)) or type(m) in (nn.ReLU, nn.ReLU6):
        return True
    return isinstance(m, InvertedResidual) and m.use_res_connect


def _observe_output(module, args, out):
    module.activation_post_process(out)


def prepare(model: Module, inplace: bool = False, qconfig: QConfig | None = None) -> Module:
    """Attaches observers (see the module docstring). qconfig: the argument, else ``model.qconfig``,
    else ``default_qconfig`` (min-max)."""
    if not isinstance(model, Module):
        raise TypeError(f"prepare: model must be a pyengine.nn.Module, got {type(model).__name__}")
    qconfig = qconfig or getattr(model, "qconfig", None) or default_qconfig
    if not isinstance(qconfig, QConfig):
        raise TypeError(f"prepare: qconfig must be a QConfig, got {type(qconfig).__name__}")
    if not inplace:
        model = copy.deepcopy(model)
    for m in list(model.modules()):
        if _observed(m) and "activation_post_process" not in m._modules:
            m.activation_post_process = qconfig.activation()
            m.__dict__["_observer_hook"] = m.register_forward_hook(_observe_output)
    model.__dict__["qconfig"] = qconfig
    return model


def _qparams(m):
    obs = m._modules.get("activation_post_process")
    if obs is None:
        raise RuntimeError(f"convert: {type(m).__name__} has no observer; run prepare (and calibration) first")
    return obs.calculate_qparams()


def _strip_observer(m):
    hook = m.__dict__.pop("_observer_hook", None)
    if hook is not None:
        hook.remove()
    m._modules.pop("activation_post_process", None)


def _quantized(m):
    """The int8 replacement of m, or None to recurse into its children."""
    from ..models.mobilenet import InvertedResidual, MobileNetV2
    if isinstance(m, QuantStub):
        return Quantize(*_qparams(m))
    if isinstance(m, DeQuantStub):
        return DeQuantize()
    if isinstance(m, nn.Conv2d):
        return QuantizedConv2d.from_float(m, *_qparams(m))
    if isinstance(m, nn.Linear):
        return QuantizedLinear.from_float(m, *_qparams(m))
    if type(m) is nn.ReLU:
        return QuantizedReLU()
    if type(m) is nn.ReLU6:
        return QuantizedReLU6()
    if isinstance(m, nn.MaxPool2d):
        return QuantizedMaxPool2d.from_float(m)
    if isinstance(m, nn.AdaptiveAvgPool2d):
        return QuantizedAdaptiveAvgPool2d(m.output_size)
    if isinstance(m, nn.Dropout):
        return nn.Identity()
    if isinstance(m, InvertedResidual):
        add = QuantizedAdd(*_qparams(m)) if m.use_res_connect else None
        return QuantizedInvertedResidual(_convert_children(m.conv), add)
    if isinstance(m, MobileNetV2):
        return QuantizedMobileNetV2(_convert_children(m.features), _convert_children(m.classifier))
    if isinstance(m, (nn.Flatten, nn.Identity)):
        return m
    if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
        raise ValueError("convert: found an unfused BatchNorm; call fuse_modules before prepare")
    if not m._modules:
        raise ValueError(f"convert: {type(m).__name__} has no int8 version; keep it in float between a "
                         "DeQuantStub and a QuantStub")
    return None


def _convert_children(module):
    q = _quantized(module)
    if q is not None and q is not module:
        return q
    _strip_observer(module)
    for name, child in list(module._modules.items()):
        if child is None:
            continue
        if type(module) is Sequential and type(child) is nn.Identity:
            del module._modules[name]      # fusion's placeholders: one call less each (names of the rest kept)
            continue
        module._modules[name] = _convert_children(child)
    return module


def convert(model: Module, inplace: bool = False) -> Module:
    """Swaps every observed float module for its int8 version; returns the converted model."""
    if not isinstance(model, Module):
        raise TypeError(f"convert: model must be a pyengine.nn.Module, got {type(model).__name__}")
    if not inplace:
        model = copy.deepcopy(model)
    converted = _convert_children(model)
    converted.eval()
    return converted


def quantize(model: Module, calibration_data, qconfig: QConfig | None = None, batch_size: int = 64) -> Module:
    """fuse_modules → QuantWrapper → prepare → run calibration_data (an array/Tensor of inputs, or an
    iterable of batches) → convert. The float model is left as it was; returns the int8 model
    (float32 in, float32 out)."""
    from ..autograd.grad_mode import no_grad
    was_training = model.training
    model.eval()
    try:
        fused = fuse_modules(model)
    finally:
        model.train(was_training)
    prepared = prepare(QuantWrapper(fused), inplace=True, qconfig=qconfig)
    with no_grad():
        if isinstance(calibration_data, Tensor) or hasattr(calibration_data, "shape"):
            data = as_tensor(calibration_data)
            for i in range(0, data.shape[0], batch_size):
                prepared(data[i:i + batch_size])
        else:
            for batch in calibration_data:
                prepared(batch[0] if isinstance(batch, (tuple, list)) else batch)
    return convert(prepared, inplace=True)
