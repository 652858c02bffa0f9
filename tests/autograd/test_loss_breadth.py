"""The losses added beside the core ones (HuberLoss, SoftMarginLoss, CosineEmbeddingLoss,
MarginRankingLoss, GaussianNLLLoss, PoissonNLLLoss, TripletMarginLoss, MultiLabelSoftMarginLoss) and
F.cosine_similarity / F.pairwise_distance against torch 2.13: every reduction, values and input
gradients in float64 and float32, batch 1, the points where a hinge or the Huber branch switches,
options, and the bad-argument errors. Finite differences: the registry (autograd_nn_breadth)."""
import numpy as np
import pytest

import pyengine as pe
from pyengine import nn

from ops_parity import IndexArg, check, torch

RED = ["none", "mean", "sum"]


def _sign(rng, *shape):
    return rng.choice([-1.0, 1.0], shape)


def _F(M):
    return M.nn.functional


@pytest.mark.parametrize("reduction", RED)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pointwise_losses(reduction, dtype, rng):
    x, t = rng.standard_normal((3, 5)).astype(dtype) * 2, rng.standard_normal((3, 5)).astype(dtype)
    y = _sign(rng, 3, 5).astype(dtype)
    check(lambda M, a, b: _F(M).huber_loss(a, b, reduction=reduction, delta=0.7), x, t)
    check(lambda M, a, b: _F(M).soft_margin_loss(a, b, reduction=reduction), x, IndexArg(y))
    check(lambda M, a, b: _F(M).multilabel_soft_margin_loss(a, b, reduction=reduction), x,
          (rng.random((3, 5)) > 0.5).astype(dtype))
    w = rng.uniform(0.5, 2, 5).astype(dtype)
    check(lambda M, a, b, w: _F(M).multilabel_soft_margin_loss(a, b, weight=w, reduction=reduction), x,
          (rng.random((3, 5)) > 0.5).astype(dtype), w)
    check(lambda M, a, b: _F(M).poisson_nll_loss(a, b, reduction=reduction), x, np.abs(t) * 3)
    tt = np.round(np.abs(t) * 3) + 0.5                # no t = 0: torch's target gradient is NaN there
    check(lambda M, a, b: _F(M).poisson_nll_loss(a, b, log_input=False, full=True, reduction=reduction),
          np.abs(x) + 0.1, tt)


def test_huber_branch_switch_matches_torch():
    x = np.array([-1.0, -0.5, 0.0, 0.5, 1.0, 2.0])
    check(lambda M, a, b: _F(M).huber_loss(a, b, delta=0.5), x, np.zeros(6))
    check(lambda M, a: M.nn.HuberLoss()(a, a * 0), x)


@pytest.mark.parametrize("reduction", RED)
def test_pair_losses(reduction, rng):
    a, b = rng.standard_normal((4, 6)), rng.standard_normal((4, 6))
    y = _sign(rng, 4)
    check(lambda M, a, b, y: _F(M).cosine_embedding_loss(a, b, y, margin=0.2, reduction=reduction), a, b, y)
    check(lambda M, a, b, y: _F(M).margin_ranking_loss(a, b, y, margin=0.3, reduction=reduction),
          a[:, 0], b[:, 0], y)
    check(lambda M, a, p, n: _F(M).triplet_margin_loss(a, p, n, margin=2.0, reduction=reduction), a, b,
          rng.standard_normal((4, 6)))
    check(lambda M, a, p, n: _F(M).triplet_margin_loss(a, p, n, p=1.0, swap=True, reduction=reduction), a, b,
          rng.standard_normal((4, 6)))
    check(lambda M, a, b: _F(M).cosine_embedding_loss(a[0], b[0], M.tensor(1.0, dtype=a.dtype)), a, b)


@pytest.mark.parametrize("reduction", RED)
@pytest.mark.parametrize("var_shape", ["same", "fewer", "last1", "scalar"])
def test_gaussian_nll(reduction, var_shape, rng):
    x, t = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    v = {"same": rng.uniform(0.1, 2, (3, 4)), "fewer": rng.uniform(0.1, 2, 3), "last1": rng.uniform(0.1, 2, (3, 1)),
         "scalar": None}[var_shape]
    if v is None:
        check(lambda M, a, b: _F(M).gaussian_nll_loss(a, b, 0.7, reduction=reduction), x, t)
        return
    v[0, ...] = 1e-9                          # clamped at eps: torch passes the gradient through
    check(lambda M, a, b, s: _F(M).gaussian_nll_loss(a, b, s, full=True, reduction=reduction), x, t, v)


def test_distances(rng):
    a, b = rng.standard_normal((3, 5, 4)), rng.standard_normal((5, 4))
    check(lambda M, a, b: _F(M).cosine_similarity(a, b, dim=-1), a, b)
    check(lambda M, a, b: _F(M).cosine_similarity(a, b, dim=1, eps=0.5), a, b[None] * 0.01)
    check(lambda M, a, b: _F(M).pairwise_distance(a, b, p=3.0, keepdim=True), a, b)
    check(lambda M, a, b: _F(M).pairwise_distance(a, b), a[0], b)


LAYERS = [("HuberLoss", {"delta": 0.5}, 2), ("SoftMarginLoss", {}, 2), ("CosineEmbeddingLoss", {"margin": 0.1}, 3),
          ("MarginRankingLoss", {"margin": 0.5}, 3), ("GaussianNLLLoss", {"full": True}, 3),
          ("PoissonNLLLoss", {"log_input": True, "full": True}, 2), ("TripletMarginLoss", {"swap": True}, 3),
          ("MultiLabelSoftMarginLoss", {}, 2)]


@pytest.mark.parametrize("name,kw,n", LAYERS, ids=[n for n, _, _ in LAYERS])
def test_loss_layers_match_torch(name, kw, n, rng):
    ours, theirs = getattr(nn, name)(**kw), getattr(torch.nn, name)(**kw)
    for k, v in kw.items():
        assert getattr(ours, k) == getattr(theirs, k)
    assert ours.reduction == theirs.reduction == "mean" and ours.state_dict() == {}
    x = rng.standard_normal((4, 3))
    if name in ("CosineEmbeddingLoss", "MarginRankingLoss"):
        args = (x, rng.standard_normal((4, 3)), _sign(rng, 4)) if name[0] == "C" else (x[:, 0], x[:, 1], _sign(rng, 4))
    elif name == "GaussianNLLLoss":
        args = (x, rng.standard_normal((4, 3)), rng.uniform(0.2, 2, (4, 3)))
    elif name == "TripletMarginLoss":
        args = (x, rng.standard_normal((4, 3)), rng.standard_normal((4, 3)))
    elif name == "SoftMarginLoss":
        args = (x, IndexArg(_sign(rng, 4, 3)))          # torch has no gradient for its target
    elif name == "MultiLabelSoftMarginLoss":
        args = (x, (rng.random((4, 3)) > 0.5) * 1.0)
    else:
        args = (x, np.abs(rng.standard_normal((4, 3))) + 0.5)
    check(lambda M, *a: (ours if M is pe else theirs)(*a), *args)


def test_bad_arguments_name_the_argument():
    F = nn.functional
    x = pe.randn(3, 4)
    with pytest.raises(ValueError, match="huber_loss: reduction must be one of"):
        F.huber_loss(x, x, reduction="avg")
    with pytest.raises(ValueError, match="huber_loss: delta must be positive, got 0"):
        F.huber_loss(x, x, delta=0)
    with pytest.raises(ValueError, match=r"huber_loss: input \(3, 4\) and target \(4,\) must have the same shape"):
        F.huber_loss(x, pe.randn(4))
    with pytest.raises(ValueError, match=r"gaussian_nll_loss: var \(2,\) must have input's shape \(3, 4\)"):
        F.gaussian_nll_loss(x, x, pe.ones(2))
    with pytest.raises(ValueError, match="gaussian_nll_loss: var has negative entry"):
        F.gaussian_nll_loss(x, x, -pe.ones(3, 4))
    with pytest.raises(ValueError, match="triplet_margin_loss: margin must be greater than 0, got 0"):
        F.triplet_margin_loss(x, x, x, margin=0)
    with pytest.raises(ValueError, match=r"triplet_margin_loss: anchor, positive and negative must all be \(N, D\)"):
        F.triplet_margin_loss(x, x, pe.randn(4))
    with pytest.raises(ValueError, match=r"cosine_embedding_loss: target must have shape \(3,\), got \(4,\)"):
        F.cosine_embedding_loss(x, x, pe.ones(4))
    with pytest.raises(ValueError, match=r"cosine_similarity: x1 \(3, 4\) and x2 \(2, 4\) cannot be broadcast"):
        F.cosine_similarity(x, pe.randn(2, 4))
    with pytest.raises(TypeError, match="margin_ranking_loss: input2 must be a pyengine.Tensor, got list"):
        F.margin_ranking_loss(x, [1.0], x)
