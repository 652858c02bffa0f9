"""The random numbers of data augmentation, keyed by the batch being loaded.

While a DataLoader loads batch b of epoch e (in the main process or in a worker), ``batch_scope``
makes ``sample_rng()`` return a generator seeded from (loader seed, e, b): every random draw a
transform makes for that batch is then a function of where the batch sits in the run, not of
which process loaded it or of what was loaded before. So 0 and N workers give the same images,
and a run resumed in the middle of an epoch sees the same augmented batches as the uninterrupted
run. A transform built with its own ``seed`` gets a generator keyed by (batch, its seed) instead,
so two such transforms do not draw the same numbers. Outside a loader, ``sample_rng()`` is one
process-wide generator seeded from pyengine's global generator (``pyengine.manual_seed``).
"""
from __future__ import annotations

import contextlib
import threading

import numpy as np

__all__ = ["sample_rng", "batch_scope"]

_local = threading.local()


def _current():
    return getattr(_local, "scope", None)


@contextlib.contextmanager
def batch_scope(key):
    """Within: ``sample_rng()`` draws from generators keyed by ``key`` (a tuple of ints)."""
    previous = _current()
    _local.scope = (tuple(int(k) for k in key), {})
    try:
        yield
    finally:
        _local.scope = previous


_process_rng = None


def sample_rng(seed: int | None = None) -> np.random.Generator:
    """The generator for a random transform: keyed by the batch inside a DataLoader (and by seed when
    given); outside one, the process-wide generator (seed None) or None (the caller keeps its own)."""
    global _process_rng
    scope = _current()
    if scope is not None:
        key, gens = scope
        slot = -1 if seed is None else int(seed)
        g = gens.get(slot)
        if g is None:
            entropy = list(key) if seed is None else list(key) + [int(seed) % 2**63, 1]
            g = gens[slot] = np.random.default_rng(entropy)
        return g
    if seed is not None:
        return None
    if _process_rng is None:
        from ..tensor import default_generator
        _process_rng = np.random.default_rng(default_generator.next_seed())
    return _process_rng


def _reset_process_rng(seed=None) -> None:
    """Forgets the process-wide generator (a worker process reseeds it from its worker seed)."""
    global _process_rng
    _process_rng = None if seed is None else np.random.default_rng(seed)
