"""Datasets and splits: Dataset, TensorDataset, ConcatDataset (also ``a + b``), Subset,
random_split, split_each_label.

A dataset maps an index to a sample (usually ``(image, label)``). ``__getitems__(indices)``
(optional, as in PyTorch) returns a whole batch at once; TensorDataset implements it with one
fancy-indexing per array, which is what makes in-memory training loops cheap.
"""
from __future__ import annotations

import bisect
import math
import numbers

import numpy as np

__all__ = ["Dataset", "TensorDataset", "ConcatDataset", "Subset", "random_split", "split_each_label", "stratified_split",
           "labels_of"]


def _as_array(x):
    return x._data if hasattr(x, "_data") else np.asarray(x)


class Dataset:
    """Base class: subclasses define ``__getitem__`` and ``__len__``."""

    def __getitem__(self, index):  # pragma: no cover - abstract
        raise NotImplementedError

    def __len__(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def __add__(self, other) -> "ConcatDataset":
        return ConcatDataset([self, other])


class TensorDataset(Dataset):
    """Samples are the rows of equally long arrays (Tensors or NumPy arrays), e.g. (images, labels).

    ``transform`` (optional) is applied to the first array's sample, ``target_transform`` to the last.
    """

    def __init__(self, *tensors, transform=None, target_transform=None):
        if not tensors:
            raise ValueError("TensorDataset: needs at least one array")
        self.tensors = tuple(_as_array(t) for t in tensors)
        n = len(self.tensors[0])
        for i, t in enumerate(self.tensors):
            if len(t) != n:
                raise ValueError(f"TensorDataset: array {i} has {len(t)} rows, array 0 has {n}")
        self.transform, self.target_transform = transform, target_transform

    def __len__(self):
        return len(self.tensors[0])

    def _apply(self, items):
        items = list(items)
        if self.transform is not None:
            items[0] = self.transform(items[0])
        if self.target_transform is not None:
            items[-1] = self.target_transform(items[-1])
        return tuple(items)

    def __getitem__(self, index):
        return self._apply(t[index] for t in self.tensors)

    def __getitems__(self, indices):
        """A batch as a list of samples, gathered with one indexing per array when no transform is set."""
        if self.transform is None and self.target_transform is None:
            idx = np.asarray(indices, dtype=np.int64)
            return _Batch(tuple(t[idx] for t in self.tensors))
        return [self[i] for i in indices]

    @property
    def targets(self):
        return self.tensors[-1]


class ConcatDataset(Dataset):
    """The samples of several datasets one after the other; ``cumulative_sizes[i]`` is the number of
    samples in datasets[0..i]. Index j is looked up by bisection in cumulative_sizes."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        for i, d in enumerate(self.datasets):
            if not hasattr(d, "__len__") or not hasattr(d, "__getitem__"):
                raise TypeError(f"ConcatDataset: datasets[{i}] must be a map-style dataset (with __len__ and "
                                f"__getitem__), got {type(d).__name__}")
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).astype(np.int64).tolist()

    def __len__(self):
        return self.cumulative_sizes[-1]

    def _locate(self, index):
        index = int(index)
        n = len(self)
        if index < 0:
            if -index > n:
                raise ValueError("absolute value of index should not exceed dataset length")
            index += n
        if index >= n:
            raise IndexError(f"ConcatDataset: index {index} is out of range for {n} samples")
        d = bisect.bisect_right(self.cumulative_sizes, index)
        return d, index - (self.cumulative_sizes[d - 1] if d > 0 else 0)

    def __getitem__(self, index):
        d, i = self._locate(index)
        return self.datasets[d][i]

    @property
    def targets(self):
        return np.concatenate([labels_of(d) for d in self.datasets])


class _Batch(tuple):
    """Already-stacked batch arrays from __getitems__ (the default collate passes them through)."""


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``; ``transform`` is applied to each sample's first item
    (so augmentation can be given to a training split and not to its validation split)."""

    def __init__(self, dataset, indices, transform=None):
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64)
        self.transform = transform

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, index):
        if isinstance(index, list):   # as PyTorch: the underlying dataset gets the list
            if self.transform is None:
                return self.dataset[[int(self.indices[i]) for i in index]]
            return [self[i] for i in index]
        item = self.dataset[int(self.indices[index])]
        if self.transform is not None:
            item = (self.transform(item[0]),) + tuple(item[1:])
        return item

    def __getitems__(self, indices):
        real = self.indices[np.asarray(indices, dtype=np.int64)]
        if self.transform is None and hasattr(self.dataset, "__getitems__"):
            return self.dataset.__getitems__(real)
        return [self[i] for i in indices]

    @property
    def targets(self):
        return labels_of(self.dataset)[self.indices]


def labels_of(dataset) -> np.ndarray:
    """The integer label of every sample: ``dataset.targets`` when present, else the last item of
    each sample."""
    targets = getattr(dataset, "targets", None)
    if targets is not None:
        return np.asarray(_as_array(targets)).astype(np.int64).reshape(-1)
    return np.array([int(np.asarray(_as_array(dataset[i][-1]))) for i in range(len(dataset))], dtype=np.int64)


def _rng(seed=None, generator=None) -> np.random.Generator:
    if generator is not None:
        if not isinstance(generator, np.random.Generator):
            raise TypeError(f"generator must be a numpy.random.Generator, got {type(generator).__name__}")
        return generator
    return np.random.default_rng(seed)


def random_split(dataset, lengths, generator=None, *, seed=None) -> list[Subset]:
    """Splits into non-overlapping random subsets of the given lengths (ints summing to len(dataset),
    or fractions summing to 1, the remainder spread round-robin as in PyTorch)."""
    n = len(dataset)
    lengths = list(lengths)
    if lengths and all(isinstance(x, float) for x in lengths) and math.isclose(sum(lengths), 1.0) \
            and sum(lengths) <= 1 + 1e-9:
        counts = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if any(not isinstance(x, numbers.Integral) or x < 0 for x in lengths) or sum(lengths) != n:
        raise ValueError(f"random_split: lengths {lengths} must be non-negative ints summing to the dataset size "
                         f"{n}, or fractions summing to 1")
    perm = _rng(seed, generator).permutation(n)
    out, start = [], 0
    for length in lengths:
        out.append(Subset(dataset, perm[start:start + length]))
        start += length
    return out


def split_each_label(dataset, fraction: float = 0.75, randomize: bool = True, *, seed=None, generator=None,
                     labels=None) -> tuple[Subset, Subset]:
    """Stratified split, MATLAB's ``splitEachLabel(imds, fraction, 'randomize')``: of each label's
    samples, round(fraction·count) go to the first subset and the rest to the second, so both keep
    the class proportions. ``randomize=False`` takes each label's first samples in order."""
    if not 0.0 < float(fraction) < 1.0:
        raise ValueError(f"split_each_label: fraction must be between 0 and 1 (exclusive), got {fraction}")
    y = labels_of(dataset) if labels is None else np.asarray(labels, dtype=np.int64)
    rng = _rng(seed, generator)
    first, second = [], []
    for label in np.unique(y):
        idx = np.flatnonzero(y == label)
        if randomize:
            idx = rng.permutation(idx)
        k = int(round(fraction * len(idx)))
        first.append(idx[:k])
        second.append(idx[k:])
    a = np.sort(np.concatenate(first)) if first else np.empty(0, np.int64)
    b = np.sort(np.concatenate(second)) if second else np.empty(0, np.int64)
    return Subset(dataset, a), Subset(dataset, b)


stratified_split = split_each_label
