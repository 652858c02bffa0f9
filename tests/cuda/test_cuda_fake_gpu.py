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


# The runtime queries of pyengine._cuda; every other function is a kernel binding the fake must model.
RUNTIME = {"device_count", "is_available", "last_error", "runtime_version", "driver_version", "device_name",
           "compute_capability", "total_memory", "built_architectures", "synchronize",
           "dropout_keep_host"}  # the host copy of the dropout draw, checked against the reference elsewhere


def _functions(mod):
    return {n for n in dir(mod) if not n.startswith("_") and callable(getattr(mod, n))}


def _arity(fn) -> int:
    """Number of parameters in a pybind11 function's signature line, `name(a: T, b: U[V, W]) -> R`."""
    sig = (fn.__doc__ or "").splitlines()[0]
    inner = sig[sig.index("(") + 1:sig.rindex(")")]
    if not inner.strip():
        return 0
    depth, count = 0, 1
    for ch in inner:
        depth += ch in "[("
        depth -= ch in "])"
        count += ch == "," and depth == 0
    return count


def test_fake_gpu_reaches_every_binding(monkeypatch):
    """Running every registry op (samples, both dtypes, gradient specs) through kernels.cuda on the fake
    GPU calls every binding the fake models: no kernel family is left to the GPU machine alone."""
    import inspect

    from pyengine.kernels.cuda import _ext
    cp, fake = make_cupy(), make_cuda()
    called = set()
    for name in _functions(fake) - {"device_count", "last_error"}:
        def counted(*a, _f=getattr(fake, name), _n=name, **k):
            called.add(_n)
            return _f(*a, **k)
        counted.__signature__ = inspect.signature(getattr(fake, name))
        setattr(fake, name, counted)
    monkeypatch.setitem(sys.modules, "cupy", cp)
    monkeypatch.setattr(_ext, "_cupy", cp)
    monkeypatch.setattr(_ext, "_cuda", fake)
    impl = HostCuda()
    rng = np.random.default_rng(5)
    for op in OPS:
        for dt in op.dtypes:
            for s in op.samples(rng, dt):
                op.run(impl, s)
        if op.grad is not None:
            for s in op.grad.inputs(rng):
                op.grad.forward(impl, *s.args)
    kernels = _functions(fake) - {"device_count", "last_error"}
    assert kernels - called == set(), f"bindings no registry op reaches: {sorted(kernels - called)}"


def test_fake_bindings_match_the_real_module():
    """The fake models the real pyengine._cuda: the same kernel bindings with the same number of
    arguments (the module imports without a GPU; its signatures come from pybind11)."""
    import inspect
    real = pytest.importorskip("pyengine._cuda")
    fake = make_cuda()
    real_k = _functions(real) - RUNTIME
    fake_k = _functions(fake) - RUNTIME
    assert real_k == fake_k, (f"only in pyengine._cuda: {sorted(real_k - fake_k)}; "
                              f"only in the fake: {sorted(fake_k - real_k)}")
    wrong = {n: (_arity(getattr(real, n)), len(inspect.signature(getattr(fake, n)).parameters)) for n in real_k}
    wrong = {n: v for n, v in wrong.items() if v[0] != v[1]}
    assert not wrong, f"(real, fake) argument counts differ: {wrong}"


def test_fake_conv_plan_matches_the_binding():
    """conv2d_plan (which needs no GPU) against the fake's model of it: the chunk, the workspace size and
    the output size for pointwise, direct and im2col convolutions under several workspace budgets."""
    real = pytest.importorskip("pyengine._cuda")
    fake = make_cuda()
    geometries = [  # x shape, w shape, stride, padding, dilation, groups
        ((2, 3, 9, 7), (4, 3, 3, 3), (1, 1), (1, 1), (1, 1), 1),      # direct forward (27 taps)
        ((5, 4, 11, 9), (6, 4, 3, 3), (2, 1), (1, 0), (1, 2), 1),     # im2col (36 taps), strided, dilated
        ((3, 8, 6, 6), (8, 1, 3, 3), (1, 1), (1, 1), (1, 1), 8),      # depthwise
        ((4, 6, 5, 5), (9, 2, 5, 5), (1, 1), (2, 2), (1, 1), 3),      # grouped, 50 taps
        ((7, 16, 4, 4), (8, 16, 1, 1), (1, 1), (0, 0), (1, 1), 1),    # pointwise: no columns
        ((7, 16, 4, 4), (8, 16, 1, 1), (2, 2), (0, 0), (1, 1), 1),    # 1x1 strided: columns
        ((0, 16, 5, 5), (8, 16, 3, 3), (1, 1), (1, 1), (1, 1), 1),    # empty batch
        ((1, 64, 56, 56), (64, 64, 3, 3), (1, 1), (1, 1), (1, 1), 1),  # a ResNet layer, one image
    ]
    for xs, ws, st, pad, dil, groups in geometries:
        per = xs[1] * ws[2] * ws[3]
        for budget in (1, per * 5, per * 1000, 1 << 26):
            for forward in (True, False):
                args = (list(xs), list(ws), st, pad, dil, groups, budget, forward)
                assert tuple(real.conv2d_plan(*args)) == tuple(fake.conv2d_plan(*args)), args
