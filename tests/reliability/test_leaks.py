"""Long runs keep memory flat: 2,000 training steps of the digit CNN and of an LSTM, with resident
memory and the number of live Tensors measured after warm-up and at the end; and the graph of a
finished step is freed (no reference cycles keep it alive)."""
import gc
import os
import weakref

import numpy as np

import pyengine as pe
from pyengine import nn

STEPS = 2000
WARMUP = 200
RSS_GROWTH_BOUND = 16 * 2**20     # bytes allowed between step 200 and step 2000
TENSOR_GROWTH_BOUND = 0           # live Tensors: none may accumulate


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _live_tensors() -> int:
    gc.collect()
    # issubclass(type(o)) rather than isinstance: isinstance reads o.__class__, which on some
    # lazily deprecated objects (torch.distributed.reduce_op) emits a warning
    return sum(1 for o in gc.get_objects() if issubclass(type(o), pe.Tensor))


def _digit_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.Flatten(), nn.Linear(32 * 7 * 7, 10))


def _sgd_step(params, lr=0.01):
    for p in params:
        p._data -= lr * p.grad._data
        p.grad = None


def _measure(step_fn):
    """Runs the steps on one thread: memory behaviour does not depend on the thread count, and a
    shared 2-core CI machine runs 2,000 small steps faster without OpenMP barriers."""
    marks = {}
    threads = pe.get_num_threads()
    pe.set_num_threads(1)
    try:
        for step in range(1, STEPS + 1):
            step_fn()
            if step in (WARMUP, STEPS):
                marks[step] = (_rss_bytes(), _live_tensors())
    finally:
        pe.set_num_threads(threads)
    (rss0, t0), (rss1, t1) = marks[WARMUP], marks[STEPS]
    return rss1 - rss0, t1 - t0


def test_digit_cnn_training_keeps_memory_flat():
    pe.manual_seed(0)
    model = _digit_cnn()
    params = list(model.parameters())
    loss_fn = nn.CrossEntropyLoss()
    x = pe.randn(4, 1, 28, 28)
    y = pe.randint(0, 10, (4,))

    def step():
        loss = loss_fn(model(x), y)
        loss.backward()
        _sgd_step(params)

    rss_growth, tensor_growth = _measure(step)
    assert tensor_growth <= TENSOR_GROWTH_BOUND, f"{tensor_growth} Tensors accumulated over {STEPS - WARMUP} steps"
    assert rss_growth < RSS_GROWTH_BOUND, f"resident memory grew {rss_growth / 2**20:.1f} MiB after warm-up"


def test_lstm_training_keeps_memory_flat():
    pe.manual_seed(0)
    lstm = nn.LSTM(16, 32)
    head = nn.Linear(32, 5)
    params = list(lstm.parameters()) + list(head.parameters())
    loss_fn = nn.CrossEntropyLoss()
    x = pe.randn(10, 4, 16)
    y = pe.randint(0, 5, (4,))

    def step():
        out, (h, c) = lstm(x)
        loss = loss_fn(head(out[-1]), y)
        loss.backward()
        _sgd_step(params)

    rss_growth, tensor_growth = _measure(step)
    assert tensor_growth <= TENSOR_GROWTH_BOUND, f"{tensor_growth} Tensors accumulated over {STEPS - WARMUP} steps"
    assert rss_growth < RSS_GROWTH_BOUND, f"resident memory grew {rss_growth / 2**20:.1f} MiB after warm-up"


def test_graph_of_a_finished_step_is_freed():
    pe.manual_seed(0)
    model = _digit_cnn()
    x = pe.randn(2, 1, 28, 28)
    hidden = model[:4](x)                     # an intermediate activation inside the graph
    loss = nn.CrossEntropyLoss()(model[4:](hidden), pe.randint(0, 10, (2,)))
    ref = weakref.ref(hidden)
    loss.backward()
    del hidden, loss
    assert ref() is None, "an intermediate Tensor outlived its graph after backward (a reference cycle?)"
