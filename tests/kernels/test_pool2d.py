"""Pooling beyond the registry: bad arguments never crash, the documented tie/NaN rule, and PyTorch
agreement (ceil_mode, padding, dilation, indices)."""
import numpy as np
import pytest

from pyengine import reference
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
    lambda: _C.max_pool2d_forward(x, (0, 2), (2, 2), (0, 0), (1, 1), False),
    lambda: _C.max_pool2d_forward(x, (2, 2), (0, 2), (0, 0), (1, 1), False),
    lambda: _C.max_pool2d_forward(x, (2, 2), (2, 2), (-1, 0), (1, 1), False),
    lambda: _C.max_pool2d_forward(x, (2, 2), (2, 2), (2, 0), (1, 1), False),
    lambda: _C.max_pool2d_forward(x, (9, 2), (2, 2), (0, 0), (1, 1), False),
    lambda: _C.max_pool2d_forward(x, (2, 2), (1, 1), (1, 1), (5, 5), False),
    lambda: _C.max_pool2d_forward(x, (2, 2), (2, 2), (0, 0), (0, 1), False),
    lambda: _C.max_pool2d_forward(x, (2**40, 2), (2, 2), (0, 0), (1, 1), False),
    lambda: _C.max_pool2d_forward(x[0], (2, 2), (2, 2), (0, 0), (1, 1), False),
    lambda: _C.max_pool2d_forward(x.astype(np.int32), (2, 2), (2, 2), (0, 0), (1, 1), False),
    lambda: _C.max_pool2d_forward(np.ones((1, 0, 4, 4), np.float32), (2, 2), (2, 2), (0, 0), (1, 1), False),
    lambda: _C.max_pool2d_backward_input(g, i + 99, (1, 2, 4, 4)),
    lambda: _C.max_pool2d_backward_input(g, i - 1, (1, 2, 4, 4)),
    lambda: _C.max_pool2d_backward_input(g, i.astype(np.int32), (1, 2, 4, 4)),
    lambda: _C.max_pool2d_backward_input(g, i[:, :1], (1, 2, 4, 4)),
    lambda: _C.max_pool2d_backward_input(g, i, (1, 3, 4, 4)),
    lambda: _C.max_pool2d_backward_input(g, i, (1, 2, -4, 4)),
    lambda: _C.max_pool2d_backward_input(g, i, (1, 2, 2**62, 2**62)),
    lambda: _C.avg_pool2d_backward_input(g, (1, 2, 6, 6), (2, 2), (2, 2), (0, 0), False, True),
    lambda: _C.avg_pool2d_backward_input(g.astype(np.float64)[:, :, :1], (1, 2, 4, 4), (2, 2), (2, 2), (0, 0), False, True),
    lambda: _C.global_avg_pool2d_backward_input(g, (1, 2, 4, 4)),
    lambda: _C.global_avg_pool2d_forward(np.ones((1, 2, 0, 3), np.float32)),
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


@pytest.mark.parametrize("impl_name", ["reference", "cpu"])
def test_max_pool_ties_pick_the_first_maximum_and_nan_wins(impl_name):
    impl = reference if impl_name == "reference" else cpu
    # 8 windows in a row so the vector path runs too; window 0 ties, window 1 has NaN then a larger value
    x = np.zeros((1, 1, 2, 16), np.float32)
    x[0, 0, :, 0:2] = 1.0                       # four equal values: index of the first, (0, 0)
    x[0, 0, 0, 3], x[0, 0, 1, 2] = np.nan, 5.0  # NaN beats the later 5.0
    x[0, 0, 0, 4], x[0, 0, 1, 5] = np.nan, np.nan  # two NaN: PyTorch's scan keeps the last
    y, idx = impl.max_pool2d_forward(x, 2)
    assert idx[0, 0, 0, 0] == 0 and y[0, 0, 0, 0] == 1.0
    assert np.isnan(y[0, 0, 0, 1]) and idx[0, 0, 0, 1] == 3
    assert np.isnan(y[0, 0, 0, 2]) and idx[0, 0, 0, 2] == 16 + 5


def test_against_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(5)
    for shape, k, s, p, d, c in [((2, 3, 28, 28), 2, 2, 0, 1, False), ((2, 3, 9, 11), 3, 2, 1, 1, True),
                                 ((1, 2, 10, 9), 3, 1, 1, 2, False), ((2, 2, 7, 8), (2, 3), (1, 2), (1, 1), 1, True)]:
        x = rng.standard_normal(shape).astype(np.float32)
        x.reshape(-1)[::17] = np.nan
        y, idx = cpu.max_pool2d_forward(x, k, s, p, d, c)
        ty, tidx = F.max_pool2d(torch.from_numpy(x), k, s, p, d, c, return_indices=True)
        np.testing.assert_array_equal(idx, tidx.numpy())
        np.testing.assert_allclose(y, ty.numpy(), rtol=1e-6)
        x = rng.standard_normal(shape).astype(np.float32)
        for cip in (True, False):
            if d == 1:
                tx = torch.from_numpy(x).requires_grad_()
                ty = F.avg_pool2d(tx, k, s, p, c, cip)
                g = torch.randn_like(ty)
                ty.backward(g)
                np.testing.assert_allclose(cpu.avg_pool2d_forward(x, k, s, p, c, cip), ty.detach().numpy(), atol=1e-6)
                np.testing.assert_allclose(cpu.avg_pool2d_backward_input(g.numpy(), x.shape, k, s, p, c, cip),
                                           tx.grad.numpy(), atol=1e-6)
