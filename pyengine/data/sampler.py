"""Samplers: which dataset indices a DataLoader visits, in which order, and how they group into batches.

PyTorch's classes and signatures — Sampler, SequentialSampler, RandomSampler, SubsetRandomSampler,
WeightedRandomSampler, BatchSampler — over NumPy generators instead of torch ones.

Reproducible and resumable: a random sampler without a ``generator`` draws the order of its epoch
e from ``numpy.random.default_rng([seed, e])`` (seed drawn once from ``pyengine.manual_seed``'s
generator when not given), so the order of any epoch can be regenerated from (seed, e) alone; its
epoch advances by one at every ``iter()`` and ``set_epoch`` moves it. With a ``generator`` the
order is drawn from it (it advances, as in PyTorch), and the generator's state at the start of
the current pass is kept, so ``state_dict()``/``load_state_dict()`` replay that pass exactly.
Every ``__iter__`` draws its whole order at call time (not lazily), which is what lets a
DataLoader take the generator state before and after.
"""
from __future__ import annotations

import copy
import numbers

import numpy as np

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler",
           "BatchSampler"]


def _check_generator(cls, generator):
    if generator is not None and not isinstance(generator, np.random.Generator):
        raise TypeError(f"{cls}: generator must be a numpy.random.Generator or None, got {type(generator).__name__}")
    return generator


def _positive_int(cls, name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{cls}: {name} should be a positive integer value, but got {name}={value!r}")
    return int(value)


def _default_seed() -> int:
    from ..tensor import default_generator
    return int(default_generator.next_seed() % (2**63))


class Sampler:
    """Base class: ``__iter__`` yields dataset indices (or, for a batch sampler, lists of them)."""

    def __init__(self, data_source=None) -> None:
        pass

    def __iter__(self):  # pragma: no cover - abstract
        raise NotImplementedError


class _EpochRandom(Sampler):
    """Shared by the random samplers: the generator of the next pass and the resumable state."""

    def __init__(self, generator, seed):
        self.generator = _check_generator(type(self).__name__, generator)
        self.seed = _default_seed() if seed is None else int(seed)
        self.epoch = 0
        self._pass_state = None
        self._pass_epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """The epoch whose order the next ``iter()`` draws (without a generator)."""
        self.epoch = int(epoch)

    def _rng(self) -> np.random.Generator:
        self._pass_epoch = self.epoch
        if self.generator is not None:
            self._pass_state = copy.deepcopy(self.generator.bit_generator.state)
            return self.generator
        return np.random.default_rng([self.seed, self.epoch])

    def _iter(self, order) -> "iter":
        self.epoch += 1
        return iter(order.tolist())

    def state_dict(self) -> dict:
        """The next epoch, the epoch of the last pass and, with a generator, its state at the start of
        the last pass."""
        return {"seed": self.seed, "epoch": self.epoch, "pass_epoch": self._pass_epoch,
                "generator": copy.deepcopy(self._pass_state)}

    def load_state_dict(self, state: dict, *, replay: bool = False) -> None:
        """Restores state_dict(); with replay the next ``iter()`` repeats the last pass (the one a
        checkpoint was taken in the middle of), else it draws the next one."""
        self.seed = int(state["seed"])
        self.epoch = int(state["pass_epoch"] if replay else state["epoch"])
        if replay and self.generator is not None and state.get("generator") is not None:
            self.generator.bit_generator.state = copy.deepcopy(state["generator"])


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) − 1."""

    def __init__(self, data_source) -> None:
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(_EpochRandom):
    """A random permutation of the indices per pass, or ``num_samples`` indices drawn uniformly with
    replacement. Without replacement and num_samples > n, whole permutations follow each other and
    the last is cut short (PyTorch's behaviour)."""

    def __init__(self, data_source, replacement: bool = False, num_samples: int | None = None, generator=None,
                 *, seed: int | None = None) -> None:
        if not isinstance(replacement, bool):
            raise TypeError(f"RandomSampler: replacement should be a boolean value, but got replacement={replacement!r}")
        if num_samples is not None:
            _positive_int("RandomSampler", "num_samples", num_samples)
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        super().__init__(generator, seed)

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else int(self._num_samples)

    def __iter__(self):
        n, k = len(self.data_source), self.num_samples
        rng = self._rng()
        if n == 0:
            return self._iter(np.empty(0, np.int64))
        if self.replacement:
            order = rng.integers(0, n, size=k, dtype=np.int64)
        else:
            parts = [rng.permutation(n) for _ in range(k // n)]
            if k % n:
                parts.append(rng.permutation(n)[:k % n])
            order = np.concatenate(parts) if parts else np.empty(0, np.int64)
        return self._iter(order)

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(_EpochRandom):
    """The given indices, in a random order each pass."""

    def __init__(self, indices, generator=None, *, seed: int | None = None) -> None:
        self.indices = indices
        super().__init__(generator, seed)

    def __iter__(self):
        perm = self._rng().permutation(len(self.indices))
        return self._iter(np.asarray([self.indices[int(i)] for i in perm], dtype=np.int64))

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(_EpochRandom):
    """``num_samples`` indices in [0, len(weights)) drawn with probability weights[i] / sum(weights)
    (with replacement by default): the usual remedy for imbalanced classes, with weights[i] the
    inverse frequency of sample i's class."""

    def __init__(self, weights, num_samples: int, replacement: bool = True, generator=None,
                 *, seed: int | None = None) -> None:
        num_samples = _positive_int("WeightedRandomSampler", "num_samples", num_samples)
        if not isinstance(replacement, bool):
            raise ValueError("WeightedRandomSampler: replacement should be a boolean value, "
                             f"but got replacement={replacement!r}")
        w = np.asarray(weights._data if hasattr(weights, "_data") else weights, dtype=np.float64)
        if w.ndim != 1:
            raise ValueError(f"WeightedRandomSampler: weights should be a 1d sequence but given weights have "
                             f"shape {tuple(w.shape)}")
        if w.size == 0 or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError("WeightedRandomSampler: weights must be finite, non-negative and not all zero, "
                             f"got {w.size} weights summing to {w.sum() if w.size else 0}")
        if not replacement and num_samples > np.count_nonzero(w):
            raise ValueError(f"WeightedRandomSampler: cannot draw num_samples={num_samples} without replacement "
                             f"from {np.count_nonzero(w)} non-zero weights")
        self.weights = w
        self.num_samples = num_samples
        self.replacement = replacement
        super().__init__(generator, seed)

    def __iter__(self):
        rng = self._rng()
        order = rng.choice(len(self.weights), size=self.num_samples, replace=self.replacement,
                           p=self.weights / self.weights.sum())
        return self._iter(np.asarray(order, dtype=np.int64))

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Groups the indices of ``sampler`` into lists of ``batch_size``; drop_last drops a short last list."""

    def __init__(self, sampler, batch_size: int, drop_last: bool) -> None:
        batch_size = _positive_int("BatchSampler", "batch_size", batch_size)
        if not isinstance(drop_last, bool):
            raise ValueError(f"BatchSampler: drop_last should be a boolean value, but got drop_last={drop_last!r}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self):
        # iter(sampler) now, so a random sampler draws its order when the batches are asked for
        return self._batches(iter(self.sampler))

    def _batches(self, it):
        batch = []
        for idx in it:
            batch.append(int(idx))
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch)

    def state_dict(self) -> dict:
        return self.sampler.state_dict() if hasattr(self.sampler, "state_dict") else {}

    def load_state_dict(self, state: dict, **kw) -> None:
        if hasattr(self.sampler, "load_state_dict") and state:
            self.sampler.load_state_dict(state, **kw)
