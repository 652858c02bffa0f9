"""Registry entries for batch normalisation.

batch_norm_forward updates the running statistics in place, so its entry calls it on copies and
compares the updated statistics as outputs too.
"""
from __future__ import annotations

import numpy as np

from ... import reference
from ..registry import ErrorInput, GradSpec, OpInfo, Sample, non_contiguous, randn


def _copy(v):
    """A fresh copy keeping a view non-contiguous (to exercise the copy-in, write-back path)."""
    if v is None:
        return None
    return v.copy() if v.flags.c_contiguous else non_contiguous(v.copy())


def _fwd_call(impl, s):
    x, w, b, rm, rv, training = s.args
    rm, rv = _copy(rm), _copy(rv)
    y, mean, invstd = impl.batch_norm_forward(x, w, b, rm, rv, training, **s.kwargs)
    return (y, mean, invstd) + tuple(v for v in (rm, rv) if v is not None)


# (shape, with weight/bias, with running stats, desc)
SHAPES = [((5, 3), True, True, "2-D, odd sizes"), ((8, 130), True, True, "2-D, 130 channels (channel blocks)"),
          ((1, 3, 4, 5), True, True, "4-D, batch 1"), ((4, 17, 3, 5), True, True, "4-D, 17 channels"),
          ((3, 2, 1, 1), True, True, "4-D, 1x1 planes"), ((4, 5, 3, 3), False, True, "no weight or bias"),
          ((6, 4), True, False, "no running statistics"), ((3, 4, 2, 3), False, False, "nothing optional")]


def _fwd_samples(rng, dtype):
    out = []
    for shape, affine, running, desc in SHAPES:
        c = shape[1]
        for training in (True, False):
            if not training and not running:
                continue
            x = randn(rng, shape, dtype)
            w, b = (randn(rng, (c,), dtype), randn(rng, (c,), dtype)) if affine else (None, None)
            rm, rv = ((randn(rng, (c,), dtype), (rng.random(c) + 0.5).astype(dtype)) if running else (None, None))
            out.append(Sample((x, w, b, rm, rv, training), {}, f"{desc}, training={training}"))
    c = 3
    vec = lambda: randn(rng, (c,), dtype)  # noqa: E731
    pos = lambda: (rng.random(c) + 0.5).astype(dtype)  # noqa: E731
    out.append(Sample((randn(rng, (4, c, 3, 3), dtype), vec(), vec(), vec(), pos(), True), dict(momentum=0.3, eps=1e-3),
                      "momentum 0.3, eps 1e-3"))
    out.append(Sample((non_contiguous(randn(rng, (4, c, 3, 6), dtype)), non_contiguous(vec()), vec(),
                       non_contiguous(vec()), non_contiguous(pos()), True), {}, "non-contiguous x, weight, running stats"))
    out.append(Sample((randn(rng, (6, c, 5, 5), dtype) * 0.01 + 1000, vec(), vec(), vec(), pos(), True), {},
                      "offset 1000, spread 0.01 (cancellation)"))
    for training in (True, False):
        out.append(Sample((randn(rng, (0, c, 2, 2), dtype), vec(), vec(), vec(), pos(), training), {},
                          f"zero-size batch, training={training}"))
    return out


def _bwd_samples(rng, dtype):
    out = []
    for shape, affine, running, desc in SHAPES:
        c = shape[1]
        for training in (True, False):
            x = randn(rng, shape, dtype)
            w = randn(rng, (c,), dtype) if affine else None
            rm, rv = randn(rng, (c,), np.float64), rng.random(c) + 0.5
            _, mean, invstd = reference.batch_norm_forward(x.astype(np.float64), None, None, rm, rv, training)
            g = randn(rng, shape, dtype)
            out.append(Sample((g, x, w, mean.astype(dtype), invstd.astype(dtype), training), {},
                              f"{desc}, training={training}"))
    x = randn(rng, (4, 3, 3, 5), dtype)
    _, mean, invstd = reference.batch_norm_forward(x, None, None, None, None, True)
    g, w = randn(rng, x.shape, dtype), randn(rng, (3,), dtype)
    for needs in ((True, False, False), (False, True, True), (False, False, True), (False, False, False)):
        out.append(Sample((g, x, w, mean, invstd), dict(needs_input_grad=needs), f"needs_input_grad={needs}"))
    out.append(Sample((non_contiguous(g), non_contiguous(x), w, mean, invstd), {}, "non-contiguous grad_output and x"))
    x0 = randn(rng, (0, 3, 2, 2), dtype)
    out.append(Sample((x0.copy(), x0, w, np.zeros(3, dtype), np.zeros(3, dtype)), {}, "zero-size batch"))
    return out


def _fwd_errors(rng):
    fn = "batch_norm_forward"
    x = rng.standard_normal((4, 3, 2, 2)).astype(np.float32)
    v = np.ones(3, np.float32)
    ro = np.ones(3, np.float32)
    ro.flags.writeable = False
    return [
        ErrorInput((x[0], v, v, None, None, True), {}, ValueError, rf"{fn}: x must be 2-D or 4-D, got 3-D", "rank"),
        ErrorInput((x.astype(np.int32), v, v, None, None, True), {}, TypeError, rf"{fn}: x must be float32 or float64",
                   "int"),
        ErrorInput((x, np.ones(4, np.float32), v, None, None, True), {}, ValueError,
                   rf"{fn}: weight expects 4 channels, x has 3", "weight channels"),
        ErrorInput((x, v, v, np.ones(2, np.float32), v.copy(), True), {}, ValueError,
                   rf"{fn}: running_mean expects 2 channels, x has 3", "running_mean channels"),
        ErrorInput((x, v, v, v.copy(), np.ones(3), True), {}, TypeError,
                   rf"{fn}: running_var has dtype float64 but x is float32", "mixed dtypes"),
        ErrorInput((x, v, v, v.copy(), None, True), {}, ValueError,
                   rf"{fn}: running_mean and running_var must both be arrays or both be None", "one running stat"),
        ErrorInput((x, v, v, None, None, False), {}, ValueError,
                   rf"{fn}: running_mean and running_var are required when training is False", "eval without stats"),
        ErrorInput((x[:1, :, :1, :1], v, v, None, None, True), {}, ValueError,
                   rf"{fn}: training needs more than 1 value per channel", "one value per channel"),
        ErrorInput((x, v, v, ro, v.copy(), True), {}, ValueError, rf"{fn}: running_mean is read-only", "read-only"),
        ErrorInput((x, v, v, None, None, 1), {}, TypeError, rf"{fn}: training must be a bool", "training type"),
        ErrorInput((x, v, v, None, None, True), dict(momentum="0.1"), TypeError, rf"{fn}: momentum must be a float",
                   "momentum type"),
        ErrorInput((x, v, v, None, None, True), dict(eps=-1.0), ValueError, rf"{fn}: eps must be a finite number >= 0",
                   "negative eps"),
        ErrorInput((x, v[None], v, None, None, True), {}, ValueError, rf"{fn}: weight must be 1-D", "weight rank"),
    ]


def _bwd_errors(rng):
    fn = "batch_norm_backward"
    x = rng.standard_normal((4, 3, 2, 2)).astype(np.float32)
    v = np.ones(3, np.float32)
    return [
        ErrorInput((x[:, :, :1], x, v, v, v), {}, ValueError, rf"{fn}: grad_output must have shape \(4, 3, 2, 2\)",
                   "grad_output shape"),
        ErrorInput((x.astype(np.float64), x, v, v, v), {}, TypeError,
                   rf"{fn}: grad_output has dtype float64 but x is float32", "mixed dtypes"),
        ErrorInput((x, x, v, None, v), {}, TypeError, rf"{fn}: save_mean must be a numpy.ndarray", "no save_mean"),
        ErrorInput((x, x, v, v[:2], v), {}, ValueError, rf"{fn}: save_mean expects 2 channels, x has 3", "save_mean"),
        ErrorInput((x, x, v, v, v), dict(needs_input_grad=(True, True)), ValueError,
                   rf"{fn}: needs_input_grad must be a sequence of 3 bools", "needs length"),
        ErrorInput((x, x, v, v, v), dict(training="yes"), TypeError, rf"{fn}: training must be a bool", "training"),
        ErrorInput((x[0], x[0], v, v, v), {}, ValueError, rf"{fn}: x must be 2-D or 4-D", "rank"),
    ]


def _grad_inputs(rng):
    c = 3
    return [
        Sample((rng.standard_normal((4, c, 2, 3)) * 2 + 1, rng.standard_normal(c), rng.standard_normal(c), None), {},
               "training, 4-D"),
        Sample((rng.standard_normal((5, c)), rng.standard_normal(c), rng.standard_normal(c), None), {}, "training, 2-D"),
        Sample((rng.standard_normal((3, c, 2, 2)), None, None, None), {}, "training, no weight or bias"),
        Sample((rng.standard_normal((3, c, 2, 2)), rng.standard_normal(c), rng.standard_normal(c),
                (rng.standard_normal(c), rng.random(c) + 0.5)), {}, "eval"),
    ]


def _grad_forward(impl, x, w, b, stats):
    rm, rv = (None, None) if stats is None else (stats[0].copy(), stats[1].copy())
    return impl.batch_norm_forward(x, w, b, rm, rv, stats is None)[0]


def _grad_vjp(impl, g, x, w, b, stats):
    training = stats is None
    rm, rv = (None, None) if training else (stats[0].copy(), stats[1].copy())
    _, mean, invstd = impl.batch_norm_forward(x, w, b, rm, rv, training)
    grads = impl.batch_norm_backward(g, x, w, mean, invstd, training, (True, w is not None, b is not None))
    return [gr for gr, v in zip(grads, (x, w, b)) if v is not None]


GRAD = GradSpec(forward=_grad_forward, vjp=_grad_vjp, inputs=_grad_inputs)

OPS = [
    OpInfo("batch_norm_forward", "batch_norm", _fwd_samples, _fwd_errors, call=_fwd_call, grad=GRAD),
    OpInfo("batch_norm_backward", "batch_norm", _bwd_samples, _bwd_errors),
]
