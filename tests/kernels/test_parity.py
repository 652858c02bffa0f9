"""kernels.cpu against the NumPy reference for every registered op, dtype and CPU instruction set."""
import numpy as np
import pytest

from pyengine import reference
from pyengine.kernels import cpu
from pyengine.testing.registry import all_ops, to_float64

from .helpers import assert_close

OPS = all_ops()


def _params():
    for op in OPS:
        for dt in op.dtypes:
            yield pytest.param(op, dt, id=f"{op.name}-{dt.name}")


@pytest.mark.parametrize("op,dtype", list(_params()))
def test_cpu_matches_reference(op, dtype, cpu_isa):
    rng = np.random.default_rng(7)
    samples = op.samples(rng, dtype)
    assert samples, f"{op.name} has no samples"
    atol, rtol = op.tol[dtype]
    for s in samples:
        got = op.comparable(op.run(cpu, s))
        want = op.comparable(op.run(reference, type(s)(to_float64(s.args), to_float64(s.kwargs), s.desc)))
        assert len(got) == len(want), f"{op.name} [{s.desc}]: {len(got)} outputs, reference has {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            if w.dtype.kind == "f":
                assert g.dtype == dtype, f"{op.name} [{s.desc}] output {i}: dtype {g.dtype}, expected {dtype}"
            assert_close(g, w, atol, rtol, f"{op.name} [{s.desc}] output {i} ({cpu_isa})")
