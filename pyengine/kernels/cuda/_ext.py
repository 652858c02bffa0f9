"""What the CUDA bindings (pyengine._cuda) ask Python for: CuPy's allocator, its current stream,
device copies and DLPack import, and the switches read at every call (TF32, determinism).

The bindings check every argument themselves (the contract shared with the CPU module, in C++) and
call RUNTIME only once the arguments have passed, except for ``require`` (first) and ``from_dlpack``.
Nothing here imports CuPy before a kernel is called, so ``import pyengine.kernels.cuda`` works on a
machine without CuPy, without the CUDA build and without a GPU; the first call says what is missing.
"""
from __future__ import annotations

import importlib

__all__ = ["RUNTIME", "Runtime", "lib"]


class Runtime:
    """The services the bindings call back (one instance, RUNTIME; tests may replace its methods)."""

    # Elements of the column workspace a convolution may take from CuPy's pool (at least one
    # image's columns are always granted): the batch is processed in chunks that fit.
    conv2d_workspace_elements = 1 << 26

    def __init__(self):
        self._cupy = None

    def cupy(self):
        if self._cupy is None:
            try:
                self._cupy = importlib.import_module("cupy")
            except ImportError as exc:
                raise ImportError("pyengine.kernels.cuda needs CuPy for device arrays: install it with "
                                  "`pip install cupy-cuda13x` (or `pip install pyengine[cuda13]`)") from exc
        return self._cupy

    def require(self):
        """Called first by every kernel: device arrays need CuPy."""
        self.cupy()

    def empty(self, shape, dtype, device):
        """A fresh array from CuPy's memory pool on `device`."""
        cp = self.cupy()
        with cp.cuda.Device(device):
            return cp.empty(tuple(shape), dtype=dtype)

    def stream(self, device) -> int:
        """The raw cudaStream_t of CuPy's current stream on `device`: every launch goes there."""
        cp = self.cupy()
        with cp.cuda.Device(device):
            return int(cp.cuda.get_current_stream().ptr)

    def contiguous(self, a):
        """A C-ordered device copy of a view (a 0-d array stays 0-d)."""
        cp = self.cupy()
        return cp.ascontiguousarray(cp.asarray(a)).reshape(a.shape)

    def from_dlpack(self, x):
        return self.cupy().from_dlpack(x)

    def allow_tf32(self) -> bool:
        from ...backends import cuda as backend
        return bool(backend.allow_tf32)

    def deterministic(self) -> bool:
        from ..._runtime import are_deterministic_algorithms_enabled
        return are_deterministic_algorithms_enabled()


RUNTIME = Runtime()


def lib():
    """pyengine._cuda, or an ImportError saying how to build it."""
    try:
        return importlib.import_module("pyengine._cuda")
    except ImportError as exc:
        raise ImportError("pyengine._cuda (the CUDA kernels) is not built: build on a machine with nvcc "
                          f"(scripts/dev_build.sh or pip install .) ({exc})") from exc
