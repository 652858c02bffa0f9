"""DataLoader, datasets and splits: batching, per-epoch reshuffle, seeds, drop_last, collate."""
import numpy as np
import pytest

from pyengine.data import (DataLoader, Subset, TensorDataset, labels_of, random_split, split_each_label)


def _ds(n=10):
    x = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    return TensorDataset(x, np.arange(n) % 3)


def _arr(t):
    return t._data if hasattr(t, "_data") else np.asarray(t)


def _epoch(loader):
    return [(_arr(x).copy(), _arr(y).copy()) for x, y in loader]


def test_batches_cover_the_dataset_in_order_without_shuffle():
    loader = DataLoader(_ds(10), batch_size=4)
    batches = _epoch(loader)
    assert len(loader) == 3 and [len(b[1]) for b in batches] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), np.arange(10) % 3)
    assert batches[0][0].dtype == np.float32 and batches[0][1].dtype == np.int64


def test_drop_last():
    loader = DataLoader(_ds(10), batch_size=4, drop_last=True)
    assert len(loader) == 2 and [len(b[1]) for b in _epoch(loader)] == [4, 4]


def test_shuffle_reshuffles_every_epoch_and_is_reproducible():
    a = DataLoader(_ds(50), batch_size=7, shuffle=True, seed=3)
    b = DataLoader(_ds(50), batch_size=7, shuffle=True, seed=3)
    e1, e2 = _epoch(a), _epoch(a)
    order1 = np.concatenate([x[:, 0] for x, _ in e1])
    order2 = np.concatenate([x[:, 0] for x, _ in e2])
    assert sorted(order1) == sorted(order2) == list(np.arange(0, 100, 2))
    assert not np.array_equal(order1, order2), "a new order every epoch"
    np.testing.assert_array_equal(order1, np.concatenate([x[:, 0] for x, _ in _epoch(b)]))
    b.set_epoch(1)   # a resumed run sees the second epoch's order
    np.testing.assert_array_equal(order2, np.concatenate([x[:, 0] for x, _ in _epoch(b)]))


def test_generator_drives_the_order():
    g1, g2 = np.random.default_rng(5), np.random.default_rng(5)
    o1 = _epoch(DataLoader(_ds(20), batch_size=20, shuffle=True, generator=g1))[0][1]
    o2 = _epoch(DataLoader(_ds(20), batch_size=20, shuffle=True, generator=g2))[0][1]
    np.testing.assert_array_equal(o1, o2)


def test_per_sample_datasets_and_custom_collate():
    class Squares:
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return np.full((2, 2), i, np.float32), i

    batches = _epoch(DataLoader(Squares(), batch_size=2))
    assert batches[0][0].shape == (2, 2, 2) and list(batches[2][1]) == [4]
    out = list(DataLoader(_ds(4), batch_size=2, collate_fn=lambda s: len(s)))
    assert out == [2, 2]


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_bad_batch_size(bad):
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        DataLoader(_ds(), batch_size=bad)


def test_random_split_ints_and_fractions():
    a, b = random_split(_ds(10), [7, 3], seed=0)
    assert len(a) == 7 and len(b) == 3
    assert sorted(np.concatenate([a.indices, b.indices]).tolist()) == list(range(10))
    parts = random_split(_ds(10), [0.5, 0.3, 0.2], seed=1)
    assert [len(p) for p in parts] == [5, 3, 2]
    with pytest.raises(ValueError, match="random_split"):
        random_split(_ds(10), [5, 4])


def test_split_each_label_keeps_class_proportions():
    y = np.repeat(np.arange(4), [40, 20, 8, 4])
    ds = TensorDataset(np.zeros((len(y), 1), np.float32), y)
    train, val = split_each_label(ds, 0.75, seed=0)
    assert np.bincount(labels_of(train)).tolist() == [30, 15, 6, 3]
    assert np.bincount(labels_of(val)).tolist() == [10, 5, 2, 1]
    assert not set(train.indices) & set(val.indices)
    t2, _ = split_each_label(ds, 0.75, seed=0)
    np.testing.assert_array_equal(train.indices, t2.indices)
    ordered, _ = split_each_label(ds, 0.75, randomize=False)
    assert ordered.indices[:30].tolist() == list(range(30))


def test_subset_transform_applies_to_that_subset_only():
    ds = _ds(6)
    aug = Subset(ds, [0, 1, 2], transform=lambda x: x * 0)
    plain = Subset(ds, [3, 4, 5])
    assert _arr(next(iter(DataLoader(aug, batch_size=3)))[0]).sum() == 0
    assert _arr(next(iter(DataLoader(plain, batch_size=3)))[0]).sum() > 0
