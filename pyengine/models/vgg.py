"""VGG (Simonyan & Zisserman 2014): configurations A (vgg11) and D (vgg16), with or without batch
norm, torchvision's names.

features: for each entry of the configuration, a 3×3 conv (pad 1) → [BN] → ReLU, or "M" a maxpool
2/2; avgpool: adaptive to 7×7; classifier: FC(4096) → ReLU → dropout → FC(4096) → ReLU → dropout →
FC(num_classes). Initialisation as torchvision: conv kaiming_normal (fan_out, relu), bias 0; BN 1, 0;
FC normal(0, 0.01), bias 0. Input (N, 3, H, W), H, W ≥ 32.
"""
from __future__ import annotations

from .. import nn
from ..io.architecture import register_architecture
from ._common import build_with_weights
from ._registry import register_model

__all__ = ["VGG", "make_layers", "CFGS", "vgg11", "vgg11_bn", "vgg16", "vgg16_bn"]

CFGS = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
}


def make_layers(cfg, batch_norm: bool = False):
    layers, c = [], 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers.append(nn.Conv2d(c, v, kernel_size=3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(v))
            layers.append(nn.ReLU(inplace=True))
            c = v
    return nn.Sequential(*layers)


@register_architecture
class VGG(nn.Module):
    """VGG(cfg="D", batch_norm=False, num_classes=1000, dropout=0.5)."""

    def __init__(self, cfg: str = "D", batch_norm: bool = False, num_classes: int = 1000, dropout: float = 0.5,
                 init_weights: bool = True):
        super().__init__()
        if cfg not in CFGS:
            raise ValueError(f"VGG: cfg must be one of {sorted(CFGS)}, got {cfg!r}")
        self.features = make_layers(CFGS[cfg], batch_norm)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes))
        if init_weights:
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                    if m.bias is not None:
                        nn.init.zeros_(m.bias)
                elif isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, 0, 0.01)
                    nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


def _vgg(cfg, bn, weights, progress, kwargs):
    return build_with_weights(lambda **kw: VGG(cfg, bn, **kw), "classifier.6.weight", weights, progress, kwargs)


@register_model
def vgg11(*, weights=None, progress=False, **kwargs):
    """VGG-11 (configuration A): kwargs num_classes=1000, dropout=0.5."""
    return _vgg("A", False, weights, progress, kwargs)


@register_model
def vgg11_bn(*, weights=None, progress=False, **kwargs):
    """VGG-11 with batch norm."""
    return _vgg("A", True, weights, progress, kwargs)


@register_model
def vgg16(*, weights=None, progress=False, **kwargs):
    """VGG-16 (configuration D): kwargs num_classes=1000, dropout=0.5."""
    return _vgg("D", False, weights, progress, kwargs)


@register_model
def vgg16_bn(*, weights=None, progress=False, **kwargs):
    """VGG-16 with batch norm."""
    return _vgg("D", True, weights, progress, kwargs)
