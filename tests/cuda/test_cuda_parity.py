"""kernels.cuda against the NumPy reference for every registered op and dtype (GPU only).

The same samples, tolerances and outputs as the CPU parity test (tests/kernels/test_parity.py);
arrays go to the device through HostCuda, which also poisons every output buffer so an unwritten
element fails. TF32 runs separately with a tolerance fit for its 10-bit mantissa.
"""
import os

import numpy as np
import pytest

from pyengine import reference
from pyengine.testing.registry import all_ops, to_float64

from cuda_support import HostCuda, requires_gpu, spread
from kernels.helpers import assert_close

pytestmark = [requires_gpu, pytest.mark.cuda]

OPS = all_ops()


def _params():
    for op in OPS:
        for dt in op.dtypes:
            yield pytest.param(op, dt, id=f"{op.name}-{dt.name}")


def _compare(op, dtype, impl, atol, rtol, label):
    samples = op.samples(np.random.default_rng(7), dtype)
    assert samples, f"{op.name} has no samples"
    samples = spread(samples, os.environ.get("PYENGINE_CUDA_SAMPLES"))
    for s in samples:
        got = op.comparable(op.run(impl, s))
        want = op.comparable(op.run(reference, type(s)(to_float64(s.args), to_float64(s.kwargs), s.desc)))
        assert len(got) == len(want), f"{op.name} [{s.desc}]: {len(got)} outputs, reference has {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            if w.dtype.kind == "f":
                assert g.dtype == dtype, f"{op.name} [{s.desc}] output {i}: dtype {g.dtype}, expected {dtype}"
            assert_close(g, w, atol, rtol, f"{op.name} [{s.desc}] output {i} ({label})")


@pytest.mark.parametrize("op,dtype", list(_params()))
def test_cuda_matches_reference(op, dtype):
    atol, rtol = op.tol[dtype]
    _compare(op, dtype, HostCuda(), atol, rtol, "cuda")


TF32_OPS = [op for op in OPS if op.name in ("gemm", "linear_forward", "conv2d_forward", "conv2d_backward_input",
                                            "conv2d_backward_weight")]


@pytest.mark.parametrize("op", TF32_OPS, ids=lambda op: op.name)
def test_cuda_tf32_matches_reference_loosely(op, monkeypatch):
    import pyengine.backends.cuda as backend
    monkeypatch.setattr(backend, "allow_tf32", True)
    # TF32 keeps 10 mantissa bits: about 1e-3 relative per product, sums of hundreds of terms
    _compare(op, np.dtype(np.float32), HostCuda(), 5e-2, 2e-2, "cuda tf32")
