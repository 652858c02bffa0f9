"""Gradient clipping against its definition (and torch.nn.utils where installed)."""
import numpy as np
import pytest

from pyengine.nn.utils import clip_grad_norm_, clip_grad_value_

from .test_optimizers import P


def _params(rng):
    ps = [P(rng.standard_normal(s)) for s in [(3, 4), (5,)]]
    for p in ps:
        p.set_grad(rng.standard_normal(p._data.shape) * 3)
    return ps


def test_clip_grad_norm_scales_to_max_norm():
    ps = _params(np.random.default_rng(0))
    before = np.sqrt(sum((p.grad._data.astype(np.float64) ** 2).sum() for p in ps))
    total = clip_grad_norm_(ps, 1.0)
    assert total == pytest.approx(before, rel=1e-6)
    after = np.sqrt(sum((p.grad._data.astype(np.float64) ** 2).sum() for p in ps))
    assert after == pytest.approx(1.0, rel=1e-5)


def test_clip_grad_norm_leaves_small_gradients():
    ps = _params(np.random.default_rng(0))
    g = [p.grad._data.copy() for p in ps]
    clip_grad_norm_(ps, 1e6)
    for p, old in zip(ps, g):
        np.testing.assert_array_equal(p.grad._data, old)


def test_clip_matches_torch():
    torch = pytest.importorskip("torch")
    ps = _params(np.random.default_rng(2))
    tp = [torch.nn.Parameter(torch.from_numpy(p._data.copy())) for p in ps]
    for p, t in zip(ps, tp):
        t.grad = torch.from_numpy(p.grad._data.copy())
    for norm in (2.0, 1.0, float("inf")):
        total = clip_grad_norm_(ps, 0.5, norm_type=norm)
        ttotal = torch.nn.utils.clip_grad_norm_(tp, 0.5, norm_type=norm)
        assert total == pytest.approx(float(ttotal), rel=1e-5)
        for p, t in zip(ps, tp):
            np.testing.assert_allclose(p.grad._data, t.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_clip_grad_value_and_errors():
    ps = _params(np.random.default_rng(3))
    clip_grad_value_(ps, 0.25)
    assert all(np.abs(p.grad._data).max() <= 0.25 for p in ps)
    with pytest.raises(ValueError, match="clip_grad_value_: clip_value must be >= 0"):
        clip_grad_value_(ps, -1)
    with pytest.raises(RuntimeError, match="total norm"):
        ps[0].grad._data[0, 0] = np.nan
        clip_grad_norm_(ps, 1.0, error_if_nonfinite=True)
