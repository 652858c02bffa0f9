"""pyengine.models — the model zoo: torchvision's architectures with torchvision's parameter names.

``lenet5``, ``digit_cnn``, ``alexnet``, ``vgg11``, ``vgg11_bn``, ``vgg16``, ``vgg16_bn``, ``resnet18``,
``resnet34``, ``resnet50``, ``mobilenet_v2``, ``squeezenet1_1``: each builder takes ``num_classes`` and
``weights=`` (a safetensors file, an http(s) URL checked by SHA-256, or a ``Weights``). A torchvision
state dict saved with ``safetensors.torch.save_file`` (or a ``.pth`` converted by ``pyengine convert``)
loads with strict=True. ``list_models()`` and ``get_model(name, **kwargs)`` look builders up by name.
"""
from ._registry import get_model, get_model_builder, list_models, register_model
from .alexnet import AlexNet, alexnet
from .digit import DigitCNN, LeNet5, digit_cnn, lenet5
from .mobilenet import MobileNetV2, mobilenet_v2
from .resnet import BasicBlock, Bottleneck, ResNet, resnet18, resnet34, resnet50
from .squeezenet import SqueezeNet, squeezenet1_1
from .vgg import VGG, vgg11, vgg11_bn, vgg16, vgg16_bn
from . import transfer
from .transfer import Adapted, freeze, freeze_body, param_groups, replace_head, unfreeze
from .weights import (IMAGENET_MEAN, IMAGENET_STD, Preprocess, Weights, download, load_weights, read_weights,
                      save_weights)

__all__ = ["list_models", "get_model", "register_model", "transfer", "freeze", "unfreeze", "freeze_body", "replace_head", "Adapted",
           "param_groups", "Weights", "Preprocess", "load_weights", "read_weights",
           "save_weights", "download", "IMAGENET_MEAN", "IMAGENET_STD", "lenet5", "digit_cnn", "alexnet", "vgg11",
           "vgg11_bn", "vgg16", "vgg16_bn", "resnet18", "resnet34", "resnet50", "mobilenet_v2", "squeezenet1_1",
           "LeNet5", "DigitCNN", "AlexNet", "VGG", "ResNet", "BasicBlock", "Bottleneck", "MobileNetV2",
           "SqueezeNet"]
