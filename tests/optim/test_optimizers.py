"""Optimizers step for step against torch.optim (skipped without torch), plus their own semantics.

The parameters here are minimal stand-ins (``_data`` and ``grad._data``), which is all an
optimizer touches, so these tests do not depend on the autograd layer.
"""
import numpy as np
import pytest

from pyengine import optim


class P:
    """A parameter as the optimizers see it: storage in ``_data``, gradient in ``grad._data``."""

    def __init__(self, arr):
        self._data = np.ascontiguousarray(arr, dtype=np.float32).copy()
        self.grad = None

    def set_grad(self, g):
        self.grad = P(g)


SHAPES = [(6, 5), (7,), (3, 2, 3, 3)]

CASES = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.01, momentum=0.9)),
    ("SGD", dict(lr=0.01, momentum=0.9, dampening=0.2, weight_decay=1e-2)),
    ("SGD", dict(lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)),
    ("SGD", dict(lr=0.01, momentum=0.5, maximize=True)),
    ("Adam", dict(lr=1e-2)),
    ("Adam", dict(lr=1e-2, betas=(0.8, 0.95), weight_decay=1e-2, amsgrad=True)),
    ("AdamW", dict(lr=1e-2)),
    ("AdamW", dict(lr=3e-3, weight_decay=0.1, amsgrad=True)),
    ("RMSprop", dict(lr=1e-3)),
    ("RMSprop", dict(lr=1e-3, alpha=0.9, momentum=0.9, centered=True, weight_decay=1e-3)),
    ("Adagrad", dict(lr=0.05)),
    ("Adagrad", dict(lr=0.05, lr_decay=0.01, weight_decay=1e-3, initial_accumulator_value=0.1)),
]


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_matches_torch_over_many_steps(name, kwargs):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    init = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    ours = [P(a) for a in init]
    theirs = [torch.nn.Parameter(torch.from_numpy(a.copy())) for a in init]
    opt = getattr(optim, name)(ours, **kwargs)
    topt = getattr(torch.optim, name)(theirs, **kwargs)
    for step in range(60):
        for p, t in zip(ours, theirs):
            g = rng.standard_normal(p._data.shape).astype(np.float32) + 0.1 * p._data
            p.set_grad(g)
            t.grad = torch.from_numpy(g.copy())
        opt.step()
        topt.step()
    for p, t in zip(ours, theirs):
        np.testing.assert_allclose(p._data, t.detach().numpy(), rtol=1e-5, atol=1e-5,
                                   err_msg=f"{name} {kwargs} after 60 steps")


def test_parameter_groups_have_their_own_lr():
    a, b = P(np.ones(3)), P(np.ones(3))
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    a.set_grad(np.ones(3))
    b.set_grad(np.ones(3))
    opt.step()
    np.testing.assert_allclose(a._data, 0.9)
    np.testing.assert_allclose(b._data, 0.5)


def test_parameters_without_grad_are_skipped_and_zero_grad():
    a, b = P(np.ones(3)), P(np.ones(3))
    opt = optim.Adam([a, b], lr=0.1)
    a.set_grad(np.ones(3))
    opt.step()
    np.testing.assert_array_equal(b._data, 1.0)
    assert a._data[0] < 1.0
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(a.grad._data, 0.0)
    opt.zero_grad()
    assert a.grad is None


def test_state_dict_round_trip_continues_identically():
    rng = np.random.default_rng(1)
    init = rng.standard_normal((4, 4)).astype(np.float32)
    grads = [rng.standard_normal((4, 4)).astype(np.float32) for _ in range(6)]
    a = P(init)
    opt = optim.Adam([a], lr=0.01, amsgrad=True)
    for g in grads[:3]:
        a.set_grad(g)
        opt.step()
    saved, saved_param = opt.state_dict(), a._data.copy()
    for g in grads[3:]:
        a.set_grad(g)
        opt.step()
    b = P(saved_param)
    opt2 = optim.Adam([b], lr=0.5)
    opt2.load_state_dict(saved)
    assert opt2.param_groups[0]["lr"] == 0.01
    for g in grads[3:]:
        b.set_grad(g)
        opt2.step()
    np.testing.assert_array_equal(a._data, b._data)


@pytest.mark.parametrize("make,match", [
    (lambda p: optim.SGD(p, lr=-0.1), r"SGD: invalid lr -0.1"),
    (lambda p: optim.SGD(p, lr=0.1, nesterov=True), r"Nesterov"),
    (lambda p: optim.Adam(p, betas=(1.0, 0.9)), r"Adam: invalid beta parameter at index 0"),
    (lambda p: optim.RMSprop(p, alpha=-1), r"RMSprop: invalid alpha"),
    (lambda p: optim.Adagrad(p, lr_decay=-1), r"Adagrad: invalid lr_decay"),
    (lambda p: optim.SGD([], lr=0.1), r"empty parameter list"),
])
def test_bad_hyper_parameters_are_rejected(make, match):
    with pytest.raises(ValueError, match=match):
        make([P(np.ones(2))] if "[]" not in match else [])


def test_state_dict_shape_mismatch_is_rejected():
    a = P(np.ones(3))
    opt = optim.SGD([a], lr=0.1, momentum=0.9)
    a.set_grad(np.ones(3))
    opt.step()
    sd = opt.state_dict()
    other = optim.SGD([P(np.ones(4))], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match=r"has shape \(3,\), the parameter has \(4,\)"):
        other.load_state_dict(sd)
