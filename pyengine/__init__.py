"""pyengine — a deep-learning tensor engine: C++/CUDA kernels behind a PyTorch-shaped API.

Kernels on NumPy arrays: ``pyengine.kernels.cpu`` (C++), ``pyengine.reference`` (NumPy oracle).
Tensors with autograd: ``pyengine.tensor``, ``pyengine.nn``, ``pyengine.autograd``.
"""
from . import _compiled  # noqa: F401  (first: it decides whether the Cython-compiled core is imported)
from . import cuda
from ._runtime import (__version__, are_deterministic_algorithms_enabled, cpu_isa, get_num_threads, info,
                       set_num_threads, use_deterministic_algorithms)
from . import autograd
from .autograd import (detect_anomaly, enable_grad, inference_mode, is_grad_enabled, is_inference_mode_enabled,
                       no_grad, set_grad_enabled)
from .tensor import (Tensor, arange, as_tensor, bool_, cat, concatenate, default_generator, empty, empty_like,
                     eye, float16, float32, float64, from_dlpack, from_numpy, full, full_like, get_default_dtype,
                     int32, int64, is_tensor, linspace, manual_seed, ones, ones_like, rand, rand_like, randint,
                     randn, randn_like, set_default_dtype, stack, tensor, uint8, where, zeros, zeros_like)
from .functions import *  # noqa: F401,F403  (pe.exp, pe.sum, pe.mm, pe.einsum, pe.where ... torch's functions)
from .functions import __all__ as _functions_all
from . import nn
from . import data, io, optim, train
from .io import load, save

__all__ = ["__version__", "use_deterministic_algorithms", "are_deterministic_algorithms_enabled", "info", "cpu_isa", "get_num_threads", "set_num_threads", "autograd", "nn",
           "Tensor", "tensor", "as_tensor", "from_numpy", "from_dlpack", "zeros", "ones", "full", "empty",
           "arange", "linspace", "eye", "rand", "randn", "randint", "zeros_like", "ones_like", "full_like",
           "empty_like", "rand_like", "randn_like", "cat", "concatenate", "stack", "where", "matmul",
           "manual_seed", "default_generator", "no_grad", "inference_mode", "is_inference_mode_enabled", "enable_grad", "set_grad_enabled", "is_grad_enabled",
           "detect_anomaly", "float32", "float64", "float16", "int32", "int64", "uint8", "bool_",
           "get_default_dtype", "set_default_dtype", "is_tensor", "optim", "data", "io", "train", "save", "load"]
__all__ += [n for n in _functions_all if n not in __all__]
