"""Registry entries for group normalisation (group_norm_forward / group_norm_backward), instance
normalisation (num_groups = C) among them."""
from __future__ import annotations

import numpy as np

from ... import reference
from ..registry import ErrorInput, GradSpec, OpInfo, Sample, non_contiguous, randn

# (x shape, num_groups, desc)
SHAPES = [((2, 6, 5, 7), 3, "3 groups of 2 channels, 5x7"),
          ((1, 4, 9), 4, "instance norm (G = C), 1-D, batch 1"),
          ((3, 5, 4, 4), 1, "one group (layer norm over C, H, W)"),
          ((2, 17, 3, 3), 17, "instance norm, 17 channels"),
          ((2, 8), 2, "2-D x (no spatial dimensions)"),
          ((2, 6, 2, 3, 5), 2, "3-D spatial"),
          ((4, 32, 16, 16), 8, "4x32x16x16, 8 groups (threads, summation chunks)"),
          ((1, 2, 1, 1), 2, "one element per group (variance 0)")]


def _fwd_samples(rng, dtype):
    out = []
    for shape, G, desc in SHAPES:
        C = shape[1]
        for which in ("both", "weight", "none"):
            w = randn(rng, (C,), dtype) if which != "none" else None
            b = randn(rng, (C,), dtype) if which == "both" else None
            out.append(Sample((randn(rng, shape, dtype), G, w, b), {}, f"{desc}, affine {which}"))
    w, b = randn(rng, (6,), dtype), randn(rng, (6,), dtype)
    out.append(Sample((randn(rng, (2, 6, 3), dtype), 3, w, b), dict(eps=1e-2), "eps 1e-2"))
    out.append(Sample((randn(rng, (0, 6, 3), dtype), 3, w, b), {}, "empty batch"))
    out.append(Sample((randn(rng, (2, 6, 0), dtype), 3, w, b), {}, "empty spatial size"))
    out.append(Sample((non_contiguous(randn(rng, (2, 6, 4), dtype)), 2, non_contiguous(w), b), {},
                      "non-contiguous x and weight"))
    out.append(Sample((randn(rng, (2, 4, 37), dtype) * 0.01 + 1000, 2, None, None), {},
                      "offset 1000, spread 0.01 (cancellation)"))
    out.append(Sample((np.zeros((2, 6, 5), dtype), 3, w, b), {}, "constant groups (variance 0)"))
    return out


def _stats(x, G):
    _, mean, rstd = reference.group_norm_forward(x.astype(np.float64), G)
    return mean.astype(x.dtype), rstd.astype(x.dtype)


def _bwd_samples(rng, dtype):
    out = []
    for shape, G, desc in SHAPES:
        x = randn(rng, shape, dtype)
        mean, rstd = _stats(x, G)
        for w in (randn(rng, (shape[1],), dtype), None):
            out.append(Sample((randn(rng, shape, dtype), x, mean, rstd, G, w), {},
                              f"{desc}, {'weight' if w is not None else 'no weight'}"))
    x = randn(rng, (3, 6, 5), dtype)
    mean, rstd = _stats(x, 3)
    g, w = randn(rng, x.shape, dtype), randn(rng, (6,), dtype)
    for needs in ((True, False, False), (False, True, True), (False, False, True), (False, False, False)):
        out.append(Sample((g, x, mean, rstd, 3, w), dict(needs_input_grad=needs), f"needs_input_grad={needs}"))
    out.append(Sample((non_contiguous(g), non_contiguous(x), mean, rstd, 3, w), {}, "non-contiguous grad_output, x"))
    x0 = randn(rng, (0, 6, 5), dtype)
    out.append(Sample((x0.copy(), x0, np.zeros((0, 3), dtype), np.zeros((0, 3), dtype), 3, w), {}, "empty batch"))
    return out


def _fwd_errors(rng):
    fn = "group_norm_forward"
    x = rng.standard_normal((2, 4, 3)).astype(np.float32)
    v = np.ones(4, np.float32)
    return [
        ErrorInput((x.tolist(), 2), {}, TypeError, rf"{fn}: x must be a numpy.ndarray, got list", "list x"),
        ErrorInput((x.astype(np.int32), 2), {}, TypeError, rf"{fn}: x must be float32 or float64, got int32", "int"),
        ErrorInput((x[0, 0], 1), {}, ValueError, rf"{fn}: x must have shape \(N, C, \*\), got \(3,\)", "1-D"),
        ErrorInput((x, 3), {}, ValueError, rf"{fn}: num_groups \(3\) must divide the number of channels \(4\)",
                   "groups do not divide"),
        ErrorInput((x, 0), {}, ValueError, rf"{fn}: num_groups must be >= 1, got 0", "zero groups"),
        ErrorInput((x, 2.0), {}, TypeError, rf"{fn}: num_groups must be an int, got float", "float groups"),
        ErrorInput((np.zeros((2, 0, 3), np.float32), 1), {}, ValueError, rf"{fn}: x must have at least one channel",
                   "no channels"),
        ErrorInput((x, 2, np.ones(3, np.float32)), {}, ValueError, rf"{fn}: weight must have shape \(4,\), got \(3,\)",
                   "weight shape"),
        ErrorInput((x, 2, v, np.ones(4)), {}, TypeError, rf"{fn}: bias has dtype float64 but x is float32",
                   "mixed dtypes"),
        ErrorInput((x, 2, v, v), dict(eps=-1.0), ValueError, rf"{fn}: eps must be a finite number >= 0.0, got -1.0",
                   "negative eps"),
        ErrorInput((x, 2, v, v), dict(eps=float("inf")), ValueError, rf"{fn}: eps must be a finite number", "inf eps"),
        ErrorInput((x, 2, v, v), dict(eps="1e-5"), TypeError, rf"{fn}: eps must be a float, got str", "eps type"),
    ]


def _bwd_errors(rng):
    fn = "group_norm_backward"
    x = rng.standard_normal((2, 4, 3)).astype(np.float32)
    m = np.zeros((2, 2), np.float32)
    v = np.ones(4, np.float32)
    return [
        ErrorInput((x[:, :2], x, m, m, 2, v), {}, ValueError, rf"{fn}: grad_output must have shape \(2, 4, 3\)",
                   "grad_output shape"),
        ErrorInput((x.astype(np.float64), x, m, m, 2, v), {}, TypeError,
                   rf"{fn}: grad_output has dtype float64 but x is float32", "mixed dtypes"),
        ErrorInput((x, x, np.zeros((2, 4), np.float32), m, 2, v), {}, ValueError,
                   rf"{fn}: mean must have shape \(2, 2\), got \(2, 4\)", "mean shape"),
        ErrorInput((x, x, m, m[:1], 2, v), {}, ValueError, rf"{fn}: rstd must have shape \(2, 2\), got \(1, 2\)",
                   "rstd shape"),
        ErrorInput((x, x, m, m.astype(np.float64), 2, v), {}, TypeError, rf"{fn}: rstd has dtype float64 but x is",
                   "rstd dtype"),
        ErrorInput((x, x, m, None, 2, v), {}, TypeError, rf"{fn}: rstd must be a numpy.ndarray, got NoneType", "no rstd"),
        ErrorInput((x, x, m, m, 3, v), {}, ValueError, rf"{fn}: num_groups \(3\) must divide", "groups"),
        ErrorInput((x, x, m, m, 2, np.ones(3, np.float32)), {}, ValueError, rf"{fn}: weight must have shape \(4,\)",
                   "weight shape"),
        ErrorInput((x, x, m, m, 2, v), dict(needs_input_grad=(True, True)), ValueError,
                   rf"{fn}: needs_input_grad must be a sequence of 3 bools", "needs length"),
    ]


def _grad_inputs(rng):
    return [
        Sample((rng.standard_normal((2, 6, 5)) * 2 + 1, rng.standard_normal(6), rng.standard_normal(6), 3), {},
               "3 groups, weight and bias"),
        Sample((rng.standard_normal((2, 3, 2, 3)), rng.standard_normal(3), rng.standard_normal(3), 3), {},
               "instance norm 2-D"),
        Sample((rng.standard_normal((3, 4, 2)), None, None, 2), {}, "no weight or bias"),
        Sample((rng.standard_normal((1, 2, 3)), rng.standard_normal(2), None, 1), {}, "one group, weight only"),
    ]


def _grad_forward(impl, x, w, b, G):
    return impl.group_norm_forward(x, G, w, b)[0]


def _grad_vjp(impl, g, x, w, b, G):
    _, mean, rstd = impl.group_norm_forward(x, G, w, b)
    grads = impl.group_norm_backward(g, x, mean, rstd, G, w, (True, w is not None, b is not None))
    return [gr for gr, v in zip(grads, (x, w, b)) if v is not None]


GRAD = GradSpec(forward=_grad_forward, vjp=_grad_vjp, inputs=_grad_inputs)

OPS = [
    OpInfo("group_norm_forward", "group_norm", _fwd_samples, _fwd_errors, grad=GRAD),
    OpInfo("group_norm_backward", "group_norm", _bwd_samples, _bwd_errors),
]
