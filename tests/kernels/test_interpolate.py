"""Resampling kernels beyond the registry: float32 and float64 against torch's upsample kernels on
every ISA (random odd shapes, batch 1, scale factors and sizes, forward and backward), and the
thread count does not change a bit."""
import numpy as np
import pytest

from pyengine import _C, reference
from pyengine.kernels import cpu

CASES = [("nearest", dict(scale_factor=1.37)), ("nearest", dict(size=(29, 5))), ("nearest", dict(scale_factor=2.0)),
         ("nearest-exact", dict(scale_factor=(0.45, 2.2))), ("nearest-exact", dict(size=(3, 40))),
         ("bilinear", dict(scale_factor=1.37)), ("bilinear", dict(size=(29, 5))),
         ("bilinear", dict(scale_factor=(0.6, 3.1))), ("bilinear", dict(size=(29, 5), align_corners=True)),
         ("bilinear", dict(size=(1, 9), align_corners=True))]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(2, 3, 13, 17), (1, 1, 5, 3)])
@pytest.mark.parametrize("mode,kw", CASES)
def test_matches_torch(mode, kw, shape, dtype, cpu_isa):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.interpolate(tx, mode=mode, **kw)
    sf = kw.get("scale_factor")
    sf = None if sf is None else (sf, sf) if isinstance(sf, float) else sf
    ac = kw.get("align_corners", False)
    y = cpu.interpolate_forward(x, tuple(ty.shape[2:]), mode, ac, sf)
    tol = dict(atol=2e-6, rtol=1e-5) if dtype == np.float32 else dict(atol=1e-13, rtol=1e-13)
    np.testing.assert_allclose(y, ty.detach().numpy(), **tol)
    np.testing.assert_allclose(y, reference.interpolate_forward(x, tuple(ty.shape[2:]), mode, ac, sf), **tol)
    g = rng.standard_normal(y.shape).astype(dtype)
    ty.backward(torch.tensor(g))
    gx = cpu.interpolate_backward(g, x.shape, mode, ac, sf)
    tol = dict(atol=1e-5, rtol=1e-5) if dtype == np.float32 else dict(atol=1e-12, rtol=1e-12)
    np.testing.assert_allclose(gx, tx.grad.numpy(), **tol)
    np.testing.assert_allclose(gx, reference.interpolate_backward(g, x.shape, mode, ac, sf), **tol)


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_same_bits_for_any_thread_count(mode):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 7, 33, 29)).astype(np.float32)
    g = rng.standard_normal((4, 7, 71, 50)).astype(np.float32)
    before = _C.get_num_threads()
    try:
        out = []
        for t in (1, 2, 3):
            _C.set_num_threads(t)
            out.append((cpu.interpolate_forward(x, (71, 50), mode), cpu.interpolate_backward(g, x.shape, mode)))
    finally:
        _C.set_num_threads(before)
    for y, gx in out[1:]:
        assert np.array_equal(y, out[0][0]) and np.array_equal(gx, out[0][1])


def test_infinity_stays_infinite_under_nearest():
    x = np.zeros((1, 1, 2, 2), np.float32)
    x[0, 0, 0, 0] = np.inf
    y = cpu.interpolate_forward(x, (4, 4), "nearest")
    assert np.isinf(y[0, 0, :2, :2]).all() and not np.isnan(y).any()
