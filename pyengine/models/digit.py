"""The digit CNN of the course (``digit_cnn``) and LeNet-5 (``lenet5``), for 28×28 grayscale digits.

digit_cnn: conv3×3(8, pad 1) → BN → ReLU → maxpool 2/2 → conv3×3(16, pad 1) → BN → ReLU →
maxpool 2/2 → conv3×3(32, pad 1) → BN → ReLU → FC(num_classes). Parameter names ``features.0``…
``features.8`` and ``fc``, as ``pyengine train`` writes them.

lenet5: conv5×5(6, pad 2) → ReLU → maxpool 2/2 → conv5×5(16) → ReLU → maxpool 2/2 → FC(120) → ReLU →
FC(84) → ReLU → FC(num_classes) (LeCun et al. 1998 with ReLU and max pooling, as it is taught today).
"""
from __future__ import annotations

from .. import nn
from ..io.architecture import register_architecture
from ._common import build_with_weights
from ._registry import register_model

__all__ = ["DigitCNN", "LeNet5", "digit_cnn", "lenet5"]


@register_architecture
class DigitCNN(nn.Module):
    """Input (N, in_channels, H, W) with H, W divisible by 4; output logits (N, num_classes)."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, image_size=(28, 28)):
        super().__init__()
        h, w = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        self.config = {"in_channels": int(in_channels), "num_classes": int(num_classes), "image_size": [h, w]}
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2, 2),
            nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2, 2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU())
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(32 * (h // 4) * (w // 4), num_classes)

    def forward(self, x):
        return self.fc(self.flatten(self.features(x)))


@register_architecture
class LeNet5(nn.Module):
    """Input (N, in_channels, 28, 28) (or any H, W ≥ 12: the first FC follows the size)."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, image_size=(28, 28)):
        super().__init__()
        h, w = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2, 2))
        fh, fw = (h // 2 - 4) // 2, (w // 2 - 4) // 2
        self.classifier = nn.Sequential(
            nn.Linear(16 * fh * fw, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


@register_model
def digit_cnn(*, weights=None, progress=False, **kwargs):
    """The digit CNN (``pyengine train``'s network): kwargs in_channels=1, num_classes=10, image_size=(28, 28)."""
    return build_with_weights(DigitCNN, "fc.weight", weights, progress, kwargs)


@register_model
def lenet5(*, weights=None, progress=False, **kwargs):
    """LeNet-5: kwargs in_channels=1, num_classes=10, image_size=(28, 28)."""
    return build_with_weights(LeNet5, "classifier.4.weight", weights, progress, kwargs)
