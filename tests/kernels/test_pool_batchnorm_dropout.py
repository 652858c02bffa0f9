"""Pooling, batch norm and dropout beyond the registry: direct _C calls with bad arguments never crash,
the documented tie/NaN rules, dropout's mask independent of the thread count, and PyTorch agreement."""
import numpy as np
import pytest

import pyengine
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
    lambda: _C.max_pool2d_forward(x[:, :, ::2], (2, 2), (2, 2), (0, 0), (1, 1), False),
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
    lambda: _C.batch_norm_forward(x, np.ones(3, np.float32), None, None, None, True, 0.1, 1e-5),
    lambda: _C.batch_norm_forward(x, v, v, v.copy(), None, True, 0.1, 1e-5),
    lambda: _C.batch_norm_forward(x, v, v, None, None, False, 0.1, 1e-5),
    lambda: _C.batch_norm_forward(x[:1, :, :1, :1], v, v, None, None, True, 0.1, 1e-5),
    lambda: _C.batch_norm_forward(x, v.astype(np.float64), v, None, None, True, 0.1, 1e-5),
    lambda: _C.batch_norm_forward(x, v, v, None, None, True, float("nan"), 1e-5),
    lambda: _C.batch_norm_forward(x[0], v, v, None, None, True, 0.1, 1e-5),
    lambda: _C.batch_norm_forward(x, "w", v, None, None, True, 0.1, 1e-5),
    lambda: _C.batch_norm_backward(x, x, v, v, None, True, (True, True, True)),
    lambda: _C.batch_norm_backward(x[:, :1], x, v, v, v, True, (True, True, True)),
    lambda: _C.batch_norm_backward(x, x, v, v[:1], v, True, (True, True, True)),
    lambda: _C.dropout_forward(x, 1.0, 0),
    lambda: _C.dropout_forward(x, float("nan"), 0),
    lambda: _C.dropout_forward(x, 0.5, -1),
    lambda: _C.dropout_forward(x.astype(np.int64), 0.5, 0),
    lambda: _C.dropout_forward(x[:, :, ::2], 0.5, 0),
    lambda: _C.dropout_backward(x, np.ones((1, 2, 4, 4), bool), 0.5),
    lambda: _C.dropout_backward(x, np.ones((1, 2, 4), np.uint8), 0.5),
]
for k, call in enumerate(calls):
    try:
        call()
    except (ValueError, TypeError, MemoryError):
        continue
    raise SystemExit(f"call {k} did not raise")
print("all raised")
'''


def test_direct_binding_calls_with_bad_arguments_raise_and_never_crash():
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


def test_dropout_mask_does_not_depend_on_the_thread_count():
    x = np.ones(200_003, np.float32)
    before = pyengine.get_num_threads()
    try:
        pyengine.set_num_threads(1)
        _, m1 = cpu.dropout_forward(x, 0.3, 2024)
        pyengine.set_num_threads(2)
        _, m2 = cpu.dropout_forward(x, 0.3, 2024)
    finally:
        pyengine.set_num_threads(before)
    np.testing.assert_array_equal(m1, m2)
    assert abs(m1.mean() - 0.7) < 0.005
    _, m3 = cpu.dropout_forward(x, 0.3, 2025)
    assert (m1 != m3).mean() > 0.3, "another seed must give another mask"


def test_batch_norm_running_stats_update_through_a_view():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 3, 2, 2)).astype(np.float32)
    base_cpu = np.ones((3, 2), np.float32)
    base_ref = base_cpu.copy()
    cpu.batch_norm_forward(x, None, None, base_cpu[:, 0], base_cpu[:, 1], True)
    reference.batch_norm_forward(x, None, None, base_ref[:, 0], base_ref[:, 1], True)
    np.testing.assert_allclose(base_cpu, base_ref, rtol=1e-6)
    assert not np.allclose(base_cpu, 1.0)


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
    for shape in [(8, 5), (4, 5, 3, 3)]:
        x = rng.standard_normal(shape).astype(np.float32) * 3 + 2
        w, b = rng.standard_normal(5).astype(np.float32), rng.standard_normal(5).astype(np.float32)
        rm, rv = np.zeros(5, np.float32), np.ones(5, np.float32)
        trm, trv = torch.zeros(5), torch.ones(5)
        for training in (True, False):
            tx = torch.from_numpy(x).requires_grad_()
            tw, tb = torch.from_numpy(w).requires_grad_(), torch.from_numpy(b).requires_grad_()
            ty = F.batch_norm(tx, trm, trv, tw, tb, training, 0.1, 1e-5)
            g = torch.randn_like(ty)
            ty.backward(g)
            y, mean, invstd = cpu.batch_norm_forward(x, w, b, rm, rv, training)
            np.testing.assert_allclose(y, ty.detach().numpy(), atol=1e-5)
            np.testing.assert_allclose(rm, trm.numpy(), atol=1e-6)
            np.testing.assert_allclose(rv, trv.numpy(), atol=1e-6)
            gx, gw, gb = cpu.batch_norm_backward(g.numpy(), x, w, mean, invstd, training)
            np.testing.assert_allclose(gx, tx.grad.numpy(), atol=1e-5)
            np.testing.assert_allclose(gw, tw.grad.numpy(), atol=1e-4)
            np.testing.assert_allclose(gb, tb.grad.numpy(), atol=1e-4)
    x = rng.standard_normal((1000, 100)).astype(np.float32)
    y, mask = cpu.dropout_forward(x, 0.25, 3)
    np.testing.assert_allclose(y, x * mask / np.float32(0.75), rtol=1e-6)
    assert abs(mask.mean() - 0.75) < 0.01
