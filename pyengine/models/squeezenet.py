"""SqueezeNet 1.1 (Iandola et al. 2016; the 1.1 variant with 2.4× less computation), torchvision's names.

features: conv3×3/2(64) → ReLU → maxpool 3/2 (ceil) → Fire(16, 64, 64) ×2 → maxpool → Fire(32, 128,
128) ×2 → maxpool → Fire(48, 192, 192) ×2 → Fire(64, 256, 256) ×2; classifier: dropout(0.5) →
conv1×1(num_classes) → ReLU → global average pool; flatten.
Fire(s, e1, e3): squeeze conv1×1(s) → ReLU, then concat(ReLU(conv1×1(e1)), ReLU(conv3×3(e3, pad 1)))
along channels. Initialisation as torchvision: the final conv normal(0, 0.01), the others
kaiming_uniform; biases 0.
"""
from __future__ import annotations

from .. import nn
from ..io.architecture import register_architecture
from ..tensor import cat
from ._common import build_with_weights
from ._registry import register_model

__all__ = ["SqueezeNet", "Fire", "squeezenet1_1"]


@register_architecture
class Fire(nn.Module):
    def __init__(self, inplanes, squeeze_planes, expand1x1_planes, expand3x3_planes):
        super().__init__()
        self.inplanes = inplanes
        self.squeeze = nn.Conv2d(inplanes, squeeze_planes, kernel_size=1)
        self.squeeze_activation = nn.ReLU(inplace=True)
        self.expand1x1 = nn.Conv2d(squeeze_planes, expand1x1_planes, kernel_size=1)
        self.expand1x1_activation = nn.ReLU(inplace=True)
        self.expand3x3 = nn.Conv2d(squeeze_planes, expand3x3_planes, kernel_size=3, padding=1)
        self.expand3x3_activation = nn.ReLU(inplace=True)

    def forward(self, x):
        x = self.squeeze_activation(self.squeeze(x))
        return cat([self.expand1x1_activation(self.expand1x1(x)),
                    self.expand3x3_activation(self.expand3x3(x))], 1)


@register_architecture
class SqueezeNet(nn.Module):
    """SqueezeNet 1.1 (version "1_1"; the only one in the zoo)."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5):
        super().__init__()
        self.num_classes = num_classes
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=3, stride=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
            Fire(64, 16, 64, 64), Fire(128, 16, 64, 64),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
            Fire(128, 32, 128, 128), Fire(256, 32, 128, 128),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
            Fire(256, 48, 192, 192), Fire(384, 48, 192, 192), Fire(384, 64, 256, 256), Fire(512, 64, 256, 256))
        final_conv = nn.Conv2d(512, num_classes, kernel_size=1)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout), final_conv, nn.ReLU(inplace=True),
                                        nn.AdaptiveAvgPool2d((1, 1)))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                if m is final_conv:
                    nn.init.normal_(m.weight, mean=0.0, std=0.01)
                else:
                    nn.init.kaiming_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.classifier(self.features(x)).flatten(1)


@register_model
def squeezenet1_1(*, weights=None, progress=False, **kwargs):
    """SqueezeNet 1.1: kwargs num_classes=1000, dropout=0.5."""
    return build_with_weights(SqueezeNet, "classifier.1.weight", weights, progress, kwargs)
