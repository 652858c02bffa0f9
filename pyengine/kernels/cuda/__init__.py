"""pyengine.kernels.cuda — the CUDA kernels of pyengine._cuda, with the reference's names and signatures.

Each function here is the binding (csrc/bindings/bind_<family>.cpp, compiled into pyengine._cuda)
when the CUDA module is built: it checks its arguments against the contract the CPU kernels share
(csrc/include/pyengine/<family>.h), allocates the outputs from CuPy's pool on the inputs' device and
launches on CuPy's current stream; nothing waits for the device except the checks that read
values (cross-entropy's targets, max-pooling's indices). Inputs are CuPy arrays or any device array
with ``__cuda_array_interface__`` or DLPack. Without the CUDA build each name is a function that
raises ImportError saying so. The int8 ops have no CUDA kernel: kernels/cuda/quantized.py runs them
on the host. ``pyengine.backends.cuda.allow_tf32 = True`` lets float32 GEMMs and
convolutions use TF32 tensor cores.
"""
import functools as _functools

from ... import reference as _reference
from . import _ext

__all__ = list(_reference.__all__)


def _missing(name):
    @_functools.wraps(getattr(_reference, name))
    def kernel(*args, **kwargs):
        _ext.RUNTIME.require()   # CuPy first, as the bindings do
        _ext.lib()               # then the ImportError that says how to build pyengine._cuda
    return kernel


try:
    from ... import _cuda as _lib
except ImportError:
    _lib = None
globals().update({name: getattr(_lib, name) if _lib is not None else _missing(name) for name in __all__
                  if _lib is None or name in _lib.__kernels__})

# The families without a CUDA kernel run on the host through the CPU binding (see quantized.py).
from .quantized import quantize_per_tensor, quantized_conv2d, quantized_linear, quantized_max_pool2d  # noqa: E402,F401
