"""Transfer learning helpers: find and replace a zoo model's head, freeze the rest, and give parts of
a network their own learning rates (MATLAB's WeightLearnRateFactor) as optimizer parameter groups.

Freezing sets ``requires_grad`` False on the parameters (so the optimizer leaves them alone and
autograd computes no gradient for them) and puts the frozen modules in eval mode, so their batch
norm uses — and keeps — its running statistics. ``fit`` keeps modules that are in eval mode at its
start in eval mode while it trains the rest.
"""
from __future__ import annotations

import numpy as np

from .. import nn
from ..io.architecture import register_architecture

__all__ = ["head_name", "get_head", "replace_head", "freeze", "unfreeze", "freeze_body", "param_groups",
           "Adapted", "MIN_SIDE"]

# the smallest input side each zoo network takes (every stage keeps at least one pixel)
MIN_SIDE = {"alexnet": 63, "vgg11": 32, "vgg11_bn": 32, "vgg16": 32, "vgg16_bn": 32}

# the classifier layer of each zoo architecture, as an attribute path
_HEADS = {"ResNet": "fc", "DigitCNN": "fc", "AlexNet": "classifier.6", "VGG": "classifier.6",
          "MobileNetV2": "classifier.1", "SqueezeNet": "classifier.1", "LeNet5": "classifier.4"}


def head_name(model) -> str:
    """The attribute path of the model's final classifier layer ("fc", "classifier.6", ...)."""
    for cls in type(model).__mro__:
        if cls.__name__ in _HEADS:
            return _HEADS[cls.__name__]
    last = None
    for name, m in model.named_modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            last = name
    if last is None:
        raise ValueError(f"head_name: {type(model).__name__} has no Linear or Conv2d layer to replace")
    return last


def _parent(model, path):
    parts = path.split(".")
    owner = model
    for p in parts[:-1]:
        owner = owner[int(p)] if p.isdigit() and isinstance(owner, (nn.Sequential, nn.ModuleList)) else getattr(owner, p)
    return owner, parts[-1]


def get_head(model):
    owner, leaf = _parent(model, head_name(model))
    return owner._modules[leaf]


def replace_head(model, num_classes: int):
    """Puts a freshly initialised classifier for num_classes where the model's head is (same input
    size, same kind: Linear, or SqueezeNet's 1x1 Conv2d); returns the new layer."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"replace_head: num_classes must be a positive int, got {num_classes!r}")
    owner, leaf = _parent(model, head_name(model))
    old = owner._modules[leaf]
    if isinstance(old, nn.Linear):
        new = nn.Linear(old.in_features, num_classes, bias=old.bias is not None)
    elif isinstance(old, nn.Conv2d):
        new = nn.Conv2d(old.in_channels, num_classes, old.kernel_size, old.stride, old.padding,
                        bias=old.bias is not None)
    else:
        raise ValueError(f"replace_head: the head {type(old).__name__} is not a Linear or Conv2d")
    new.to(old.weight.dtype)
    if old.weight.device != "cpu":
        new.to(old.weight.device)
    owner._modules[leaf] = new
    if hasattr(model, "config") and isinstance(model.config, dict) and "num_classes" in model.config:
        model.config["num_classes"] = num_classes
    return new


def freeze(*modules, eval_mode: bool = True):
    """Stops training these modules: no gradients, untouched by optimizers, and (eval_mode) batch
    norm and dropout in inference form, which ``fit`` keeps while it trains the rest."""
    for m in modules:
        m.requires_grad_(False)
        if eval_mode:
            m.eval()
    return modules[0] if len(modules) == 1 else modules


def unfreeze(*modules):
    for m in modules:
        m.requires_grad_(True)
        m.train()
    return modules[0] if len(modules) == 1 else modules


def param_groups(model, lr: float, factors: dict | None = None, default: float = 1.0):
    """Optimizer parameter groups with per-part learning rates: ``factors`` maps a module path prefix
    ("fc", "layer4") to a factor of ``lr``; other parameters get ``default`` (0 leaves them out).
    Frozen parameters (requires_grad False) are left out. The longest matching prefix wins."""
    factors = dict(factors or {})
    for k, f in factors.items():
        if not isinstance(f, (int, float)) or f < 0:
            raise ValueError(f"param_groups: factor for {k!r} must be a number >= 0, got {f!r}")
    groups: dict = {}
    known = {name for name, _ in model.named_modules()}
    for k in factors:
        if k not in known:
            raise ValueError(f"param_groups: {type(model).__name__} has no module {k!r}")
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        match = max((k for k in factors if name == k or name.startswith(k + ".")), key=len, default=None)
        f = factors[match] if match is not None else default
        if f == 0:
            continue
        groups.setdefault(f, []).append(p)
    return [{"params": ps, "lr": lr * f} for f, ps in sorted(groups.items(), key=lambda kv: -kv[0])]


def freeze_body(model, eval_mode: bool = True):
    """Freezes everything but the head (``head_name``): its parameters stop training, and every
    module whose subtree does not hold the head goes to eval mode (batch norm keeps its statistics)."""
    head = head_name(model)
    for name, p in model.named_parameters():
        if not (name == head or name.startswith(head + ".")):
            p.requires_grad_(False)
    if eval_mode:
        for name, m in model.named_modules():
            if name and not (head == name or head.startswith(name + ".") or name.startswith(head + ".")):
                m.eval()
    return model


@register_architecture
class Adapted(nn.Module):
    """Feeds a zoo network images it was not built for: a 1-channel image is repeated to the
    network's ``net_channels`` and an image smaller than ``min_side`` is upsampled (nearest) to it.
    ``forward(x)`` with x (N, in_channels, H, W). Used by ``pyengine train --model resnet18`` on the
    28×28 grayscale digits."""

    def __init__(self, net, in_channels: int = 1, net_channels: int = 3, min_side: int | None = None):
        super().__init__()
        if in_channels not in (1, net_channels):
            raise ValueError(f"Adapted: in_channels must be 1 or {net_channels}, got {in_channels}")
        self.net = net
        self.in_channels, self.net_channels, self.min_side = in_channels, net_channels, min_side

    def forward(self, x):
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"Adapted: expected input (N, {self.in_channels}, H, W), got {tuple(x.shape)}")
        n, _, h, w = x.shape
        if self.in_channels != self.net_channels:
            x = x.expand(n, self.net_channels, h, w)
        if self.min_side and min(h, w) < self.min_side:
            s = self.min_side / min(h, w)
            oh, ow = max(self.min_side, round(h * s)), max(self.min_side, round(w * s))
            rows = (np.arange(oh) * h // oh)[:, None]
            cols = (np.arange(ow) * w // ow)[None, :]
            x = x[:, :, rows, cols]
        return self.net(x)
