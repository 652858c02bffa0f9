"""pyengine.kernels — one contract, three implementations.

``kernels.cpu`` (C++), ``kernels.cuda`` (CUDA, on CuPy arrays) and ``pyengine.reference`` (NumPy)
expose the same functions with the same signatures, so a test or a user can swap one for another::

    from pyengine.kernels import cpu
    y = cpu.conv2d_forward(x, w, b, stride=1, padding=1)
"""
import importlib


def __getattr__(name):
    # Imported lazily: `import pyengine.kernels` must work before and without a CUDA module.
    if name in ("cpu", "cuda"):
        return importlib.import_module(f"{__name__}.{name}")
    if name == "reference":
        return importlib.import_module("pyengine.reference")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
