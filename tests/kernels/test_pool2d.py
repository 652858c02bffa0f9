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


# The uint8 window-tap form of the indices (what the CPU autograd saves): the same maxima, the same
# first-maximum/NaN rule, and a backward equal to the flat one on every geometry of the registry.
WINDOW_CASES = [
    ((2, 5, 28, 28), 2, 2, 0, 1, False),      # 2x2/2 vector path
    ((1, 2, 17, 33), 2, 2, 0, 1, False),      # odd sizes: a last row and column in no window
    ((2, 3, 6, 20), 2, None, 0, 1, False),    # a row of 10 outputs (the overlapping last chunk)
    ((1, 3, 7, 7), 2, 2, 0, 1, False),        # OW < 8: the scalar 2x2 loop
    ((2, 17, 9, 13), 3, 2, 1, 1, False),      # 3x3/2 pad 1
    ((2, 3, 11, 11), 3, 2, 1, 1, True),       # ceil_mode with padding
    ((2, 3, 8, 9), 2, 2, 0, 1, True),         # 2x2/2 ceil_mode: a clipped last window
    ((2, 3, 10, 11), 3, 1, 1, 2, False),      # dilation 2
    ((2, 3, 6, 20), (2, 3), (1, 2), (1, 0), (2, 1), False),
    ((1, 1, 40, 40), 16, 8, 8, 1, False),     # 256 taps, the most uint8 holds
    ((0, 3, 8, 8), 2, 2, 0, 1, False),        # empty batch
]


@pytest.mark.parametrize("case", WINDOW_CASES, ids=[str(c) for c in WINDOW_CASES])
@pytest.mark.parametrize("data", ["random", "ties"])
def test_window_indices_match_the_flat_ones_and_the_reference(case, data):
    shape, k, s, p, d, c = case
    rng = np.random.default_rng(7)
    x = rng.integers(0, 3, size=shape).astype(np.float32) if data == "ties" else \
        rng.standard_normal(shape).astype(np.float32)
    if data == "ties" and x.size:
        x.reshape(-1)[rng.choice(x.size, size=max(1, x.size // 30), replace=False)] = np.nan
    y, flat = cpu.max_pool2d_forward(x, k, s, p, d, c)
    yt, taps = cpu.max_pool2d_forward(x, k, s, p, d, c, window_indices=True)
    ry, rtaps = reference.max_pool2d_forward(x, k, s, p, d, c, window_indices=True)
    assert taps.dtype == np.uint8 and taps.shape == flat.shape
    np.testing.assert_array_equal(yt, y)
    np.testing.assert_array_equal(taps, rtaps)
    gy = rng.standard_normal(y.shape).astype(np.float32)
    want = cpu.max_pool2d_backward_input(gy, flat, shape)
    got = cpu.max_pool2d_backward_input(gy, taps, shape, k, s, p, d, c)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(reference.max_pool2d_backward_input(gy, rtaps, shape, k, s, p, d, c),
                                  reference.max_pool2d_backward_input(gy, flat, shape))


def test_window_indices_out_of_place_are_refused():
    """A tap past the window, or one on the padding, is an error (as a flat index outside the plane)."""
    x = np.random.default_rng(1).standard_normal((1, 2, 5, 5)).astype(np.float32)
    y, taps = cpu.max_pool2d_forward(x, 3, 2, 1, window_indices=True)
    g = np.ones_like(y)
    for bad in (taps + 9, np.zeros_like(taps)):   # tap 9 of a 3x3 window; tap 0 of output (0, 0) is padding
        for impl in (cpu, reference):
            with pytest.raises(ValueError, match="window indices must be taps in"):
                impl.max_pool2d_backward_input(g, bad, x.shape, 3, 2, 1)


def test_autograd_saves_taps_and_return_indices_stays_int64():
    """The training path keeps uint8 taps; return_indices gives PyTorch's int64 flat indices and the
    same gradient."""
    import pyengine as pe
    import pyengine.nn.functional as F
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x = rng.integers(0, 4, size=(2, 3, 9, 11)).astype(np.float32)   # ties
    gy = rng.standard_normal((2, 3, 5, 6)).astype(np.float32)
    for return_indices in (False, True):
        px = pe.tensor(x, requires_grad=True)
        out = F.max_pool2d(px, 3, 2, 1, ceil_mode=True, return_indices=return_indices)
        y = out[0] if return_indices else out
        saved = y._grad_fn.idx
        assert saved.dtype == (np.int64 if return_indices else np.uint8)
        y.backward(pe.tensor(gy))
        tx = torch.from_numpy(x).requires_grad_(True)
        ty, ti = torch.nn.functional.max_pool2d(tx, 3, 2, 1, ceil_mode=True, return_indices=True)
        ty.backward(torch.from_numpy(gy))
        np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
        np.testing.assert_array_equal(px.grad.numpy(), tx.grad.numpy())
        if return_indices:
            assert out[1].numpy().dtype == np.int64
            np.testing.assert_array_equal(out[1].numpy(), ti.numpy())
