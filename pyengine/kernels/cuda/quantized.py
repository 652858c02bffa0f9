"""int8 convolution, linear, max pooling and quantization for device arrays. There is no CUDA int8 kernel: the arrays are
copied to the host, the CPU's int8 kernels (pyengine._C: VNNI / AVX2 / generic, bit-exact with the
integer reference) check and compute, and the result is copied back to the inputs' device. The int8
fast path of pyengine is the CPU's; this keeps the contract whole, so a model on the GPU still runs
its quantized layers.
"""
from __future__ import annotations

import functools

import numpy as np

from ... import reference
from . import _ext

__all__ = ["quantized_conv2d", "quantized_linear", "quantized_max_pool2d", "quantize_per_tensor"]


def _host(a):
    """A device array's values on the host (anything else as it is: the CPU binding judges it)."""
    if a is None or isinstance(a, np.ndarray) or not hasattr(a, "__cuda_array_interface__"):
        return a
    return _ext.RUNTIME.cupy().asnumpy(a)


def _on_host(name):
    @functools.wraps(getattr(reference, name))
    def kernel(x, *args, **kwargs):
        from ..cpu import _ext as cpu_ext
        cp = _ext.RUNTIME.cupy()
        device = int(x.device.id) if hasattr(x, "device") and hasattr(x.device, "id") else 0
        y = getattr(cpu_ext._C, name)(_host(x), *(_host(a) for a in args),
                                      **{k: _host(v) for k, v in kwargs.items()})
        with cp.cuda.Device(device):
            return cp.asarray(y)
    return kernel


quantized_conv2d = _on_host("quantized_conv2d")
quantized_linear = _on_host("quantized_linear")
quantized_max_pool2d = _on_host("quantized_max_pool2d")
quantize_per_tensor = _on_host("quantize_per_tensor")
