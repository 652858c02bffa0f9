"""The activations beyond the kernel-backed ones (GELU exact/tanh, SiLU, Mish, Hardswish, Hardsigmoid,
SELU, CELU, Softplus, Softsign, LogSigmoid, Softmin, Hardtanh, Tanhshrink, Softshrink, Hardshrink,
Threshold, GLU) against torch 2.13: values and input gradients in float64 and float32 on odd shapes and
non-contiguous views, torch's subgradient at every kink, extreme inputs, the layers' defaults and
state dicts, and the bad-argument errors. Finite-difference gradients: the registry
(pyengine/testing/autograd_nn_breadth.py, run by test_gradcheck.py)."""
import math

import numpy as np
import pytest

import pyengine as pe
from pyengine import nn
from pyengine.kernels import cpu

from ops_parity import check, torch

FUNCS = {   # name -> fn(M.nn.functional, x)
    "gelu": lambda F, x: F.gelu(x),
    "gelu_tanh": lambda F, x: F.gelu(x, approximate="tanh"),
    "silu": lambda F, x: F.silu(x),
    "mish": lambda F, x: F.mish(x),
    "hardswish": lambda F, x: F.hardswish(x),
    "hardsigmoid": lambda F, x: F.hardsigmoid(x),
    "selu": lambda F, x: F.selu(x),
    "celu": lambda F, x: F.celu(x, alpha=0.75),   # torch's backward rounds 1/alpha to float32: a binary alpha
    "softplus": lambda F, x: F.softplus(x),
    "softplus_beta": lambda F, x: F.softplus(x, beta=2.5, threshold=4.0),
    "softsign": lambda F, x: F.softsign(x),
    "logsigmoid": lambda F, x: F.logsigmoid(x),
    "softmin": lambda F, x: F.softmin(x, dim=1),
    "hardtanh": lambda F, x: F.hardtanh(x, -0.7, 1.3),
    "tanhshrink": lambda F, x: F.tanhshrink(x),
    "softshrink": lambda F, x: F.softshrink(x, 0.4),
    "hardshrink": lambda F, x: F.hardshrink(x),
    "threshold": lambda F, x: F.threshold(x, 0.25, -3.0),
    "glu": lambda F, x: F.glu(x, dim=1),
}
KINKS = {"hardswish": [-3.0, 3.0], "hardsigmoid": [-3.0, 3.0], "selu": [0.0], "celu": [0.0],
         "softplus_beta": [1.6], "hardtanh": [-0.7, 1.3], "softshrink": [-0.4, 0.4], "hardshrink": [-0.5, 0.5],
         "threshold": [0.25]}


def _F(M):
    return M.nn.functional


def _gtol(name):
    """torch's float64 hardsigmoid gradient is float32's 1/6 (3e-8 relative off the exact one ours is)."""
    return {"grtol": 1e-7} if name in ("hardsigmoid", "Hardsigmoid") else {}


@pytest.mark.parametrize("name", sorted(FUNCS))
def test_float64_values_and_gradients_odd_shape(name, rng):
    x = rng.uniform(-6, 6, (3, 6, 5))
    check(lambda M, t: FUNCS[name](_F(M), t), x, **_gtol(name))


@pytest.mark.parametrize("name", sorted(FUNCS))
def test_float32_noncontiguous_batch1(name, rng):
    x = rng.uniform(-6, 6, (1, 6, 7)).astype(np.float32)
    check(lambda M, t: FUNCS[name](_F(M), t.transpose(1, 2)[:, ::2]), x)


@pytest.mark.parametrize("name", sorted(KINKS))
def test_subgradient_at_exact_kinks_is_torch(name):
    x = np.array([[k + d for k in KINKS[name] for d in (-1e-3, 0.0, 1e-3)]] * 2)
    check(lambda M, t: FUNCS[name](_F(M), t), x, **_gtol(name))


@pytest.mark.parametrize("name", sorted(FUNCS))
def test_extreme_inputs_stay_finite_like_torch(name):
    x = np.array([[-1e4, -80.0, -30.0, -1e-8, 0.0, 1e-8, 30.0, 80.0, 1e4, 5.0]] * 2, np.float32)
    check(lambda M, t: FUNCS[name](_F(M), t), x, **_gtol(name))


def test_float32_gelu_kernel_is_float32_accurate(cpu_isa):
    """The float32 kernel's erf (a Chebyshev fit of erfc) keeps GELU to float32's own precision."""
    x = np.linspace(-7, 7, 14001).astype(np.float32)
    ref = np.array([0.5 * v * (1.0 + math.erf(v / math.sqrt(2.0))) for v in x.astype(np.float64)])
    y = cpu.gelu_forward(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, ref, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(cpu.gelu_forward(x.astype(np.float64)), ref, rtol=1e-14, atol=1e-15)


LAYERS = [("GELU", (), {}), ("GELU", (), {"approximate": "tanh"}), ("SiLU", (), {}), ("Mish", (), {}),
          ("Hardswish", (), {}), ("Hardsigmoid", (), {}), ("SELU", (), {}), ("CELU", (), {"alpha": 2.0}),
          ("Softplus", (), {"beta": 0.5, "threshold": 10}), ("Softsign", (), {}), ("LogSigmoid", (), {}),
          ("Softmin", (), {"dim": 1}), ("Hardtanh", (-2.0, 0.5), {}), ("Tanhshrink", (), {}),
          ("Softshrink", (), {"lambd": 0.3}), ("Hardshrink", (), {}), ("Threshold", (0.1, 20.0), {}),
          ("GLU", (), {"dim": 1})]


@pytest.mark.parametrize("name,args,kw", LAYERS, ids=[f"{n}{k or ''}" for n, _, k in LAYERS])
def test_layers_match_torch_and_hold_no_state(name, args, kw, rng):
    ours, theirs = getattr(nn, name)(*args, **kw), getattr(torch.nn, name)(*args, **kw)
    assert ours.state_dict() == {} and not list(ours.parameters())
    for attr in ("approximate", "alpha", "beta", "threshold", "dim", "min_val", "max_val", "lambd", "value"):
        if hasattr(theirs, attr):
            assert getattr(ours, attr) == getattr(theirs, attr), attr
    x = rng.uniform(-4, 4, (2, 4, 3))
    check(lambda M, t: (ours if M is pe else theirs)(t), x, **_gtol(name))


def test_layer_defaults_are_torch_defaults():
    assert nn.GELU().approximate == "none"
    assert (nn.Softplus().beta, nn.Softplus().threshold) == (1.0, 20.0)
    assert (nn.Hardtanh().min_val, nn.Hardtanh().max_val) == (-1.0, 1.0)
    assert nn.Softshrink().lambd == nn.Hardshrink().lambd == 0.5
    assert nn.CELU().alpha == 1.0 and nn.GLU().dim == -1 and nn.Softmin().dim is None
    assert repr(nn.GELU(approximate="tanh")) == "GELU(approximate='tanh')"


def test_bad_arguments_name_the_argument():
    F = nn.functional
    x = pe.randn(2, 3)
    with pytest.raises(TypeError, match="gelu: expected a floating-point tensor, got dtype int64"):
        F.gelu(pe.tensor([1, 2]))
    with pytest.raises(ValueError, match="gelu: approximate must be 'none' or 'tanh', got 'fast'"):
        F.gelu(x, approximate="fast")
    with pytest.raises(ValueError, match="GELU: approximate must be 'none' or 'tanh', got 'erf'"):
        nn.GELU("erf")
    with pytest.raises(ValueError, match=r"glu: halving dimension must be even, but dimension 1 is size 3"):
        F.glu(x, 1)
    with pytest.raises(ValueError, match=r"hardtanh: min_val \(2.0\) must be less than or equal to max_val \(1.0\)"):
        F.hardtanh(x, 2.0, 1.0)
    with pytest.raises(ValueError, match="Hardtanh: min_val"):
        nn.Hardtanh(1.0, 0.0)
    with pytest.raises(ValueError, match="softshrink: lambd must be greater or equal to 0, got -0.5"):
        F.softshrink(x, -0.5)
    with pytest.raises(TypeError, match="softplus: argument 'beta' must be a number, got str"):
        F.softplus(x, beta="2")
    with pytest.raises(ValueError, match="softplus: beta must not be 0"):
        F.softplus(x, beta=0)
    with pytest.raises(TypeError, match="silu: input must be a pyengine.Tensor, got list"):
        F.silu([1.0, 2.0])


def test_no_graph_under_no_grad_and_inference_mode():
    x = pe.randn(3, 4, requires_grad=True)
    with pe.no_grad():
        assert not nn.functional.gelu(x).requires_grad
    with pe.inference_mode():
        assert not nn.SiLU()(x).requires_grad
    y = nn.Mish()(x)
    assert y.requires_grad and y.dtype == pe.float32


def test_unflatten_matches_torch(rng):
    ours, theirs = nn.Unflatten(-2, (3, -1)), torch.nn.Unflatten(-2, (3, -1))
    assert repr(ours) == repr(theirs) and ours.state_dict() == {}
    check(lambda M, t: (ours if M is pe else theirs)(t), rng.standard_normal((2, 6, 5)))
    with pytest.raises(TypeError, match="Unflatten: unflattened_size must be a tuple of ints, got 3"):
        nn.Unflatten(1, 3)


# ---- RReLU: evaluation is torch's exactly; training draws its own slopes (our RNG, not torch's)

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_rrelu_evaluation_matches_torch(dtype, rng):
    x = rng.standard_normal((3, 7, 5)).astype(dtype)
    x[0, 0, :3] = 0.0                                  # the kink: torch's slope at exactly 0
    check(lambda M, a: M.nn.functional.rrelu(a), x)
    check(lambda M, a: M.nn.functional.rrelu(a, 0.05, 0.6, training=False), x[:, ::2])
    check(lambda M, a: M.nn.RReLU(0.2, 0.3).eval()(a), x)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_rrelu_training_slopes(dtype, rng):
    """y = x for x > 0; y = a·x with a in [lower, upper] for x <= 0, uniform (mean and spread of many
    draws), one slope per element; dx = the slope; seeded by manual_seed; torch's x <= 0 rule at 0."""
    lower, upper = 0.1, 0.4
    x = rng.standard_normal((200, 301)).astype(dtype)
    x[0, :5] = 0.0
    pe.manual_seed(7)
    t = pe.tensor(x, requires_grad=True)
    y = pe.nn.functional.rrelu(t, lower, upper, training=True)
    assert y.dtype == t.dtype
    y.sum().backward()
    yv, g = y.numpy(), t.grad.numpy()
    pos, neg = x > 0, x < 0
    np.testing.assert_array_equal(yv[pos], x[pos])
    np.testing.assert_array_equal(g[pos], 1)
    a = yv[neg] / x[neg]
    assert a.min() >= lower - 1e-6 and a.max() <= upper + 1e-6
    np.testing.assert_allclose(g[neg], a, rtol=1e-5)
    assert abs(a.mean() - (lower + upper) / 2) < 3e-3 and abs(a.std() - (upper - lower) / np.sqrt(12)) < 3e-3
    assert np.all((g[0, :5] >= lower) & (g[0, :5] <= upper)) and np.all(yv[0, :5] == 0)
    pe.manual_seed(7)
    again = pe.nn.functional.rrelu(pe.tensor(x), lower, upper, training=True).numpy()
    np.testing.assert_array_equal(again, yv)
    assert not np.array_equal(pe.nn.functional.rrelu(pe.tensor(x), lower, upper, training=True).numpy(), yv)
    # torch's own training output has the same structure (its RNG differs)
    ty = torch.nn.functional.rrelu(torch.from_numpy(x), lower, upper, training=True).numpy()
    ta = ty[neg] / x[neg]
    assert ta.min() >= lower - 1e-6 and ta.max() <= upper + 1e-6


def test_rrelu_layer_modes_and_errors():
    m = nn.RReLU()
    assert (m.lower, m.upper) == (1 / 8, 1 / 3) and list(m.state_dict()) == []
    assert repr(m) == repr(torch.nn.RReLU()) and repr(nn.RReLU(0.1, 0.2)) == repr(torch.nn.RReLU(0.1, 0.2))
    x = pe.tensor(-np.ones((4, 50)))
    pe.manual_seed(0)
    assert len(np.unique(m.train()(x).numpy())) > 1
    np.testing.assert_allclose(m.eval()(x).numpy(), -(1 / 8 + 1 / 3) / 2)
    with pytest.raises(ValueError, match=r"rrelu: lower must be <= upper, got lower=0.5 and upper=0.2"):
        pe.nn.functional.rrelu(x, 0.5, 0.2)
    with pytest.raises(ValueError, match=r"RReLU: lower must be <= upper"):
        nn.RReLU(0.5, 0.2)
    with pytest.raises(TypeError, match=r"rrelu: argument 'lower' must be a number, got str"):
        pe.nn.functional.rrelu(x, "0.1")
    with pytest.raises(TypeError, match=r"rrelu: training must be a bool, got int 1"):
        pe.nn.functional.rrelu(x, training=1)
    with pytest.raises(TypeError, match=r"rrelu: expected a floating-point tensor"):
        pe.nn.functional.rrelu(pe.tensor(np.arange(3)))
