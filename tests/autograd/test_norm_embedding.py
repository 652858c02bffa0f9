"""GroupNorm, InstanceNorm1d/2d/3d and Embedding against torch 2.13: forward, input and parameter
gradients (float64 and float32, odd sizes, batch 1, non-contiguous input), running statistics,
train/eval, unbatched input, padding_idx, max_norm, scale_grad_by_freq, state-dict keys, defaults,
initialisation and the bad-input errors. Finite differences: the registry (autograd_nn_breadth)."""
import numpy as np
import pytest

import pyengine as pe
from pyengine import nn

from ops_parity import check, torch


def _pair(ours, theirs):
    """Copy our parameters and buffers into the torch module (so both start equal)."""
    sd = {k: torch.from_numpy(v.numpy().copy()) for k, v in ours.state_dict().items()}
    theirs.load_state_dict(sd)
    return ours, theirs


def _run_both(ours, theirs, x, train=True, seed=0):
    """Forward both on x (float64), backward with one upstream gradient; compare output, input grad
    and every parameter's grad."""
    ours.double().train(train)
    theirs.double().train(train)
    px = pe.tensor(x.copy(), dtype=x.dtype, requires_grad=True)
    tx = torch.from_numpy(x.copy()).requires_grad_(True)
    po, to = ours(px), theirs(tx)
    np.testing.assert_allclose(po.numpy(), to.detach().numpy(), rtol=1e-9, atol=1e-10)
    g = np.random.default_rng(seed).standard_normal(to.shape)
    po.backward(pe.tensor(g, dtype=g.dtype))
    to.backward(torch.from_numpy(g))
    np.testing.assert_allclose(px.grad.numpy(), tx.grad.numpy(), rtol=1e-8, atol=1e-10)
    for (n, p), (tn, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert n == tn
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-8, atol=1e-10, err_msg=n)
    for (n, b), (tn, tb) in zip(ours.named_buffers(), theirs.named_buffers()):
        assert n == tn
        np.testing.assert_allclose(b.numpy(), tb.numpy(), rtol=1e-9, atol=1e-12, err_msg=n)


@pytest.mark.parametrize("G,C,shape", [(1, 3, (2, 3, 5)), (3, 6, (1, 6, 3, 5)), (6, 6, (2, 6, 7)),
                                       (2, 4, (3, 4, 2, 3, 2)), (5, 5, (2, 5))])
def test_group_norm_matches_torch(G, C, shape, rng):
    ours, theirs = _pair(nn.GroupNorm(G, C), torch.nn.GroupNorm(G, C))
    with pe.no_grad():
        ours.weight._data[...] = rng.uniform(0.5, 1.5, C)
        ours.bias._data[...] = rng.standard_normal(C)
    _pair(ours, theirs)
    _run_both(ours, theirs, rng.standard_normal(shape) * 3 + 1)


def test_group_norm_functional_float32_noncontiguous_no_affine(rng):
    x = rng.standard_normal((3, 8, 5, 4)).astype(np.float32)
    check(lambda M, t: M.nn.functional.group_norm(t.transpose(2, 3), 4, eps=1e-3), x)
    w, b = rng.standard_normal(8).astype(np.float32), rng.standard_normal(8).astype(np.float32)
    check(lambda M, t, w, b: M.nn.functional.group_norm(t[:, :, ::2], 2, w, b), x, w, b)


def test_group_norm_layer_state_and_defaults():
    m, t = nn.GroupNorm(2, 4), torch.nn.GroupNorm(2, 4)
    assert list(m.state_dict()) == list(t.state_dict()) == ["weight", "bias"]
    assert np.all(m.weight.numpy() == 1) and np.all(m.bias.numpy() == 0) and m.eps == t.eps
    assert list(nn.GroupNorm(2, 4, affine=False).state_dict()) == []
    assert list(nn.GroupNorm(2, 4, bias=False).state_dict()) == list(torch.nn.GroupNorm(2, 4, bias=False).state_dict())
    assert repr(m) == repr(t)


@pytest.mark.parametrize("cls,shape", [("InstanceNorm1d", (3, 4, 7)), ("InstanceNorm2d", (2, 4, 5, 3)),
                                       ("InstanceNorm3d", (1, 4, 3, 2, 3)), ("InstanceNorm2d", (4, 5, 3))])
@pytest.mark.parametrize("affine,track", [(False, False), (True, False), (True, True), (False, True)])
def test_instance_norm_train_eval_and_running_stats(cls, shape, affine, track, rng):
    C = 4
    ours, theirs = getattr(nn, cls)(C, affine=affine, track_running_stats=track, momentum=0.3), \
        getattr(torch.nn, cls)(C, affine=affine, track_running_stats=track, momentum=0.3)
    if affine:
        with pe.no_grad():
            ours.weight._data[...] = rng.uniform(0.5, 1.5, C)
            ours.bias._data[...] = rng.standard_normal(C)
    _pair(ours, theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for step in range(2):                      # two training steps move the running stats
        _run_both(ours, theirs, rng.standard_normal(shape) * 2 + 0.5, train=True, seed=step)
    for p in list(ours.parameters()) + list(theirs.parameters()):
        p.grad = None
    _run_both(ours, theirs, rng.standard_normal(shape), train=False, seed=3)


def test_instance_norm_defaults_and_errors():
    m = nn.InstanceNorm2d(3)
    assert (m.affine, m.track_running_stats, m.momentum, m.eps) == (False, False, 0.1, 1e-5)
    assert list(m.state_dict()) == []
    assert repr(m) == repr(torch.nn.InstanceNorm2d(3))
    assert repr(nn.InstanceNorm1d(3, affine=True)) == repr(torch.nn.InstanceNorm1d(3, affine=True))
    assert list(nn.InstanceNorm2d(3, affine=True, bias=False).state_dict()) == ["weight"]
    with pytest.raises(ValueError, match=r"InstanceNorm2d\(3\): expected input of shape \(N, C, H, W\) or "
                                         r"unbatched \(C, H, W\), got \(2, 3\)"):
        m(pe.randn(2, 3))
    with pytest.raises(ValueError, match=r"InstanceNorm2d\(3\): expected input with 3 channels, got \(2, 4, 5, 5\)"):
        m(pe.randn(2, 4, 5, 5))
    with pytest.raises(ValueError, match=r"group_norm: num_groups \(3\) must divide the number of channels \(4\)"):
        nn.functional.group_norm(pe.randn(2, 4, 3), 3)
    with pytest.raises(ValueError, match=r"GroupNorm: num_channels \(4\) must be divisible by num_groups \(3\)"):
        nn.GroupNorm(3, 4)
    with pytest.raises(ValueError, match=r"GroupNorm\(2, 4\): expected input of shape \(N, 4, \*\), got \(2, 6, 3\)"):
        nn.GroupNorm(2, 4)(pe.randn(2, 6, 3))
    with pytest.raises(ValueError, match=r"group_norm: weight must have shape \(4,\) for 4 channels, got \(3,\)"):
        nn.functional.group_norm(pe.randn(2, 4, 3), 2, pe.ones(3))
    with pytest.raises(TypeError, match="group_norm: expected a floating-point input, got dtype int64"):
        nn.functional.group_norm(pe.tensor([[1, 2]]), 1)


# ---------------------------------------------------------------------------------------------- Embedding
@pytest.mark.parametrize("padding_idx", [None, 0, 3, -1])
@pytest.mark.parametrize("freq", [False, True])
def test_embedding_matches_torch(padding_idx, freq, rng):
    V, D = 7, 5
    ours = nn.Embedding(V, D, padding_idx=padding_idx, scale_grad_by_freq=freq)
    theirs = torch.nn.Embedding(V, D, padding_idx=padding_idx, scale_grad_by_freq=freq)
    _pair(ours, theirs)
    idx = rng.integers(0, V, (3, 4))
    idx[0, :2] = 3                                     # repeated indices accumulate
    ours.double()
    theirs.double()
    po, to = ours(pe.tensor(idx)), theirs(torch.from_numpy(idx))
    np.testing.assert_array_equal(po.numpy(), to.detach().numpy())
    g = rng.standard_normal(to.shape)
    po.backward(pe.tensor(g, dtype=g.dtype))
    to.backward(torch.from_numpy(g))
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-12, atol=1e-12)
    assert ours.padding_idx == theirs.padding_idx


def test_embedding_init_state_dict_and_from_pretrained():
    pe.manual_seed(0)
    e = nn.Embedding(1000, 8, padding_idx=5)
    assert list(e.state_dict()) == ["weight"] and e.weight.shape == (1000, 8)
    w = e.weight.numpy()
    assert np.all(w[5] == 0) and abs(w.mean()) < 0.05 and abs(w.std() - 1) < 0.05     # N(0, 1)
    assert repr(e) == repr(torch.nn.Embedding(1000, 8, padding_idx=5))
    table = pe.tensor(np.arange(12.0).reshape(4, 3))
    f = nn.Embedding.from_pretrained(table)
    assert not f.weight.requires_grad
    np.testing.assert_array_equal(f(pe.tensor([2, 0])).numpy(), [[6, 7, 8], [0, 1, 2]])
    assert nn.Embedding.from_pretrained(table, freeze=False).weight.requires_grad


def test_embedding_max_norm_renormalises_looked_up_rows_like_torch(rng):
    w = rng.standard_normal((6, 4)) * 3
    idx = np.array([[0, 2, 2], [5, 0, 1]])
    ours = nn.Embedding(6, 4, max_norm=1.5, norm_type=1.0, _weight=pe.tensor(w.copy(), dtype=pe.float64))
    theirs = torch.nn.Embedding(6, 4, max_norm=1.5, norm_type=1.0, _weight=torch.from_numpy(w.copy()))
    po, to = ours(pe.tensor(idx)), theirs(torch.from_numpy(idx))
    np.testing.assert_allclose(po.numpy(), to.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.weight.numpy(), theirs.weight.detach().numpy(), rtol=1e-12)  # 3, 4 untouched
    g = rng.standard_normal(to.shape)
    po.backward(pe.tensor(g, dtype=g.dtype))
    to.backward(torch.from_numpy(g))
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-12)


def test_embedding_functional_and_errors():
    F = nn.functional
    w = pe.randn(4, 3, requires_grad=True)
    y = F.embedding(pe.tensor([[1, 3]]), w)
    assert y.shape == (1, 2, 3) and y.requires_grad
    with pytest.raises(IndexError, match=r"embedding: index 4 is out of range for 4 embeddings"):
        F.embedding(pe.tensor([0, 4]), w)
    with pytest.raises(ValueError, match=r"embedding: index -1 is out of range for 4 embeddings"):
        F.embedding(pe.tensor([-1]), w)
    with pytest.raises(TypeError, match="embedding: argument 'input' must be an integer tensor of indices, got dtype float32"):
        F.embedding(pe.tensor([0.0]), w)
    with pytest.raises(ValueError, match=r"embedding: weight must be 2-D \(num_embeddings, embedding_dim\), got \(4,\)"):
        F.embedding(pe.tensor([0]), pe.randn(4))
    with pytest.raises(ValueError, match=r"Embedding: padding_idx must be within num_embeddings \(4\), got 4"):
        nn.Embedding(4, 2, padding_idx=4)
    with pytest.raises(ValueError, match="Embedding: sparse=True is not supported"):
        nn.Embedding(4, 2, sparse=True)
    with pytest.raises(ValueError, match="Embedding: num_embeddings must be a non-negative int, got 2.5"):
        nn.Embedding(2.5, 2)
