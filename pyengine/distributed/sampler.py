"""DistributedSampler: each rank's share of a data set's indices, with PyTorch's semantics.

n = len(dataset), R = num_replicas. Per rank: num_samples = ceil(n / R), or with drop_last
ceil((n − R) / R) when n is not a multiple of R (the tail is dropped so every rank gets as many).
Epoch e's order: a permutation from default_rng(seed + e) (shuffle) or 0..n−1, padded to
total_size = num_samples·R by repeating its first indices (or cut to it with drop_last); rank r
takes positions r, r + R, r + 2R, ... So the shards are disjoint (up to the padding) and cover
the data set, and set_epoch(e) changes the order identically on every rank (same seed, same e).
The permutation is NumPy's, not torch.randperm's: the same rules, not the same bits.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = ["DistributedSampler"]


class DistributedSampler:
    def __init__(self, dataset, num_replicas: int | None = None, rank: int | None = None, shuffle: bool = True,
                 seed: int = 0, drop_last: bool = False):
        from . import process_group as pg
        if num_replicas is None:
            num_replicas = pg.get_world_size()
        if rank is None:
            rank = pg.get_rank()
        for name, v in (("num_replicas", num_replicas), ("rank", rank), ("seed", seed)):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                raise TypeError(f"DistributedSampler: {name} must be an int, got {type(v).__name__}")
        if num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be >= 1, got {num_replicas}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: rank must be in [0, {num_replicas - 1}], got {rank}")
        if not hasattr(dataset, "__len__"):
            raise TypeError(f"DistributedSampler: dataset must have a length, got {type(dataset).__name__}")
        self.dataset, self.num_replicas, self.rank = dataset, int(num_replicas), int(rank)
        self.shuffle, self.seed, self.drop_last, self.epoch = bool(shuffle), int(seed), bool(drop_last), 0
        n = len(dataset)
        if self.drop_last and n % self.num_replicas:
            self.num_samples = math.ceil((n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch: int) -> None:
        """The epoch whose order the next iteration uses; call it with the same value on every rank."""
        self.epoch = int(epoch)

    def indices(self) -> np.ndarray:
        n = len(self.dataset)
        order = np.random.default_rng(self.seed + self.epoch).permutation(n) if self.shuffle else np.arange(n)
        if not self.drop_last:
            pad = self.total_size - n
            if pad > 0:
                order = np.concatenate([order, np.resize(order, pad)]) if n else order
        else:
            order = order[:self.total_size]
        return order[self.rank:self.total_size:self.num_replicas]

    def __iter__(self):
        return iter(int(i) for i in self.indices())

    def __len__(self):
        return self.num_samples
