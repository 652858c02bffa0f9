"""pyengine.cuda — is a GPU usable, how many, and synchronisation."""
from __future__ import annotations

from .._runtime import _cuda_module


def is_available() -> bool:
    """True when pyengine._cuda was built and a CUDA device can be used."""
    mod = _cuda_module()
    return bool(mod is not None and mod.device_count() > 0)


def device_count() -> int:
    mod = _cuda_module()
    return 0 if mod is None else int(mod.device_count())
