"""DataLoader worker processes: same batches as in-process loading, seeding, errors from workers,
dead workers, timeouts, persistent workers, prefetching, clean shutdown, resuming mid-epoch.

Kept small and bounded in time (the CI machine has 2 cores shared by everything): tiny datasets,
at most 2 workers, every wait bounded.
"""
import gc
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from support import child_env

from pyengine.data import DataLoader, Dataset, TensorDataset, get_worker_info, pin_memory
from pyengine.data import transforms as T


def _arr(t):
    return t._data if hasattr(t, "_data") else np.asarray(t)


def _epoch(loader):
    return [[_arr(f).copy() for f in batch] for batch in loader]


def _same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        for f, g in zip(x, y):
            np.testing.assert_array_equal(f, g)


class Augmented(Dataset):
    """Random crop + flip + normalise of deterministic images; also reports which worker loaded it."""

    def __init__(self, n=24, size=10):
        self.images = (np.arange(n * size * size) % 251).astype(np.uint8).reshape(n, size, size)
        self.t = T.Compose([T.RandomCrop(8, padding=1), T.RandomHorizontalFlip(), T.ToTensor(),
                            T.Normalize([0.5], [0.25])])

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        info = get_worker_info()
        return self.t(self.images[i]), i, -1 if info is None else info.id


class Failing(Dataset):
    def __len__(self):
        return 12

    def __getitem__(self, i):
        if i == 7:
            return _inner_failure(i)
        return np.float32(i)


def _inner_failure(i):
    raise ValueError(f"sample {i} is broken")


class Dies(Dataset):
    def __len__(self):
        return 12

    def __getitem__(self, i):
        if i == 6:
            os._exit(7)
        return i


class Slow(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        time.sleep(30 if i == 2 else 0)
        return i


class Pids(Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, i):
        return os.getpid()


class Counted(Dataset):
    """Counts the samples fetched, across processes."""

    def __init__(self, n, counter):
        self.n, self.counter = n, counter

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        with self.counter.get_lock():
            self.counter.value += 1
        return i


def _no_children(timeout=10.0):
    deadline = time.monotonic() + timeout
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    return not multiprocessing.active_children()


@pytest.mark.parametrize("workers", [1, 2])
def test_workers_give_the_batches_of_in_process_loading(workers):
    ds = TensorDataset(np.arange(46, dtype=np.float32).reshape(23, 2), np.arange(23))
    ref = _epoch(DataLoader(ds, batch_size=4, shuffle=True, seed=9))
    got = _epoch(DataLoader(ds, batch_size=4, shuffle=True, seed=9, num_workers=workers))
    _same(ref, got)
    assert _no_children()


def test_augmentation_is_the_same_whatever_the_worker_count_and_batches_spread_over_workers():
    ref = _epoch(DataLoader(Augmented(), batch_size=4, shuffle=True, seed=3))
    got2 = _epoch(DataLoader(Augmented(), batch_size=4, shuffle=True, seed=3, num_workers=2))
    _same([b[:2] for b in ref], [b[:2] for b in got2])
    assert {int(b[2][0]) for b in got2} == {0, 1}, "both workers loaded batches"
    assert {int(b[2][0]) for b in ref} == {-1}
    other = _epoch(DataLoader(Augmented(), batch_size=4, shuffle=True, seed=4))
    assert not all(np.array_equal(a[0], b[0]) for a, b in zip(ref, other)), "another seed, other crops"


def test_spawned_workers_give_the_same_batches():
    ds = Augmented(n=8)
    ref = _epoch(DataLoader(ds, batch_size=4, seed=1))
    got = _epoch(DataLoader(ds, batch_size=4, seed=1, num_workers=1, multiprocessing_context="spawn", timeout=60))
    _same([b[:2] for b in ref], [b[:2] for b in got])


def _record_init(worker_id):
    info = get_worker_info()
    assert info.id == worker_id
    np.save(os.path.join(os.environ["PYENGINE_TEST_DIR"], f"w{worker_id}.npy"),
            np.array([info.seed, info.num_workers, np.random.randint(0, 2**31)], dtype=np.int64))


def test_worker_seeds_and_worker_init_fn(tmp_path, monkeypatch):
    monkeypatch.setenv("PYENGINE_TEST_DIR", str(tmp_path))
    assert get_worker_info() is None
    loader = DataLoader(TensorDataset(np.zeros((8, 1), np.float32)), batch_size=2, num_workers=2, seed=5,
                        worker_init_fn=_record_init)
    list(loader)
    w0, w1 = np.load(tmp_path / "w0.npy"), np.load(tmp_path / "w1.npy")
    assert w1[0] == w0[0] + 1, "seed = base_seed + worker_id"
    assert w0[1] == w1[1] == 2
    assert w0[2] != w1[2], "NumPy's global state is seeded per worker (no duplicated augmentation)"
    list(loader)
    assert np.load(tmp_path / "w0.npy")[0] != w0[0], "a new base seed every epoch"


def test_worker_exception_is_raised_with_the_workers_traceback():
    loader = DataLoader(Failing(), batch_size=2, num_workers=2)
    with pytest.raises(ValueError) as err:
        list(loader)
    msg = str(err.value)
    assert "in DataLoader worker process" in msg and "sample 7 is broken" in msg
    assert "_inner_failure" in msg, "the worker's own traceback"
    assert _no_children()


def test_worker_init_fn_failure_is_reported():
    def bad_init(worker_id):
        raise OSError("no such device")
    with pytest.raises(OSError, match="no such device"):
        list(DataLoader(TensorDataset(np.zeros((4, 1))), batch_size=1, num_workers=1, worker_init_fn=bad_init))


def test_dead_worker_is_reported_at_once():
    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match=r"worker exited unexpectedly: worker \d \(pid \d+\) exited with code 7"):
        list(DataLoader(Dies(), batch_size=2, num_workers=2))
    assert time.monotonic() - t0 < 10
    assert _no_children()


def test_timeout():
    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match="timed out after 0.5 seconds"):
        list(DataLoader(Slow(), batch_size=1, num_workers=1, timeout=0.5))
    assert time.monotonic() - t0 < 10, "the stuck worker is not waited for"
    assert _no_children()


def test_unpicklable_batch_is_reported():
    class Local:    # cannot be pickled: defined in a function
        pass
    with pytest.raises(Exception, match="in DataLoader worker process 0"):
        list(DataLoader(TensorDataset(np.zeros((2, 1))), batch_size=1, num_workers=1, collate_fn=lambda b: Local()))


def test_persistent_workers_survive_epochs_and_others_do_not():
    loader = DataLoader(Pids(), batch_size=2, num_workers=2, persistent_workers=True)
    pids1 = {int(p) for b in loader for p in _arr(b)}
    pids2 = {int(p) for b in loader for p in _arr(b)}
    assert pids1 == pids2 and len(pids1) == 2 and os.getpid() not in pids1
    del loader
    gc.collect()
    assert _no_children()
    loader = DataLoader(Pids(), batch_size=2, num_workers=1)
    assert {int(p) for b in loader for p in _arr(b)} != {int(p) for b in loader for p in _arr(b)}


def test_persistent_workers_after_an_epoch_cut_short():
    ds = TensorDataset(np.arange(20, dtype=np.float32), np.arange(20))
    loader = DataLoader(ds, batch_size=3, num_workers=2, persistent_workers=True, shuffle=True, seed=2)
    for i, _ in enumerate(loader):
        if i == 1:
            break
    second = _epoch(loader)    # epoch 1, whole, although epoch 0's batches were still in flight
    ref = DataLoader(ds, batch_size=3, shuffle=True, seed=2)
    ref.set_epoch(1)
    _same(second, _epoch(ref))


def test_prefetch_factor_bounds_the_batches_in_flight():
    counter = multiprocessing.get_context("fork").Value("i", 0)
    loader = DataLoader(Counted(40, counter), batch_size=1, num_workers=2, prefetch_factor=2)
    it = iter(loader)
    next(it)
    time.sleep(0.5)
    assert counter.value <= 1 + 2 * 2 + 1, f"{counter.value} samples loaded ahead"
    rest = list(it)
    assert len(rest) == 39
    with pytest.raises(ValueError, match="prefetch_factor"):
        DataLoader(Counted(4, counter), num_workers=1, prefetch_factor=0)


def test_workers_stop_when_the_iterator_is_dropped_or_the_loop_raises():
    loader = DataLoader(TensorDataset(np.zeros((40, 1))), batch_size=1, num_workers=2)
    it = iter(loader)
    next(it)
    assert len(multiprocessing.active_children()) == 2
    del it
    gc.collect()
    assert _no_children(), "the workers of a dropped iterator are stopped"
    with pytest.raises(ZeroDivisionError):
        for i, _ in enumerate(loader):
            if i == 3:
                1 / 0
    gc.collect()
    assert _no_children()


def test_workers_exit_when_the_main_process_is_killed(tmp_path):
    script = textwrap.dedent("""
        import os, sys, time
        import numpy as np
        from pyengine.data import DataLoader, Dataset
        class Pid(Dataset):
            def __len__(self): return 1000
            def __getitem__(self, i):
                time.sleep(0.01)
                return os.getpid()
        it = iter(DataLoader(Pid(), batch_size=1, num_workers=2))
        pids = {int(next(it)._data[0]) for _ in range(6)}
        print(" ".join(map(str, sorted(pids))), flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=child_env(),
                            cwd=tmp_path)
    try:
        pids = [int(p) for p in proc.stdout.readline().split()]
        assert len(pids) == 2
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    deadline = time.monotonic() + 10
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if os.path.exists(f"/proc/{p}") and
                 open(f"/proc/{p}/stat").read().split()[2] != "Z"]
        time.sleep(0.05)
    assert not alive, f"worker processes {alive} outlived their SIGKILLed parent"


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("use_generator", [False, True])
def test_resume_in_the_middle_of_an_epoch(workers, use_generator):
    def make():
        g = np.random.default_rng(11) if use_generator else None
        return DataLoader(Augmented(n=22), batch_size=3, shuffle=True, seed=6, generator=g, num_workers=workers)

    full = make()
    ref = _epoch(full) + _epoch(full)
    run = make()
    first = _epoch(run)
    it = iter(run)
    got = first + [[_arr(f).copy() for f in next(it)] for _ in range(3)]
    state = run.state_dict()
    assert state["epoch"] == 1 and state["batches"] == 3
    del it
    resumed = make()
    resumed.load_state_dict(state)
    assert resumed.state_dict()["batches"] == 3
    got += _epoch(resumed)
    _same([b[:2] for b in ref], [b[:2] for b in got])
    after = resumed.state_dict()
    assert after["epoch"] == 2 and after["batches"] == 0
    again = make()
    again.load_state_dict(after)
    third = make()
    _epoch(third), _epoch(third)
    _same([b[:2] for b in _epoch(third)], [b[:2] for b in _epoch(again)])


def test_in_order_false_yields_every_batch():
    ds = TensorDataset(np.arange(10), np.arange(10))
    got = sorted(int(v) for b in DataLoader(ds, batch_size=2, num_workers=2, in_order=False) for v in _arr(b[0]))
    assert got == list(range(10))


def test_pin_memory_is_a_no_op_without_a_gpu_and_walks_nested_batches():
    ds = TensorDataset(np.arange(6, dtype=np.float32).reshape(3, 2), np.arange(3))
    plain, pinned = _epoch(DataLoader(ds, batch_size=2)), _epoch(DataLoader(ds, batch_size=2, pin_memory=True))
    _same(plain, pinned)
    seen = []

    def fake_pin(a):
        seen.append(a.shape)
        return a.copy()
    out = pin_memory({"x": np.zeros((2, 3)), "y": [np.ones(4), (np.ones(1), "label")]}, fake_pin)
    assert sorted(seen) == [(1,), (2, 3), (4,)] and out["y"][1][1] == "label"


def test_bad_worker_arguments():
    ds = TensorDataset(np.zeros((2, 1)))
    with pytest.raises(ValueError, match="num_workers"):
        DataLoader(ds, num_workers=-1)
    with pytest.raises(ValueError, match="persistent_workers"):
        DataLoader(ds, persistent_workers=True)
    with pytest.raises(ValueError, match="timeout"):
        DataLoader(ds, timeout=-2)
    with pytest.raises(TypeError, match="worker_init_fn"):
        DataLoader(ds, num_workers=1, worker_init_fn=3)
    with pytest.raises(ValueError, match="multiprocessing_context"):
        iter(DataLoader(ds, num_workers=1, multiprocessing_context="teleport"))


def _shm_files():
    return sorted(n for n in os.listdir("/dev/shm") if n.startswith("pyengine-dl-")) \
        if os.path.isdir("/dev/shm") else []


def test_large_batches_through_shared_memory_leave_no_file_behind():
    from pyengine.data import _shm
    if not _shm.available():
        pytest.skip("no writable /dev/shm: batches go through the pipe")
    before = _shm_files()
    ds = TensorDataset(np.arange(8 * 3 * 80 * 80, dtype=np.float32).reshape(8, 3, 80, 80), np.arange(8))
    ref = _epoch(DataLoader(ds, batch_size=4, shuffle=True, seed=2))
    assert ref[0][0].nbytes >= _shm.THRESHOLD
    loader = DataLoader(ds, batch_size=4, shuffle=True, seed=2, num_workers=2)
    _same(ref, _epoch(loader))
    it = iter(loader)
    next(it)            # the other batch is still in flight or buffered when the pass is dropped
    del it
    gc.collect()
    assert _no_children() and _shm_files() == before
    x = next(iter(loader))[0]
    x._data[0, 0, 0, 0] = -1.0          # a batch mapped from shared memory is an ordinary writable array
    assert x._data[0, 0, 0, 0] == -1.0


def test_shared_memory_of_a_killed_main_process_is_removed():
    from pyengine.data import _shm
    if not _shm.available():
        pytest.skip("no writable /dev/shm")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    orphan = os.path.join("/dev/shm", f"pyengine-dl-{dead}-1-0")
    open(orphan, "wb").write(b"x" * 10)
    list(DataLoader(TensorDataset(np.zeros((2, 1))), batch_size=1, num_workers=1))
    assert not os.path.exists(orphan)
