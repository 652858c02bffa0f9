"""ResNet (He et al. 2015) in torchvision's form (v1.5: the stride sits on the 3×3 conv of a
bottleneck), torchvision's names.

stem: conv7×7/2(64, pad 3, no bias) → BN → ReLU → maxpool 3/2 (pad 1); layer1..layer4 of blocks with
64, 128, 256, 512 planes (stride 2 from layer2 on); adaptive avgpool to 1×1; fc.
BasicBlock (resnet18/34): y = ReLU(BN(conv3×3(ReLU(BN(conv3×3(x))))) + shortcut(x)), expansion 1.
Bottleneck (resnet50): 1×1 reduce → 3×3 → 1×1 expand ×4, the same residual form.
shortcut = x, or conv1×1/stride → BN when the shape changes ("downsample").
Initialisation as torchvision: conv kaiming_normal (fan_out, relu); BN weight 1, bias 0.
Input (N, 3, H, W), H, W ≥ 32 for every stage to keep a pixel (224 for the published weights).
"""
from __future__ import annotations

from .. import nn
from ..io.architecture import register_architecture
from ._common import build_with_weights
from ._registry import register_model

__all__ = ["ResNet", "BasicBlock", "Bottleneck", "resnet18", "resnet34", "resnet50"]


def conv3x3(in_planes, out_planes, stride=1, groups=1, dilation=1):
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=dilation, groups=groups,
                     bias=False, dilation=dilation)


def conv1x1(in_planes, out_planes, stride=1):
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


@register_architecture
class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64, dilation=1):
        super().__init__()
        if groups != 1 or base_width != 64 or dilation != 1:
            raise ValueError("BasicBlock: supports only groups=1, base_width=64 and dilation=1")
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


@register_architecture
class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64, dilation=1):
        super().__init__()
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride, groups, dilation)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


_BLOCKS = {"basic": BasicBlock, "bottleneck": Bottleneck}


@register_architecture
class ResNet(nn.Module):
    """ResNet(block="basic"|"bottleneck", layers=[2, 2, 2, 2], num_classes=1000, zero_init_residual=False,
    groups=1, width_per_group=64). ``block`` may also be the class itself, as in torchvision."""

    def __init__(self, block="basic", layers=(2, 2, 2, 2), num_classes: int = 1000, zero_init_residual=False,
                 groups: int = 1, width_per_group: int = 64):
        super().__init__()
        if isinstance(block, str):
            if block not in _BLOCKS:
                raise ValueError(f"ResNet: block must be one of {sorted(_BLOCKS)}, got {block!r}")
            block = _BLOCKS[block]
        if len(layers) != 4:
            raise ValueError(f"ResNet: layers must list 4 block counts, got {list(layers)}")
        self.inplanes, self.dilation = 64, 1
        self.groups, self.base_width = groups, width_per_group
        self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.zeros_(m.bn3.weight)
                elif isinstance(m, BasicBlock):
                    nn.init.zeros_(m.bn2.weight)

    def _make_layer(self, block, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample, self.groups, self.base_width, self.dilation)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, groups=self.groups, base_width=self.base_width,
                                dilation=self.dilation))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


def _resnet(block, layers, weights, progress, kwargs):
    return build_with_weights(lambda **kw: ResNet(block, layers, **kw), "fc.weight", weights, progress, kwargs)


@register_model
def resnet18(*, weights=None, progress=False, **kwargs):
    """ResNet-18: kwargs num_classes=1000, zero_init_residual=False."""
    return _resnet("basic", [2, 2, 2, 2], weights, progress, kwargs)


@register_model
def resnet34(*, weights=None, progress=False, **kwargs):
    """ResNet-34."""
    return _resnet("basic", [3, 4, 6, 3], weights, progress, kwargs)


@register_model
def resnet50(*, weights=None, progress=False, **kwargs):
    """ResNet-50 (bottleneck blocks)."""
    return _resnet("bottleneck", [3, 4, 6, 3], weights, progress, kwargs)
