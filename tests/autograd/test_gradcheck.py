"""Every differentiable op, layer and loss in the autograd registry passes gradcheck in float64
through autograd and the CPU kernels; the registry covers every public name; gradcheck as a tool."""
import inspect

import numpy as np
import pytest

import pyengine as pe
from pyengine import nn
from pyengine.nn import functional as F
from pyengine.testing import GradcheckError, gradcheck
from pyengine.testing.autograd_ops import TENSOR_OPS, cases, run_case

CASES = cases()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_gradcheck(case):
    assert run_case(case)


def test_registry_covers_every_op_layer_and_loss():
    covered = {name for c in CASES for name in c.covers}
    functional = {n for n in F.__all__ if n not in ("one_hot",)}
    layers = {n for n in nn.__all__ if inspect.isclass(getattr(nn, n)) and issubclass(getattr(nn, n), nn.Module)
              and n not in ("Module", "ModuleList", "ModuleDict")}
    missing = (functional | layers | set(TENSOR_OPS)) - covered
    assert not missing, f"not gradchecked: {sorted(missing)}"


def test_gradcheck_reports_the_worst_element():
    class Wrong(pe.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.x = x
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            out = 3 * ctx.x ** 2 * g
            out[1, 2] *= 1.5                    # a bug in one element
            return out

    x = pe.randn(3, 4, dtype=pe.float64, requires_grad=True)
    with pytest.raises(GradcheckError, match=r"input 0 differs at index \(1, 2\): analytic .*numeric"):
        gradcheck(Wrong.apply, [x])
    with pytest.raises(GradcheckError, match=r"fast gradcheck.*full check: .*index \(1, 2\)"):
        gradcheck(Wrong.apply, [x], fast_mode=True)
    assert gradcheck(Wrong.apply, [x], raise_exception=False) is False


def test_gradcheck_fast_mode_on_a_large_input():
    x = pe.randn(64, 200, dtype=pe.float64, requires_grad=True)
    w = pe.randn(200, 30, dtype=pe.float64, requires_grad=True)
    assert gradcheck(lambda a, b: (a @ b).tanh(), [x, w], fast_mode=True)


def test_gradcheck_module_checks_parameters_and_leaves_the_module_alone():
    m = nn.Linear(3, 2)
    before = m.weight.numpy().copy()
    assert gradcheck(m, [pe.randn(4, 3)])
    assert m.weight.dtype == np.float32 and np.array_equal(m.weight.numpy(), before)


def test_gradcheck_numpy_vjp_mode_still_works():
    fn = lambda a: np.sin(a)                                         # noqa: E731
    assert gradcheck(fn, [np.random.default_rng(0).standard_normal((3, 2))], vjp=lambda g, a: [g * np.cos(a)])


def test_gradcheck_fails_on_nan_or_inf_in_either_gradient():
    from pyengine.autograd import Function

    class NanBackward(Function):          # right forward, a NaN in the analytic gradient
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            out = g * 2
            out[0] = np.nan
            return out

    with pytest.raises(GradcheckError, match=r"analytic gradient is not finite at index \(0,\)"):
        gradcheck(NanBackward.apply, [pe.randn(3, dtype=pe.float64, requires_grad=True)])
    # numeric NaN: f(x) = sqrt(x) at x = 0 gives nan (0 - nan) in the central difference; analytic inf
    with pytest.raises(GradcheckError, match="not finite"):
        gradcheck(lambda a: a.sqrt(), [pe.tensor([0.0, 1.0], dtype=pe.float64, requires_grad=True)])

    class NanAround(Function):             # finite at the sample point, NaN a step away: only numeric is NaN
        @staticmethod
        def forward(ctx, x):
            return np.where(x == 1.0, x, np.nan)

        @staticmethod
        def backward(ctx, g):
            return g

    with pytest.raises(GradcheckError, match=r"the numeric gradient is not finite at index \(0,\)"):
        gradcheck(NanAround.apply, [pe.ones(2, dtype=pe.float64, requires_grad=True)])
    with pytest.raises(GradcheckError, match="not finite"):
        gradcheck(lambda x: x * 2, [np.ones(2)], vjp=lambda g, x: g * np.array([2.0, np.inf]))
