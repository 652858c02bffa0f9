"""Batch norm beyond the registry: bad arguments never crash, running statistics updated through a view,
and PyTorch agreement in training and eval."""
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
