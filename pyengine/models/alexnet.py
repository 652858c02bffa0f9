"""AlexNet (Krizhevsky et al. 2012, the one-GPU variant torchvision ships), torchvision's names.

features: conv11×11/4(64, pad 2) → ReLU → maxpool 3/2 → conv5×5(192, pad 2) → ReLU → maxpool 3/2 →
conv3×3(384) → ReLU → conv3×3(256) → ReLU → conv3×3(256) → ReLU → maxpool 3/2; avgpool: adaptive
to 6×6; classifier: dropout → FC(4096) → ReLU → dropout → FC(4096) → ReLU → FC(num_classes).
Input (N, 3, H, W), H, W ≥ 63 (224 for the published weights).
"""
from __future__ import annotations

from .. import nn
from ..io.architecture import register_architecture
from ._common import build_with_weights
from ._registry import register_model

__all__ = ["AlexNet", "alexnet"]


@register_architecture
class AlexNet(nn.Module):
    def __init__(self, num_classes: int = 1000, dropout: float = 0.5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2))
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
            nn.Dropout(p=dropout), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes))

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


@register_model
def alexnet(*, weights=None, progress=False, **kwargs):
    """AlexNet: kwargs num_classes=1000, dropout=0.5."""
    return build_with_weights(AlexNet, "classifier.6.weight", weights, progress, kwargs)
