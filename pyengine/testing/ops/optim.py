"""Registry entries for the fused optimizer updates (sgd_step, adam_step, rmsprop_step, adagrad_step).

The updates are in place, so every call works on fresh copies of the sample's arrays: the C++
kernel and the reference then start from the same state and their outputs (param and every
state buffer) are compared. State buffers hold values a real run produces (second moments ≥ 0,
centered RMSprop with square_avg ≥ grad_avg²).
"""
from __future__ import annotations

import numpy as np

from ..registry import ErrorInput, OpInfo, Sample, non_contiguous, randn

# scalar-like, odd sizes, a 4-D conv weight, one above the kernels' parallel threshold, empty
SHAPES = [(1,), (7,), (3, 5), (8, 1, 3, 3), (33, 17), (300, 131), (0,), (0, 4)]


def _copying_call(name):
    def call(impl, sample):
        args = tuple(a.copy() if isinstance(a, np.ndarray) else a for a in sample.args)
        return getattr(impl, name)(*args, **sample.kwargs)
    return call


def _positive(rng, shape, dtype):
    return (np.abs(rng.standard_normal(shape)) + 0.1).astype(dtype)


def _sgd_samples(rng, dtype):
    out = []
    for shape in SHAPES:
        p, g, b = randn(rng, shape, dtype), randn(rng, shape, dtype), randn(rng, shape, dtype)
        out.append(Sample((p, g, None), dict(lr=0.1), f"{shape} plain"))
        out.append(Sample((p, g, b), dict(lr=0.01, momentum=0.9), f"{shape} momentum"))
    p, g, b = randn(rng, (13, 9), dtype), randn(rng, (13, 9), dtype), randn(rng, (13, 9), dtype)
    out += [
        Sample((p, g, b), dict(lr=0.05, momentum=0.9, first_step=True), "first step copies g"),
        Sample((p, g, b), dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=1e-2), "dampening, decay"),
        Sample((p, g, b), dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4), "nesterov"),
        Sample((p, g, b), dict(lr=0.05, momentum=0.5, maximize=True), "maximize"),
        Sample((p, non_contiguous(g), b), dict(lr=0.05, momentum=0.9), "non-contiguous grad"),
        Sample((p, g, None), dict(lr=0.05, weight_decay=0.1), "decay, no momentum"),
    ]
    return out


def _adam_samples(rng, dtype):
    out = []
    for shape in SHAPES:
        p, g, m = randn(rng, shape, dtype), randn(rng, shape, dtype), randn(rng, shape, dtype)
        v, vmax = _positive(rng, shape, dtype), _positive(rng, shape, dtype)
        out.append(Sample((p, g, m, v, None), dict(step=3, lr=1e-2), f"{shape} adam"))
        out.append(Sample((p, g, m, v, vmax), dict(step=5, lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True),
                          f"{shape} adamw amsgrad"))
    p, g, m = randn(rng, (17, 6), dtype), randn(rng, (17, 6), dtype), randn(rng, (17, 6), dtype)
    v = _positive(rng, (17, 6), dtype)
    out += [
        Sample((p, g, np.zeros_like(m), np.zeros_like(v), None), dict(step=1), "first step from zeros"),
        Sample((p, g, m, v, None), dict(step=10, lr=3e-3, beta1=0.8, beta2=0.95, eps=1e-6, weight_decay=1e-2),
               "L2 decay, betas"),
        Sample((p, g, m, v, None), dict(step=2, lr=1e-3, maximize=True), "maximize"),
        Sample((p, non_contiguous(g), m, v, None), dict(step=4), "non-contiguous grad"),
    ]
    return out


def _rmsprop_samples(rng, dtype):
    out = []
    for shape in SHAPES:
        p, g, b, ga = (randn(rng, shape, dtype) for _ in range(4))
        v = (ga.astype(np.float64) ** 2 + _positive(rng, shape, np.float64)).astype(dtype)
        out.append(Sample((p, g, v, None, None), dict(lr=1e-2), f"{shape} plain"))
        out.append(Sample((p, g, v, b, ga), dict(lr=1e-2, momentum=0.9, weight_decay=1e-3), f"{shape} centered momentum"))
    p, g, ga = (randn(rng, (9, 11), dtype) for _ in range(3))
    v = (ga.astype(np.float64) ** 2 + 0.5).astype(dtype)
    out += [
        Sample((p, g, np.zeros_like(v), None, None), dict(lr=1e-3, alpha=0.9, eps=1e-6), "from zeros"),
        Sample((p, g, v, None, ga), dict(lr=1e-2, maximize=True), "centered maximize"),
        Sample((p, non_contiguous(g), v, None, None), dict(lr=1e-2), "non-contiguous grad"),
    ]
    return out


def _adagrad_samples(rng, dtype):
    out = []
    for shape in SHAPES:
        p, g = randn(rng, shape, dtype), randn(rng, shape, dtype)
        s = _positive(rng, shape, dtype)
        out.append(Sample((p, g, s), dict(step=1, lr=0.1), f"{shape} step 1"))
        out.append(Sample((p, g, s), dict(step=7, lr=0.1, lr_decay=0.05, weight_decay=1e-2), f"{shape} lr decay"))
    p, g = randn(rng, (5, 5), dtype), randn(rng, (5, 5), dtype)
    out += [Sample((p, g, np.zeros_like(p)), dict(step=1, maximize=True), "maximize from zeros"),
            Sample((p, non_contiguous(g), np.ones_like(p)), dict(step=2), "non-contiguous grad")]
    return out


def _common_errors(name, extra_args, kwargs):
    """Errors every update shares: dtype, shape, contiguity, read-only state, bad lr, non-arrays."""
    rng = np.random.default_rng(0)
    p = rng.standard_normal((4, 3)).astype(np.float32)

    def args(param, grad, *rest):
        return (param, grad, *(rest or tuple(np.ones_like(p) for _ in range(extra_args))))

    ro = p.copy()
    ro.flags.writeable = False
    fn = name
    return [
        ErrorInput(args(p.copy(), p.astype(np.float64)), kwargs, TypeError,
                   rf"{fn}: grad has dtype float64 but param is float32", "mixed dtypes"),
        ErrorInput(args(p.copy(), p[:3]), kwargs, ValueError, rf"{fn}: grad must have shape \(4, 3\), got \(3, 3\)",
                   "grad shape"),
        ErrorInput(args(p.astype(np.int32), p), kwargs, TypeError, rf"{fn}: param must be float32 or float64",
                   "int param"),
        ErrorInput(args(non_contiguous(p), p), kwargs, ValueError, rf"{fn}: param must be C-contiguous", "view"),
        ErrorInput(args(ro, p), kwargs, ValueError, rf"{fn}: param is read-only", "read-only"),
        ErrorInput(args(p.tolist(), p), kwargs, TypeError, rf"{fn}: param must be a numpy.ndarray, got list", "list"),
        ErrorInput(args(p.copy(), p), dict(kwargs, lr=-0.1), ValueError, rf"{fn}: lr must be >= 0.0, got -0.1",
                   "negative lr"),
        ErrorInput(args(p.copy(), p), dict(kwargs, lr=float("nan")), ValueError, rf"{fn}: lr must be finite",
                   "nan lr"),
    ]


def _sgd_errors(rng):
    p = rng.standard_normal((4, 3)).astype(np.float32)
    return _common_errors("sgd_step", 1, dict(lr=0.1, momentum=0.9)) + [
        ErrorInput((p.copy(), p, None), dict(lr=0.1, momentum=0.9), ValueError,
                   r"sgd_step: momentum_buffer is required when momentum is 0.9", "no buffer"),
        ErrorInput((p.copy(), p, np.ones((4, 4), np.float32)), dict(lr=0.1, momentum=0.9), ValueError,
                   r"sgd_step: momentum_buffer must have shape \(4, 3\), got \(4, 4\)", "buffer shape"),
        ErrorInput((p.copy(), p, p.copy()), dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), ValueError,
                   r"sgd_step: nesterov needs momentum > 0 and dampening 0", "nesterov dampening"),
    ]


def _adam_errors(rng):
    p = rng.standard_normal((4, 3)).astype(np.float32)
    z = np.zeros_like(p)
    return _common_errors("adam_step", 2, dict(step=1)) + [
        ErrorInput((p.copy(), p, z.copy(), z.copy()), dict(step=0), ValueError, r"adam_step: step must be >= 1, got 0",
                   "step 0"),
        ErrorInput((p.copy(), p, z.copy(), z.copy()), dict(step=1, beta1=1.0), ValueError,
                   r"adam_step: beta1 must be < 1.0, got 1.0", "beta1 1"),
        ErrorInput((p.copy(), p, z.copy(), z.astype(np.float64)), dict(step=1), TypeError,
                   r"adam_step: exp_avg_sq has dtype float64 but param is float32", "state dtype"),
    ]


def _rmsprop_errors(rng):
    p = rng.standard_normal((4, 3)).astype(np.float32)
    z = np.zeros_like(p)
    return _common_errors("rmsprop_step", 1, dict(lr=0.01)) + [
        ErrorInput((p.copy(), p, z.copy()), dict(momentum=0.5), ValueError,
                   r"rmsprop_step: momentum_buffer is required when momentum is 0.5", "no buffer"),
        ErrorInput((p.copy(), p, z.copy()), dict(alpha=1.5), ValueError, r"rmsprop_step: alpha must be <= 1.0",
                   "alpha"),
    ]


def _adagrad_errors(rng):
    p = rng.standard_normal((4, 3)).astype(np.float32)
    return _common_errors("adagrad_step", 1, dict(step=1)) + [
        ErrorInput((p.copy(), p, np.zeros_like(p)), dict(step=1, lr_decay=-1.0), ValueError,
                   r"adagrad_step: lr_decay must be >= 0.0, got -1.0", "lr_decay"),
        ErrorInput((p.copy(), p, np.zeros_like(p)), dict(step=1.5), TypeError, r"adagrad_step: step must be an int",
                   "float step"),
    ]


_TOL = {np.dtype(np.float32): (2e-5, 2e-5), np.dtype(np.float64): (1e-12, 1e-12)}

OPS = [
    OpInfo("sgd_step", "optim", _sgd_samples, _sgd_errors, tol=dict(_TOL), call=_copying_call("sgd_step")),
    OpInfo("adam_step", "optim", _adam_samples, _adam_errors, tol=dict(_TOL), call=_copying_call("adam_step")),
    OpInfo("rmsprop_step", "optim", _rmsprop_samples, _rmsprop_errors, tol=dict(_TOL),
           call=_copying_call("rmsprop_step")),
    OpInfo("adagrad_step", "optim", _adagrad_samples, _adagrad_errors, tol=dict(_TOL),
           call=_copying_call("adagrad_step")),
]
