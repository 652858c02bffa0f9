"""Shared fixtures: the CPU instruction sets and the thread counts to run over, and a seeded random
generator."""
import os

import numpy as np
import pytest

import pyengine
from pyengine import _C

CPU_ISAS = list(_C.supported_cpu_isas())
# The kernel and autograd tests run at each of these thread counts (tests/kernels/conftest.py and
# tests/autograd/conftest.py use the fixture for every test), so that a bug in how threads split
# or combine work — a partial sum of one thread dropped — cannot hide behind one thread, nor a
# single-thread path behind two. PYENGINE_TEST_THREADS=1 narrows it for a quick local run.
TEST_THREADS = [int(t) for t in os.environ.get("PYENGINE_TEST_THREADS", "1,2").split(",") if t.strip()]


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(params=CPU_ISAS)
def cpu_isa(request):
    """Runs the test once per instruction set this machine supports, restoring the choice after."""
    before = _C.cpu_isa()
    _C.set_cpu_isa(request.param)
    yield request.param
    _C.set_cpu_isa(before)


@pytest.fixture(params=TEST_THREADS, ids=lambda n: f"{n}thr")
def thread_count(request):
    """Runs the test at each of TEST_THREADS kernel threads, restoring the count after."""
    before = pyengine.get_num_threads()
    pyengine.set_num_threads(request.param)
    yield request.param
    pyengine.set_num_threads(before)
