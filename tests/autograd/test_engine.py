"""The backward engine: accumulation, retain_graph, graph release, grad modes, anomaly detection."""
import gc
import weakref

import numpy as np
import pytest

import pyengine as pe
from pyengine.autograd import Function


def test_gradients_accumulate_across_backward_calls():
    w = pe.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (w * 2).sum().backward()
    (w * w).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 + 2 * w.numpy())


def test_shared_upstream_gradient_is_not_aliased_between_leaves():
    a = pe.zeros(3, requires_grad=True)
    b = pe.zeros(3, requires_grad=True)
    (a + b).sum().backward()
    (a * 1.0).sum().backward()
    assert a.grad.tolist() == [2.0] * 3 and b.grad.tolist() == [1.0] * 3


def test_diamond_and_reuse_follow_topological_order():
    x = pe.tensor([0.5, -1.5], dtype="float64", requires_grad=True)
    a = x * 3
    b = a.exp()
    c = a * b + a             # a used by two consumers, one of which also depends on a
    c.sum().backward()
    xv = x.numpy()
    expected = 3 * (np.exp(3 * xv) + 3 * xv * np.exp(3 * xv) + 1)
    np.testing.assert_allclose(x.grad.numpy(), expected)


def test_retain_graph_and_second_backward_error():
    x = pe.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.tolist() == [4.0, 8.0]
    with pytest.raises(RuntimeError, match="second time.*retain_graph=True"):
        y.backward()


def test_graph_is_freed_after_backward():
    x = pe.randn(50, 50, requires_grad=True)
    h = (x * 2).exp()
    saved = weakref.ref(h._grad_fn.y)       # the array Exp saved for its backward
    loss = h.sum()
    del h
    loss.backward()
    gc.collect()
    assert saved() is None


def test_backward_requires_scalar_or_gradient():
    x = pe.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="single-element"):
        (x * 2).backward()
    (x * 2).backward(pe.ones(3))
    assert x.grad.tolist() == [2.0] * 3
    (x * 2).backward(grad=pe.ones(3))
    assert x.grad.tolist() == [4.0] * 3
    with pytest.raises(ValueError, match=r"gradient has shape \(2,\) but the tensor has shape \(3,\)"):
        (x * 2).backward(pe.ones(2))
    with pytest.raises(RuntimeError, match="does not require grad"):
        pe.ones(2).sum().backward()


def test_no_grad_context_and_decorator():
    x = pe.randn(3, requires_grad=True)
    with pe.no_grad():
        y = x * 2
    assert not y.requires_grad and y.grad_fn is None

    @pe.no_grad()
    def f(t):
        return t * 3
    assert not f(x).requires_grad
    assert pe.is_grad_enabled()
    with pe.no_grad():
        with pe.enable_grad():
            assert (x * 1).requires_grad
    with pe.set_grad_enabled(False):
        assert not (x * 1).requires_grad


def test_only_needed_gradients_are_computed():
    calls = []

    class Probe(Function):
        @staticmethod
        def forward(ctx, a, b):
            return a * b

        @staticmethod
        def backward(ctx, g):
            calls.append(ctx.needs_input_grad)
            return (g if ctx.needs_input_grad[0] else None), (g if ctx.needs_input_grad[1] else None)

    a = pe.randn(2, requires_grad=True)
    b = pe.randn(2)
    Probe.apply(a, b).sum().backward()
    assert calls == [(True, False)] and b.grad is None


def test_detach_and_requires_grad_():
    x = pe.randn(3, requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad
    d.requires_grad_()
    (d * 3).sum().backward()
    assert x.grad is None and d.grad.tolist() == [3.0] * 3
    with pytest.raises(TypeError, match="floating-point"):
        pe.tensor([1, 2]).requires_grad_()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_detect_anomaly_names_the_forward_op():
    x = pe.tensor([0.0, 1.0], requires_grad=True)
    with pe.detect_anomaly():
        y = x.sqrt().sum()      # d sqrt / dx at 0 is inf
        with pytest.raises(RuntimeError, match=r"backward of 'sqrt' produced inf.*forward ran at "
                                               r".*test_engine.py:\d+: y = x.sqrt\(\).sum\(\)"):
            y.backward()
    z = pe.tensor([0.0, 1.0], requires_grad=True)
    z.sqrt().sum().backward()       # without anomaly mode: no error, inf in the gradient
    assert np.isinf(z.grad.numpy()[0])


def test_autograd_grad_returns_without_touching_grad():
    x = pe.tensor([1.0, 2.0], requires_grad=True)
    x.grad = pe.tensor([10.0, 10.0])
    (g,) = pe.autograd.grad((x * x).sum(), x)   # a tuple, one per input, as in torch
    assert g.tolist() == [2.0, 4.0] and x.grad.tolist() == [10.0, 10.0]


def test_broadcast_gradients_reduce_to_input_shape():
    a = pe.randn(4, 1, 3, requires_grad=True)
    b = pe.randn(5, 1, requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.shape == (4, 1, 3) and b.grad.shape == (5, 1)


def test_scalar_reflected_ops_and_numpy_scalars():
    x = pe.tensor([2.0], requires_grad=True)
    y = 1 - x + 3 * x - 4 / x + 2 ** x + np.float32(2) * x
    assert y.dtype == np.float32
    assert (np.float64(2) * x).dtype == np.float32 and (x + np.int64(1)).dtype == np.float32
    y.backward(pe.ones(1))
    np.testing.assert_allclose(x.grad.numpy(), [-1 + 3 + 1 + 4 * np.log(2) + 2], rtol=1e-6)


def test_live_tensors_do_not_grow_over_training_steps():
    m = pe.nn.Linear(8, 4)
    x = pe.randn(16, 8)

    def step():
        m.zero_grad()
        (m(x).tanh() ** 2).mean().backward()

    step()
    gc.collect()
    before = sum(type(o) is pe.Tensor for o in gc.get_objects())
    for _ in range(20):
        step()
    gc.collect()
    after = sum(type(o) is pe.Tensor for o in gc.get_objects())
    assert after <= before + 2


def test_retain_grad_on_a_non_leaf():
    x = pe.tensor([1.0, -2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    (h * h).sum().backward()
    assert h.grad.tolist() == [6.0, -12.0] and x.grad.tolist() == [18.0, -36.0]


def test_grad_mode_is_per_thread():
    import threading
    x = pe.randn(2, requires_grad=True)
    seen = []
    with pe.no_grad():
        t = threading.Thread(target=lambda: seen.append((x * 2).requires_grad))
        t.start()
        t.join()
    assert seen == [True]
