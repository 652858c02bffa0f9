"""The Python side of kernels.cuda over the whole op registry on a stand-in GPU (fake_gpu.py): NumPy
models of the bindings that check their arguments like the real ones. Runs on every machine; it
catches wrapper mistakes (wrong buffer, shape, flag or call order) that would otherwise wait for a
GPU. Parity, gradients and error inputs, as in the GPU tests."""
import re
import sys

import numpy as np
import pytest

from pyengine import reference
from pyengine.testing.gradcheck import compare_grads, numeric_vjp
from pyengine.testing.registry import all_ops, to_float64

from cuda_support import HostCuda
from fake_gpu import make_cuda, make_cupy
from kernels.helpers import assert_close

OPS = all_ops()


@pytest.fixture
def fake_gpu(monkeypatch):
    from pyengine.kernels.cuda import _ext
    cp = make_cupy()
    monkeypatch.setitem(sys.modules, "cupy", cp)
    monkeypatch.setattr(_ext, "_cupy", cp)
    monkeypatch.setattr(_ext, "_cuda", make_cuda())
    return HostCuda()


def _params():
    for op in OPS:
        for dt in op.dtypes:
            yield pytest.param(op, dt, id=f"{op.name}-{dt.name}")


@pytest.mark.parametrize("op,dtype", list(_params()))
def test_fake_gpu_matches_reference(op, dtype, fake_gpu):
    atol, rtol = op.tol[dtype]
    for s in op.samples(np.random.default_rng(7), dtype):
        got = op.comparable(op.run(fake_gpu, s))
        want = op.comparable(op.run(reference, type(s)(to_float64(s.args), to_float64(s.kwargs), s.desc)))
        assert len(got) == len(want), f"{op.name} [{s.desc}]"
        for i, (g, w) in enumerate(zip(got, want)):
            if w.dtype.kind == "f":
                assert g.dtype == dtype, f"{op.name} [{s.desc}] output {i}: dtype {g.dtype}"
            assert_close(g, w, atol, rtol, f"{op.name} [{s.desc}] output {i} (fake gpu)")


@pytest.mark.parametrize("op", [op for op in OPS if op.grad is not None], ids=lambda op: op.name)
def test_fake_gpu_gradients(op, fake_gpu):
    rng = np.random.default_rng(11)
    spec = op.grad
    for s in spec.inputs(rng):
        xs = list(s.args)
        float_idx = [i for i, x in enumerate(xs) if isinstance(x, np.ndarray) and x.dtype.kind == "f"]
        y = np.asarray(spec.forward(fake_gpu, *xs))
        g = rng.standard_normal(y.shape)
        analytic = spec.vjp(fake_gpu, g, *xs)
        numeric = numeric_vjp(lambda *a: spec.forward(reference, *a), xs, g, float_idx)
        compare_grads(analytic, numeric, [f"{op.name} [{s.desc}] input {i}" for i in float_idx], *spec.tol)


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_fake_gpu_error_inputs(op, fake_gpu):
    for case in op.error_inputs(np.random.default_rng(3)):
        if any(isinstance(a, np.ndarray) and not a.flags.writeable for a in case.args):
            continue  # read-only is a host-memory notion: CuPy arrays are always writeable
        with pytest.raises(case.error) as info:
            getattr(fake_gpu, op.name)(*case.args, **case.kwargs)
        assert re.search(case.match, str(info.value)), (
            f"{op.name} [{case.desc}]: message {str(info.value)!r} does not match {case.match!r}")
