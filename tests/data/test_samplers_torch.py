"""Samplers, ConcatDataset/Subset, default_collate and the DataLoader's argument rules, against
torch.utils.data (2.13) where torch is installed, and on their own properties everywhere."""
import collections

import numpy as np
import pytest

import pyengine as pe
from pyengine.data import (BatchSampler, ConcatDataset, DataLoader, Dataset, RandomSampler, SequentialSampler,
                           Subset, SubsetRandomSampler, TensorDataset, WeightedRandomSampler, default_collate,
                           default_convert)

try:
    import torch
    import torch.utils.data as tud
except ImportError:   # the torch comparisons skip; the property tests still run
    torch = tud = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")


class Items(Dataset):
    """Sample i is (i, 10 i) — plain Python ints, so both libraries collate the same thing."""

    def __init__(self, n, offset=0):
        self.n, self.offset = n, offset

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if isinstance(i, list):
            return [self[j] for j in i]
        if not -self.n <= i < self.n:
            raise IndexError(i)
        i = i % self.n
        return i + self.offset, 10 * (i + self.offset)


def _np(x):
    if hasattr(x, "_data"):
        return x._data
    if torch is not None and isinstance(x, torch.Tensor):
        return x.numpy()
    return x


def _same_structure(ours, theirs):
    """Same nesting, container types, dtypes and values."""
    if torch is not None and isinstance(theirs, torch.Tensor):
        assert isinstance(ours, pe.Tensor), f"expected a Tensor, got {type(ours).__name__}"
        a, b = _np(ours), theirs.numpy()
        assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
        np.testing.assert_array_equal(a, b)
    elif isinstance(theirs, dict):
        assert type(ours) is type(theirs) and list(ours) == list(theirs)
        for k in theirs:
            _same_structure(ours[k], theirs[k])
    elif isinstance(theirs, (list, tuple)):
        assert type(ours) is type(theirs) and len(ours) == len(theirs), (type(ours), type(theirs))
        for a, b in zip(ours, theirs):
            _same_structure(a, b)
    else:
        assert ours == theirs


Point = collections.namedtuple("Point", "x y")


def _nested_batch(rng, n=3):
    return [{"image": rng.integers(0, 255, (2, 3), dtype=np.uint8),
             "meta": (int(rng.integers(0, 9)), float(rng.random()), f"name{i}"),
             "flags": [bool(i % 2), np.float32(i) * 0.5],
             "point": Point(np.arange(3, dtype=np.float64) + i, i),
             "nested": {"a": np.int16(i), "b": [np.full(2, i, np.int32)]}} for i in range(n)]


@needs_torch
def test_default_collate_matches_torch_on_nested_samples():
    batch = _nested_batch(np.random.default_rng(0))
    ours = default_collate(batch)
    theirs = tud.default_collate(batch)
    assert isinstance(ours["point"], Point)
    _same_structure(ours, theirs)


@needs_torch
def test_default_collate_and_convert_match_torch_on_plain_values():
    for batch in ([1, 2, 3], [1.5, 2.5], [True, False], [np.float32(1), np.float32(2)], ["a", "b"],
                  [(1, 2.0), (3, 4.0)], [[np.zeros(2), 1], [np.ones(2), 2]],
                  [pe.from_numpy(np.arange(3, dtype=np.float32)), pe.from_numpy(np.ones(3, np.float32))]):
        tb = [torch.from_numpy(b._data) for b in batch] if isinstance(batch[0], pe.Tensor) else batch
        _same_structure(default_collate(batch), tud.default_collate(tb))
    sample = {"x": np.arange(4.0), "y": (np.int64(3), "s")}
    _same_structure(default_convert(sample), tud.default_convert(sample))


def test_default_collate_errors():
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([[1, 2], [3]])
    with pytest.raises(TypeError, match="found"):
        default_collate([object(), object()])
    with pytest.raises(TypeError, match="found"):
        default_collate([np.array(["a"]), np.array(["b"])])


@needs_torch
@pytest.mark.parametrize("n,bs,drop", [(10, 3, False), (10, 3, True), (1, 4, False), (8, 4, True), (0, 2, False)])
def test_sequential_and_batch_sampler_match_torch(n, bs, drop):
    ours = BatchSampler(SequentialSampler(range(n)), bs, drop)
    theirs = tud.BatchSampler(tud.SequentialSampler(range(n)), bs, drop)
    assert list(ours) == list(theirs) and len(ours) == len(theirs)


@needs_torch
@pytest.mark.parametrize("kwargs", [dict(batch_size=0, drop_last=False), dict(batch_size=2.0, drop_last=False),
                                    dict(batch_size=True, drop_last=False), dict(batch_size=2, drop_last=1)])
def test_batch_sampler_rejects_what_torch_rejects(kwargs):
    with pytest.raises(ValueError) as theirs:
        tud.BatchSampler(range(4), **kwargs)
    with pytest.raises(type(theirs.value), match="should be a"):
        BatchSampler(range(4), **kwargs)


@pytest.mark.parametrize("n,k,replacement", [(10, None, False), (7, 20, False), (7, 3, False), (5, 50, True)])
def test_random_sampler_draws(n, k, replacement):
    s = RandomSampler(range(n), replacement=replacement, num_samples=k, seed=1)
    order = list(s)
    assert len(order) == len(s) == (k or n)
    assert all(0 <= i < n for i in order)
    if not replacement:
        counts = np.bincount(order, minlength=n)
        full = len(order) // n
        assert counts.min() >= full and counts.max() <= full + 1   # whole permutations, the last cut short
    assert order != list(s), "a new order every pass"
    if torch is not None:
        assert len(s) == len(tud.RandomSampler(range(n), replacement=replacement, num_samples=k))


@needs_torch
def test_random_sampler_rejects_what_torch_rejects():
    for kwargs in (dict(replacement=1), dict(num_samples=0), dict(num_samples=-2), dict(num_samples=1.5)):
        with pytest.raises((TypeError, ValueError)) as theirs:
            tud.RandomSampler(range(4), **kwargs)
        with pytest.raises(type(theirs.value)):
            RandomSampler(range(4), **kwargs)


def test_random_samplers_are_reproducible_and_resumable():
    a, b = RandomSampler(range(30), seed=5), RandomSampler(range(30), seed=5)
    assert list(a) == list(b) and list(a) == list(b)
    b.set_epoch(0)
    first = list(b)
    assert first == list(RandomSampler(range(30), seed=5))
    g = np.random.default_rng(3)
    s = SubsetRandomSampler([4, 8, 15, 16, 23, 42], generator=g)
    p1 = list(s)
    state = s.state_dict()
    p2 = list(s)
    s.load_state_dict(state, replay=True)
    assert list(s) == p1 and sorted(p1) == [4, 8, 15, 16, 23, 42]
    s.load_state_dict(state)
    assert list(s) == p2


def test_weighted_random_sampler_follows_the_weights():
    w = np.array([0.1, 0.0, 0.6, 0.3])
    s = WeightedRandomSampler(w, 20000, seed=0)
    counts = np.bincount(list(s), minlength=4) / 20000
    assert counts[1] == 0
    np.testing.assert_allclose(counts, w, atol=0.015)
    no_rep = list(WeightedRandomSampler([1, 1, 5, 1], 4, replacement=False, seed=1))
    assert sorted(no_rep) == [0, 1, 2, 3]


def test_weighted_random_sampler_rebalances_classes():
    """The imbalanced-class remedy: weights = 1 / class frequency gives balanced batches."""
    labels = np.array([0] * 90 + [1] * 10)
    weights = 1.0 / np.bincount(labels)[labels]
    drawn = labels[list(WeightedRandomSampler(weights, 10000, seed=2))]
    assert abs(drawn.mean() - 0.5) < 0.03


@needs_torch
def test_weighted_random_sampler_rejects_what_torch_rejects():
    for args, kwargs in (((np.ones((2, 2)), 3), {}), (([1.0, 2.0], 0), {}), (([1.0, 2.0], 2), {"replacement": 1})):
        with pytest.raises(ValueError):
            tud.WeightedRandomSampler(*args, **kwargs)
        with pytest.raises(ValueError):
            WeightedRandomSampler(*args, **kwargs)
    assert len(WeightedRandomSampler([1, 2, 3], 7)) == len(tud.WeightedRandomSampler([1, 2, 3], 7))


@needs_torch
def test_concat_dataset_and_add_match_torch():
    parts = [Items(3), Items(0), Items(4, offset=100), Items(1, offset=50)]
    ours, theirs = ConcatDataset(parts), tud.ConcatDataset(parts)
    assert ours.cumulative_sizes == theirs.cumulative_sizes and len(ours) == len(theirs) == 8
    for i in range(-8, 8):
        assert ours[i] == theirs[i]
    with pytest.raises(ValueError) as t_err:
        theirs[-9]
    with pytest.raises(type(t_err.value), match="absolute value"):
        ours[-9]
    with pytest.raises(IndexError):
        ours[8]
    added = Items(2) + Items(3, offset=7) + Items(1, offset=40)
    assert isinstance(added, ConcatDataset) and [added[i] for i in range(len(added))] == \
        [(0, 0), (1, 10), (7, 70), (8, 80), (9, 90), (40, 400)]
    with pytest.raises(ValueError, match="empty"):
        ConcatDataset([])


@needs_torch
def test_subset_matches_torch():
    base = Items(10)
    ours, theirs = Subset(base, [7, 2, 2, 9]), tud.Subset(base, [7, 2, 2, 9])
    assert len(ours) == len(theirs) and [ours[i] for i in range(4)] == [theirs[i] for i in range(4)]
    assert ours[[0, 3]] == theirs[[0, 3]]


@needs_torch
@pytest.mark.parametrize("kwargs", [
    dict(batch_size=3), dict(batch_size=3, drop_last=True), dict(batch_size=None), dict(batch_size=4, sampler=[9, 1, 4, 4, 0]),
    dict(batch_sampler=[[3, 1], [0], [2, 2, 5]]), dict(batch_size=1)])
def test_dataloader_batches_match_torch(kwargs):
    ds = Items(10)
    ours, theirs = DataLoader(ds, **kwargs), tud.DataLoader(ds, **kwargs)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        _same_structure(a, b)


@needs_torch
@pytest.mark.parametrize("kwargs", [
    dict(num_workers=-1), dict(timeout=-1), dict(prefetch_factor=2), dict(persistent_workers=True),
    dict(sampler=[0, 1], shuffle=True), dict(batch_sampler=[[0]], batch_size=2), dict(batch_sampler=[[0]], shuffle=True),
    dict(batch_sampler=[[0]], sampler=[0]), dict(batch_sampler=[[0]], drop_last=True),
    dict(batch_size=None, drop_last=True)])
def test_dataloader_rejects_what_torch_rejects(kwargs):
    with pytest.raises(ValueError):
        tud.DataLoader(Items(4), **kwargs)
    with pytest.raises(ValueError):
        DataLoader(Items(4), **kwargs)


def test_tensor_dataset_batches_are_lists_like_torch():
    ds = TensorDataset(np.arange(12, dtype=np.float32).reshape(6, 2), np.arange(6))
    batch = next(iter(DataLoader(ds, batch_size=4)))
    assert isinstance(batch, list) and len(batch) == 2
    np.testing.assert_array_equal(_np(batch[1]), np.arange(4))
