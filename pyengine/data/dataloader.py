"""DataLoader: mini-batches over a dataset, reshuffled every epoch, reproducible from a seed.

The order of epoch e is a permutation drawn from ``default_rng([seed, e])`` (or from the given
Generator, which then advances), so a run resumed at epoch e sees exactly the batches the
uninterrupted run would have seen. Batches come from ``dataset.__getitems__`` when the dataset
has it (one gather per array), else from ``dataset[i]`` per sample and ``collate_fn``.
"""
from __future__ import annotations

import numbers

import numpy as np

from .dataset import _Batch

__all__ = ["DataLoader", "default_collate"]


def _to_tensor(arr):
    import pyengine
    from_numpy = getattr(pyengine, "from_numpy", None)
    return from_numpy(np.ascontiguousarray(arr)) if from_numpy is not None else arr


def default_collate(batch):
    """Stacks a list of samples into batch Tensors: arrays (or Tensors) stack along a new first axis,
    numbers become a 1-D array (int64 for ints, float32 for floats), tuples are collated per field."""
    if isinstance(batch, _Batch):
        return tuple(_to_tensor(a) for a in batch)
    first = batch[0]
    if isinstance(first, (tuple, list)):
        return tuple(default_collate([s[i] for s in batch]) for i in range(len(first)))
    if isinstance(first, dict):
        return {k: default_collate([s[k] for s in batch]) for k in first}
    if isinstance(first, (bool, np.bool_)):
        return _to_tensor(np.array(batch, dtype=np.bool_))
    if isinstance(first, numbers.Integral):
        return _to_tensor(np.array(batch, dtype=np.int64))
    if isinstance(first, numbers.Real):
        return _to_tensor(np.array(batch, dtype=np.float32))
    arrays = [s._data if hasattr(s, "_data") else np.asarray(s) for s in batch]
    return _to_tensor(np.stack(arrays))


class DataLoader:
    """Iterates over ``dataset`` in mini-batches.

    batch_size ≥ 1; shuffle: a new order every epoch; drop_last: skip the last incomplete batch;
    collate_fn: list of samples → batch (default_collate); generator (numpy Generator) or seed fix
    the shuffling. sampler: an iterable of dataset indices (e.g. a DistributedSampler) that gives
    the order instead (not with shuffle); set_epoch is passed on to it. ``len(loader)`` is the
    number of batches per epoch.
    """

    def __init__(self, dataset, batch_size: int = 1, shuffle: bool = False, drop_last: bool = False,
                 collate_fn=None, generator=None, *, seed=None, sampler=None):
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        if generator is not None and not isinstance(generator, np.random.Generator):
            raise TypeError(f"DataLoader: generator must be a numpy.random.Generator, got {type(generator).__name__}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler and shuffle=True exclude each other (the sampler gives the order)")
        self.dataset = dataset
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.collate_fn = collate_fn or default_collate
        self.generator = generator
        self.seed = int(np.random.randint(0, 2**31 - 1)) if seed is None else int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """The epoch whose order the next iteration uses (the fit loop sets it; resume relies on it)."""
        self.epoch = int(epoch)
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch)

    def __len__(self):
        n = len(self.dataset) if self.sampler is None else len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _order(self) -> np.ndarray:
        if self.sampler is not None:
            return np.fromiter(iter(self.sampler), dtype=np.int64)
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        rng = self.generator if self.generator is not None else np.random.default_rng([self.seed, self.epoch])
        return rng.permutation(n)

    def __iter__(self):
        order = self._order()
        self.epoch += 1
        getitems = getattr(self.dataset, "__getitems__", None)
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            if self.drop_last and len(idx) < self.batch_size:
                break
            samples = getitems(idx) if getitems is not None else [self.dataset[int(i)] for i in idx]
            if isinstance(samples, _Batch) and self.collate_fn is not default_collate:
                samples = [tuple(a[i] for a in samples) for i in range(len(idx))]
            yield self.collate_fn(samples)
