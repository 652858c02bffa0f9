"""pyengine — a deep-learning tensor engine: C++/CUDA kernels behind a PyTorch-shaped API.

Kernels on NumPy arrays: ``pyengine.kernels.cpu`` (C++), ``pyengine.reference`` (NumPy oracle).
"""
from . import cuda
from ._runtime import __version__, cpu_isa, get_num_threads, info, set_num_threads

__all__ = ["__version__", "info", "cpu_isa", "get_num_threads", "set_num_threads"]
