"""pyengine.nn.utils.prune against torch.nn.utils.prune on the same weights: masks, state-dict keys
and their order, pruned weights, outputs and gradients; the random methods by counts and structure."""
import math

import numpy as np
import pytest

import pyengine as pe
from pyengine import nn
from pyengine.nn.utils import prune

torch = pytest.importorskip("torch")
tprune = pytest.importorskip("torch.nn.utils.prune")


def _pair(seed=0):
    """A small pyengine net and a torch net with the same weights (conv 3→6, linear 6·4·4→5)."""
    torch.manual_seed(seed)
    t = torch.nn.Sequential(torch.nn.Conv2d(3, 6, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(96, 5))
    p = nn.Sequential(nn.Conv2d(3, 6, 3), nn.ReLU(), nn.Flatten(), nn.Linear(96, 5))
    p.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    return p, t


def _same_state(p_mod, t_mod):
    pk, tk = list(p_mod.state_dict().keys()), list(t_mod.state_dict().keys())
    assert pk == tk
    for k in pk:
        np.testing.assert_array_equal(p_mod.state_dict()[k].numpy(), t_mod.state_dict()[k].detach().numpy(), err_msg=k)


def _same_forward(p, t, seed=1):
    x = np.random.default_rng(seed).standard_normal((2, 3, 6, 6)).astype(np.float32)
    with pe.no_grad():
        a = p(pe.tensor(x)).numpy()
    with torch.no_grad():
        b = t(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("amount", [0.3, 0.5, 7, 0, 1.0])
def test_l1_unstructured_matches_torch(amount):
    p, t = _pair()
    for i in (0, 3):
        prune.l1_unstructured(p[i], "weight", amount)
        tprune.l1_unstructured(t[i], "weight", amount)
        _same_state(p[i], t[i])
        np.testing.assert_array_equal(p[i].weight.numpy(), t[i].weight.detach().numpy())
    assert list(p.state_dict().keys()) == list(t.state_dict().keys())
    _same_forward(p, t)


def test_l1_rounds_half_to_even_like_torch():
    p, t = _pair()
    prune.l1_unstructured(p[3], "bias", 0.5)       # 5 biases: round(2.5) = 2
    tprune.l1_unstructured(t[3], "bias", 0.5)
    assert int((p[3].bias_mask.numpy() == 0).sum()) == 2
    _same_state(p[3], t[3])


def test_iterative_pruning_prunes_a_fraction_of_what_remains():
    p, t = _pair()
    for amount in (0.3, 0.5, 0.25):
        prune.l1_unstructured(p[0], "weight", amount)
        tprune.l1_unstructured(t[0], "weight", amount)
        _same_state(p[0], t[0])
    container = [h for h in p[0]._forward_pre_hooks.values()][0]
    assert isinstance(container, prune.PruningContainer) and len(container) == 3
    kept = 162
    for a in (0.3, 0.5, 0.25):
        kept -= round(a * kept)
    assert int(p[0].weight_mask.numpy().sum()) == kept
    assert len(p[0]._forward_pre_hooks) == len(t[0]._forward_pre_hooks) == 1


@pytest.mark.parametrize("layer,n,dim,amount", [(0, 2, 0, 0.5), (0, 1, 1, 1), (0, math.inf, 0, 2),
                                                (0, -math.inf, -1, 0.34), (3, "fro", 0, 0.4), (0, 3, 2, 1),
                                                (3, 1, 1, 0.5)])
def test_ln_structured_matches_torch(layer, n, dim, amount):
    p, t = _pair(seed=3)
    prune.ln_structured(p[layer], "weight", amount, n=n, dim=dim)
    tprune.ln_structured(t[layer], "weight", amount, n=n, dim=dim)
    _same_state(p[layer], t[layer])
    _same_forward(p, t)


def test_structured_then_unstructured_then_structured():
    p, t = _pair(seed=5)
    steps = [(prune.ln_structured, tprune.ln_structured, dict(amount=2, n=2, dim=0)),
             (prune.l1_unstructured, tprune.l1_unstructured, dict(amount=0.4)),
             (prune.ln_structured, tprune.ln_structured, dict(amount=0.5, n=1, dim=0))]
    for ours, theirs, kw in steps:
        ours(p[0], "weight", **kw)
        theirs(t[0], "weight", **kw)
        _same_state(p[0], t[0])


def test_importance_scores_match_torch():
    p, t = _pair()
    scores = np.random.default_rng(4).standard_normal((5, 96)).astype(np.float32)
    prune.l1_unstructured(p[3], "weight", 0.6, importance_scores=pe.tensor(scores))
    tprune.l1_unstructured(t[3], "weight", 0.6, importance_scores=torch.from_numpy(scores))
    _same_state(p[3], t[3])
    prune.ln_structured(p[0], "weight", 0.5, 2, 0, importance_scores=pe.tensor(-p[0].weight.numpy() ** 3))
    tprune.ln_structured(t[0], "weight", 0.5, 2, 0, importance_scores=-t[0].weight.detach() ** 3)
    _same_state(p[0], t[0])


@pytest.mark.parametrize("amount", [0.6, 100])
def test_global_unstructured_matches_torch(amount):
    p, t = _pair(seed=2)
    prune.l1_unstructured(p[0], "weight", 0.2)       # an earlier mask the global pass must respect
    tprune.l1_unstructured(t[0], "weight", 0.2)
    prune.global_unstructured([(p[0], "weight"), (p[3], "weight"), (p[3], "bias")], prune.L1Unstructured,
                              amount=amount)
    tprune.global_unstructured([(t[0], "weight"), (t[3], "weight"), (t[3], "bias")], tprune.L1Unstructured,
                               amount=amount)
    for i in (0, 3):
        _same_state(p[i], t[i])
    _same_forward(p, t)


def test_custom_from_mask_and_identity_match_torch():
    p, t = _pair()
    mask = (np.random.default_rng(0).random((5, 96)) > 0.5).astype(np.float32)
    prune.custom_from_mask(p[3], "weight", pe.tensor(mask))
    tprune.custom_from_mask(t[3], "weight", torch.from_numpy(mask))
    prune.identity(p[0], "bias")
    tprune.identity(t[0], "bias")
    _same_state(p[3], t[3])
    _same_state(p[0], t[0])
    np.testing.assert_array_equal(p[0].bias_mask.numpy(), np.ones(6, np.float32))


def test_remove_makes_pruning_permanent_like_torch():
    p, t = _pair()
    prune.l1_unstructured(p[0], "weight", 0.5)
    tprune.l1_unstructured(t[0], "weight", 0.5)
    prune.remove(p[0], "weight")
    tprune.remove(t[0], "weight")
    _same_state(p[0], t[0])
    assert list(p[0].state_dict()) == ["bias", "weight"]
    assert isinstance(p[0].weight, nn.Parameter) and not prune.is_pruned(p)
    assert not p[0]._forward_pre_hooks
    with pytest.raises(ValueError, match="remove: parameter 'weight' of Conv2d has to be pruned"):
        prune.remove(p[0], "weight")


def test_gradients_reach_weight_orig_masked_like_torch():
    p, t = _pair()
    prune.l1_unstructured(p[3], "weight", 0.5)
    tprune.l1_unstructured(t[3], "weight", 0.5)
    x = np.random.default_rng(1).standard_normal((4, 3, 6, 6)).astype(np.float32)
    p(pe.tensor(x)).sum().backward()
    t(torch.from_numpy(x)).sum().backward()
    g = p[3].weight_orig.grad.numpy()
    np.testing.assert_allclose(g, t[3].weight_orig.grad.numpy(), rtol=1e-4, atol=1e-5)
    assert (g[p[3].weight_mask.numpy() == 0] == 0).all()


def test_training_keeps_pruned_weights_at_zero():
    p, _ = _pair()
    prune.l1_unstructured(p[0], "weight", 0.7)
    opt = pe.optim.SGD(p.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
    x = pe.randn(8, 3, 6, 6)
    for _ in range(3):
        opt.zero_grad()
        p(x).pow(2).mean().backward()
        opt.step()
    p(x)
    assert any(q is p[0].weight_orig for q in p.parameters())
    pruned = p[0].weight_mask.numpy() == 0
    assert (p[0].weight.numpy()[pruned] == 0).all() and (p[0].weight.numpy()[~pruned] != 0).all()


def test_random_methods_prune_the_counts_and_structure_torch_does():
    p, t = _pair()
    pe.manual_seed(0)
    prune.random_unstructured(p[3], "weight", 0.35)
    tprune.random_unstructured(t[3], "weight", 0.35)
    assert (p[3].weight_mask.numpy() == 0).sum() == (t[3].weight_mask == 0).sum().item() == round(0.35 * 480)
    prune.random_unstructured(p[3], "weight", 0.5)
    tprune.random_unstructured(t[3], "weight", 0.5)
    assert (p[3].weight_mask.numpy() == 0).sum() == (t[3].weight_mask == 0).sum().item()
    prune.random_structured(p[0], "weight", 0.5, dim=0)
    tprune.random_structured(t[0], "weight", 0.5, dim=0)
    m = p[0].weight_mask.numpy()
    per_filter = m.reshape(6, -1)
    assert set(per_filter.min(axis=1)) == set(per_filter.max(axis=1)) == {0.0, 1.0}   # whole filters
    assert int((per_filter.max(axis=1) == 0).sum()) == int((t[0].weight_mask.reshape(6, -1).amax(1) == 0).sum()) == 3
    assert list(p[0].state_dict()) == list(t[0].state_dict())
    # seeded: the same masks again
    q, _ = _pair()
    pe.manual_seed(0)
    prune.random_unstructured(q[3], "weight", 0.35)
    prune.random_unstructured(q[3], "weight", 0.5)
    np.testing.assert_array_equal(q[3].weight_mask.numpy(), p[3].weight_mask.numpy())


def test_pruned_state_dict_loads_into_a_pruned_model_from_torch():
    p, t = _pair()
    tprune.l1_unstructured(t[0], "weight", 0.4)
    prune.identity(p[0], "weight")
    p.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    p(pe.randn(1, 3, 6, 6))       # the pre-hook recomputes weight from the loaded orig and mask
    np.testing.assert_array_equal(p[0].weight.numpy(), t[0].weight.detach().numpy())


def test_bad_arguments_raise_clear_errors():
    p, _ = _pair()
    with pytest.raises(ValueError, match="amount=-1 should either be a float in the range"):
        prune.l1_unstructured(p[0], "weight", -1)
    with pytest.raises(ValueError, match="amount=1.5 should either be a float in the range"):
        prune.l1_unstructured(p[0], "weight", 1.5)
    with pytest.raises(TypeError, match="amount must be an int or a float, got str"):
        prune.l1_unstructured(p[0], "weight", "half")
    with pytest.raises(ValueError, match="amount=1000 should be smaller than the number of parameters to prune=162"):
        prune.l1_unstructured(p[0], "weight", 1000)
    assert not prune.is_pruned(p) and list(p[0].state_dict()) == ["weight", "bias"]   # failures change nothing
    with pytest.raises(ValueError, match="structured pruning can only be applied to multidimensional tensors"):
        prune.ln_structured(p[0], "bias", 0.5, n=2, dim=0)
    with pytest.raises(IndexError, match="invalid dim 4 for a tensor of shape"):
        prune.ln_structured(p[0], "weight", 0.5, n=2, dim=4)
    with pytest.raises(AttributeError, match="Conv2d has no parameter 'weights'"):
        prune.l1_unstructured(p[0], "weights", 0.5)
    with pytest.raises(ValueError, match="importance_scores must have the shape"):
        prune.l1_unstructured(p[0], "weight", 0.5, importance_scores=pe.randn(3))
    with pytest.raises(TypeError, match='only "unstructured" pruning methods'):
        prune.global_unstructured([(p[0], "weight")], prune.LnStructured, amount=0.5, n=2, dim=0)
    assert not prune.is_pruned(p)
