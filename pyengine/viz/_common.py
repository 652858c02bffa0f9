"""What every picture needs: finding a layer by name, reading a layer's output (and its gradient)
for an input, the model's input as a Tensor, and matplotlib with an atomic PNG save.

Layers are named as in ``model.named_modules()`` ("features.0", "layer1.0.conv1"), or by kind and
position among the model's layers of that kind, counted from 1: "conv2" is the second Conv2d,
"bn1" the first batch norm, "relu3", "pool1" (max or average pooling), "fc1" (Linear), "lstm1".
"""
from __future__ import annotations

import numpy as np

KINDS = {"Conv2d": "conv", "Conv1d": "conv", "ConvTranspose2d": "conv", "BatchNorm2d": "bn", "BatchNorm1d": "bn",
         "ReLU": "relu", "LeakyReLU": "relu", "ELU": "elu", "Sigmoid": "sigmoid", "Tanh": "tanh",
         "MaxPool2d": "pool", "AvgPool2d": "pool", "AdaptiveAvgPool2d": "pool", "Linear": "fc", "LSTM": "lstm",
         "GRU": "gru", "Dropout": "dropout", "Flatten": "flatten", "Softmax": "softmax"}


def leaf_layers(model):
    """[(name, module)] of the modules without children, in registration order."""
    return [(n, m) for n, m in model.named_modules() if not m._modules and m is not model] or [("", model)]


def layer_aliases(model) -> dict:
    """{alias: (name, module)}: "conv1", "bn2", ... for the leaf layers, plus every module's own name."""
    out, count = {}, {}
    for name, m in leaf_layers(model):
        kind = KINDS.get(type(m).__name__, type(m).__name__.lower())
        count[kind] = count.get(kind, 0) + 1
        out.setdefault(f"{kind}{count[kind]}", (name, m))
    for name, m in model.named_modules():
        if name:
            out[name] = (name, m)
    return out


def find_layer(model, layer):
    """(name, module) for a layer given by name, alias or as the module itself."""
    if hasattr(layer, "forward") and hasattr(layer, "named_modules"):
        for name, m in model.named_modules():
            if m is layer:
                return name or type(m).__name__, m
        raise ValueError(f"layer: the {type(layer).__name__} given is not part of the model")
    if not isinstance(layer, str):
        raise TypeError(f"layer must be a layer name (str) or a Module of the model, got {type(layer).__name__}")
    aliases = layer_aliases(model)
    if layer in aliases:
        name, m = aliases[layer]
        return name or layer, m
    known = [a for a in aliases if not any(c == "." for c in a)][:40]
    raise ValueError(f"layer {layer!r} is not in the model; its layers: {', '.join(known)} "
                     "(or any name of model.named_modules())")


def display_name(model, name) -> str:
    """ "features.4 [conv2]": the layer's name with its short alias, for titles."""
    for alias, (n, _) in layer_aliases(model).items():
        if n == name and alias != name:
            return f"{name} [{alias}]"
    return name


def as_input(model, image, what="image"):
    """image (C, H, W) or (1, C, H, W), NumPy or Tensor → float32 array (1, C, H, W)."""
    arr = image._data if hasattr(image, "_data") else np.asarray(image)
    if hasattr(arr, "get"):
        arr = arr.get()
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[0] != 1:
        raise ValueError(f"{what} must be one image (C, H, W) or (1, C, H, W), got shape {tuple(arr.shape)}")
    return np.ascontiguousarray(arr, dtype=np.float32)


class _Stop(Exception):
    pass


def layer_output(model, x, module, *, grad=False, stop=False):
    """(model output or None, the layer's output Tensor) for input x (1, C, H, W); with grad the
    input requires grad and the layer output keeps its gradient; with stop the forward ends at the
    layer (for inputs the rest of the network could not take)."""
    import pyengine

    got = {}

    def hook(mod, args, out):
        got["out"] = out
        if grad:
            out.retain_grad()
        if stop:
            raise _Stop

    handle = module.register_forward_hook(hook)
    was_training = model.training
    model.eval()
    xt = pyengine.tensor(x, requires_grad=grad)
    try:
        with pyengine.set_grad_enabled(grad):
            try:
                result = model(xt)
            except _Stop:
                result = None
    finally:
        handle.remove()
        model.train(was_training)
    if "out" not in got:
        raise ValueError(f"the layer {type(module).__name__} was not used by the model's forward")
    return xt, result, got["out"]


def pyplot():
    try:
        import matplotlib
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("pyengine.viz needs matplotlib: pip install \"pyengine[plot]\"") from None
    return matplotlib, plt


def finish(fig, path):
    """Saves fig to path as PNG (atomically) when path is given; returns the figure."""
    if path is not None:
        import matplotlib.pyplot as plt

        from ..train.history import _save_figure_atomic
        _save_figure_atomic(fig, path)
        plt.close(fig)
    return fig


def grid_shape(n, max_cols=8):
    cols = min(max_cols, max(1, int(np.ceil(np.sqrt(n)))))
    return int(np.ceil(n / cols)), cols


def show_image(ax, img):
    """img (C, H, W) with C 1 or 3 as a picture (gray for one channel), values stretched to [0, 1]."""
    img = np.asarray(img, np.float64)
    lo, hi = float(img.min()), float(img.max())
    img = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
    if img.shape[0] == 1:
        ax.imshow(img[0], cmap="gray", vmin=0, vmax=1)
    else:
        ax.imshow(img[:3].transpose(1, 2, 0))
    ax.set_xticks([])
    ax.set_yticks([])
