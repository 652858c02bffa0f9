"""Module hooks: forward pre-hooks and forward hooks (replacing inputs/outputs, with_kwargs, prepend,
always_call), full backward pre-hooks and full backward hooks (the gradients they see and replace), and
removable handles — compared with PyTorch 2.13 on the same weights where torch is installed."""
import numpy as np
import pytest

import pyengine as pe
from pyengine import nn

try:
    import torch
except ImportError:
    torch = None


def _affine(lib):
    class M(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.s = lib.nn.Parameter(lib.tensor([2.0, -1.0, 0.5]))

        def forward(self, x, b, scale=1.0):
            return x * self.s * scale + b
    return M()


def _forward_hook_program(lib):
    m = _affine(lib)
    log = []
    m.register_forward_pre_hook(lambda mod, args: (args[0] * 10, args[1]))
    m.register_forward_pre_hook(lambda mod, args, kwargs: (args, {"scale": 0.5}), with_kwargs=True)
    m.register_forward_pre_hook(lambda mod, args: log.append("first"), prepend=True)
    m.register_forward_hook(lambda mod, args, out: out + 1)
    m.register_forward_hook(lambda mod, args, kwargs, out: log.append(dict(kwargs)), with_kwargs=True)
    out = m(lib.tensor([1.0, 2.0, 3.0]), lib.tensor([0.0, 1.0, 0.0]))
    return out.tolist(), log


def test_forward_hooks_replace_inputs_and_outputs_as_torch():
    out, log = _forward_hook_program(pe)
    # x·10 · s · 0.5 + b + 1
    assert out == pytest.approx([11.0, -8.0, 8.5]) and log == ["first", {"scale": 0.5}]
    if torch is not None:
        tout, tlog = _forward_hook_program(torch)
        assert out == pytest.approx(tout) and log == tlog


def test_always_call_forward_hook_sees_a_failing_forward():
    class Boom(nn.Module):
        def forward(self, x):
            raise ValueError("boom")
    seen = []
    m = Boom()
    m.register_forward_hook(lambda mod, args, out: seen.append(out), always_call=True)
    m.register_forward_hook(lambda mod, args, out: seen.append("not always"))
    with pytest.raises(ValueError, match="boom"):
        m(pe.zeros(1))
    assert seen == [None]


def _backward_hook_program(lib):
    lib.manual_seed(0)
    m = _affine(lib)
    log = []

    def pre(mod, gout):
        log.append(("pre", [g.tolist() for g in gout]))
        return (gout[0] * 3,)

    def full(mod, gin, gout):
        log.append(("full", [None if g is None else g.tolist() for g in gin], [g.tolist() for g in gout]))
        return (gin[0] * 0.5, gin[1])

    m.register_full_backward_pre_hook(pre)
    m.register_full_backward_hook(full)
    x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = lib.tensor([0.0, 1.0, 0.0])                     # no grad: its grad_input entry is zeros
    y = m(x, b)
    (y * lib.tensor([1.0, 2.0, 3.0])).sum().backward()
    return log, x.grad.tolist(), m.s.grad.tolist()


def test_full_backward_hooks_see_and_replace_gradients_as_torch():
    log, gx, gs = _backward_hook_program(pe)
    # dL/dy = [1, 2, 3], tripled by the pre-hook; dL/dx = 3·[1,2,3]·s, halved by the full hook
    assert log[0] == ("pre", [[1.0, 2.0, 3.0]])
    assert log[1] == ("full", [[6.0, -6.0, 4.5], [0.0, 0.0, 0.0]], [[3.0, 6.0, 9.0]])
    assert gx == pytest.approx([3.0, -3.0, 2.25]) and gs == pytest.approx([3.0, 12.0, 27.0])
    if torch is not None:
        tlog, tgx, tgs = _backward_hook_program(torch)
        assert log == tlog and gx == pytest.approx(tgx) and gs == pytest.approx(tgs)


def test_full_backward_hook_without_input_grads_gets_nones():
    m = nn.Linear(3, 2)
    seen = []
    m.register_full_backward_hook(lambda mod, gin, gout: seen.append((gin, gout[0].shape)))
    m(pe.randn(4, 3)).sum().backward()
    assert seen == [((None,), (4, 2))] and m.weight.grad is not None


def test_handles_remove_every_kind_of_hook():
    m = nn.Linear(2, 2)
    calls = []
    hs = [m.register_forward_pre_hook(lambda *a: calls.append("pre")),
          m.register_forward_hook(lambda *a: calls.append("fwd"), with_kwargs=True),
          m.register_full_backward_hook(lambda *a: calls.append("bwd")),
          m.register_full_backward_pre_hook(lambda *a: calls.append("bpre"))]
    m(pe.randn(1, 2, requires_grad=True)).sum().backward()
    assert calls == ["pre", "fwd", "bpre", "bwd"]
    for h in hs:
        h.remove()
    calls.clear()
    m(pe.randn(1, 2, requires_grad=True)).sum().backward()
    assert calls == [] and not m._forward_hooks_with_kwargs
    with m.register_forward_hook(lambda *a: calls.append("ctx")):
        m(pe.randn(1, 2))
    m(pe.randn(1, 2))
    assert calls == ["ctx"]


def test_hooks_on_layers_inside_sequential_and_summary_still_work():
    net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4 * 4, 3))
    shapes = []
    for layer in net:
        layer.register_forward_hook(lambda mod, args, out: shapes.append(tuple(out.shape)))
    net(pe.randn(2, 1, 4, 4))
    assert shapes == [(2, 2, 4, 4), (2, 2, 4, 4), (2, 32), (2, 3)]
    assert "Total params" in net.summary((1, 1, 4, 4))
    grads = []
    net[0].register_full_backward_hook(lambda mod, gin, gout: grads.append(gout[0].shape))
    net(pe.randn(2, 1, 4, 4, requires_grad=True)).sum().backward()
    assert grads == [(2, 2, 4, 4)]
    np.testing.assert_equal(net[0].weight.grad.shape, (2, 1, 3, 3))
