"""What the CUDA tests share: whether a GPU is usable, and ``HostCuda``, kernels.cuda seen from the
host (NumPy in, NumPy out) so the op registry's samples, error inputs and gradient specs, written for
NumPy, drive the CUDA kernels unchanged.

Every output buffer the kernels allocate is poisoned (NaN for floats, a sentinel for integers) while
HostCuda runs, so an element a kernel forgets to write fails the comparison instead of passing on
whatever the memory pool held.
"""
from __future__ import annotations

import functools

import numpy as np
import pytest


def gpu_usable() -> tuple[bool, str]:
    try:
        import cupy
    except ImportError:
        return False, "CuPy is not installed"
    import pyengine.cuda
    if not pyengine.cuda.is_available():
        return False, "no usable CUDA GPU for pyengine._cuda"
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            return False, "CuPy sees no GPU"
    except Exception as exc:  # noqa: BLE001 - any CuPy runtime failure means no usable GPU
        return False, f"CuPy cannot use the GPU ({exc})"
    return True, ""


def spread(samples: list, n) -> list:
    """n of the samples (all when n is None or empty), evenly spread over the list with the first and the
    last among them: the sanitizer runs take a few samples per op and should still reach the odd sizes,
    strides and zero-size batches that the registry puts late in its lists."""
    if not n:
        return samples
    n = int(n)
    if n < 1:
        raise ValueError(f"PYENGINE_CUDA_SAMPLES must be a positive integer, got {n}")
    if n >= len(samples):
        return samples
    if n == 1:
        return samples[:1]
    picks = sorted({round(i * (len(samples) - 1) / (n - 1)) for i in range(n)})
    return [samples[i] for i in picks]


_OK, _WHY = gpu_usable()
requires_gpu = pytest.mark.skipif(not _OK, reason=_WHY or "GPU usable")


def _to_device(a, pairs):
    import cupy as cp
    if isinstance(a, np.ndarray):
        if a.flags.c_contiguous or a.ndim == 0:
            d = cp.asarray(a)
        elif a.flags.f_contiguous:
            d = cp.asfortranarray(cp.asarray(np.ascontiguousarray(a)))
        else:  # the same values in a non-contiguous device view, as registry.non_contiguous does on the host
            wide = cp.empty(a.shape[:-1] + (2 * a.shape[-1],), dtype=a.dtype)
            wide[..., ::2] = cp.asarray(np.ascontiguousarray(a))
            d = wide[..., ::2]
        pairs.append((a, d))
        return d
    if isinstance(a, tuple):
        return tuple(_to_device(v, pairs) for v in a)
    if isinstance(a, list):
        return [_to_device(v, pairs) for v in a]
    return a


def _to_host(r):
    import cupy as cp
    if isinstance(r, cp.ndarray):
        return cp.asnumpy(r)
    if isinstance(r, tuple):
        return tuple(_to_host(v) for v in r)
    if isinstance(r, list):
        return [_to_host(v) for v in r]
    return r


def _poisoned_empty(shape, dtype, device):
    import cupy as cp
    dtype = np.dtype(dtype)
    fill = np.nan if dtype.kind == "f" else (-7 if dtype.kind == "i" else 7)
    with cp.cuda.Device(device):
        return cp.full(tuple(int(s) for s in shape), fill, dtype=dtype)


class HostCuda:
    """pyengine.kernels.cuda with NumPy arrays in and out; in-place updates are copied back."""

    def __init__(self):
        import pyengine.kernels.cuda as kc
        self._mod = kc

    def __getattr__(self, name):
        fn = getattr(self._mod, name)
        if not callable(fn):
            return fn

        @functools.wraps(fn)
        def call(*args, **kwargs):
            import cupy as cp

            from pyengine.kernels.cuda import _ext
            pairs: list = []
            dargs = _to_device(args, pairs)
            dkwargs = {k: _to_device(v, pairs) for k, v in kwargs.items()}
            _ext.RUNTIME.empty = _poisoned_empty   # the allocator the bindings call back
            try:
                out = fn(*dargs, **dkwargs)
            finally:
                del _ext.RUNTIME.empty
            cp.cuda.get_current_stream().synchronize()
            for host, dev in pairs:  # running statistics and optimizer state are updated in place
                if host.flags.writeable and host.size:
                    host[...] = cp.asnumpy(dev)
            return _to_host(out)

        return call
