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


# ---- MultiLabelMarginLoss

def _ml_targets(rng, n, c):
    """Per row: a few distinct or repeated labels, then −1 and arbitrary values after it (ignored)."""
    t = rng.integers(0, c, (n, c))
    for i in range(n):
        k = rng.integers(0, c + 1)
        if k < c:
            t[i, k] = -1
    return t


@pytest.mark.parametrize("reduction", RED)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_multilabel_margin_loss_matches_torch(reduction, dtype, rng):
    for n, c in ((5, 7), (1, 3), (4, 1)):
        x = rng.standard_normal((n, c)).astype(dtype) * 1.5
        t = _ml_targets(rng, n, c)
        if c > 1:
            t[0, :2] = c - 1                            # a label given twice counts twice
        check(lambda M, a, b: _F(M).multilabel_margin_loss(a, b, reduction=reduction), x, IndexArg(t))
        check(lambda M, a, b: M.nn.MultiLabelMarginLoss(reduction=reduction)(a, b), x[0], IndexArg(t[0]))
    # an empty batch: torch 2.13 returns uninitialised memory for 'mean' and 'sum'; ours is 0 ('sum'),
    # NaN ('mean', as every mean of nothing) and shape (0,) ('none')
    e = pe.nn.functional.multilabel_margin_loss(pe.zeros(0, 4, dtype=dtype), pe.tensor(np.zeros((0, 4), np.int64)),
                                                reduction=reduction)
    assert e.shape == ((0,) if reduction == "none" else ()) and (reduction != "sum" or e.item() == 0.0)


def test_multilabel_margin_loss_errors():
    F = pe.nn.functional
    x = pe.randn(2, 3)
    with pytest.raises(ValueError, match=r"multilabel_margin_loss: target values must be class indices in \[0, 3\) "
                                         r"or -1 \(end of the labels\), got values in \[-2, 1\]"):
        F.multilabel_margin_loss(x, pe.tensor(np.array([[0, 1, -2], [0, 0, 0]])))
    with pytest.raises(ValueError, match=r"multilabel_margin_loss: target must have input's shape \(2, 3\), got \(3,\)"):
        F.multilabel_margin_loss(x, pe.tensor(np.array([0, 1, 2])))
    with pytest.raises(TypeError, match="multilabel_margin_loss: target must hold integer class indices, got dtype float"):
        F.multilabel_margin_loss(x, pe.zeros(2, 3))
    with pytest.raises(ValueError, match=r"multilabel_margin_loss: input must be a 1-D \(C,\) or 2-D \(N, C\)"):
        F.multilabel_margin_loss(pe.randn(2, 3, 4), pe.tensor(np.zeros((2, 3, 4), np.int64)))
    with pytest.raises(ValueError, match="multilabel_margin_loss: reduction must be one of"):
        F.multilabel_margin_loss(x, pe.tensor(np.zeros((2, 3), np.int64)), reduction="avg")


# ---- CTCLoss

def _ctc_case(rng, T, N, C, S, blank):
    labels = [c for c in range(C) if c != blank]
    tl = rng.integers(0, S + 1, N)
    il = np.maximum(rng.integers(T // 2, T + 1, N), 2 * tl + 1).clip(max=T)
    il[0] = T
    padded = rng.choice(labels, (N, S))
    if S >= 2:
        padded[0, 1] = padded[0, 0]                     # a repeated label: needs a blank between
    concat = np.concatenate([padded[n, :tl[n]] for n in range(N)]).astype(np.int64)
    return rng.standard_normal((T, N, C)), padded.astype(np.int64), concat, il.astype(np.int64), tl.astype(np.int64)


@pytest.mark.parametrize("reduction", RED)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("blank", [0, 3])
def test_ctc_loss_matches_torch(reduction, dtype, blank, rng):
    """Loss and the logits' gradient through log_softmax (torch's CTC gradient is written for that
    composition), padded and concatenated targets, odd sizes, batch 1, an empty target."""
    for T, N, C, S in ((13, 4, 5, 4), (6, 1, 4, 2), (21, 3, 7, 6)):
        logits, padded, concat, il, tl = _ctc_case(rng, T, N, C, S, blank)
        logits = logits.astype(dtype)
        for targets in (padded, concat):
            check(lambda M, x, t, i, l: _F(M).ctc_loss(x.log_softmax(2), t, i, l, blank=blank, reduction=reduction),
                  logits, IndexArg(targets), IndexArg(il), IndexArg(tl))
        check(lambda M, x, t, i, l: M.nn.CTCLoss(blank=blank, reduction=reduction)(x.log_softmax(2), t, i, l),
              logits, IndexArg(padded), IndexArg(il), IndexArg(tl))
    # unbatched (T, C) with a 1-D target and one-entry lengths
    logits, padded, _, il, tl = _ctc_case(rng, 9, 1, 5, 3, blank)
    check(lambda M, x, t: _F(M).ctc_loss(x.log_softmax(1), t, (9,), (int(tl[0]),), blank=blank, reduction=reduction),
          logits[:, 0].astype(dtype), IndexArg(padded[0, :tl[0]]))


def test_ctc_loss_impossible_alignment_and_zero_infinity():
    """A target longer than its input can hold: torch's inf loss; zero_infinity gives 0 and a zero gradient
    for that sample only (the others keep theirs)."""
    rng = np.random.default_rng(5)
    logits = rng.standard_normal((4, 2, 5))
    targets = np.array([[1, 1, 2, 3], [2, 3, 0, 0]])      # (1, 1, 2, 3) needs 5 steps
    il, tl = np.array([4, 4]), np.array([4, 2])
    check(lambda M, x, t, i, l: _F(M).ctc_loss(x.log_softmax(2), t, i, l, reduction="none", zero_infinity=True),
          logits, IndexArg(targets), IndexArg(il), IndexArg(tl))
    check(lambda M, x, t, i, l: _F(M).ctc_loss(x.log_softmax(2), t, i, l, reduction="sum", zero_infinity=True),
          logits, IndexArg(targets), IndexArg(il), IndexArg(tl))
    ours = pe.nn.functional.ctc_loss(pe.tensor(logits).log_softmax(2), pe.tensor(targets), il, tl, reduction="none")
    assert np.isinf(ours.numpy()[0]) and np.isfinite(ours.numpy()[1])


def test_ctc_loss_gradient_is_exact_for_raw_log_probs():
    """On log_probs that are not normalised, ours is the true derivative (finite differences), torch's is
    not: it adds exp(lp)·g, which only log_softmax's backward cancels."""
    rng = np.random.default_rng(2)
    lp = rng.standard_normal((6, 2, 4))
    targets, il, tl = np.array([[1, 2], [3, 3]]), np.array([6, 5]), np.array([2, 2])
    x = pe.tensor(lp, requires_grad=True)
    pe.nn.functional.ctc_loss(x, pe.tensor(targets), il, tl, reduction="sum").backward()
    eps, num = 1e-6, np.zeros_like(lp)
    for idx in np.ndindex(lp.shape):
        d = np.zeros_like(lp)
        d[idx] = eps
        f = [pe.nn.functional.ctc_loss(pe.tensor(lp + s * d), pe.tensor(targets), il, tl, reduction="sum").item()
             for s in (1, -1)]
        num[idx] = (f[0] - f[1]) / (2 * eps)
    np.testing.assert_allclose(x.grad.numpy(), num, atol=1e-6)
    tx = torch.tensor(lp, requires_grad=True)
    torch.nn.functional.ctc_loss(tx, torch.tensor(targets), torch.tensor(il), torch.tensor(tl), reduction="sum").backward()
    mask = np.arange(6)[:, None, None] < il[None, :, None]
    np.testing.assert_allclose(tx.grad.numpy(), num + np.exp(lp) * mask, atol=1e-6)


def test_ctc_loss_errors():
    F = pe.nn.functional
    lp = pe.randn(5, 2, 4).log_softmax(2)
    t = pe.tensor(np.array([[1, 2], [3, 1]]))
    il, tl = [5, 5], [2, 2]
    with pytest.raises(ValueError, match=r"ctc_loss: input_lengths must be in \[0, T\] = \[0, 5\], got \[6, 5\]"):
        F.ctc_loss(lp, t, [6, 5], tl)
    with pytest.raises(ValueError, match=r"ctc_loss: input_lengths must have one entry per batch element \(2\)"):
        F.ctc_loss(lp, t, [5], tl)
    with pytest.raises(ValueError, match=r"ctc_loss: target_lengths \[3, 2\] exceed the padded targets' length 2"):
        F.ctc_loss(lp, t, il, [3, 2])
    with pytest.raises(ValueError, match=r"ctc_loss: concatenated targets must have sum\(target_lengths\) = 4 entries, got 3"):
        F.ctc_loss(lp, pe.tensor(np.array([1, 2, 3])), il, tl)
    with pytest.raises(ValueError, match=r"ctc_loss: targets must be class indices in \[0, 4\) other than blank \(0\), "
                                         r"got \[0, 2\] for batch element 0"):
        F.ctc_loss(lp, pe.tensor(np.array([[0, 2], [3, 1]])), il, tl)
    with pytest.raises(ValueError, match=r"ctc_loss: blank must be a class index in \[0, 4\), got 4"):
        F.ctc_loss(lp, t, il, tl, blank=4)
    with pytest.raises(TypeError, match="ctc_loss: targets must hold integer class indices, got dtype float"):
        F.ctc_loss(lp, pe.zeros(2, 2), il, tl)
    with pytest.raises(TypeError, match="ctc_loss: input_lengths must hold ints, got dtype float64"):
        F.ctc_loss(lp, t, [5.0, 5.0], tl)
    with pytest.raises(ValueError, match=r"ctc_loss: log_probs must be a \(T, N, C\) or unbatched \(T, C\)"):
        F.ctc_loss(pe.randn(5), t, il, tl)
    with pytest.raises(TypeError, match="ctc_loss: log_probs must be a pyengine.Tensor, got ndarray"):
        F.ctc_loss(np.zeros((5, 2, 4)), t, il, tl)
    with pytest.raises(TypeError, match="ctc_loss: zero_infinity must be a bool, got int 1"):
        F.ctc_loss(lp, t, il, tl, zero_infinity=1)
    with pytest.raises(ValueError, match="CTCLoss: reduction must be one of"):
        nn.CTCLoss(reduction="batchmean")
