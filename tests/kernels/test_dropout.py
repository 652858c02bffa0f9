"""Dropout beyond the registry: bad arguments never crash, the mask does not depend on the thread
count, and the output is x·mask/(1 − p)."""
import numpy as np
import pytest

import pyengine
from pyengine.kernels import cpu

from support import run_python

BAD_CALLS = r'''
import numpy as np
from pyengine import _C
x = np.ones((1, 2, 4, 4), np.float32)
g = np.ones((1, 2, 2, 2), np.float32)
i = np.zeros((1, 2, 2, 2), np.int64)
v = np.ones(2, np.float32)
calls = [
    lambda: _C.dropout_forward(x, 1.0, 0),
    lambda: _C.dropout_forward(x, float("nan"), 0),
    lambda: _C.dropout_forward(x, 0.5, -1),
    lambda: _C.dropout_forward(x.astype(np.int64), 0.5, 0),
    lambda: _C.dropout_backward(x, np.ones((1, 2, 4, 4), bool), 0.5),
    lambda: _C.dropout_backward(x, np.ones((1, 2, 4), np.uint8), 0.5),
]
for k, call in enumerate(calls):
    try:
        call()
    except (ValueError, TypeError, MemoryError):
        continue
    raise SystemExit(f"call {k} did not raise")
print("all raised")
'''


def test_bad_arguments_raise_and_never_crash():
    """Called in a fresh process, so that a crash fails this test instead of killing the suite."""
    r = run_python(code=BAD_CALLS)
    assert r.returncode == 0 and "all raised" in r.stdout, (r.returncode, r.stdout, r.stderr[-2000:])


def test_dropout_mask_does_not_depend_on_the_thread_count():
    x = np.ones(200_003, np.float32)
    before = pyengine.get_num_threads()
    try:
        pyengine.set_num_threads(1)
        _, m1 = cpu.dropout_forward(x, 0.3, 2024)
        pyengine.set_num_threads(2)
        _, m2 = cpu.dropout_forward(x, 0.3, 2024)
    finally:
        pyengine.set_num_threads(before)
    np.testing.assert_array_equal(m1, m2)
    assert abs(m1.mean() - 0.7) < 0.005
    _, m3 = cpu.dropout_forward(x, 0.3, 2025)
    assert (m1 != m3).mean() > 0.3, "another seed must give another mask"


def test_output_is_the_masked_input_scaled():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1000, 100)).astype(np.float32)
    y, mask = cpu.dropout_forward(x, 0.25, 3)
    np.testing.assert_allclose(y, x * mask / np.float32(0.75), rtol=1e-6)
    assert abs(mask.mean() - 0.75) < 0.01
