"""Subgradients at the kinks, where finite differences cannot decide: ReLU, leaky ReLU, ELU and PReLU at
exactly 0, clamp at its bounds, abs at 0, and ties in max pooling and max/min reductions — each must be
PyTorch's choice, in the C++ kernels, in the NumPy reference and through autograd. A backward that tests
``x >= 0`` where PyTorch tests ``x > 0`` fails here (the mutation test below)."""
import numpy as np
import pytest

import pyengine as pe
from pyengine import nn, reference
from pyengine.kernels import cpu
from pyengine.nn import functional as F

try:
    import torch
except ImportError:
    torch = None

X = np.array([-1.0, 0.0, 1.0], np.float32)
G = np.array([1.0, 1.0, 1.0], np.float32)
# torch 2.13's gradient of sum(f(x)) at x = [-1, 0, 1]
KINKS = {
    "relu": ([0.0, 0.0, 1.0], {}),
    "leaky_relu": ([0.1, 0.1, 1.0], {"negative_slope": 0.1}),
    "elu": ([0.7 * np.exp(-1.0), 0.7, 1.0], {"alpha": 0.7}),
}


def kink_gradient_ok(backward, name):
    """Whether backward(grad_output, x, **kw) gives PyTorch's subgradient at X."""
    want, kw = KINKS[name]
    got = np.asarray(backward(G, X, **kw), np.float64)
    return bool(np.allclose(got, want, rtol=1e-6, atol=1e-7))


@pytest.mark.parametrize("name", list(KINKS))
@pytest.mark.parametrize("impl", ["cpu", "reference"])
def test_kernel_backward_at_zero_is_torchs(name, impl):
    mod = cpu if impl == "cpu" else reference
    assert kink_gradient_ok(getattr(mod, name + "_backward"), name)


@pytest.mark.parametrize("name", list(KINKS))
def test_autograd_at_zero_is_torchs(name):
    want, kw = KINKS[name]
    x = pe.tensor(X, requires_grad=True)
    getattr(F, name)(x, **kw).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-6)
    if torch is not None:
        tx = torch.tensor(X, requires_grad=True)
        getattr(torch.nn.functional, name)(tx, **kw).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6)


def test_a_mutated_relu_backward_is_caught():
    def mutant(grad_output, x):          # x >= 0 instead of x > 0: gradient 1 at the kink
        return grad_output * (x >= 0)
    assert kink_gradient_ok(reference.relu_backward, "relu")
    assert not kink_gradient_ok(mutant, "relu")
    assert not kink_gradient_ok(lambda g, x, negative_slope: np.where(x >= 0, g, negative_slope * g), "leaky_relu")


def test_prelu_clamp_abs_at_their_kinks():
    x = pe.tensor(X, requires_grad=True)
    m = nn.PReLU()                                   # slope 0.25
    m(x).sum().backward()
    assert x.grad.tolist() == [0.25, 0.25, 1.0] and m.weight.grad.tolist() == [-1.0]
    for f, want in ((lambda t: t.clamp(0, 1), [0.0, 1.0, 1.0]), (lambda t: t.abs(), [-1.0, 0.0, 1.0])):
        x = pe.tensor(X, requires_grad=True)
        f(x).sum().backward()
        assert x.grad.tolist() == want
    if torch is not None:
        tx = torch.tensor(X, requires_grad=True)
        tm = torch.nn.PReLU()
        tm(tx).sum().backward()
        assert tx.grad.tolist() == [0.25, 0.25, 1.0] and tm.weight.grad.tolist() == [-1.0]


def test_max_pool_ties_go_to_the_first_index():
    planes = [np.array([[1.0, 1.0], [0.0, 1.0]], np.float32), np.zeros((3, 3), np.float32)]
    wants = [[[1.0, 0.0], [0.0, 0.0]], [[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0]]]
    for plane, want, stride in zip(planes, wants, (2, 1)):
        x = pe.tensor(plane[None, None], requires_grad=True)
        F.max_pool2d(x, 2, stride=stride).sum().backward()
        assert x.grad.numpy()[0, 0].tolist() == want
        _, idx = reference.max_pool2d_forward(plane[None, None].astype(np.float64), 2, stride)
        _, cidx = cpu.max_pool2d_forward(plane[None, None], 2, stride)
        np.testing.assert_array_equal(idx, cidx)
        if torch is not None:
            tx = torch.tensor(plane[None, None], requires_grad=True)
            torch.nn.functional.max_pool2d(tx, 2, stride=stride).sum().backward()
            assert tx.grad.numpy()[0, 0].tolist() == want


def test_max_reduction_ties():
    x = pe.tensor([[2.0, 2.0, 1.0]], requires_grad=True)
    x.max().backward()
    assert x.grad.tolist() == [[0.5, 0.5, 0.0]]        # full reduction: shared
    x.grad = None
    x.max(1).values.sum().backward()
    assert x.grad.tolist() == [[1.0, 0.0, 0.0]]        # along a dim: the first index
    x.grad = None
    x.min(1).values.sum().backward()
    assert x.grad.tolist() == [[0.0, 0.0, 1.0]]
