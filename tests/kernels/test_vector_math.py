"""Accuracy of the vector functions of csrc/cpu/isa/isa.h (exp, expm1, log1p, tanh, erf), which every
smooth activation, softmax and the recurrent cells are built on, against NumPy's float64 over a dense
sweep of float32 bit patterns (every 97th one across the function's domain, about 400 000 inputs
each, denormals included) and at the extremes: ±inf, NaN, ±0, the ends of the finite range, the kinks
of the piecewise forms (erf at |x| = 1 and 4). The error is counted in float32 ulps of the exact
value, ulp(y) = the spacing of float32 at |y| (2^-149 in the denormals). The bounds asserted are the
measured maxima rounded up, on every instruction set (the fixture cpu_isa)."""
import math

import numpy as np
import pytest

from pyengine import _C

F32_MAX = float(np.finfo(np.float32).max)

# name: (float64 oracle, domain (lo, hi) of the sweep, max ulps float32, max ulps float64)
FUNCTIONS = {
    "exp": (np.exp, (-110.0, 90.0), 1.5, 2.0),
    "expm1": (np.expm1, (-90.0, 90.0), 2.0, 2.5),
    "log1p": (np.log1p, (-1.0, F32_MAX), 3.0, 2.5),
    "tanh": (np.tanh, (-12.0, 12.0), 3.0, 3.0),
    "erf": (np.vectorize(math.erf, otypes=[np.float64]), (-6.0, 6.0), 3.0, 1.0),
}


def _sweep32(lo, hi, step=97):
    """Every step-th float32 in [lo, hi], through the bit patterns (dense in every binade)."""
    pos = np.arange(0, 0x7F800000, step, dtype=np.int64).astype(np.uint32).view(np.float32)
    x = np.concatenate([pos, -pos])
    return x[(x >= lo) & (x <= hi)]


def _ulps32(y, want):
    """|y − want| in float32 ulps of want; an overflow of want must be inf in y with the same sign."""
    want32 = want.astype(np.float32)   # rounds out of range to ±inf
    over = np.isinf(want32)
    ulp = np.spacing(np.abs(want32).astype(np.float32)).astype(np.float64)
    err = np.where(over, 0.0, np.abs(y.astype(np.float64) - want) / np.where(over, 1.0, ulp))
    err = np.where(over & (y != want32), np.inf, err)
    return err


_SWEEPS = {}


def _sweep_and_oracle(name):
    """The inputs and the float64 values, computed once per function (every ISA and thread count reuse them)."""
    if name not in _SWEEPS:
        oracle, (lo, hi), _, _ = FUNCTIONS[name]
        x = _sweep32(lo, hi)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            _SWEEPS[name] = x, oracle(x.astype(np.float64))
    return _SWEEPS[name]


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_float32_ulp_error_over_a_dense_sweep(name, cpu_isa):
    bound = FUNCTIONS[name][2]
    x, want = _sweep_and_oracle(name)
    y = _C._vector_math(name, x)
    assert y.dtype == np.float32 and y.shape == x.shape
    err = _ulps32(y, want)
    worst = int(np.argmax(err))
    assert err[worst] <= bound, f"{name}({x[worst]!r}) = {y[worst]!r}, want {want[worst]!r}: {err[worst]} ulps"


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_float32_extremes(name, cpu_isa):
    oracle = FUNCTIONS[name][0]
    tiny = np.float32(1.4e-45)
    x = np.array([0.0, -0.0, tiny, -tiny, 1e-38, -1e-38, 1e-30, 1.0, -1.0, 4.0, -4.0, np.nextafter(1, 2),
                  88.72283, 88.72284, -87.33655, -103.9, -104.0, 1e4, -1e4, F32_MAX, -F32_MAX, np.inf,
                  -np.inf], np.float32)
    if name == "log1p":
        x = x[(x >= -1) | np.isinf(x)]
    y = _C._vector_math(name, x)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        want = oracle(x.astype(np.float64))
    err = _ulps32(y, want)
    both_nan = np.isnan(y) & np.isnan(want)
    same = (y == want.astype(np.float32)) | both_nan
    ok = same | (err <= FUNCTIONS[name][2])
    assert np.all(ok), (x[~ok], y[~ok], want[~ok])
    nan = _C._vector_math(name, np.array([np.nan, -np.nan], np.float32))
    assert np.all(np.isnan(nan))


def test_special_values():
    f = lambda name, v: _C._vector_math(name, np.array(v, np.float32))
    assert np.array_equal(f("exp", [np.inf, -np.inf, 89.0, -110.0]), [np.inf, 0.0, np.inf, 0.0])
    assert f("exp", [-100.0])[0] > 0                       # a denormal, not flushed to 0
    assert np.array_equal(f("expm1", [np.inf, -np.inf, -100.0]), [np.inf, -1.0, -1.0])
    y = f("log1p", [-1.0, -1.5, -np.inf, np.inf])
    assert y[0] == -np.inf and np.isnan(y[1]) and np.isnan(y[2]) and y[3] == np.inf
    assert np.array_equal(f("tanh", [np.inf, -np.inf, 20.0]), [1.0, -1.0, 1.0])
    assert np.array_equal(f("erf", [np.inf, -np.inf, 4.0, -10.0]), [1.0, -1.0, 1.0, -1.0])
    for name in FUNCTIONS:            # odd functions keep the sign of zero; all are exact at tiny x
        tiny = np.array([0.0, -0.0, 1e-40, -1e-40], np.float32)
        want = np.array([0.0, -0.0, 1e-40, -1e-40], np.float32) * (2 / math.sqrt(math.pi) if name == "erf" else 1)
        if name == "exp":
            want = np.ones(4, np.float32)
        y = f(name, tiny)
        assert np.allclose(y, want, rtol=2e-7, atol=0), (name, y)
        if name != "exp":
            assert np.array_equal(np.signbit(y[:2]), [False, True]), name


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_float64_ulp_error(name, cpu_isa):
    oracle, (lo, hi), _, bound = FUNCTIONS[name]
    if name == "exp":
        lo, hi = -750.0, 710.0
    elif name == "expm1":
        lo, hi = -710.0, 710.0
    elif name == "log1p":
        hi = 1e300
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-1, 1, 100_000) * 10.0 ** rng.uniform(-310, 3, 100_000),
                        rng.uniform(lo, hi, 20_000) if hi < 1e4 else 10.0 ** rng.uniform(-20, 300, 20_000)])
    x = x[(x >= lo) & (x <= hi)]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        want = oracle(x)
    y = _C._vector_math(name, x)
    ok = np.isfinite(want)
    ulp = np.spacing(np.abs(want[ok]))
    err = np.abs(y[ok] - want[ok]) / ulp
    worst = int(np.argmax(err))
    assert err[worst] <= bound, f"{name}({x[ok][worst]!r}) = {y[ok][worst]!r}, want {want[ok][worst]!r}: {err[worst]}"
    assert np.array_equal(y[~ok], want[~ok])
