"""A seed reproduces a run: two CPU training runs of the digit CNN (with dropout and a shuffling
DataLoader-free batch order drawn from the seeded generator) give bit-identical weights, for each
thread count; the flag for deterministic algorithms round-trips."""
import numpy as np
import pytest

import pyengine as pe
from pyengine import nn


def _train(seed: int, threads: int, steps: int = 12):
    before = pe.get_num_threads()
    pe.set_num_threads(threads)
    try:
        pe.manual_seed(seed)
        model = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2, 2),
            nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2, 2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.Flatten(),
            nn.Dropout(0.3), nn.Linear(32 * 7 * 7, 10))
        data = pe.randn(64, 1, 28, 28)
        labels = pe.randint(0, 10, (64,))
        loss_fn = nn.CrossEntropyLoss()
        momentum = {}
        for _ in range(steps):
            order = pe.randint(0, 64, (16,)).numpy()        # batch drawn from the seeded generator
            loss = loss_fn(model(data[order]), labels[order])
            loss.backward()
            for name, p in model.named_parameters():
                buf = momentum.setdefault(name, np.zeros_like(p._data))
                buf *= 0.9
                buf += p.grad._data
                p._data -= 0.01 * buf
                p.grad = None
        return {k: v.numpy().copy() for k, v in model.state_dict().items()}
    finally:
        pe.set_num_threads(before)


@pytest.mark.parametrize("threads", [1, 2])
def test_same_seed_gives_bit_identical_weights(threads):
    a = _train(7, threads)
    b = _train(7, threads)
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(a[k], b[k]), f"{k} differs between two runs with the same seed on {threads} threads"


def test_a_different_seed_gives_different_weights():
    a, b = _train(7, 1, steps=2), _train(8, 1, steps=2)
    assert any(not np.array_equal(a[k], b[k]) for k in a if a[k].dtype.kind == "f")


def test_deterministic_algorithms_flag_round_trips():
    assert pe.are_deterministic_algorithms_enabled() is False
    try:
        pe.use_deterministic_algorithms(True)
        assert pe.are_deterministic_algorithms_enabled() is True
    finally:
        pe.use_deterministic_algorithms(False)
    with pytest.raises(TypeError, match="use_deterministic_algorithms: mode must be a bool"):
        pe.use_deterministic_algorithms("yes")
