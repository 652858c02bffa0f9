"""Devices: the one place that maps a device name to its array module and its kernel module.

A Tensor's storage is a NumPy array ("cpu") or a CuPy array ("cuda"). Every kernel-backed op asks
``kernels_for(tensor._device)`` for the module that implements the kernel contract on that device
(``pyengine.kernels.cpu`` here; the CUDA module is registered in ``_LOADERS`` by the CUDA backend).
"""
from __future__ import annotations

import importlib

import numpy as np

__all__ = ["kernels_for", "kernels_of", "array_module", "normalize_device", "device_of_array", "xp_of"]

# Import path of the kernel module for each device type.
_LOADERS = {"cpu": "pyengine.kernels.cpu", "cuda": "pyengine.kernels.cuda"}
_KERNELS: dict[str, object] = {}


def normalize_device(device) -> str:
    """'cpu', 'cuda', 'cuda:0' or an object with a ``type`` attribute (torch.device) -> 'cpu' | 'cuda'."""
    if device is None:
        return "cpu"
    name = device if isinstance(device, str) else getattr(device, "type", None)
    if not isinstance(name, str):
        raise TypeError(f"device must be a string such as 'cpu' or 'cuda', got {type(device).__name__}")
    kind = name.split(":", 1)[0]
    if kind not in _LOADERS:
        raise ValueError(f"unknown device {name!r}; expected 'cpu' or 'cuda'")
    return kind


def kernels_for(device: str):
    """The kernel module (same function names as pyengine.reference) for a normalised device name."""
    mod = _KERNELS.get(device)
    if mod is None:
        try:
            mod = importlib.import_module(_LOADERS[normalize_device(device)])
        except ImportError as e:
            raise RuntimeError(f"no kernels for device {device!r}: {e}") from e
        _KERNELS[device] = mod
    return mod


def array_module(device: str):
    """numpy for 'cpu', cupy for 'cuda'."""
    if device == "cpu":
        return np
    try:
        return importlib.import_module("cupy")
    except ImportError as e:
        raise RuntimeError("device 'cuda' needs CuPy (pip install pyengine[cuda12] or [cuda13])") from e


def device_of_array(a) -> str:
    if isinstance(a, np.ndarray):
        return "cpu"
    if hasattr(a, "__cuda_array_interface__"):
        return "cuda"
    return "cpu"


def xp_of(a):
    """The array module of an array (or NumPy scalar): numpy, or cupy for a CUDA array."""
    if isinstance(a, (np.ndarray, np.generic)):
        return np
    return array_module("cuda")


def kernels_of(a):
    """The kernel module for the device array a lives on (the CPU kernels for a NumPy array)."""
    mod = _KERNELS.get("cpu") if isinstance(a, np.ndarray) else None
    return mod if mod is not None else kernels_for(device_of_array(a))
