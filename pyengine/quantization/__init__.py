"""pyengine.quantization — int8 post-training quantization, PyTorch's eager-mode flow.

Static: ``fuse_modules`` → ``QuantWrapper`` / ``QuantStub`` + ``DeQuantStub`` → ``prepare`` →
calibrate → ``convert`` (or ``quantize(model, calibration_data)``). Weights int8 per output channel
(symmetric), activations uint8 per tensor (affine) from a ``MinMaxObserver`` or a
``HistogramObserver`` (percentile or least-error range). The int8 layers run the VNNI / AVX2 /
generic kernels of ``pyengine.kernels.cpu.quantized_conv2d`` and ``quantized_linear``.
Dynamic: ``quantize_dynamic(model)`` for Linear and LSTM (int8 weights, activations per call).
"""
from .dynamic import DynamicQuantizedLinear, DynamicQuantizedLSTM, quantize_dynamic
from .modules import (DeQuantize, QuantizedAdaptiveAvgPool2d, QuantizedAdd, QuantizedConv2d,
                      QuantizedInvertedResidual, QuantizedLinear, QuantizedMaxPool2d, QuantizedMobileNetV2,
                      QuantizedReLU, QuantizedReLU6, Quantize)
from .onnx_export import export_onnx
from .serialize import is_quantized_file, load_quantized, save_quantized
from .observer import (HistogramObserver, MinMaxObserver, PerChannelMinMaxObserver, affine_qparams,
                       quantize_weight)
from .qtensor import QTensor, quantize_per_tensor
from .quantize import (DeQuantStub, QConfig, QuantStub, QuantWrapper, convert, default_qconfig, fuse_modules,
                       get_default_qconfig, prepare, quantize)

__all__ = ["QTensor", "quantize_per_tensor", "QConfig", "default_qconfig", "get_default_qconfig", "QuantStub",
           "DeQuantStub", "QuantWrapper", "fuse_modules", "prepare", "convert", "quantize", "quantize_dynamic",
           "MinMaxObserver", "HistogramObserver", "PerChannelMinMaxObserver", "affine_qparams", "quantize_weight",
           "Quantize", "DeQuantize", "QuantizedConv2d", "QuantizedLinear", "QuantizedMaxPool2d",
           "QuantizedAdaptiveAvgPool2d", "QuantizedReLU", "QuantizedReLU6", "QuantizedAdd",
           "QuantizedInvertedResidual", "QuantizedMobileNetV2", "DynamicQuantizedLinear", "DynamicQuantizedLSTM",
           "export_onnx", "save_quantized", "load_quantized", "is_quantized_file"]
