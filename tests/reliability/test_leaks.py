"""Long runs keep memory flat: 2,000 training steps of the digit CNN and of an LSTM, and 2,000
batches from a DataLoader with 2 worker processes, with resident memory and the number of live
Tensors measured after warm-up and at the end: resident memory may grow by at most 1 KiB per step
after warm-up (a leak of one small array per step would show) and no Tensor may accumulate; a
DataLoader that starts and stops its workers every epoch leaves no file descriptor, process or
thread behind; and the graph of a finished step is freed (no reference cycles keep it alive)."""
import gc
import multiprocessing
import os
import threading
import weakref

import numpy as np

import pyengine as pe
from pyengine import nn

STEPS = 2000
WARMUP = 200
RSS_PER_STEP_BOUND = 1024         # bytes of resident memory per step allowed after warm-up
RSS_GROWTH_BOUND = RSS_PER_STEP_BOUND * (STEPS - WARMUP)
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


INTERVALS = 9                     # resident memory is read at the end of each of these after warm-up


def _measure(step_fn):
    """Runs the steps on one thread (memory behaviour does not depend on the thread count, and a
    shared 2-core CI machine runs 2,000 small steps faster on one) and returns (resident-memory
    growth after warm-up, live-Tensor growth after warm-up, the growth of each interval).

    The resident-memory growth is the median interval's times INTERVALS: a leak grows every
    interval alike and shows in full, while a one-off jump that is not this loop's (a page the
    allocator takes once, a thread an earlier test left behind allocating on a loaded machine)
    lands in one interval and does not fail the test."""
    every = (STEPS - WARMUP) // INTERVALS
    marks = {}
    threads = pe.get_num_threads()
    pe.set_num_threads(1)
    try:
        for step in range(1, STEPS + 1):
            step_fn()
            if step >= WARMUP and (step - WARMUP) % every == 0 and step <= WARMUP + INTERVALS * every:
                marks[step] = (_rss_bytes(), _live_tensors() if step in (WARMUP, WARMUP + INTERVALS * every) else 0)
    finally:
        pe.set_num_threads(threads)
    steps = sorted(marks)
    growths = [marks[b][0] - marks[a][0] for a, b in zip(steps, steps[1:])]
    return int(np.median(growths)) * INTERVALS, marks[steps[-1]][1] - marks[steps[0]][1], growths


def _rss_message(growth, growths, unit="step"):
    per = growth / (STEPS - WARMUP)
    return (f"resident memory grew {growth / 1024:.0f} KiB ({per:.0f} B/{unit}, median interval) after warm-up; "
            f"per interval of {(STEPS - WARMUP) // INTERVALS} {unit}s: {[g // 1024 for g in growths]} KiB")


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

    rss_growth, tensor_growth, growths = _measure(step)
    assert tensor_growth <= TENSOR_GROWTH_BOUND, f"{tensor_growth} Tensors accumulated over {STEPS - WARMUP} steps"
    assert rss_growth <= RSS_GROWTH_BOUND, _rss_message(rss_growth, growths)


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

    rss_growth, tensor_growth, growths = _measure(step)
    assert tensor_growth <= TENSOR_GROWTH_BOUND, f"{tensor_growth} Tensors accumulated over {STEPS - WARMUP} steps"
    assert rss_growth <= RSS_GROWTH_BOUND, _rss_message(rss_growth, growths)


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


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_dataloader_with_workers_keeps_memory_flat():
    from pyengine.data import DataLoader, TensorDataset
    from pyengine.data import transforms as T

    images = (np.arange(64 * 12 * 12) % 256).astype(np.uint8).reshape(64, 12, 12)
    aug = T.Compose([T.RandomCrop(10, padding=1), T.RandomHorizontalFlip(), T.ToTensor()])

    class Images(TensorDataset):
        def __getitem__(self, i):
            return aug(self.tensors[0][i]), int(self.tensors[1][i])
        __getitems__ = None

    loader = DataLoader(Images(images, np.arange(64) % 10), batch_size=8, shuffle=True, seed=0, num_workers=2,
                        persistent_workers=True)
    batches = iter(())

    def step():
        nonlocal batches
        try:
            x, y = next(batches)
        except StopIteration:
            batches = iter(loader)
            x, y = next(batches)
        assert x.shape == (8, 1, 10, 10)

    try:
        rss_growth, tensor_growth, growths = _measure(step)
    finally:
        del batches, loader
        gc.collect()
    assert tensor_growth <= TENSOR_GROWTH_BOUND, f"{tensor_growth} Tensors accumulated over {STEPS - WARMUP} batches"
    assert rss_growth <= RSS_GROWTH_BOUND, _rss_message(rss_growth, growths, "batch")


def test_dataloader_workers_started_every_epoch_leave_nothing_behind():
    from pyengine.data import DataLoader, TensorDataset

    loader = DataLoader(TensorDataset(np.zeros((16, 3), np.float32), np.arange(16)), batch_size=4, num_workers=2)
    for _ in range(3):
        list(loader)
    gc.collect()
    fds, threads = _open_fds(), threading.active_count()
    for epoch in range(30):
        for i, _ in enumerate(loader):
            if epoch % 3 == 0 and i == 1:
                break    # an epoch cut short stops its workers too
    gc.collect()
    assert not multiprocessing.active_children(), "worker processes outlived their epoch"
    assert _open_fds() <= fds, f"{_open_fds() - fds} file descriptors leaked over 30 epochs"
    assert threading.active_count() <= threads, "queue feeder threads leaked"
