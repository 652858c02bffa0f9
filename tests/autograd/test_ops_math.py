"""Element-wise ops against torch 2.13: values, dtypes (integer inputs, promotion), gradients, the
subgradients at kinks and ties, NaN handling, in-place forms with their version bumps, and errors."""
import math

import numpy as np
import pytest

import pyengine as pe
from pyengine.autograd.ops_math import UNARY, erf_array, erfc_array, erfinv_array

from ops_parity import check, torch

DOMAIN = {  # name -> (low, high) of the sample values (inside the function's domain, off its poles)
    "asin": (-0.9, 0.9), "acos": (-0.9, 0.9), "atanh": (-0.9, 0.9), "erfinv": (-0.95, 0.95),
    "arcsin": (-0.9, 0.9), "arccos": (-0.9, 0.9), "arctanh": (-0.9, 0.9),
    "acosh": (1.1, 4.0), "arccosh": (1.1, 4.0),
    "log1p": (-0.8, 3.0), "log2": (0.1, 4.0), "log10": (0.1, 4.0), "rsqrt": (0.1, 4.0),
    "reciprocal": (0.2, 3.0), "tan": (-1.2, 1.2),
}
NAMES = sorted(UNARY)


def _sample(rng, name, shape, dtype=np.float64):
    lo, hi = DOMAIN.get(name, (-3.0, 3.0))
    x = rng.uniform(lo, hi, shape)
    if name in ("floor", "ceil", "trunc", "fix", "frac", "sign", "sgn"):
        x = x + 0.25 * np.sign(x - np.round(x))    # keep away from integers (the kinks are tested apart)
    if name == "reciprocal":
        x = x * rng.choice([-1, 1], shape)
    return x.astype(dtype)


@pytest.mark.parametrize("name", NAMES)
def test_unary_float64_values_and_gradients(name, rng):
    x = _sample(rng, name, (3, 5))
    check(lambda M, t: getattr(t, name)(), x)
    check(lambda M, t: getattr(M, name)(t), x)


@pytest.mark.parametrize("name", NAMES)
def test_unary_float32_and_noncontiguous(name, rng):
    x = _sample(rng, name, (4, 6), np.float32)
    check(lambda M, t: getattr(t.transpose(0, 1)[::2], name)(), x)


@pytest.mark.parametrize("name", NAMES)
def test_unary_integer_inputs_follow_torch(name):
    x = np.array([[-3, -1, 0], [1, 2, 5]], dtype=np.int64)
    if name in ("acosh", "arccosh"):
        x = np.abs(x) + 1
    if name in ("frac", "erf", "erfc", "erfinv"):
        try:
            getattr(torch, name)(torch.from_numpy(x))
        except (RuntimeError, NotImplementedError):
            with pytest.raises(TypeError, match=f"{name}: expected a floating-point tensor, got dtype int64"):
                getattr(pe.tensor(x), name)()
            return
    check(lambda M, t: getattr(t, name)(), x, grad=False, rtol=1e-6, atol=1e-6)


def test_unary_empty_and_0d(rng):
    for name in ("sin", "erf", "floor", "rsqrt"):
        check(lambda M, t: getattr(t, name)(), np.zeros((0, 3)))
        check(lambda M, t: getattr(t, name)(), np.array(0.7))


def test_kinks_take_torch_subgradients():
    x = np.array([-2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.5])
    for name in ("sign", "sgn", "floor", "ceil", "trunc", "frac", "round", "abs", "relu", "sqrt", "rsqrt"):
        xs = np.abs(x) if name in ("sqrt", "rsqrt") else x
        check(lambda M, t: getattr(t, name)(), xs)


def test_sign_of_nan_and_signed_zero():
    check(lambda M, t: t.sign(), np.array([np.nan, -0.0, 0.0, -np.inf, np.inf]), grad=False)


def test_round_decimals():
    x = np.array([0.5, 1.5, 2.5, -0.5, 1.2345, -2.675, 123.456])
    check(lambda M, t: t.round(decimals=2), x)
    check(lambda M, t: M.round(t, decimals=1), x)
    check(lambda M, t: t.round(), x)


def test_erf_family_accuracy_against_torch_float64():
    x = np.concatenate([np.linspace(-7, 7, 4001), [0.0, -0.0, 1e-300, 1e-8, 26.0, -27.0, np.inf, -np.inf, np.nan]])
    tx = torch.from_numpy(x)
    np.testing.assert_allclose(erf_array(x), torch.erf(tx).numpy(), rtol=1e-14, atol=1e-16, equal_nan=True)
    np.testing.assert_allclose(erfc_array(x), torch.erfc(tx).numpy(), rtol=1e-13, atol=1e-300, equal_nan=True)
    y = np.concatenate([np.linspace(-0.999999, 0.999999, 2001), [0.0, 1.0, -1.0, 1.5, np.nan, 1 - 1e-12]])
    np.testing.assert_allclose(erfinv_array(y), torch.erfinv(torch.from_numpy(y)).numpy(), rtol=1e-12,
                               atol=1e-14, equal_nan=True)


def test_logit_with_and_without_eps():
    x = np.array([0.05, 0.3, 0.5, 0.9, 0.97])
    check(lambda M, t: t.logit(), x)
    check(lambda M, t: t.logit(eps=0.1), x)
    check(lambda M, t: M.logit(t, 0.1), np.array([-0.5, 1.5, 0.2]))


def test_nan_to_num():
    x = np.array([np.nan, np.inf, -np.inf, 1.5, -2.0], np.float32)
    check(lambda M, t: t.nan_to_num(), x)
    check(lambda M, t: t.nan_to_num(nan=1.0, posinf=9.0, neginf=-9.0), x)


# ---- binary -------------------------------------------------------------------------------------------
BINARY = ["atan2", "maximum", "minimum", "fmax", "fmin", "fmod", "remainder", "hypot", "copysign", "xlogy",
          "logaddexp", "logaddexp2"]


@pytest.mark.parametrize("name", BINARY)
def test_binary_broadcast_values_and_gradients(name, rng):
    a = rng.standard_normal((3, 1, 4)) * 2
    b = rng.standard_normal((5, 1)) * 2 + 0.1
    if name in ("xlogy",):
        b = np.abs(b) + 0.2
    check(lambda M, x, y: getattr(M, name)(x, y), a, b)
    check(lambda M, x, y: getattr(x, name)(y), a, b)


@pytest.mark.parametrize("name", ["maximum", "minimum", "fmax", "fmin"])
def test_min_max_ties_and_nans(name):
    a = np.array([1.0, 2.0, 3.0, np.nan, 1.0, np.nan])
    b = np.array([2.0, 2.0, 1.0, 1.0, np.nan, np.nan])
    check(lambda M, x, y: getattr(M, name)(x, y), a, b)


def test_singular_points_follow_torch():
    z = np.array([0.0, 0.0, 1.0, -2.0])
    o = np.array([0.0, 1.0, 0.0, 3.0])
    check(lambda M, x, y: M.atan2(x, y), z, o)
    check(lambda M, x, y: M.hypot(x, y), z, o)
    check(lambda M, x, y: M.xlogy(x, y), z, np.array([0.0, -1.0, 0.0, 2.0]))
    check(lambda M, x, y: M.copysign(x, y), np.array([0.0, -0.0, 1.0, -2.0]), np.array([-1.0, 1.0, -1.0, 3.0]))
    check(lambda M, x: x ** 0, np.array([0.0, 2.0]))
    check(lambda M, x, e: x ** e, np.array([0.0, 2.0, 0.0, -1.5]), np.array([0.0, 0.0, 2.0, 2.0]))
    check(lambda M, x: x ** 2.5, np.array([0.0, 2.0]))


def test_binary_scalars_and_promotion():
    xi = np.array([-7, -3, 0, 3, 7], np.int64)
    xf = np.array([-7.5, -3.0, 0.5, 3.0, 7.25], np.float32)
    for name in ("fmod", "remainder"):
        check(lambda M, x: getattr(M, name)(x, 3), xi, grad=False)
        check(lambda M, x: getattr(M, name)(x, -2.5), xi, grad=False)
        check(lambda M, x: getattr(M, name)(x, 2), xf)
        check(lambda M, x: getattr(x, name)(-2.5), xf)
    check(lambda M, x: x % 3, xi, grad=False)
    check(lambda M, x: x % -2.0, xf)
    check(lambda M, x: x // 2, xi, grad=False)
    check(lambda M, x: M.floor_divide(x, 2.0), xf, grad=False)
    check(lambda M, x, y: M.atan2(x, y), xi, np.array([1, 2, 3, -1, 1], np.int64), grad=False)
    check(lambda M, x, y: M.maximum(x, y), xi, xf.astype(np.float64), grad=False)


def test_div_rounding_modes():
    a = np.array([-7.5, -3.0, 0.5, 3.0, 7.25])
    b = np.array([2.0, -2.0, 0.3, 4.0, -1.5])
    for mode in (None, "trunc", "floor"):
        check(lambda M, x, y: M.div(x, y, rounding_mode=mode), a, b)
        check(lambda M, x, y: x.div(y, rounding_mode=mode), a, b)
    ai, bi = np.array([-7, -3, 7, 8], np.int64), np.array([2, -2, -3, 4], np.int64)
    for mode in ("trunc", "floor"):
        check(lambda M, x, y: M.div(x, y, rounding_mode=mode), ai, bi, grad=False)
    with pytest.raises(ValueError, match="rounding_mode must be None, 'trunc' or 'floor', got 'round'"):
        pe.tensor([1.0]).div(2.0, rounding_mode="round")


def test_floor_divide_is_not_differentiable_like_torch():
    x = pe.tensor([1.5, -2.5], requires_grad=True)
    y = pe.floor_divide(x, 2.0)
    with pytest.raises(RuntimeError, match="derivative of floor_divide is not implemented"):
        y.sum().backward()


# ---- clamp, lerp, addc* -------------------------------------------------------------------------------
def test_clamp_scalar_and_tensor_bounds(rng):
    x = np.array([1.0, 2.0, 5.0, 6.0, 9.0, -3.0])
    check(lambda M, t: t.clamp(2, 6), x)
    check(lambda M, t: M.clamp(t, min=2.0), x)
    check(lambda M, t: t.clamp(max=6), x)
    check(lambda M, t: t.clamp(6, 2), x)                    # min > max: everything is max
    lo = np.array([2.0, 2.0, 1.0, 6.0, 0.0, -5.0])
    hi = np.array([4.0, 3.0, 5.0, 8.0, 8.0, -4.0])
    check(lambda M, t, a, b: t.clamp(a, b), x, lo, hi)
    check(lambda M, t, a: M.clamp(t, min=a), x, lo)
    check(lambda M, t, b: t.clamp(max=b), x, hi)
    check(lambda M, t, a, b: t.clamp(a, b), x, hi, lo)       # lo > hi elementwise
    check(lambda M, t, a, b: t.clamp(a, b), x, lo[:1], np.array(4.0))   # broadcast bounds
    mixed = pe.tensor(x).clamp(pe.tensor(lo), 4.0)                  # (torch wants both bounds tensors)
    assert mixed.tolist() == np.clip(x, lo, 4.0).tolist()
    check(lambda M, t: t.clip(-1, 1), rng.standard_normal((3, 4)))
    check(lambda M, t: t.clamp(2.5, 6), np.array([1, 5, 9], np.int64), grad=False)
    check(lambda M, t: t.clamp(2, 6), np.array([1, 5, 9], np.int64), grad=False)
    check(lambda M, t: t.clamp_min(1.5), x)
    check(lambda M, t: t.clamp_max(1.5), x)


def test_clamp_errors():
    x = pe.tensor([1.0, 2.0])
    with pytest.raises(ValueError, match="at least one of 'min' or 'max' must not be None"):
        x.clamp()
    with pytest.raises(TypeError, match="clamp: min must be a number, a Tensor or None, got str"):
        x.clamp("0")
    with pytest.raises(ValueError, match=r"clamp: input \(2,\), min \(3,\) and max \(\) cannot be broadcast"):
        x.clamp(pe.tensor([0.0, 1.0, 2.0]))


def test_lerp_addcmul_addcdiv(rng):
    a, b, w = rng.standard_normal((3, 4)), rng.standard_normal((4,)), rng.uniform(0, 1, (3, 1))
    check(lambda M, x, y: M.lerp(x, y.expand(3, 4), 0.3), a, b)
    check(lambda M, x, y, z: x.lerp(y.expand(3, 4), z), a, b, w)
    c = rng.uniform(0.5, 2, (3, 4))
    check(lambda M, x, y, z: M.addcmul(x, y, z, value=0.5), a, b, c)
    check(lambda M, x, y, z: x.addcdiv(y, z, value=-2), a, b, c)
    with pytest.raises(TypeError, match="lerp: input must be a floating-point tensor, got int64"):
        pe.tensor([1, 2]).lerp(pe.tensor([3, 3]), 0.5)


# ---- in-place ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["sin", "floor", "erf", "rsqrt", "reciprocal", "exp", "sqrt", "abs", "neg",
                                  "sigmoid", "tanh", "relu", "frac", "sign", "square", "log1p"])
def test_unary_inplace_in_a_graph_matches_torch(name, rng):
    x = rng.uniform(0.2, 1.5, (3, 4))

    def f(M, t):
        y = t * 1.5
        out = getattr(y, name + "_")()
        assert out is y
        return y * 2
    check(f, x)


def test_inplace_bumps_the_version_and_guards_saved_values():
    x = pe.tensor([0.5, 1.0, 2.0], requires_grad=True)
    y = x * 1.0
    z = y.sin()          # saves y
    v = y._version
    y.cos_()
    assert y._version == v + 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        x.sin_()
    with pytest.raises(RuntimeError, match="result type float32 can't be cast to the desired output type int64"):
        pe.tensor([1, 2]).sin_()
    t = pe.tensor([1.25, -2.5])
    assert t.floor_() is t and t.tolist() == [1.0, -3.0] and t._version == 1


def test_binary_and_clamp_inplace(rng):
    x, o = rng.standard_normal((3, 4)), rng.standard_normal((4,)) + 3

    def f(M, a, b):
        y = a * 1.0
        y.atan2_(b)
        y.fmod_(b)
        y.clamp_(b * 0 - 0.5, b)
        y.lerp_(b.expand(3, 4), 0.25)
        y.addcmul_(a, b, value=0.5)
        y.pow_(2)
        return y
    check(f, x, o)
    t = pe.tensor([1.0, 5.0, 9.0])
    t.clamp_(pe.tensor([2.0, 2.0, 2.0]), 6.0)
    assert t.tolist() == [2.0, 5.0, 6.0] and t._version == 1


def test_errors_name_the_argument():
    with pytest.raises(TypeError, match=r"sin\(\): argument 'input' must be a Tensor, got list"):
        pe.sin([1.0])
    with pytest.raises(TypeError, match=r"maximum\(\): argument 'other' must be a Tensor, got float"):
        pe.maximum(pe.tensor([1.0]), 2.0)
    with pytest.raises(ValueError, match=r"atan2: shapes \(2,\) and \(3,\) cannot be broadcast together"):
        pe.atan2(pe.tensor([1.0, 2.0]), pe.tensor([1.0, 2.0, 3.0]))


def test_math_constants_of_derivatives():
    # log2/log10/exp2 derivatives carry ln 2 / ln 10 exactly
    x = pe.tensor([2.0], dtype=pe.float64, requires_grad=True)
    (x.log2() + x.log10() + x.exp2()).sum().backward()
    assert abs(x.grad.item() - (1 / (2 * math.log(2)) + 1 / (2 * math.log(10)) + 4 * math.log(2))) < 1e-14
