"""Numerical promises of the softmax and activation kernels that parity alone does not state."""
import numpy as np
import pytest

from pyengine import reference
from pyengine.kernels import cpu

IMPLS = [pytest.param(reference, id="reference"), pytest.param(cpu, id="cpu")]
DTYPES = [np.float32, np.float64]


def _float64_log_softmax(x, axis):
    v = x.astype(np.float64)
    z = v - v.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", [-1, 0])
def test_log_softmax_is_stable_for_logits_of_1e4(impl, dtype, axis, cpu_isa):
    rng = np.random.default_rng(0)
    x = (1e4 * rng.choice([-1.0, 1.0], (9, 13)) + rng.standard_normal((9, 13))).astype(dtype)
    y = impl.log_softmax_forward(x, axis)
    p = impl.softmax_forward(x, axis)
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(p))
    want = _float64_log_softmax(x, axis)
    np.testing.assert_allclose(y, want, rtol=1e-6, atol=1e-3 if dtype == np.float32 else 1e-9)
    np.testing.assert_allclose(p.sum(axis=axis), 1.0, rtol=1e-5)
    loss = impl.cross_entropy_forward(x if axis == -1 else x.T.copy(), np.zeros(x.shape[axis == 0], np.int64), "none")
    assert np.all(np.isfinite(loss)) and np.all(loss >= 0)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_and_tanh_saturate_without_overflow(impl, dtype, cpu_isa):
    x = np.array([-1e4, -800.0, -100.0, 100.0, 800.0, 1e4], dtype)
    with np.errstate(over="raise", invalid="raise"):
        s = impl.sigmoid_forward(x)
        t = impl.tanh_forward(x)
    assert s.dtype == dtype and t.dtype == dtype
    np.testing.assert_allclose(s, [0, 0, 0, 1, 1, 1], rtol=0, atol=1e-30)   # sigmoid(−100) ≈ 3.7e-44
    np.testing.assert_array_equal(t, np.array([-1, -1, -1, 1, 1, 1], dtype))


@pytest.mark.parametrize("impl", IMPLS)
def test_cross_entropy_of_an_empty_batch(impl):
    logits, target = np.zeros((0, 4), np.float32), np.zeros(0, np.int64)
    assert np.isnan(impl.cross_entropy_forward(logits, target, "mean"))
    assert impl.cross_entropy_forward(logits, target, "sum") == 0
    assert impl.cross_entropy_forward(logits, target, "none").shape == (0,)
    assert impl.cross_entropy_backward(np.ones((), np.float32), logits, target, "mean").shape == (0, 4)


@pytest.mark.parametrize("impl", IMPLS)
def test_cross_entropy_output_shapes_and_dtypes(impl):
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((5, 3)).astype(np.float32)
    target = np.array([0, 2, 1, 1, 0], np.int64)
    mean = impl.cross_entropy_forward(logits, target)
    assert mean.shape == () and mean.dtype == np.float32
    none = impl.cross_entropy_forward(logits, target, "none")
    np.testing.assert_allclose(none.mean(), mean, rtol=1e-6)
    np.testing.assert_allclose(impl.cross_entropy_forward(logits, target, "sum"), none.sum(), rtol=1e-6)


def test_views_are_read_in_place_of_a_copy_by_the_binding():
    """The binding accepts non-contiguous input (it copies it to C order): same result as contiguous."""
    rng = np.random.default_rng(2)
    wide = rng.standard_normal((6, 20)).astype(np.float32)
    view = wide[:, ::2]
    assert not view.flags.c_contiguous
    np.testing.assert_array_equal(cpu.softmax_forward(view, 0), cpu.softmax_forward(np.ascontiguousarray(view), 0))
    np.testing.assert_array_equal(cpu.relu_forward(view), np.maximum(view, 0))
    t = np.array([0, 3, 1, 2, 9, 4, 5, 6, 7, 8, 0, 1], np.int64)[::2]   # a strided view of targets
    np.testing.assert_array_equal(cpu.cross_entropy_forward(wide[:, :10], t, "none"),
                                  cpu.cross_entropy_forward(wide[:, :10].copy(), t.copy(), "none"))
