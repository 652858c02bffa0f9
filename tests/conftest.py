"""Shared fixtures: the CPU instruction sets to run over, and a seeded random generator."""
import numpy as np
import pytest

from pyengine import _C

CPU_ISAS = list(_C.supported_cpu_isas())


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
