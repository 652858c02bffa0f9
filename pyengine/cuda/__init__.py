"""pyengine.cuda — is a GPU usable, how many, and waiting for the device.

Works without CuPy and without the CUDA build: is_available() is then False and device_count() 0.
"""
from __future__ import annotations

from .._runtime import _cuda_module

__all__ = ["is_available", "device_count", "synchronize", "current_device"]


def is_available() -> bool:
    """True when pyengine._cuda was built and a CUDA device can be used."""
    mod = _cuda_module()
    return bool(mod is not None and mod.device_count() > 0)


def device_count() -> int:
    """Number of usable CUDA devices (0 without the CUDA build, a driver or a GPU)."""
    mod = _cuda_module()
    return 0 if mod is None else int(mod.device_count())


def current_device() -> int:
    """CuPy's current device when CuPy is installed, else 0."""
    try:
        import cupy
    except ImportError:
        return 0
    return int(cupy.cuda.Device().id)


def synchronize(device: int | None = None) -> None:
    """Waits until every kernel queued on `device` (default: the current one) has finished.

    Raises RuntimeError when no GPU is usable, or with the CUDA error an earlier kernel left behind.
    """
    mod = _cuda_module()
    if mod is None or mod.device_count() < 1:
        reason = "pyengine._cuda is not built" if mod is None else (mod.last_error() or "no CUDA device")
        raise RuntimeError(f"pyengine.cuda.synchronize: no usable CUDA GPU ({reason})")
    if device is None:
        device = current_device()
    if isinstance(device, bool) or not isinstance(device, int) or not 0 <= device < mod.device_count():
        raise ValueError(f"pyengine.cuda.synchronize: device must be an int in [0, {mod.device_count()}), "
                         f"got {device!r}")
    mod.synchronize(device)
