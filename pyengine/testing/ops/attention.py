"""Registry entries for scaled dot-product attention (attention_forward / attention_backward): masks
broadcast over batch and heads, -inf entries and a fully masked row, is_causal with L < S, L > S and
L = S across several row blocks, an explicit scale, grouped-query heads, batch 1, E != Ev, a single
key, and non-contiguous inputs."""
from __future__ import annotations

import numpy as np

from ..registry import ErrorInput, GradSpec, OpInfo, Sample, non_contiguous, randn

# (B, H, Hk, L, S, E, Ev, mask shape or None or "causal", scale, desc)
CASES = [
    (2, 3, 3, 5, 7, 4, 6, None, None, "plain, E != Ev"),
    (1, 1, 1, 1, 1, 3, 2, None, None, "batch 1, one query, one key"),
    (2, 4, 2, 6, 5, 8, 8, None, 0.3, "GQA 4 heads on 2, scale 0.3"),
    (2, 2, 2, 7, 9, 5, 3, (2, 2, 7, 9), None, "full float mask"),
    (2, 3, 3, 4, 6, 4, 4, (1, 3, 4, 6), None, "mask broadcast over the batch"),
    (3, 2, 1, 5, 5, 6, 6, (3, 1, 5, 5), None, "mask broadcast over heads, GQA 2 on 1"),
    (1, 2, 2, 70, 70, 16, 16, "causal", None, "causal, two row blocks"),
    (2, 1, 1, 6, 9, 5, 5, "causal", None, "causal L < S"),
    (1, 2, 2, 9, 4, 3, 5, "causal", 0.7, "causal L > S, scale"),
    (2, 8, 8, 150, 130, 32, 32, None, None, "L 150 S 130 (blocks, threads)"),
]


def _mask(rng, shape, dtype, with_inf=True):
    m = rng.standard_normal(shape)
    if with_inf:
        m[rng.random(shape) < 0.2] = -np.inf
        m[..., 0] = 0.0                       # every row keeps one column
    return m.astype(dtype)


def _args(rng, dtype, case):
    B, H, Hk, L, S, E, Ev, mask, scale, _ = case
    q, k, v = randn(rng, (B, H, L, E), dtype), randn(rng, (B, Hk, S, E), dtype), randn(rng, (B, Hk, S, Ev), dtype)
    m = None if mask is None or mask == "causal" else _mask(rng, mask, dtype)
    return q, k, v, m, mask == "causal", scale


def _fwd_samples(rng, dtype):
    out = [Sample(_args(rng, dtype, c), {}, c[-1]) for c in CASES]
    q, k, v, *_ = _args(rng, dtype, CASES[0])
    out.append(Sample((non_contiguous(q), non_contiguous(k), non_contiguous(v)), {}, "non-contiguous"))
    m = _mask(rng, (1, 1, 5, 7), dtype)
    m[0, 0, 2] = -np.inf
    out.append(Sample((q, k, v, m), {}, "a fully masked row (NaN, lse -inf)"))
    return out


def _bwd_samples(rng, dtype):
    out = []
    for c in CASES:
        q, k, v, m, causal, scale = _args(rng, dtype, c)
        g = randn(rng, q.shape[:3] + (v.shape[3],), dtype)
        out.append(Sample((g, q, k, v, m, causal, scale), {}, c[-1]))
    q, k, v, m, causal, scale = _args(rng, dtype, CASES[2])
    g = randn(rng, q.shape[:3] + (v.shape[3],), dtype)
    for needs in ((True, False, False), (False, True, False), (False, False, True)):
        out.append(Sample((g, q, k, v, m, causal, scale, needs), {}, f"GQA, only {needs}"))
    q, k, v, *_ = _args(rng, dtype, CASES[0])
    g = randn(rng, q.shape[:3] + (v.shape[3],), dtype)
    mm = _mask(rng, (1, 1, 5, 7), dtype)
    mm[0, 0, 2] = -np.inf
    out.append(Sample((g, q, k, v, mm, False, None), {}, "a fully masked row (gradient 0)"))
    out.append(Sample((non_contiguous(g), non_contiguous(q), k, non_contiguous(v), None, False, None), {},
                      "non-contiguous"))
    return out


def _bwd_call(impl, s):
    g, q, k, v, m, causal, scale, *needs = s.args
    out, lse = impl.attention_forward(q, k, v, m, causal, scale)
    return impl.attention_backward(g, q, k, v, out, lse, m, causal, scale, *needs)


def _grad_inputs(rng):
    # the mask as nested lists: the finite differences perturb every float array argument
    mask = _mask(rng, (1, 2, 3, 4), np.float64).tolist()
    return [Sample((rng.standard_normal((2, 2, 3, 3)), rng.standard_normal((2, 2, 4, 3)),
                    rng.standard_normal((2, 2, 4, 2)), mask, False), {}, "mask"),
            Sample((rng.standard_normal((1, 4, 5, 2)), rng.standard_normal((1, 2, 5, 2)),
                    rng.standard_normal((1, 2, 5, 3)), None, True), {}, "causal, GQA")]


def _fwd(impl, q, k, v, m, causal):
    return impl.attention_forward(q, k, v, None if m is None else np.array(m, q.dtype), causal)[0]


def _vjp(impl, g, q, k, v, m, causal):
    m = None if m is None else np.array(m, q.dtype)
    out, lse = impl.attention_forward(q, k, v, m, causal)
    return list(impl.attention_backward(g, q, k, v, out, lse, m, causal))


GRAD = GradSpec(forward=_fwd, vjp=_vjp, inputs=_grad_inputs)


def _fwd_errors(rng):
    fn = "attention_forward"
    f = np.float32
    q, k, v = (rng.standard_normal(s).astype(f) for s in ((2, 4, 3, 5), (2, 2, 6, 5), (2, 2, 6, 7)))
    return [
        ErrorInput((q.tolist(), k, v), {}, TypeError, rf"{fn}: query must be a numpy.ndarray, got list", "list"),
        ErrorInput((q.astype(np.int64), k, v), {}, TypeError, rf"{fn}: query must be float32 or float64", "int"),
        ErrorInput((q[0], k, v), {}, ValueError, rf"{fn}: query must be 4-D, got 3-D", "3-D query"),
        ErrorInput((q, k.astype(np.float64), v), {}, TypeError, rf"{fn}: key has dtype float64 but query is float32",
                   "mixed dtypes"),
        ErrorInput((q, k[:1], v), {}, ValueError, rf"{fn}: query, key and value must have the same batch size, got 2, "
                   "1 and 2", "batch"),
        ErrorInput((q, k[..., :4], v), {}, ValueError, rf"{fn}: key's last dimension \(4\) must equal query's \(5\)",
                   "E"),
        ErrorInput((q, k, v[:, :, :5]), {}, ValueError, rf"{fn}: value must have key's heads and length \(2, 6\), got "
                   r"\(2, 5\)", "S"),
        ErrorInput((q[:, :3], k, v), {}, ValueError, rf"{fn}: query heads \(3\) must be a multiple of key/value heads "
                   r"\(2\)", "heads"),
        ErrorInput((q, k, v, np.zeros((2, 4, 3, 6), f), True), {}, ValueError, rf"{fn}: pass either attn_mask or "
                   "is_causal=True, not both", "mask and causal"),
        ErrorInput((q, k, v, np.zeros((2, 3, 3, 6), f)), {}, ValueError, rf"{fn}: attn_mask must have shape \(1 or 2, "
                   r"1 or 4, 3, 6\), got \(2, 3, 3, 6\)", "mask heads"),
        ErrorInput((q, k, v, np.zeros((1, 1, 3, 5), f)), {}, ValueError, rf"{fn}: attn_mask must have shape", "mask S"),
        ErrorInput((q, k, v, np.zeros((3, 6), f)), {}, ValueError, rf"{fn}: attn_mask must be 4-D, got 2-D",
                   "2-D mask"),
        ErrorInput((q, k, v, np.zeros((1, 1, 3, 6), bool)), {}, TypeError, rf"{fn}: attn_mask must be float32 or "
                   "float64, got bool", "bool mask"),
        ErrorInput((q, k, v, np.zeros((1, 1, 3, 6), np.float64)), {}, TypeError, rf"{fn}: attn_mask has dtype "
                   "float64 but query is float32", "mask dtype"),
        ErrorInput((q, k, v, None, 1), {}, TypeError, rf"{fn}: is_causal must be a bool, got int", "int causal"),
        ErrorInput((q, k, v, None, False, "0.5"), {}, TypeError, rf"{fn}: scale must be a real number, got str",
                   "str scale"),
    ]


def _bwd_errors(rng):
    fn = "attention_backward"
    f = np.float32
    q, k, v = (rng.standard_normal(s).astype(f) for s in ((2, 4, 3, 5), (2, 2, 6, 5), (2, 2, 6, 7)))
    g, o, lse = np.zeros((2, 4, 3, 7), f), np.zeros((2, 4, 3, 7), f), np.zeros((2, 4, 3), f)
    return [
        ErrorInput((g.tolist(), q, k, v, o, lse), {}, TypeError, rf"{fn}: grad_output must be a numpy.ndarray",
                   "list"),
        ErrorInput((g[..., :5], q, k, v, o, lse), {}, ValueError, rf"{fn}: grad_output must have shape \(2, 4, 3, 7\), "
                   r"got \(2, 4, 3, 5\)", "grad shape"),
        ErrorInput((g, q, k, v, o[:1], lse), {}, ValueError, rf"{fn}: out must have shape \(2, 4, 3, 7\)", "out"),
        ErrorInput((g, q, k, v, o, lse[..., None]), {}, ValueError, rf"{fn}: logsumexp must be 3-D, got 4-D", "lse"),
        ErrorInput((g, q, k, v, o, lse[:, :2]), {}, ValueError, rf"{fn}: logsumexp must have shape \(2, 4, 3\)",
                   "lse shape"),
        ErrorInput((g.astype(np.float64), q, k, v, o, lse), {}, TypeError, rf"{fn}: grad_output has dtype float64 but "
                   "query is float32", "dtype"),
        ErrorInput((g, q, k[:1], v, o, lse), {}, ValueError, rf"{fn}: query, key and value must have the same batch",
                   "batch"),
        ErrorInput((g, q, k, v, o, lse, None, False, None, (True, False)), {}, ValueError,
                   rf"{fn}: needs_input_grad must be a sequence of 3 bools", "needs"),
    ]


# float32: the scores and their exponentials round in float32 before the second GEMM
TOL = {np.dtype(np.float32): (2e-5, 2e-4), np.dtype(np.float64): (1e-10, 1e-10)}

OPS = [
    OpInfo("attention_forward", "attention", _fwd_samples, _fwd_errors, tol=dict(TOL), grad=GRAD),
    OpInfo("attention_backward", "attention", _bwd_samples, _bwd_errors, tol=dict(TOL), call=_bwd_call),
]
