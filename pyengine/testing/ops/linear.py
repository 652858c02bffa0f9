"""Registry entries for linear_forward and linear_backward."""
from __future__ import annotations

import numpy as np

from ..registry import ErrorInput, GradSpec, OpInfo, Sample, non_contiguous, randn

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
# (leading shape of x, I, O): batch 1, odd sizes, sizes past the register tiles, zero batch,
# more than one leading axis, a single vector (1-D x).
SHAPES = [((1,), 1, 1), ((1,), 7, 13), ((5,), 7, 13), ((64,), 100, 33), ((13,), 33, 17), ((0,), 7, 5),
          ((2, 3), 7, 5), ((), 9, 4)]
TOL = {F32: (2e-4, 2e-4), F64: (1e-10, 1e-10)}


def _forward_samples(rng, dtype):
    out = []
    for lead, i, o in SHAPES:
        x, w, b = randn(rng, lead + (i,), dtype), randn(rng, (o, i), dtype), randn(rng, (o,), dtype)
        out.append(Sample((x, w, b), {}, f"x {lead + (i,)} O {o}"))
    x, w = randn(rng, (9, 11), dtype), randn(rng, (6, 11), dtype)
    out.append(Sample((x, w), {}, "no bias"))
    out.append(Sample((non_contiguous(x), np.asfortranarray(w), randn(rng, (6,), dtype)), {},
                      "non-contiguous x, Fortran-ordered weight"))
    return out


def _backward_samples(rng, dtype):
    out = []
    for lead, i, o in SHAPES:
        x, w, g = randn(rng, lead + (i,), dtype), randn(rng, (o, i), dtype), randn(rng, lead + (o,), dtype)
        out.append(Sample((g, x, w), {}, f"x {lead + (i,)} O {o}"))
    x, w, g = randn(rng, (9, 11), dtype), randn(rng, (6, 11), dtype), randn(rng, (9, 6), dtype)
    out.append(Sample((non_contiguous(g), non_contiguous(x), w), {}, "non-contiguous grad_output and x"))
    for mask in [(True, False, False), (False, True, False), (False, False, True), (False, False, False)]:
        out.append(Sample((g, x, w), dict(needs_input_grad=mask), f"needs_input_grad={mask}"))
    return out


def _forward_errors(rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    w = rng.standard_normal((5, 4)).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    fn = "linear_forward"
    return [
        ErrorInput((x, w[:, :3]), {}, ValueError, rf"{fn}: weight expects 3 input features, x has 4", "I mismatch"),
        ErrorInput((x, w.astype(np.float64)), {}, TypeError, rf"{fn}: weight has dtype float64 but x is float32", "mixed"),
        ErrorInput((x, w, b.astype(np.float64)), {}, TypeError, rf"{fn}: bias has dtype float64 but x is float32", "mixed bias"),
        ErrorInput((x.astype(np.int64), w), {}, TypeError, rf"{fn}: x must be float32 or float64, got int64", "int x"),
        ErrorInput((x, w[0]), {}, ValueError, rf"{fn}: weight must be 2-D, got 1-D", "weight rank"),
        ErrorInput((x, w, b[:4]), {}, ValueError, rf"{fn}: bias must have shape \(5,\), got \(4,\)", "bias shape"),
        ErrorInput((x, w, b[None]), {}, ValueError, rf"{fn}: bias must be 1-D, got 2-D", "bias rank"),
        ErrorInput((np.float32(1.0), w), {}, TypeError, rf"{fn}: x must be a numpy.ndarray", "scalar x"),
        ErrorInput((x.tolist(), w), {}, TypeError, rf"{fn}: x must be a numpy.ndarray, got list", "list"),
    ]


def _backward_errors(rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    w = rng.standard_normal((5, 4)).astype(np.float32)
    g = rng.standard_normal((3, 5)).astype(np.float32)
    fn = "linear_backward"
    return [
        ErrorInput((g[:, :4], x, w), {}, ValueError, rf"{fn}: grad_output must have shape \(3, 5\), got \(3, 4\)", "g shape"),
        ErrorInput((g.astype(np.float64), x, w), {}, TypeError, rf"{fn}: grad_output has dtype float64 but x is float32", "mixed"),
        ErrorInput((g, x, w[:, :3]), {}, ValueError, rf"{fn}: weight expects 3 input features, x has 4", "I mismatch"),
        ErrorInput((g, x, w), dict(needs_input_grad=(True, True)), ValueError, rf"{fn}: needs_input_grad must be a sequence of 3 bools, got \(True, True\)", "mask length"),
        ErrorInput((g, x, w), dict(needs_input_grad=(1, 0, 1)), TypeError, rf"{fn}: needs_input_grad must be a bool, got int 1", "mask type"),
    ]


def _grad_inputs(rng):
    return [Sample((rng.standard_normal((4, 3)), rng.standard_normal((5, 3)), rng.standard_normal(5)), {}, "N4 I3 O5"),
            Sample((rng.standard_normal((1, 7)), rng.standard_normal((2, 7)), rng.standard_normal(2)), {}, "N1 I7 O2"),
            Sample((rng.standard_normal((2, 2, 3)), rng.standard_normal((3, 3)), rng.standard_normal(3)), {}, "x 3-D")]


GRAD = GradSpec(
    forward=lambda impl, x, w, b: impl.linear_forward(x, w, b),
    vjp=lambda impl, g, x, w, b: list(impl.linear_backward(g, x, w)),
    inputs=_grad_inputs,
)

OPS = [
    OpInfo("linear_forward", "linear", _forward_samples, _forward_errors, tol=dict(TOL), grad=GRAD),
    OpInfo("linear_backward", "linear", _backward_samples, _backward_errors, tol=dict(TOL)),
]
