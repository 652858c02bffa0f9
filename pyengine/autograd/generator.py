"""The global random state: initialisation, rand/randn, in-place uniform_/normal_, shuffling and
dropout seeds all draw from ``default_generator`` (seeded by ``pyengine.manual_seed``)."""
from __future__ import annotations

import numbers

import numpy as np

__all__ = ["Generator", "default_generator", "manual_seed"]


class Generator:
    def __init__(self, seed=None):
        self.manual_seed(seed)

    def manual_seed(self, seed):
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        return self

    def next_seed(self) -> int:
        return int(self.rng.integers(0, 2**63 - 1))


default_generator = Generator()


def manual_seed(seed: int):
    """Seeds initialisation, rand/randn/randint, dropout and data shuffling."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"manual_seed: seed must be an int, got {type(seed).__name__}")
    return default_generator.manual_seed(int(seed))
