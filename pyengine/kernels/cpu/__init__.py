"""pyengine.kernels.cpu — the C++ kernels of pyengine._C, with the reference's names and signatures.

Each function here *is* the binding (csrc/bindings/bind_<family>.cpp): it checks its arguments
against the shared contract (csrc/include/pyengine/<family>.h), copies views to C order, releases
the GIL and runs the kernel. Arrays in, new arrays out (the optimizer steps update in place).
"""
from ._ext import _C

__all__ = list(_C.__kernels__)
globals().update({name: getattr(_C, name) for name in __all__})
