"""MobileNetV2 (Sandler et al. 2018), torchvision's names.

features[0]: conv3×3/2(32) → BN → ReLU6; then inverted residual blocks (t, c, n, s) =
(1,16,1,1) (6,24,2,2) (6,32,3,2) (6,64,4,2) (6,96,3,1) (6,160,3,2) (6,320,1,1); a last conv1×1(1280)
→ BN → ReLU6; global average pool; classifier dropout(0.2) → FC(num_classes).
InvertedResidual: [conv1×1 expand ×t → BN → ReLU6] → depthwise conv3×3/s → BN → ReLU6 →
conv1×1 project → BN, plus the input when stride is 1 and the channels agree.
Channel counts are multiples of 8 after width_mult (``make_divisible``). Initialisation as
torchvision: conv kaiming_normal (fan_out), bias 0; BN 1, 0; FC normal(0, 0.01), bias 0.
"""
from __future__ import annotations

from .. import nn
from ..io.architecture import register_architecture
from ..nn import functional as F
from ._common import build_with_weights
from ._registry import register_model

__all__ = ["MobileNetV2", "InvertedResidual", "Conv2dNormActivation", "mobilenet_v2", "make_divisible"]


def make_divisible(v: float, divisor: int = 8, min_value=None) -> int:
    """v rounded to the nearest multiple of divisor, never below 90% of v (the published rule)."""
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


@register_architecture
class Conv2dNormActivation(nn.Sequential):
    """conv(k, stride, pad (k−1)//2·dilation, groups, no bias) → BatchNorm2d → ReLU6 (or ReLU, None)."""

    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, groups=1, activation="relu6",
                 dilation=1):
        padding = (kernel_size - 1) // 2 * dilation
        layers = [nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation=dilation,
                            groups=groups, bias=False), nn.BatchNorm2d(out_channels)]
        if activation == "relu6":
            layers.append(nn.ReLU6(inplace=True))
        elif activation == "relu":
            layers.append(nn.ReLU(inplace=True))
        elif activation is not None:
            raise ValueError(f"Conv2dNormActivation: activation must be 'relu6', 'relu' or None, got {activation!r}")
        super().__init__(*layers)
        self.out_channels = out_channels


@register_architecture
class InvertedResidual(nn.Module):
    def __init__(self, inp, oup, stride, expand_ratio):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"InvertedResidual: stride must be 1 or 2, got {stride}")
        self.stride = stride
        hidden = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers = []
        if expand_ratio != 1:
            layers.append(Conv2dNormActivation(inp, hidden, kernel_size=1))
        layers += [Conv2dNormActivation(hidden, hidden, stride=stride, groups=hidden),
                   nn.Conv2d(hidden, oup, 1, 1, 0, bias=False), nn.BatchNorm2d(oup)]
        self.conv = nn.Sequential(*layers)
        self.out_channels = oup

    def forward(self, x):
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


_SETTING = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2],
            [6, 320, 1, 1]]


@register_architecture
class MobileNetV2(nn.Module):
    def __init__(self, num_classes: int = 1000, width_mult: float = 1.0, round_nearest: int = 8,
                 dropout: float = 0.2):
        super().__init__()
        input_channel = make_divisible(32 * width_mult, round_nearest)
        self.last_channel = make_divisible(1280 * max(1.0, width_mult), round_nearest)
        features = [Conv2dNormActivation(3, input_channel, stride=2)]
        for t, c, n, s in _SETTING:
            output_channel = make_divisible(c * width_mult, round_nearest)
            for i in range(n):
                features.append(InvertedResidual(input_channel, output_channel, s if i == 0 else 1, t))
                input_channel = output_channel
        features.append(Conv2dNormActivation(input_channel, self.last_channel, kernel_size=1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout), nn.Linear(self.last_channel, num_classes))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(x.flatten(1))


@register_model
def mobilenet_v2(*, weights=None, progress=False, **kwargs):
    """MobileNetV2: kwargs num_classes=1000, width_mult=1.0, dropout=0.2."""
    return build_with_weights(MobileNetV2, "classifier.1.weight", weights, progress, kwargs)
