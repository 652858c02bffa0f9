"""Element-wise maths as Functions, with PyTorch's dtypes and PyTorch's gradients at the kinks.

Unary ops (sin … erfinv, sign, floor …) are one class each, made from the table at ``_UNARY``: the
forward ``f``, the derivative ``df(x, y)`` (None: the gradient is zero, as torch's for sign, floor,
ceil, round, trunc) and which of x / y the derivative reads (only those are kept on ctx). Integer
and bool inputs follow torch: ops with a float result (sin, exp2, reciprocal …) compute in the
default float dtype; sign, floor, ceil, round, trunc, abs, square keep the dtype; frac and the
error-function family on integers raise TypeError.

Binary ops subclass ``ops._Binary`` (PyTorch's type promotion, the broadcast error that names both
shapes, gradients summed back over broadcast axes). The choices at ties and singular points are
torch's: ``maximum``/``minimum`` split the gradient evenly between equal operands and pass it to
both when one is NaN; ``fmax``/``fmin`` give a tie to the first operand; ``atan2(0, 0)`` has
gradient 0; ``xlogy`` has gradient 0 w.r.t. x where x == 0; ``copysign`` has gradient 0 at x == 0.
``clamp`` with tensor bounds is max(x, min) then min(·, max): x gets the gradient where
min <= x <= max, a bound where it is the result (so with min > max everything goes to max).

``erf``/``erfc``/``erfinv`` are computed here in NumPy (NumPy has none): erf by the series
erf(x) = 2/√π · e^(−x²) · Σ 2ⁿ x^(2n+1) / (1·3·…·(2n+1)) (all terms positive, no cancellation) for
|x| < 2, erfc by its continued fraction e^(−x²)/√π · 1/(x + ½/(x + 1/(x + (3/2)/(x + …)))) for
x ≥ 1 (1 − erf below); both agree with libm to about 1e-15 relative. erfinv starts from Winitzki's
closed form and takes four Newton steps on erf (or on erfc near ±1).

The in-place forms (``sin_`` …) go through ``Tensor._inplace`` (version counter bump; recorded
out of place when the tensor is in a graph); ``unary_`` and ``binary_`` are the two helpers.
"""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np

from . import dtype as _dtype
from .core import Function, Tensor, _check_cast
from .device import xp_of
from .ops import Clamp, _Binary, _broadcast_error, _operands, _promote, unbroadcast

__all__ = ["UNARY", "erf_array", "erfc_array", "erfinv_array", "unary", "unary_", "binary_", "clamp", "clamp_",
           "lerp", "addcmul", "addcdiv", "where", "div", "floor_divide", "nan_to_num", "logit", "round_", "isclose"]

_LN2, _LN10 = math.log(2.0), math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


# ---------------------------------------------------------------------------------------- erf family
def _erf_series(x):
    """erf(x) for |x| < 2 (x float64)."""
    x2 = x * x
    term = x.copy()
    s = x.copy()
    for n in range(1, 60):              # the terms fall below 1e-17·s by n ≈ 45 at |x| = 2
        term *= 2.0 * x2 / (2 * n + 1)
        s += term
    return _TWO_OVER_SQRT_PI * np.exp(-x2) * s


def _erfc_cf(x):
    """erfc(x) for x ≥ 1 (float64) by the continued fraction, evaluated from its 200th term back."""
    t = x.copy()
    for k in range(200, 0, -1):
        t = x + (0.5 * k) / t
    return np.exp(-x * x) / (math.sqrt(math.pi) * t)


def erf_array(a):
    """erf of a NumPy array, computed in float64 and returned as float64."""
    x = np.asarray(a, dtype=np.float64)
    ax = np.abs(x)
    out = np.empty_like(x)
    small = ax < 2.0
    out[small] = _erf_series(ax[small])
    out[~small] = 1.0 - _erfc_cf(ax[~small])
    out[np.isnan(x)] = np.nan
    return np.copysign(out, x)


def erfc_array(a):
    """erfc of a NumPy array in float64, accurate relative to erfc itself in the far tail."""
    x = np.asarray(a, dtype=np.float64)
    ax = np.abs(x)
    tail = np.empty_like(x)                 # erfc(|x|)
    big = ax >= 1.0
    tail[big] = _erfc_cf(ax[big])
    tail[~big] = 1.0 - _erf_series(ax[~big])
    out = np.where(x >= 0, tail, 2.0 - tail)
    out[np.isnan(x)] = np.nan
    return out


def erfinv_array(a):
    """erfinv of a NumPy array in float64: ±inf at ±1, NaN outside [-1, 1]."""
    y = np.asarray(a, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.log1p(-y * y)                            # Winitzki's closed form, about 2e-3 relative
        c = 2.0 / (math.pi * 0.147) + 0.5 * w
        x = np.copysign(np.sqrt(np.sqrt(c * c - w / 0.147) - c), y)
        inner = np.abs(y) <= 0.9
        for _ in range(4):                              # Newton: x -= (erf(x) - y) / erf'(x)
            slope = _TWO_OVER_SQRT_PI * np.exp(-x * x)
            # near ±1, erf(x) - y loses the digits; use erfc(|x|) - (1 - |y|) there instead
            resid = np.where(inner, erf_array(x) - y,
                             np.sign(y) * ((1.0 - np.abs(y)) - erfc_array(np.abs(x))))
            step = resid / slope
            x = np.where(np.isfinite(step), x - step, x)
        x = np.where(np.abs(y) == 1.0, np.copysign(np.inf, y), x)
        x = np.where((np.abs(y) > 1.0) | np.isnan(y), np.nan, x)
    return x


def _erf(a):
    return erf_array(a).astype(a.dtype, copy=False)


def _erfc(a):
    return erfc_array(a).astype(a.dtype, copy=False)


def _erfinv(a):
    return erfinv_array(a).astype(a.dtype, copy=False)


# ---------------------------------------------------------------------------------------- unary ops
def _float_input(name, a, ints):
    """a as the op computes it: integers/bools cast to the default float dtype ("float"), kept
    ("keep"), or refused ("error", as torch's frac/erf kernels have no integer version)."""
    if a.dtype.kind in "fc":
        return a
    if ints == "keep":
        return a
    if ints == "error":
        raise TypeError(f"{name}: expected a floating-point tensor, got dtype {a.dtype}")
    return a.astype(_dtype.get_default_dtype())


class _Unary(Function):
    """y = f(x) element-wise; dy/dx = df(x, y) (None: zero). See the module docstring."""
    f = None
    df = None
    saves = "x"            # what df reads: "x", "y", "xy" or ""
    ints = "float"
    int_f = None           # the op on integer inputs when ints == "keep" (default: f)

    @staticmethod
    def forward(ctx, a):
        cls = type(ctx)
        a = _float_input(cls.name, a, cls.ints)
        if a.dtype.kind not in "fc" and cls.int_f is not None:
            y = cls.int_f(a)
        else:
            with np.errstate(all="ignore"):
                y = cls.f(a)
        if ctx.needs_input_grad[0]:
            s = cls.saves
            ctx.x = a if "x" in s else None
            ctx.y = y if "y" in s else None
        return y

    @staticmethod
    def backward(ctx, g):
        cls = type(ctx)
        if cls.df is None:
            return xp_of(g).zeros_like(g)
        with np.errstate(all="ignore"):
            return g * cls.df(ctx.x, ctx.y)


def _identity_copy(a):
    return a.copy()


def _sign(a):
    y = np.sign(a)
    if a.dtype.kind == "f":
        y[np.isnan(a)] = 0          # torch: sign(NaN) is 0
    return y


def _frac(a):
    return a - np.trunc(a)


def _rsqrt(a):
    return 1.0 / np.sqrt(a)


def _reciprocal(a):
    return 1.0 / a


def _exp2(a):
    return np.exp2(a)


def _sinc(a):
    return np.sinc(a)


def _dsinc(x, y):
    px = math.pi * x
    d = (np.cos(px) - y) / x
    return np.where(x == 0, 0.0, d)


def _deg2rad(a):
    return a * (math.pi / 180.0)


def _rad2deg(a):
    return a * (180.0 / math.pi)


# name: (f, df(x, y), saves, ints, torch_name or None)
_UNARY = {
    "sin": (np.sin, lambda x, y: np.cos(x), "x", "float"),
    "cos": (np.cos, lambda x, y: -np.sin(x), "x", "float"),
    "tan": (np.tan, lambda x, y: 1 + y * y, "y", "float"),
    "asin": (np.arcsin, lambda x, y: 1 / np.sqrt(1 - x * x), "x", "float"),
    "acos": (np.arccos, lambda x, y: -1 / np.sqrt(1 - x * x), "x", "float"),
    "atan": (np.arctan, lambda x, y: 1 / (1 + x * x), "x", "float"),
    "sinh": (np.sinh, lambda x, y: np.cosh(x), "x", "float"),
    "cosh": (np.cosh, lambda x, y: np.sinh(x), "x", "float"),
    "asinh": (np.arcsinh, lambda x, y: 1 / np.sqrt(x * x + 1), "x", "float"),
    "acosh": (np.arccosh, lambda x, y: 1 / np.sqrt(x * x - 1), "x", "float"),
    "atanh": (np.arctanh, lambda x, y: 1 / (1 - x * x), "x", "float"),
    "log1p": (np.log1p, lambda x, y: 1 / (1 + x), "x", "float"),
    "expm1": (np.expm1, lambda x, y: y + 1, "y", "float"),
    "log2": (np.log2, lambda x, y: 1 / (x * _LN2), "x", "float"),
    "log10": (np.log10, lambda x, y: 1 / (x * _LN10), "x", "float"),
    "exp2": (_exp2, lambda x, y: y * _LN2, "y", "float"),
    "rsqrt": (_rsqrt, lambda x, y: -0.5 * y * y * y, "y", "float"),
    "reciprocal": (_reciprocal, lambda x, y: -(y * y), "y", "float"),
    "square": (np.square, lambda x, y: 2 * x, "x", "keep"),
    "erf": (_erf, lambda x, y: _TWO_OVER_SQRT_PI * np.exp(-x * x), "x", "float"),
    "erfc": (_erfc, lambda x, y: -_TWO_OVER_SQRT_PI * np.exp(-x * x), "x", "float"),
    "erfinv": (_erfinv, lambda x, y: (math.sqrt(math.pi) / 2) * np.exp(y * y), "y", "float"),
    "sinc": (_sinc, _dsinc, "xy", "float"),
    "deg2rad": (_deg2rad, lambda x, y: math.pi / 180.0, "", "float"),
    "rad2deg": (_rad2deg, lambda x, y: 180.0 / math.pi, "", "float"),
    "sign": (_sign, None, "", "keep"),
    "sgn": (_sign, None, "", "keep"),
    "floor": (np.floor, None, "", "keep"),
    "ceil": (np.ceil, None, "", "keep"),
    "trunc": (np.trunc, None, "", "keep"),
    "frac": (_frac, lambda x, y: 1.0, "", "error"),
}
_INT_F = {"floor": _identity_copy, "ceil": _identity_copy, "trunc": _identity_copy}
_ALIASES = {"arcsin": "asin", "arccos": "acos", "arctan": "atan", "arcsinh": "asinh", "arccosh": "acosh",
            "arctanh": "atanh", "fix": "trunc"}

UNARY: dict = {}
for _name, (_f, _df, _saves, _ints) in _UNARY.items():
    UNARY[_name] = type("".join(p.capitalize() for p in _name.split("_")), (_Unary,),
                        {"name": _name, "f": staticmethod(_f), "df": None if _df is None else staticmethod(_df),
                         "saves": _saves, "ints": _ints,
                         "int_f": staticmethod(_INT_F[_name]) if _name in _INT_F else None,
                         "__doc__": f"{_name}(x) element-wise."})
    globals()[UNARY[_name].__name__] = UNARY[_name]
for _alias, _target in _ALIASES.items():
    UNARY[_alias] = UNARY[_target]


def unary(name, input):
    """pe.<name>(input) for a name of the unary table (sin, erf, floor …)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' must be a Tensor, got {type(input).__name__}")
    return UNARY[name].apply(input)


class Round(Function):
    """round half to even, to ``decimals`` decimal places (torch.round); gradient 0."""
    name = "round"

    @staticmethod
    def forward(ctx, a, decimals=0):
        if a.dtype.kind not in "fc":
            if decimals != 0:
                raise TypeError(f"round: decimals={decimals} needs a floating-point tensor, got {a.dtype}")
            return a.copy()
        return np.round(a, decimals)

    @staticmethod
    def backward(ctx, g):
        return xp_of(g).zeros_like(g)


class Logit(Function):
    """log(p / (1 - p)), p clamped to [eps, 1 - eps] when eps is given. Gradient 1/(p(1-p)); with eps,
    0 outside [eps, 1 - eps]; without, NaN outside [0, 1] (torch's)."""
    name = "logit"

    @staticmethod
    def forward(ctx, a, eps=None):
        a = _float_input("logit", a, "float")
        ctx.a, ctx.eps = a, eps
        p = a if eps is None else np.clip(a, eps, 1 - eps)
        with np.errstate(all="ignore"):
            return np.log(p / (1 - p))

    @staticmethod
    def backward(ctx, g):
        a, eps = ctx.a, ctx.eps
        with np.errstate(all="ignore"):
            d = g / (a * (1 - a))
        if eps is None:
            return np.where((a < 0) | (a > 1), np.nan, d)
        return np.where((a < eps) | (a > 1 - eps), 0.0, d)


def logit(input, eps=None):
    return Logit.apply(input, None if eps is None else float(eps))


class NanToNum(Function):
    """NaN, +inf, -inf replaced (defaults: 0, the dtype's largest, its smallest); gradient 1 where the
    input was finite, 0 where it was replaced."""
    name = "nan_to_num"

    @staticmethod
    def forward(ctx, a, nan=0.0, posinf=None, neginf=None):
        if a.dtype.kind != "f":
            return a.copy()
        ctx.finite = np.isfinite(a) if ctx.needs_input_grad[0] else None
        return np.nan_to_num(a, nan=nan, posinf=posinf, neginf=neginf)

    @staticmethod
    def backward(ctx, g):
        return g * ctx.finite


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    return NanToNum.apply(input, nan, posinf, neginf)


# ---------------------------------------------------------------------------------------- binary ops
class _Bin(_Binary):
    """A binary op: forward ``f`` on the promoted operands; ``grads(a, b, y, g)`` -> (da·g, db·g)
    before unbroadcasting. ``float_result`` ops give integers the default float dtype."""
    float_result = False
    saves_output = False

    @classmethod
    def forward(cls, ctx, a, b):
        if cls.float_result:
            a, b = _promote(cls, a, b)
        else:
            a, b = _operands(cls, a, b)
        with np.errstate(all="ignore"):
            try:
                y = cls._f(a, b)
            except ValueError:
                raise _broadcast_error(cls.name, a, b) from None
        if isinstance(y, np.generic):
            y = np.asarray(y)
        if any(ctx.needs_input_grad):
            ctx.a, ctx.b = a, b
            ctx.y = y if cls.saves_output else None
        ctx.sa, ctx.sb = getattr(a, "shape", ()), getattr(b, "shape", ())
        return y

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        with np.errstate(all="ignore"):
            ga, gb = type(ctx).grads(ctx.a, ctx.b, ctx.y, g, n)
        return (unbroadcast(ga, ctx.sa) if n[0] and ga is not None else None,
                unbroadcast(gb, ctx.sb) if n[1] and gb is not None else None)


def _bcast(x, g):
    """x broadcast to g's shape (a Python number as an array)."""
    return np.broadcast_to(x, g.shape) if hasattr(x, "shape") else np.full(g.shape, x, g.dtype)


class Atan2(_Bin):
    name = "atan2"
    float_result = True
    true_division = True
    _f = staticmethod(np.arctan2)

    @staticmethod
    def grads(a, b, y, g, n):
        den = a * a + b * b
        safe = np.where(den == 0, 1, den)
        scale = np.where(den == 0, 0, g / safe)           # torch: gradient 0 at (0, 0)
        return scale * b, -scale * a


class Maximum(_Bin):
    name = "maximum"
    _f = staticmethod(np.maximum)

    @staticmethod
    def grads(a, b, y, g, n):
        tie = 1 + (a == b)
        return g * ~(a < b) / tie, g * ~(a > b) / tie


class Minimum(_Bin):
    name = "minimum"
    _f = staticmethod(np.minimum)

    @staticmethod
    def grads(a, b, y, g, n):
        tie = 1 + (a == b)
        return g * ~(a > b) / tie, g * ~(a < b) / tie


class Fmax(_Bin):
    name = "fmax"
    _f = staticmethod(np.fmax)

    @staticmethod
    def grads(a, b, y, g, n):
        first = (a >= b) | np.isnan(b)
        return g * first, g * ~first


class Fmin(_Bin):
    name = "fmin"
    _f = staticmethod(np.fmin)

    @staticmethod
    def grads(a, b, y, g, n):
        first = (a <= b) | np.isnan(b)
        return g * first, g * ~first


class Fmod(_Bin):
    """a - trunc(a / b)·b (the sign of a), as C's fmod."""
    name = "fmod"
    _f = staticmethod(np.fmod)

    @staticmethod
    def grads(a, b, y, g, n):
        return _bcast(1.0, g) * g, (-g * np.trunc(a / b) if n[1] else None)


class Remainder(_Bin):
    """a - floor(a / b)·b (the sign of b), Python's %."""
    name = "remainder"
    _f = staticmethod(np.remainder)

    @staticmethod
    def grads(a, b, y, g, n):
        return _bcast(1.0, g) * g, (-g * np.floor(a / b) if n[1] else None)


class Hypot(_Bin):
    name = "hypot"
    float_result = True
    true_division = True
    saves_output = True
    _f = staticmethod(np.hypot)

    @staticmethod
    def grads(a, b, y, g, n):
        return g * a / y, g * b / y


class Copysign(_Bin):
    """|a| with the sign of b; d/da = sign agreement (0 at a == 0), d/db = 0."""
    name = "copysign"
    float_result = True
    true_division = True
    saves_output = True
    _f = staticmethod(np.copysign)

    @staticmethod
    def grads(a, b, y, g, n):
        ratio = np.where(a == 0, 0.0, y / np.where(a == 0, 1, a))
        return g * ratio, xp_of(g).zeros_like(g)


class Xlogy(_Bin):
    """x·log(y), 0 where x == 0 (unless y is NaN)."""
    name = "xlogy"
    float_result = True
    true_division = True

    @staticmethod
    def _f(a, b):
        out = a * np.log(b)
        return np.where((a == 0) & ~np.isnan(b), 0.0, out).astype(out.dtype, copy=False)

    @staticmethod
    def grads(a, b, y, g, n):
        da = np.where(a != 0, np.log(b), np.where(np.isnan(b), np.nan, 0.0))
        return g * da, g * a / b


class Logaddexp(_Bin):
    name = "logaddexp"
    float_result = True
    true_division = True
    saves_output = True
    _f = staticmethod(np.logaddexp)

    @staticmethod
    def grads(a, b, y, g, n):
        return g * np.exp(a - y), g * np.exp(b - y)


class Logaddexp2(_Bin):
    name = "logaddexp2"
    float_result = True
    true_division = True
    saves_output = True
    _f = staticmethod(np.logaddexp2)

    @staticmethod
    def grads(a, b, y, g, n):
        return g * np.exp2(a - y), g * np.exp2(b - y)


class FloorDivide(_Bin):
    """floor(a / b) (torch.floor_divide); not differentiable, as in torch."""
    name = "floor_divide"
    _f = staticmethod(np.floor_divide)

    @staticmethod
    def grads(a, b, y, g, n):
        raise RuntimeError("the derivative of floor_divide is not implemented (as in torch); use "
                           "div(..., rounding_mode='floor'), whose gradient is zero")


class DivRounded(_Bin):
    """a / b rounded toward zero ('trunc') or down ('floor'); gradient zero (torch's)."""
    name = "div"

    @classmethod
    def forward(cls, ctx, a, b, mode):
        ctx.mode = mode
        a, b = _operands(cls, a, b)
        with np.errstate(all="ignore"):
            try:
                if a.dtype.kind in "iub" if hasattr(a, "dtype") else False:
                    y = np.floor_divide(a, b) if mode == "floor" else _trunc_int_div(a, b)
                else:
                    q = np.true_divide(a, b)
                    y = np.floor(q) if mode == "floor" else np.trunc(q)
            except ValueError:
                raise _broadcast_error_of(a, b) from None
        ctx.sa, ctx.sb = getattr(a, "shape", ()), getattr(b, "shape", ())
        return np.asarray(y)

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        z = xp_of(g).zeros_like(g)
        return (unbroadcast(z, ctx.sa) if n[0] else None, unbroadcast(z, ctx.sb) if n[1] else None, None)


def _trunc_int_div(a, b):
    q = np.floor_divide(a, b)
    r = np.remainder(a, b)
    return np.where((r != 0) & ((a < 0) != (b < 0)), q + 1, q)


def _broadcast_error_of(a, b):
    return ValueError(f"div: shapes {tuple(getattr(a, 'shape', ()))} and {tuple(getattr(b, 'shape', ()))} "
                      "cannot be broadcast together")


BINARY = {c.name: c for c in (Atan2, Maximum, Minimum, Fmax, Fmin, Fmod, Remainder, Hypot, Copysign, Xlogy,
                               Logaddexp, Logaddexp2, FloorDivide)}
TENSOR_ONLY = {"maximum", "minimum", "fmax", "fmin", "atan2", "hypot", "logaddexp", "logaddexp2"}


def binary(name, input, other):
    """pe.<name>(input, other) for a name of the binary table (atan2, maximum, fmod …)."""
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise TypeError(f"{name}(): argument 'input' must be a Tensor, got {type(input).__name__}")
    if name in TENSOR_ONLY and not isinstance(other, Tensor):
        raise TypeError(f"{name}(): argument 'other' must be a Tensor, got {type(other).__name__}")
    if not isinstance(input, Tensor):
        input = Tensor(input)
    return BINARY[name].apply(input, other)


def div(input, other, rounding_mode=None):
    """input / other; rounding_mode None (true division), 'trunc' or 'floor'."""
    if rounding_mode is None:
        return input / other
    if rounding_mode not in ("trunc", "floor"):
        raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}")
    if not isinstance(input, Tensor):
        input = Tensor(input)
    return DivRounded.apply(input, other, rounding_mode)


def floor_divide(input, other):
    return binary("floor_divide", input, other)


# ---------------------------------------------------------------------------------------- clamp, lerp
def _bound(what, v):
    if v is None or isinstance(v, Tensor):
        return v
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.number)):
        raise TypeError(f"clamp: {what} must be a number, a Tensor or None, got {type(v).__name__}")
    return v


def clamp(input, min=None, max=None):
    """min(max(input, min), max) element-wise; min/max numbers or Tensors (broadcast), one may be None."""
    if not isinstance(input, Tensor):
        raise TypeError(f"clamp(): argument 'input' must be a Tensor, got {type(input).__name__}")
    lo, hi = _bound("min", min), _bound("max", max)
    if lo is None and hi is None:
        raise ValueError("clamp: at least one of 'min' or 'max' must not be None")
    if isinstance(lo, Tensor) or isinstance(hi, Tensor):
        return ClampT.apply(input, lo, hi)
    target = _dtype.result_type(input._data, *[v for v in (lo, hi) if v is not None])
    x = input if target == input.dtype else input.to(target)
    return Clamp.apply(x, lo, hi)


class ClampT(Function):
    """clamp(x, lo, hi) with a Tensor bound (the other a Tensor, a number or None): m = max(x, lo),
    x's where x >= lo; then min(m, hi), m's where m <= hi. So x gets the gradient where
    lo <= x <= hi, lo where it is the result, hi where it is (everything, when lo > hi)."""
    name = "clamp"
    torch_name = "ClampBackward0"

    @staticmethod
    def forward(ctx, x, lo, hi):
        target = _dtype.result_type(*[v for v in (x, lo, hi) if v is not None])
        x, lo, hi = [v.astype(target) if hasattr(v, "dtype") and v.dtype != target else v for v in (x, lo, hi)]
        try:
            shape = np.broadcast_shapes(*[np.shape(v) for v in (x, lo, hi) if v is not None])
        except ValueError:
            raise ValueError(f"clamp: input {tuple(x.shape)}, min {tuple(np.shape(lo))} and max "
                             f"{tuple(np.shape(hi))} cannot be broadcast together") from None
        m = x if lo is None else np.maximum(x, lo)
        y = m if hi is None else np.minimum(m, hi)
        if any(ctx.needs_input_grad):
            ctx.x_wins = None if lo is None else np.broadcast_to(x >= lo, shape)
            ctx.m_wins = None if hi is None else np.broadcast_to(m <= hi, shape)
            ctx.shapes = (np.shape(x), np.shape(lo), np.shape(hi))
        return np.array(np.broadcast_to(y, shape))

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        xw, mw = ctx.x_wins, ctx.m_wins
        sx, slo, shi = ctx.shapes
        keep_m = g if mw is None else g * mw
        gx = unbroadcast(keep_m if xw is None else keep_m * xw, sx) if n[0] else None
        glo = unbroadcast(keep_m * ~xw, slo) if n[1] else None
        ghi = unbroadcast(g * ~mw, shi) if n[2] else None
        return gx, glo, ghi


def clamp_(input, min=None, max=None):
    """clamp in place (numbers or Tensor bounds)."""
    return _inplace_via(input, "clamp_", clamp, (min, max))


class Lerp(Function):
    """start + weight·(end − start); weight a number or a Tensor (all three broadcast)."""
    name = "lerp"
    torch_name = "LerpBackward1"

    @staticmethod
    def forward(ctx, start, end, weight):
        for what, v in (("input", start), ("end", end)):
            if v.dtype.kind != "f":
                raise TypeError(f"lerp: {what} must be a floating-point tensor, got {v.dtype}")
        if start.dtype != end.dtype:
            raise TypeError(f"lerp: expected dtype {start.dtype} for 'end' but got dtype {end.dtype}")
        if hasattr(weight, "dtype") and weight.dtype != start.dtype:
            if weight.ndim > 0 or weight.dtype.kind != "f":
                raise TypeError(f"lerp: expected dtype {start.dtype} for 'weight' but got dtype {weight.dtype}")
            weight = weight.astype(start.dtype)
        if not hasattr(weight, "dtype"):
            ctx.torch_name = "LerpBackward0"
        try:
            y = start + weight * (end - start)
        except ValueError:
            raise ValueError(f"lerp: input {tuple(start.shape)}, end {tuple(end.shape)} and weight "
                             f"{tuple(np.shape(weight))} cannot be broadcast together") from None
        n = ctx.needs_input_grad
        ctx.w = weight if (n[0] or n[1]) else None
        ctx.diff = (end - start) if n[2] else None
        ctx.shapes = (start.shape, end.shape, np.shape(weight))
        return np.asarray(y, dtype=start.dtype)

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        s0, s1, s2 = ctx.shapes
        w = ctx.w
        return (unbroadcast(g * (1 - w), s0) if n[0] else None,
                unbroadcast(g * w * np.ones_like(g), s1) if n[1] else None,
                unbroadcast(g * ctx.diff, s2) if n[2] else None)


def lerp(input, end, weight):
    if not isinstance(end, Tensor):
        raise TypeError(f"lerp(): argument 'end' must be a Tensor, got {type(end).__name__}")
    if not isinstance(weight, (Tensor, int, float)) or isinstance(weight, bool):
        raise TypeError(f"lerp(): argument 'weight' must be a number or a Tensor, got {type(weight).__name__}")
    return Lerp.apply(input, end, weight if isinstance(weight, Tensor) else float(weight))


def addcmul(input, tensor1, tensor2, value=1):
    """input + value·tensor1·tensor2."""
    return input + value * (tensor1 * tensor2) if value != 1 else input + tensor1 * tensor2


def addcdiv(input, tensor1, tensor2, value=1):
    """input + value·tensor1/tensor2."""
    return input + value * (tensor1 / tensor2) if value != 1 else input + tensor1 / tensor2


def where(condition, input, other):
    """input where condition holds, other elsewhere (broadcast; either may be a number, the result takes
    torch's promoted dtype); the gradient of each goes where it was chosen."""
    from .ops import Where
    c = condition._data if isinstance(condition, Tensor) else np.asarray(condition)
    if c.dtype != np.bool_:
        raise TypeError(f"where(): condition must be a bool tensor, got dtype {c.dtype}")
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        input = Tensor(input)
    return Where.apply(c, input, other)


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    a = input._data
    b = other._data if isinstance(other, Tensor) else other
    return Tensor._make(np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))


# ---------------------------------------------------------------------------------------- in-place forms
def _inplace_via(t, what, fn, args):
    """t <- fn(t, *args), in place, through Tensor._inplace: the version goes up and, in a graph,
    ``fn`` runs out of place on a copy of the old values and t moves onto the new node. Outside a
    graph ``fn`` runs under no_grad and its result is written into t's storage."""
    from .grad_mode import no_grad

    def write():
        with no_grad():
            r = fn(t.detach(), *args)
        res = r._data
        if res.shape != t._data.shape:
            raise RuntimeError(f"{what}: output with shape {tuple(t.shape)} doesn't match the broadcast shape "
                               f"{tuple(res.shape)}")
        _check_cast(what, res.dtype, t._data.dtype)
        t._data[...] = res
    return t._inplace(what, SimpleNamespace(apply=fn), args, write)


def unary_(input, name):
    """input.<name>_(): the unary op in place."""
    return _inplace_via(input, name + "_", lambda x: UNARY[name].apply(x), ())


def binary_(input, name, other):
    return _inplace_via(input, name + "_", lambda x, o: BINARY[name].apply(x, o), (other,))


def round_(input, decimals=0):
    return _inplace_via(input, "round_", lambda x, d: Round.apply(x, d), (decimals,))


def via_(input, what, fn, *args):
    """input <- fn(input, *args) in place (the in-place form of any op here)."""
    return _inplace_via(input, what, fn, args)


def fn_(input, name):
    """input.<name>_() for the core's unary methods (exp, log, sqrt, abs, neg, sigmoid, tanh, relu)."""
    return _inplace_via(input, name + "_", lambda x: getattr(x, name)(), ())
