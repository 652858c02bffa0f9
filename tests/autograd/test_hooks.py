"""Tensor hooks: register_hook (leaf and non-leaf, replacing the gradient), retain_grad, and
register_post_accumulate_grad_hook (called once per backward with the leaf, right after its .grad is
complete) — the same calls, values and order as PyTorch 2.13."""
import numpy as np
import pytest

import pyengine as pe
from pyengine import nn

try:
    import torch
except ImportError:
    torch = None


def _events(lib):
    """A small graph with hooks everywhere; returns the event log and the gradients."""
    log = []
    x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
    w = lib.tensor([0.5, -1.0, 2.0], requires_grad=True)
    h = x * w
    h.retain_grad()
    h.register_hook(lambda g: log.append(("h", g.tolist())))
    h.register_hook(lambda g: g * 2)                                   # replaces dL/dh
    x.register_hook(lambda g: log.append(("x", g.tolist())))
    w.register_post_accumulate_grad_hook(lambda p: log.append(("w-post", p.grad.tolist())))
    x.register_post_accumulate_grad_hook(lambda p: log.append(("x-post", p.grad.tolist())))
    loss = (h * h).sum() + (x * 3).sum()                                 # x reaches the loss twice
    loss.backward()
    return log, x.grad.tolist(), w.grad.tolist(), h.grad.tolist()


def test_tensor_hooks_match_torch_and_fixed_values():
    log, gx, gw, gh = _events(pe)
    # dL/dh = 2h = 2xw, doubled by the hook -> 4xw; x.grad = 4xw·w + 3
    x, w = np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(gh, 4 * x * w)
    np.testing.assert_allclose(gx, 4 * x * w * w + 3)
    np.testing.assert_allclose(gw, 4 * x * w * x)
    assert [e[0] for e in log] == ["h", "x", "x-post", "w-post"] or [e[0] for e in log] == ["h", "w-post", "x",
                                                                                               "x-post"]
    assert [e for e in log if e[0] == "x"][0][1] == pytest.approx(list(4 * x * w * w + 3))   # summed, once
    if torch is not None:
        tlog, tgx, tgw, tgh = _events(torch)
        np.testing.assert_allclose(gx, tgx)
        np.testing.assert_allclose(gw, tgw)
        np.testing.assert_allclose(gh, tgh)
        assert sorted(e[0] for e in log) == sorted(e[0] for e in tlog)
        for (name, vals) in log:
            np.testing.assert_allclose(vals, dict(tlog)[name])


def test_hook_handles_remove_and_work_as_context_managers():
    x = pe.tensor([1.0, 2.0], requires_grad=True)
    calls = []
    h1 = x.register_hook(lambda g: calls.append(1))
    with x.register_hook(lambda g: calls.append(2)):
        (x * 2).sum().backward()
    h1.remove()
    (x * 2).sum().backward()
    h1.remove()                            # twice is harmless
    assert calls == [1, 2] and x.grad.tolist() == [4.0, 4.0]
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        pe.zeros(2).register_hook(lambda g: g)
    with pytest.raises(RuntimeError, match="non-leaf"):
        (x * 2).register_post_accumulate_grad_hook(lambda p: None)


def test_a_hook_returning_the_wrong_shape_raises():
    x = pe.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: pe.zeros(3))
    with pytest.raises(RuntimeError, match=r"hook returned a gradient of shape \(3,\) for a tensor of shape \(2,\)"):
        (x * 2).sum().backward()


def _ready_order(lib):
    """The order in which the post-accumulate hooks of a 3-layer MLP's parameters fire."""
    lib.manual_seed(0)
    m = lib.nn.Sequential(lib.nn.Linear(4, 5), lib.nn.ReLU(), lib.nn.Linear(5, 3), lib.nn.ReLU(),
                          lib.nn.Linear(3, 2))
    order = []
    for name, p in m.named_parameters():
        p.register_post_accumulate_grad_hook(lambda p, name=name: order.append((name, p.grad is not None)))
    m(lib.randn(6, 4)).sum().backward()
    return order


def test_post_accumulate_hooks_fire_as_each_gradient_is_ready():
    order = _ready_order(pe)
    names = [n for n, _ in order]
    assert all(ready for _, ready in order) and len(names) == 6 and len(set(names)) == 6
    # the last layer's gradients are ready first (what lets DDP start reducing them during backward)
    assert names.index("4.weight") < names.index("2.weight") < names.index("0.weight")
    assert names.index("4.bias") < names.index("2.bias") < names.index("0.bias")
    if torch is not None:
        torder = [n for n, _ in _ready_order(torch)]
        assert set(torder) == set(names)
        assert torder.index("4.weight") < torder.index("2.weight") < torder.index("0.weight")


def test_post_accumulate_hook_runs_once_per_backward_for_a_shared_parameter():
    w = nn.Parameter(pe.tensor([1.0, 2.0]))
    seen = []
    w.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.tolist()))
    ((w * 2).sum() + (w * w).sum() + w.sum()).backward()
    assert seen == [[5.0, 7.0]]
    (w * 1).sum().backward()
    assert seen == [[5.0, 7.0], [6.0, 8.0]]        # after accumulation into the existing .grad
