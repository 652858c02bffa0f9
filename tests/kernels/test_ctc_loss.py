"""CTC loss kernels beyond the registry: float32 and float64 against torch.nn.functional.ctc_loss, forward
and gradient (of the logits through log_softmax, where torch's and the exact gradient agree), for every
reduction, zero_infinity, impossible alignments, repeated labels, batch 1 and T = 1, padded and
concatenated targets; F.ctc_loss / nn.CTCLoss on the kernels; the result does not depend on the threads."""
import numpy as np
import pytest

import pyengine as pe
from pyengine import _C, nn
from pyengine.kernels import cpu
from pyengine.nn import functional as F

torch = pytest.importorskip("torch")

# (T, N, C, input_lengths, target_lengths, blank, desc)
CASES = [
    (30, 5, 8, [30, 25, 30, 12, 20], [6, 10, 1, 4, 0], 0, "mixed lengths, an empty target"),
    (12, 3, 4, [12, 6, 3], [3, 4, 2], 0, "impossible alignments"),
    (1, 1, 3, [1], [1], 0, "batch 1, T = 1"),
    (9, 2, 5, [9, 9], [4, 4], 4, "repeated labels, blank = C - 1"),
    (50, 16, 20, [50] * 8 + [40] * 8, [12] * 4 + [9] * 12, 0, "batch 16"),
]


def _targets(rng, case, repeat):
    T, N, C, il, tl, blank, _ = case
    choices = [c for c in range(C) if c != blank]
    seqs = []
    for L in tl:
        s = rng.choice(choices, size=L)
        if repeat and L >= 2:
            s[1::2] = s[::2][:len(s[1::2])]        # every label twice in a row
        seqs.append(s.astype(np.int64))
    return seqs


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("zero_infinity", [False, True])
@pytest.mark.parametrize("concatenated", [False, True])
@pytest.mark.parametrize("i", range(len(CASES)))
def test_matches_torch(i, concatenated, zero_infinity, reduction, dtype):
    case = CASES[i]
    T, N, C, il, tl, blank, desc = case
    rng = np.random.default_rng(i)
    seqs = _targets(rng, case, repeat=i == 3)
    if concatenated:
        tg = np.concatenate(seqs) if seqs else np.zeros(0, np.int64)
    else:
        tg = np.zeros((N, max(tl) if tl else 0), np.int64)
        for n, s in enumerate(seqs):
            tg[n, :len(s)] = s
    x = rng.standard_normal((T, N, C)).astype(dtype)
    tx = torch.tensor(x, requires_grad=True)
    tl_ = torch.nn.functional.ctc_loss(tx.log_softmax(2), torch.tensor(tg), torch.tensor(il), torch.tensor(tl),
                                       blank=blank, reduction=reduction, zero_infinity=zero_infinity)
    px = pe.tensor(x, requires_grad=True)
    pl = F.ctc_loss(px.log_softmax(2), pe.tensor(tg), il, tl, blank=blank, reduction=reduction,
                    zero_infinity=zero_infinity)
    tol = dict(rtol=2e-5, atol=2e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(pl.numpy(), tl_.detach().numpy(), **tol, err_msg=desc)
    finite = np.isfinite(tl_.detach().numpy()).all()
    if not finite:    # torch's gradient of an infinite loss is NaN; ours is 0 — compare the finite samples
        return
    g = rng.standard_normal(tuple(tl_.shape)).astype(dtype)
    tl_.backward(torch.tensor(g))
    pl.backward(pe.tensor(g))
    np.testing.assert_allclose(px.grad.numpy(), tx.grad.numpy(), **tol, err_msg=desc)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernel_against_reference_with_zero_infinity(dtype):
    from pyengine import reference
    rng = np.random.default_rng(5)
    lp = np.log(rng.dirichlet(np.ones(6), size=(8, 4))).astype(dtype)
    tg = np.array([[1, 1, 1, 2], [2, 3, 0, 0], [5, 5, 5, 5], [4, 0, 0, 0]], np.int64)
    il, tl = np.array([8, 3, 6, 1], np.int64), np.array([4, 2, 4, 1], np.int64)
    for zi in (False, True):
        got = cpu.ctc_loss_forward(lp, tg, il, tl, 0, zi)
        want = reference.ctc_loss_forward(lp.astype(np.float64), tg, il, tl, 0, zi)
        np.testing.assert_allclose(got[0], want[0], rtol=1e-5)
        assert np.isinf(got[0][2]) != zi and (got[0][2] == 0) == zi   # 5,5,5,5 needs 7 steps, has 6
        g = cpu.ctc_loss_backward(np.ones(4, dtype), lp, tg, il, tl, got[1], 0)
        assert not g[:, 2].any() and not g[1:, 3].any()               # infinite loss, past the input length


def test_layer_matches_torch_on_unbatched_input():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((10, 5))
    tg = np.array([1, 3, 3, 2])
    ours = nn.CTCLoss(reduction="sum")(pe.tensor(x).log_softmax(1), pe.tensor(tg), 10, 4)
    theirs = torch.nn.CTCLoss(reduction="sum")(torch.tensor(x).log_softmax(1), torch.tensor(tg), torch.tensor(10),
                                               torch.tensor(4))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-10)


def test_same_bits_for_any_thread_count():
    rng = np.random.default_rng(3)
    lp = np.log(rng.dirichlet(np.ones(20), size=(60, 24))).astype(np.float32)
    tl = rng.integers(3, 15, size=24).astype(np.int64)
    tg = rng.integers(1, 20, size=int(tl.sum())).astype(np.int64)
    il = np.full(24, 60, np.int64)
    before = _C.get_num_threads()
    try:
        outs = []
        for t in (1, 2, 3):
            _C.set_num_threads(t)
            nll, alpha = cpu.ctc_loss_forward(lp, tg, il, tl)
            outs.append((nll, cpu.ctc_loss_backward(np.ones(24, np.float32), lp, tg, il, tl, alpha)))
    finally:
        _C.set_num_threads(before)
    for nll, g in outs[1:]:
        assert np.array_equal(nll, outs[0][0]) and np.array_equal(g, outs[0][1])
