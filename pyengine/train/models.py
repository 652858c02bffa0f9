"""The networks the command line trains, built from pyengine.nn and rebuildable from a model file.

A model records its constructor arguments in ``model.config``; ``pyengine.save`` writes them
with the architecture name into the file's header, and ``build_model(name, **config)`` makes the
same network again for ``pyengine evaluate`` and ``pyengine predict``. The digit CNN itself lives in
the zoo (``pyengine.models.digit_cnn``).
"""
from __future__ import annotations

from .. import nn
from ..io.architecture import register_architecture
from ..models.digit import DigitCNN

__all__ = ["DigitCNN", "DigitMLP", "MODELS", "build_model"]


@register_architecture
class DigitMLP(nn.Module):
    """A small fully connected baseline: flatten → FC(hidden) → ReLU → FC(num_classes)."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, image_size=(28, 28), hidden: int = 128):
        super().__init__()
        h, w = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        self.config = {"in_channels": int(in_channels), "num_classes": int(num_classes), "image_size": [h, w],
                       "hidden": int(hidden)}
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(in_channels * h * w, hidden)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(hidden, num_classes)

    def forward(self, x):
        return self.fc2(self.relu(self.fc1(self.flatten(x))))


MODELS = {"digit-cnn": DigitCNN, "mlp": DigitMLP}


def build_model(name: str, **config):
    """A network by its command-line name (digit-cnn, mlp) or class name (DigitCNN, DigitMLP)."""
    for key, cls in MODELS.items():
        if name in (key, cls.__name__):
            return cls(**config)
    raise ValueError(f"unknown model {name!r}; accepted: {', '.join(MODELS)}")
