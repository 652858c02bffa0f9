"""The CPU thread pool (csrc/cpu/parallel.cpp): results do not depend on how the work was shared.

Kernels split their work into chunks that whichever thread comes first runs; these tests hold the
results to the 1-thread results at 2 and 3 threads (3 oversubscribes a 2-core machine, so workers
are descheduled mid-call), bit for bit from run to run with a competing busy process, after fork(),
and check that the workers really take part (otherwise a 2-thread run would silently be a 1-thread run).
"""
import multiprocessing
import os
import subprocess
import sys

import numpy as np
import pytest

import pyengine
from pyengine import _C
from pyengine.kernels import cpu


@pytest.fixture
def threads():
    before = pyengine.get_num_threads()
    yield pyengine.set_num_threads
    pyengine.set_num_threads(before)


def _calls(rng):
    """(name, function) pairs whose work the pool splits: GEMM (both splits), convolution in every
    direction (per-image chunks, per-slot partial sums), pooling, batch norm, softmax, LSTM."""
    a = rng.standard_normal((203, 517)).astype(np.float32)
    b = rng.standard_normal((517, 131)).astype(np.float32)
    skinny = rng.standard_normal((24, 3001)).astype(np.float32)
    tall = rng.standard_normal((72, 3001)).astype(np.float32)
    x = rng.standard_normal((9, 5, 17, 19)).astype(np.float32)
    w = rng.standard_normal((7, 5, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(7).astype(np.float32)
    y = cpu.conv2d_forward(x, w, bias, stride=1, padding=1)
    gy = rng.standard_normal(y.shape).astype(np.float32)
    y2 = cpu.conv2d_forward(x, w, bias, stride=2, padding=1)
    gy2 = rng.standard_normal(y2.shape).astype(np.float32)
    p = rng.standard_normal((6, 8, 28, 30)).astype(np.float32)
    out, idx = cpu.max_pool2d_forward(p, 2, 2)
    gp = rng.standard_normal(out.shape).astype(np.float32)
    s = rng.standard_normal((300, 77)).astype(np.float32)
    seq = rng.standard_normal((7, 13, 20)).astype(np.float32)
    w_ih = rng.standard_normal((4 * 24, 20)).astype(np.float32) * 0.2
    w_hh = rng.standard_normal((4 * 24, 24)).astype(np.float32) * 0.2
    b_ih = rng.standard_normal(4 * 24).astype(np.float32) * 0.1
    b_hh = rng.standard_normal(4 * 24).astype(np.float32) * 0.1
    h0 = np.zeros((13, 24), np.float32)
    return [
        ("gemm", lambda: cpu.gemm(a, b)),
        ("gemm skinny", lambda: cpu.gemm(skinny, tall, trans_b=True)),
        ("gemm trans_a", lambda: cpu.gemm(a.T.copy(), b, trans_a=True)),
        ("conv fwd", lambda: cpu.conv2d_forward(x, w, bias, stride=1, padding=1)),
        ("conv bwd input", lambda: cpu.conv2d_backward_input(gy, w, x.shape, stride=1, padding=1)),
        ("conv bwd weight", lambda: cpu.conv2d_backward_weight(gy, x, w.shape, stride=1, padding=1)),
        ("conv s2 bwd weight", lambda: cpu.conv2d_backward_weight(gy2, x, w.shape, stride=2, padding=1)),
        ("max pool fwd", lambda: cpu.max_pool2d_forward(p, 2, 2)[0]),
        ("max pool bwd", lambda: cpu.max_pool2d_backward_input(gp, idx, p.shape)),
        ("softmax", lambda: cpu.log_softmax_forward(s)),
        ("lstm", lambda: cpu.lstm_forward(seq, h0, h0, w_ih, w_hh, b_ih, b_hh)[0]),
    ]


def _results(n_threads):
    pyengine.set_num_threads(n_threads)
    out = []
    for name, f in _calls(np.random.default_rng(7)):
        r = f()
        out.append((name, np.array(r[0] if isinstance(r, tuple) else r)))
    return out


def _compare(ref, got):
    for (name, r), (_, g) in zip(ref, got):
        # Chunks of the same work give the same bits, except where per-thread partial sums are added
        # in a different grouping (convolution's grad_weight): there,
        # float32 rounding of sums whose terms reach max|r|.
        np.testing.assert_allclose(g, r, rtol=1e-4, atol=1e-5 * max(1.0, float(np.abs(r).max())), err_msg=name)


def test_same_results_at_1_2_and_3_threads(threads):
    ref = _results(1)
    for n in (2, 3):
        for _ in range(3):
            _compare(ref, _results(n))


def test_same_bits_every_run_beside_a_busy_process(threads):
    # The busy process makes the pool's threads take different chunks on every run; the results
    # must still be bit-identical from run to run at a given thread count (partial sums per fixed
    # block, never per thread), as the same-seed determinism of training promises.
    ref = _results(1)
    hog = subprocess.Popen([sys.executable, "-c", "while 1: pass"])
    try:
        first = _results(2)
        _compare(ref, first)
        for _ in range(4):
            for (name, a), (_, b) in zip(first, _results(2)):
                assert np.array_equal(a, b), f"{name} differs between two 2-thread runs"
    finally:
        hog.kill()
        hog.wait()


def test_workers_take_part(threads):
    threads(2)
    a = np.random.default_rng(1).standard_normal((384, 384)).astype(np.float32)
    _C.parallel_reset_stats()
    # Up to 300 calls until both sides have run a chunk: on a loaded machine the caller, or the
    # worker, can be descheduled through a few dozen calls (seen: 60 pool calls, caller took none).
    for _ in range(300):
        cpu.gemm(a, a)
        s = _C.parallel_stats()
        if s["caller_chunks"] > 0 and s["worker_chunks"] > 0:
            break
    assert s["calls"] > 0 and s["caller_chunks"] > 0, s
    assert s["worker_chunks"] > 0, s


def test_one_thread_never_uses_the_pool(threads):
    threads(1)
    a = np.random.default_rng(1).standard_normal((256, 256)).astype(np.float32)
    _C.parallel_reset_stats()
    cpu.gemm(a, a)
    assert _C.parallel_stats()["calls"] == 0


def _child_gemm(q):
    pyengine.set_num_threads(2)
    a = np.arange(300 * 300, dtype=np.float32).reshape(300, 300) / 9e4
    q.put(float(cpu.gemm(a, a).sum()))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_pool_works_after_fork(threads):
    threads(2)
    a = np.arange(300 * 300, dtype=np.float32).reshape(300, 300) / 9e4
    expected = float(cpu.gemm(a, a).sum())   # the parent's pool is running when it forks
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child_gemm, args=(q,))
    p.start()
    p.join(60)
    assert p.exitcode == 0, "the forked child hung or died in a 2-thread kernel"
    assert q.get(timeout=5) == pytest.approx(expected, rel=1e-6)


def test_spin_knob():
    before = _C.parallel_spin_us()
    try:
        _C.parallel_set_spin_us(0)
        assert _C.parallel_spin_us() == 0
        with pytest.raises(ValueError, match="us must be >= 0"):
            _C.parallel_set_spin_us(-1)
    finally:
        _C.parallel_set_spin_us(before)
