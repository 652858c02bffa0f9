"""Adaptive max-pooling kernels beyond the registry: float32 and float64 against torch's
adaptive_max_pool2d on every ISA (values, int64 indices, the gradient with overlapping bins, ties and
NaN), and the thread count does not change a bit."""
import numpy as np
import pytest

from pyengine import _C, reference
from pyengine.kernels import cpu


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,size", [((2, 3, 30, 30), (7, 7)), ((1, 5, 13, 17), (4, 6)), ((3, 2, 5, 40), (9, 3)),
                                        ((2, 4, 8, 8), (8, 8)), ((1, 1, 3, 2), (5, 7))])
def test_matches_torch(shape, size, dtype, cpu_isa):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.integers(-3, 4, size=shape).astype(dtype)   # many ties
    x.reshape(-1)[rng.choice(x.size, x.size // 30, replace=False)] = np.nan
    tx = torch.tensor(x, requires_grad=True)
    ty, ti = torch.nn.functional.adaptive_max_pool2d(tx, size, return_indices=True)
    y, idx = cpu.adaptive_max_pool2d_forward(x, size)
    np.testing.assert_array_equal(y, ty.detach().numpy())
    np.testing.assert_array_equal(idx, ti.numpy())
    g = rng.standard_normal(y.shape).astype(dtype)
    ty.backward(torch.tensor(g))
    gx = cpu.adaptive_max_pool2d_backward_input(g, idx, x.shape)
    np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(gx, reference.adaptive_max_pool2d_backward_input(g, idx, x.shape), rtol=1e-6, atol=1e-6)


def test_same_bits_for_any_thread_count():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((8, 16, 33, 29)).astype(np.float32)
    g = rng.standard_normal((8, 16, 6, 5)).astype(np.float32)
    before = _C.get_num_threads()
    try:
        out = []
        for t in (1, 2, 3):
            _C.set_num_threads(t)
            y, idx = cpu.adaptive_max_pool2d_forward(x, (6, 5))
            out.append((y, idx, cpu.adaptive_max_pool2d_backward_input(g, idx, x.shape)))
    finally:
        _C.set_num_threads(before)
    for got in out[1:]:
        assert all(np.array_equal(a, b) for a, b in zip(got, out[0]))
