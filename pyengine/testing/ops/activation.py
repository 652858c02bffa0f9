"""Registry entries for the element-wise activations (relu, leaky_relu, elu, sigmoid, tanh)."""
from __future__ import annotations

import numpy as np

from ..registry import ErrorInput, GradSpec, OpInfo, Sample, non_contiguous, randn

# Any rank: 0-d, size 1, odd sizes around the vector widths (4, 8, 16 lanes), zero-size, and one
# array above the kernels' OpenMP threshold (2^16 elements) with a partial last chunk.
SHAPES = [(), (1,), (7,), (17,), (3, 5, 7), (2, 3, 17, 19), (0, 4), (3, 0, 2), (301, 257)]
# Beyond the float range of exp, around its cut-offs (±87, ±88.7), tiny, infinite and NaN.
EXTREME = [-1e4, -1e3, -100.0, -88.8, -87.5, -30.0, -20.0, -1.0, -0.2, -1e-6, -1e-30, 1e-30, 1e-6, 0.2, 1.0,
           20.0, 30.0, 87.5, 88.8, 100.0, 1e3, 1e4, np.inf, -np.inf, np.nan]


def _forward_samples(params):
    def samples(rng, dtype):
        out = [Sample((randn(rng, s, dtype),), dict(params), f"shape {s}") for s in SHAPES]
        out.append(Sample((non_contiguous(randn(rng, (5, 33), dtype)),), dict(params), "non-contiguous (5, 33)"))
        out.append(Sample((np.array(EXTREME, dtype=dtype),), dict(params), "extreme values"))
        out.append(Sample((3.0 * randn(rng, (4, 1001), dtype),), dict(params), "wide values, tail of 1001"))
        return out
    return samples


def _backward_samples(ref_values, params):
    """ref_values(rng, shape, dtype) → the forward tensor the backward takes (x or output)."""
    def samples(rng, dtype):
        out = []
        for s in SHAPES:
            out.append(Sample((randn(rng, s, dtype), ref_values(rng, s, dtype)), dict(params), f"shape {s}"))
        g, r = randn(rng, (5, 33), dtype), ref_values(rng, (5, 33), dtype)
        out.append(Sample((non_contiguous(g), non_contiguous(r)), dict(params), "non-contiguous (5, 33)"))
        out.append(Sample((g.T, r.T), dict(params), "transposed views"))
        return out
    return samples


def _x_values(rng, shape, dtype):
    return randn(rng, shape, dtype)


def _sigmoid_output(rng, shape, dtype):
    return rng.uniform(0.001, 0.999, shape).astype(dtype)


def _tanh_output(rng, shape, dtype):
    return rng.uniform(-0.999, 0.999, shape).astype(dtype)


def _forward_errors(name, params, bad_param=None):
    fn = f"{name}_forward"

    def errors(rng):
        x = rng.standard_normal((3, 4)).astype(np.float32)
        out = [
            ErrorInput((x.astype(np.int32),), dict(params), TypeError, rf"{fn}: x must be float32 or float64, got int32", "int"),
            ErrorInput((x.astype(np.float16),), dict(params), TypeError, rf"{fn}: x must be float32 or float64, got float16", "float16"),
            ErrorInput((x > 0,), dict(params), TypeError, rf"{fn}: x must be float32 or float64, got bool", "bool"),
            ErrorInput((x.tolist(),), dict(params), TypeError, rf"{fn}: x must be a numpy.ndarray, got list", "list"),
        ]
        if bad_param:
            out.append(ErrorInput((x,), {bad_param: "0.1"}, TypeError, rf"{fn}: {bad_param} must be a real number, got str",
                                  "string parameter"))
        return out
    return errors


def _backward_errors(name, ref_name, params, bad_param=None):
    fn = f"{name}_backward"

    def errors(rng):
        g = rng.standard_normal((3, 4)).astype(np.float32)
        r = rng.uniform(0.1, 0.9, (3, 4)).astype(np.float32)
        out = [
            ErrorInput((g.T.copy(), r), dict(params), ValueError,
                       rf"{fn}: grad_output must have the shape of {ref_name} \(3, 4\), got \(4, 3\)", "shape"),
            ErrorInput((g.astype(np.float64), r), dict(params), TypeError,
                       rf"{fn}: grad_output has dtype float64 but {ref_name} is float32", "mixed dtypes"),
            ErrorInput((g, r.astype(np.int64)), dict(params), TypeError,
                       rf"{fn}: {ref_name} must be float32 or float64, got int64", "int"),
            ErrorInput((g, None), dict(params), TypeError, rf"{fn}: {ref_name} must be a numpy.ndarray, got NoneType", "None"),
        ]
        if bad_param:
            out.append(ErrorInput((g, r), {bad_param: None}, TypeError, rf"{fn}: {bad_param} must be a real number",
                                  "None parameter"))
        return out
    return errors


def _away_from_kink(rng):
    """float64 inputs with |x| ≥ 0.05: the finite differences never straddle the kink at 0."""
    def make(shape):
        x = rng.standard_normal(shape)
        return np.sign(x) * (0.05 + np.abs(x))
    return [Sample((make((3, 4)),), {}, "(3, 4)"), Sample((make((2, 3, 5)),), {}, "(2, 3, 5)")]


def _smooth(rng):
    return [Sample((rng.standard_normal((3, 4)),), {}, "(3, 4)"), Sample((3 * rng.standard_normal((2, 3, 5)),), {}, "(2, 3, 5)")]


def _family(name, ref_name, params, grad_forward, grad_vjp, grad_inputs, ref_values, bad_param=None):
    return [
        OpInfo(f"{name}_forward", "activation", _forward_samples(params), _forward_errors(name, params, bad_param),
               grad=GradSpec(grad_forward, grad_vjp, grad_inputs)),
        OpInfo(f"{name}_backward", "activation", _backward_samples(ref_values, params),
               _backward_errors(name, ref_name, params, bad_param)),
    ]


SLOPE, ALPHA = 0.2, 1.3

OPS = (
    _family("relu", "x", {}, lambda impl, x: impl.relu_forward(x),
            lambda impl, g, x: [impl.relu_backward(g, x)], _away_from_kink, _x_values)
    + _family("leaky_relu", "x", dict(negative_slope=SLOPE), lambda impl, x: impl.leaky_relu_forward(x, SLOPE),
              lambda impl, g, x: [impl.leaky_relu_backward(g, x, SLOPE)], _away_from_kink, _x_values,
              bad_param="negative_slope")
    + _family("elu", "x", dict(alpha=ALPHA), lambda impl, x: impl.elu_forward(x, ALPHA),
              lambda impl, g, x: [impl.elu_backward(g, x, ALPHA)], _away_from_kink, _x_values, bad_param="alpha")
    + _family("sigmoid", "output", {}, lambda impl, x: impl.sigmoid_forward(x),
              lambda impl, g, x: [impl.sigmoid_backward(g, impl.sigmoid_forward(x))], _smooth, _sigmoid_output)
    + _family("tanh", "output", {}, lambda impl, x: impl.tanh_forward(x),
              lambda impl, g, x: [impl.tanh_backward(g, impl.tanh_forward(x))], _smooth, _tanh_output)
)


# ---- gelu .. logsigmoid (backward from x). The backward samples add each op's kinks exactly, and the
# finite differences keep 0.05 away from them.
KINKS = {"relu6": (0.0, 6.0), "hardswish": (-3.0, 3.0), "hardsigmoid": (-3.0, 3.0)}


def _with_kinks(points):
    def samples(rng, dtype):
        out = _backward_samples(_x_values, {})(rng, dtype)
        x = np.array([p + d for p in points for d in (-1e-3, 0.0, 1e-3)] + [np.inf, -np.inf, np.nan], dtype)
        out.append(Sample((randn(rng, x.shape, dtype), x), {}, f"at and around the kinks {points}, Inf, NaN"))
        return out
    return samples


def _away_from(points):
    def inputs(rng):
        out = []
        for shape in ((3, 4), (2, 3, 5)):
            x = 4.0 * rng.standard_normal(shape)
            for p in points:
                near = np.abs(x - p) < 0.05
                x[near] = p + np.where(x[near] >= p, 0.05, -0.05)
            out.append(Sample((x,), {}, f"{shape}, 0.05 away from {points}"))
        return out
    return inputs


def _from_x_family(name, params=None, bad_param=None):
    params = params or {}
    fwd, bwd = f"{name}_forward", f"{name}_backward"
    points = KINKS.get(name, ())
    return [
        OpInfo(fwd, "activation", _forward_samples(params), _forward_errors(name, params, bad_param),
               grad=GradSpec(lambda impl, x: getattr(impl, fwd)(x, **params),
                             lambda impl, g, x: [getattr(impl, bwd)(g, x, **params)],
                             _away_from(points) if points else _smooth)),
        OpInfo(bwd, "activation", _with_kinks(points) if points else _backward_samples(_x_values, params),
               _backward_errors(name, "x", params, bad_param)),
    ]


def _param_errors(fn, cases):
    """cases: (kwargs, error, message regex, desc) on valid arrays."""
    def errors(rng):
        x = rng.standard_normal((3, 4)).astype(np.float32)
        args = (x,) if fn.endswith("_forward") else (x, x)
        return [ErrorInput(args, kw, err, rf"{fn}: {msg}", desc) for kw, err, msg, desc in cases]
    return errors


GELU_ERRORS = [(dict(approximate="erf"), ValueError, r"approximate must be 'none' or 'tanh', got 'erf'", "approximate"),
               (dict(approximate=None), ValueError, r"approximate must be 'none' or 'tanh', got None", "None")]
SOFTPLUS_ERRORS = [(dict(beta=0.0), ValueError, r"beta must be a finite number other than 0, got 0.0", "beta 0"),
                   (dict(beta=float("inf")), ValueError, r"beta must be a finite number other than 0", "beta inf"),
                   (dict(threshold="20"), TypeError, r"threshold must be a real number, got str", "threshold str"),
                   (dict(beta=None), TypeError, r"beta must be a real number, got NoneType", "beta None")]


def _both(a, b):
    return lambda *args: list(a(*args)) + list(b(*args))


def _gelu_family():
    """One entry per kernel; the samples run both forms, and so do the finite differences."""
    exact, tanh = _from_x_family("gelu", dict(approximate="none")), _from_x_family("gelu", dict(approximate="tanh"))
    for op, other in zip(exact, tanh):
        op.samples = _both(op.samples, other.samples)
        op.error_inputs = _both(op.error_inputs, _param_errors(op.name, GELU_ERRORS))
    exact[0].grad = GradSpec(
        lambda impl, x, approximate: impl.gelu_forward(x, approximate),
        lambda impl, g, x, approximate: [impl.gelu_backward(g, x, approximate)],
        lambda rng: [Sample(s.args + (a,), {}, f"{s.desc}, {a}") for a in ("none", "tanh") for s in _smooth(rng)])
    return exact


def _softplus_family():
    ops = _from_x_family("softplus", dict(beta=1.7, threshold=4.0), bad_param="beta")
    for op in ops:
        op.error_inputs = _both(op.error_inputs, _param_errors(op.name, SOFTPLUS_ERRORS))
    return ops


OPS = (OPS + _from_x_family("silu") + _from_x_family("relu6") + _from_x_family("hardswish")
       + _from_x_family("hardsigmoid") + _from_x_family("mish") + _from_x_family("logsigmoid")
       + _gelu_family() + _softplus_family())
