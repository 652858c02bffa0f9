"""Kernels release the GIL: Python threads calling them at the same time get correct results.

Each thread repeatedly runs gemm, the activations, softmax and cross-entropy on its own inputs and
compares with results computed beforehand, one call at a time; a kernel that kept state between
calls (shared scratch buffers, thread counts) or read another thread's arrays would differ.
A second test shows the GIL really is released: a kernel call in one thread does not stop a
pure-Python thread from running.
"""
import sys
import threading
import time

import numpy as np
import pytest

from pyengine.kernels import cpu


def _work(seed):
    """A list of (function, expected) pairs for one thread's inputs (sizes above the OpenMP cut-offs)."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((96, 80)).astype(np.float32)
    b = rng.standard_normal((80, 112)).astype(np.float32)
    x = rng.standard_normal((70, 1000)).astype(np.float32)
    g = rng.standard_normal((70, 1000)).astype(np.float32)
    t = rng.integers(0, 1000, 70).astype(np.int64)
    calls = [
        lambda: cpu.gemm(a, b),
        lambda: cpu.gemm(a.astype(np.float64), b.astype(np.float64), trans_b=False),
        lambda: cpu.relu_forward(x),
        lambda: cpu.sigmoid_forward(x),
        lambda: cpu.tanh_backward(g, cpu.tanh_forward(x)),
        lambda: cpu.elu_forward(x, 0.5),
        lambda: cpu.softmax_forward(x, -1),
        lambda: cpu.log_softmax_forward(x.reshape(70, 10, 100), 1),
        lambda: cpu.cross_entropy_forward(x, t, "mean"),
        lambda: cpu.cross_entropy_backward(np.ones((), np.float32), x, t, "sum"),
    ]
    return [(fn, fn()) for fn in calls]


@pytest.mark.parametrize("threads", [2, 4])
def test_concurrent_kernel_calls_are_correct(threads):
    work = [_work(seed) for seed in range(threads)]
    errors = []
    barrier = threading.Barrier(threads)

    def run(i):
        try:
            barrier.wait()
            for _ in range(8):
                for k, (fn, expected) in enumerate(work[i]):
                    got = fn()
                    if not np.array_equal(got, expected, equal_nan=True):
                        errors.append(f"thread {i} call {k}: max diff {np.max(np.abs(got - expected))}")
                        return
        except Exception as exc:  # reported by the main thread
            errors.append(f"thread {i}: {exc!r}")

    pool = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in pool), "a kernel thread did not finish"
    assert not errors, errors


def _ticks_while(work, calls: int = 6) -> int:
    """How many times this thread's loop runs while another thread makes `calls` calls of `work`.

    The interpreter's switch interval is raised to 10 s for the measurement, so that a thread
    holding the GIL is never made to hand it over: the loop then runs only when the other thread
    gives the GIL up itself (a kernel that releases it) or has finished."""
    done = threading.Event()

    def run():
        for _ in range(calls):
            work()
        done.set()

    ticks = 0
    interval = sys.getswitchinterval()
    sys.setswitchinterval(10.0)
    try:
        t = threading.Thread(target=run)
        t.start()
        while not done.is_set():
            ticks += 1
            time.sleep(0)
        t.join()
    finally:
        sys.setswitchinterval(interval)
    return ticks


def test_gil_is_released_during_a_kernel():
    """While one thread is inside a long gemm, another Python thread keeps running; the same
    measurement on work of the same length that holds the GIL (a pure-Python loop) shows what a
    held GIL would give."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((700, 700)).astype(np.float32)
    start = time.perf_counter()
    cpu.gemm(a, a)
    single = time.perf_counter() - start
    # a pure-Python loop of about the same length: it holds the GIL throughout
    n = 20000
    start = time.perf_counter()
    sum(i * i for i in range(n))
    n = max(1000, int(n * single / (time.perf_counter() - start)))

    held = _ticks_while(lambda: sum(i * i for i in range(n)))
    released = _ticks_while(lambda: cpu.gemm(a, a))
    # Held, the loop runs about once (before the other thread starts and after it is done); released,
    # at least once per call and usually hundreds of times, however loaded the machine.
    assert held <= 3, f"the control measurement is broken: a GIL-holding loop let the other thread run {held} times"
    assert released >= 6, (f"the Python thread ran {released} times during 6 gemm calls of {single * 1e3:.1f} ms "
                           f"each (a GIL-holding loop of the same length: {held})")
