"""What every CUDA wrapper shares: lazy access to CuPy and pyengine._cuda, the caller's stream,
turning inputs into contiguous CuPy arrays on one device, and fresh outputs.

Nothing here is imported before a kernel is called, so ``import pyengine.kernels.cuda`` works on a
machine without CuPy, without the CUDA build and without a GPU; the first call then raises an
ImportError or RuntimeError that says what is missing.
"""
from __future__ import annotations

import importlib

import numpy as np

from .._contract.common import check_float_array

_cupy = None
_cuda = None


def cupy():
    """The cupy module, imported on first use."""
    global _cupy
    if _cupy is None:
        try:
            _cupy = importlib.import_module("cupy")
        except ImportError as exc:
            raise ImportError("pyengine.kernels.cuda needs CuPy for device arrays: install it with "
                              "`pip install cupy-cuda13x` (or `pip install pyengine[cuda13]`)") from exc
    return _cupy


def lib():
    """pyengine._cuda, checked to see a usable GPU."""
    global _cuda
    if _cuda is None:
        try:
            mod = importlib.import_module("pyengine._cuda")
        except ImportError as exc:
            raise ImportError("pyengine._cuda (the CUDA kernels) is not built: build on a machine with nvcc "
                              f"(scripts/dev_build.sh or pip install .) ({exc})") from exc
        if mod.device_count() < 1:
            raise RuntimeError("pyengine.kernels.cuda: no usable CUDA GPU ("
                               + (mod.last_error() or "no device") + ")")
        _cuda = mod
    return _cuda


def stream() -> int:
    """The raw cudaStream_t of CuPy's current stream: every launch goes there."""
    return int(cupy().cuda.get_current_stream().ptr)


def tf32() -> bool:
    from ...backends import cuda as backend
    return bool(backend.allow_tf32)


def to_device(fn: str, name: str, x, optional: bool = False):
    """x as a CuPy array: CuPy arrays as they are, other __cuda_array_interface__ or DLPack device
    arrays wrapped without a copy. NumPy arrays are refused (moving data is the caller's decision)."""
    if x is None and optional:
        return None
    cp = cupy()
    if isinstance(x, cp.ndarray):
        return x
    if isinstance(x, np.ndarray):
        raise TypeError(f"{fn}: {name} must be a CUDA device array (CuPy, __cuda_array_interface__ or DLPack), "
                        "got numpy.ndarray (host memory; move it with cupy.asarray)")
    if hasattr(x, "__cuda_array_interface__"):
        return cp.asarray(x)
    if hasattr(x, "__dlpack__") and hasattr(x, "__dlpack_device__"):
        dev_type = x.__dlpack_device__()[0]
        if int(dev_type) in (2, 13):  # kDLCUDA, kDLCUDAManaged
            return cp.from_dlpack(x)
        raise TypeError(f"{fn}: {name} must be a CUDA device array, got a DLPack array on device type {dev_type}")
    # not an array at all: the contract's message ("must be a numpy.ndarray, got list")
    check_float_array(fn, name, x)
    raise TypeError(f"{fn}: {name} must be a CUDA device array, got {type(x).__name__}")


def to_device_tuple(fn: str, name: str, values):
    """A tuple such as LSTM's ``saved`` with its arrays on the device; other entries are left for the
    contract to reject with its own message."""
    if not isinstance(values, tuple):
        return values
    return tuple(to_device(fn, f"{name}[{i}]", v)
                 if isinstance(v, np.ndarray) or hasattr(v, "__cuda_array_interface__") or hasattr(v, "__dlpack__")
                 else v for i, v in enumerate(values))


def contiguous(x):
    """x in C order (x itself when it already is); a 0-d array stays 0-d."""
    if x is None or x.flags.c_contiguous:
        return x
    return cupy().ascontiguousarray(x).reshape(x.shape)


def device_of(fn: str, **arrays) -> int:
    """The one device every given array (None skipped) lives on; mixing devices is an error."""
    dev = None
    first = None
    for name, a in arrays.items():
        if a is None:
            continue
        d = int(a.device.id)
        if dev is None:
            dev, first = d, name
        elif d != dev:
            raise ValueError(f"{fn}: {first} is on cuda:{dev} but {name} is on cuda:{d}; "
                             "all arrays of one call must be on one device")
    return 0 if dev is None else dev


def empty(shape, dtype):
    return cupy().empty(tuple(int(s) for s in shape), dtype=dtype)


class on_device:
    """Context manager: make `device` current (CuPy and our launches) for one call."""

    def __init__(self, device: int):
        self._ctx = cupy().cuda.Device(device)

    def __enter__(self):
        self._ctx.__enter__()
        return self

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)
