"""Group-norm kernels beyond the registry: float32 and float64 against torch's group_norm and
instance_norm on every ISA (forward, input, weight and bias gradients), and the thread count does
not change a bit."""
import numpy as np
import pytest

from pyengine import _C
from pyengine.kernels import cpu


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,G", [((2, 6, 5, 7), 3), ((3, 4, 9), 4), ((1, 8, 3, 3, 3), 2), ((4, 32, 16, 16), 8),
                                     ((2, 5, 3), 5)])
def test_matches_torch(shape, G, dtype, cpu_isa):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    C = shape[1]
    x = (rng.standard_normal(shape) * 3 + 2).astype(dtype)
    w, b = rng.standard_normal(C).astype(dtype), rng.standard_normal(C).astype(dtype)
    tx, tw, tb = (torch.tensor(v, requires_grad=True) for v in (x, w, b))
    ty = torch.nn.functional.group_norm(tx, G, tw, tb, 1e-5)
    y, mean, rstd = cpu.group_norm_forward(x, G, w, b, 1e-5)
    tol = dict(rtol=2e-5, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(y, ty.detach().numpy(), **tol)
    g = rng.standard_normal(shape).astype(dtype)
    ty.backward(torch.tensor(g))
    gx, gw, gb = cpu.group_norm_backward(g, x, mean, rstd, G, w)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    for ours, theirs in ((gx, tx.grad), (gw, tw.grad), (gb, tb.grad)):
        np.testing.assert_allclose(ours, theirs.numpy(), **tol)


def test_instance_norm_is_group_norm_with_one_channel_per_group():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(1).standard_normal((3, 5, 7, 6))
    y, _, _ = cpu.group_norm_forward(x, 5)
    np.testing.assert_allclose(y, torch.nn.functional.instance_norm(torch.tensor(x)).numpy(), rtol=1e-12, atol=1e-12)


def test_same_bits_for_any_thread_count():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, 16, 20, 20)).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    w = rng.standard_normal(16).astype(np.float32)
    before = _C.get_num_threads()
    try:
        out = []
        for t in (1, 2, 3):
            _C.set_num_threads(t)
            y, m, r = cpu.group_norm_forward(x, 4, w, w)
            out.append((y, m, r) + tuple(cpu.group_norm_backward(g, x, m, r, 4, w)))
    finally:
        _C.set_num_threads(before)
    for got in out[1:]:
        assert all(np.array_equal(a, b) for a, b in zip(got, out[0]))
