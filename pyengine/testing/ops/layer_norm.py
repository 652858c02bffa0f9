"""Registry entries for layer normalisation: layer_norm_forward and layer_norm_backward; the gradcheck
entries of F.layer_norm and nn.LayerNorm; nn.LayerNorm against torch.nn.LayerNorm."""
from __future__ import annotations

import numpy as np

from ... import reference
from ..registry import ErrorInput, GradSpec, LayerParity, OpInfo, Sample, non_contiguous, randn

# (x shape, normalized_shape, desc)
SHAPES = [((3, 5), (5,), "rows of 5"), ((2, 4, 7), (4, 7), "two normalized dimensions"),
          ((1, 33), 33, "batch 1, normalized_shape an int"), ((4, 130), (130,), "130: vectors and a tail"),
          ((2, 3, 1), (1,), "D = 1"), ((6,), (6,), "no leading dimension"),
          ((8, 2050), (2050,), "rows longer than a summation chunk, threads")]


def _affine(rng, shape, dtype, which):
    w = randn(rng, shape, dtype) if which in ("both", "weight") else None
    b = randn(rng, shape, dtype) if which == "both" else None
    return w, b


def _fwd_samples(rng, dtype):
    out = []
    for shape, norm, desc in SHAPES:
        ns = (norm,) if isinstance(norm, int) else norm
        for which in ("both", "weight", "none"):
            w, b = _affine(rng, ns, dtype, which)
            out.append(Sample((randn(rng, shape, dtype), norm, w, b), {}, f"{desc}, affine {which}"))
    w, b = _affine(rng, (5,), dtype, "both")
    out.append(Sample((randn(rng, (4, 5), dtype), (5,), w, b), dict(eps=1e-3), "eps 1e-3"))
    out.append(Sample((randn(rng, (0, 5), dtype), (5,), w, b), {}, "empty batch"))
    out.append(Sample((non_contiguous(randn(rng, (3, 5), dtype)), (5,), non_contiguous(w), b), {},
                      "non-contiguous x and weight"))
    out.append(Sample((randn(rng, (6, 37), dtype) * 0.01 + 1000, (37,), None, None), {},
                      "offset 1000, spread 0.01 (cancellation)"))
    out.append(Sample((np.zeros((2, 5), dtype), (5,), w, b), {}, "constant rows (variance 0)"))
    return out


def _stats(x, norm):
    _, mean, rstd = reference.layer_norm_forward(x.astype(np.float64), norm)
    return mean.astype(x.dtype), rstd.astype(x.dtype)


def _bwd_samples(rng, dtype):
    out = []
    for shape, norm, desc in SHAPES:
        ns = (norm,) if isinstance(norm, int) else norm
        x = randn(rng, shape, dtype)
        mean, rstd = _stats(x, ns)
        for w in (randn(rng, ns, dtype), None):
            out.append(Sample((randn(rng, shape, dtype), x, mean, rstd, w), {},
                              f"{desc}, {'weight' if w is not None else 'no weight'}"))
    x = randn(rng, (4, 3, 5), dtype)
    mean, rstd = _stats(x, (5,))
    g, w = randn(rng, x.shape, dtype), randn(rng, (5,), dtype)
    for needs in ((True, False, False), (False, True, True), (False, False, True), (False, False, False)):
        out.append(Sample((g, x, mean, rstd, w), dict(needs_input_grad=needs), f"needs_input_grad={needs}"))
    out.append(Sample((non_contiguous(g), non_contiguous(x), mean, rstd, w), {}, "non-contiguous grad_output and x"))
    x0 = randn(rng, (0, 5), dtype)
    out.append(Sample((x0.copy(), x0, np.zeros(0, dtype), np.zeros(0, dtype), w), {}, "empty batch"))
    return out


def _fwd_errors(rng):
    fn = "layer_norm_forward"
    x = rng.standard_normal((2, 4)).astype(np.float32)
    v = np.ones(4, np.float32)
    return [
        ErrorInput((x.tolist(), (4,)), {}, TypeError, rf"{fn}: x must be a numpy.ndarray, got list", "list x"),
        ErrorInput((x.astype(np.int32), (4,)), {}, TypeError, rf"{fn}: x must be float32 or float64, got int32", "int"),
        ErrorInput((x, (3,)), {}, ValueError,
                   rf"{fn}: x must have shape \(\*, 3\) ending in normalized_shape \(3,\), got \(2, 4\)", "mismatch"),
        ErrorInput((x, (3, 2, 4)), {}, ValueError, rf"{fn}: x must have shape \(\*, 3, 2, 4\)", "too many dims"),
        ErrorInput((x, ()), {}, ValueError, rf"{fn}: normalized_shape must not be empty", "empty"),
        ErrorInput((x, (0,)), {}, ValueError, rf"{fn}: normalized_shape must hold sizes >= 1, got \(0,\)", "zero"),
        ErrorInput((x, "4"), {}, TypeError, rf"{fn}: normalized_shape must be an int or a sequence of ints, got str",
                   "str"),
        ErrorInput((x, (4.0,)), {}, TypeError, rf"{fn}: normalized_shape must be an int, got float", "float size"),
        ErrorInput((x, (4,), np.ones(3, np.float32)), {}, ValueError,
                   rf"{fn}: weight must have shape \(4,\), got \(3,\)", "weight shape"),
        ErrorInput((x, (4,), v, np.ones(4)), {}, TypeError, rf"{fn}: bias has dtype float64 but x is float32",
                   "mixed dtypes"),
        ErrorInput((x, (4,), v, v), dict(eps=-1.0), ValueError, rf"{fn}: eps must be a finite number >= 0.0, got -1.0",
                   "negative eps"),
        ErrorInput((x, (4,), v, v), dict(eps="1e-5"), TypeError, rf"{fn}: eps must be a float, got str", "eps type"),
    ]


def _bwd_errors(rng):
    fn = "layer_norm_backward"
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    m = np.zeros((2, 3), np.float32)
    v = np.ones(4, np.float32)
    return [
        ErrorInput((x[:, :2], x, m, m, v), {}, ValueError, rf"{fn}: grad_output must have shape \(2, 3, 4\)",
                   "grad_output shape"),
        ErrorInput((x.astype(np.float64), x, m, m, v), {}, TypeError,
                   rf"{fn}: grad_output has dtype float64 but x is float32", "mixed dtypes"),
        ErrorInput((x, x, np.zeros((3,), np.float32), m, v), {}, ValueError,
                   rf"{fn}: mean must have the shape of x's leading \(not normalized\) dimensions, a proper prefix of "
                   r"\(2, 3, 4\), got \(3,\)", "mean not a prefix"),
        ErrorInput((x, x, np.zeros((2, 3, 4), np.float32), m, v), {}, ValueError,
                   rf"{fn}: mean must have the shape of x's leading", "mean of x's shape"),
        ErrorInput((x, x, m, m[:1], v), {}, ValueError, rf"{fn}: rstd must have shape \(2, 3\), got \(1, 3\)",
                   "rstd shape"),
        ErrorInput((x, x, m, None, v), {}, TypeError, rf"{fn}: rstd must be a numpy.ndarray, got NoneType", "no rstd"),
        ErrorInput((x, x, m, m, np.ones(3, np.float32)), {}, ValueError, rf"{fn}: weight must have shape \(4,\)",
                   "weight shape"),
        ErrorInput((x, x, m, m, v), dict(needs_input_grad=(True, True)), ValueError,
                   rf"{fn}: needs_input_grad must be a sequence of 3 bools", "needs length"),
    ]


def _grad_inputs(rng):
    return [
        Sample((rng.standard_normal((3, 5)) * 2 + 1, rng.standard_normal(5), rng.standard_normal(5), (5,)), {},
               "rows of 5, weight and bias"),
        Sample((rng.standard_normal((2, 3, 4)), rng.standard_normal((3, 4)), rng.standard_normal((3, 4)), (3, 4)), {},
               "two normalized dimensions"),
        Sample((rng.standard_normal((4, 6)), None, None, (6,)), {}, "no weight or bias"),
        Sample((rng.standard_normal((1, 2)), rng.standard_normal(2), None, (2,)), {}, "D = 2, weight only"),
    ]


def _grad_forward(impl, x, w, b, norm):
    return impl.layer_norm_forward(x, norm, w, b)[0]


def _grad_vjp(impl, g, x, w, b, norm):
    _, mean, rstd = impl.layer_norm_forward(x, norm, w, b)
    grads = impl.layer_norm_backward(g, x, mean, rstd, w, (True, w is not None, b is not None))
    return [gr for gr, v in zip(grads, (x, w, b)) if v is not None]


GRAD = GradSpec(forward=_grad_forward, vjp=_grad_vjp, inputs=_grad_inputs)

OPS = [
    OpInfo("layer_norm_forward", "layer_norm", _fwd_samples, _fwd_errors, grad=GRAD),
    OpInfo("layer_norm_backward", "layer_norm", _bwd_samples, _bwd_errors),
]


def autograd_cases():
    """gradcheck entries for F.layer_norm and nn.LayerNorm (collected by ``testing.autograd_ops``)."""
    from ... import nn
    from ...nn import functional as F
    from ..autograd_ops import AutogradCase as C, _rn, _T
    return [
        C("layer_norm over (3, 4)", ("layer_norm",),
          lambda r: [_T(_rn(r, 2, 3, 4)), _T(_rn(r, 3, 4)), _T(_rn(r, 3, 4))],
          lambda x, w, b: F.layer_norm(x, (3, 4), w, b)),
        C("LayerNorm", ("LayerNorm",), lambda r: [_T(_rn(r, 4, 5))], module=lambda: nn.LayerNorm(5), kind="layer"),
        C("LayerNorm no bias over (2, 3)", ("LayerNorm",), lambda r: [_T(_rn(r, 3, 2, 3))],
          module=lambda: nn.LayerNorm((2, 3), bias=False), kind="layer"),
    ]


LAYERS = [
    LayerParity("LayerNorm", "LayerNorm", (5,), inputs=[(4, 5)], random_affine=True, same_init=True),
    LayerParity("LayerNorm over (3, 4) of (2, 3, 4)", "LayerNorm", ([3, 4],), inputs=[(2, 3, 4)],
                random_affine=True, same_init=True),
    LayerParity("LayerNorm no bias, eps 1e-3", "LayerNorm", (6,), dict(eps=1e-3, bias=False), inputs=[(2, 3, 6)],
                random_affine=True, same_init=True),
    LayerParity("LayerNorm no affine", "LayerNorm", (7,), dict(elementwise_affine=False), inputs=[(3, 7)],
                same_init=True),
]
