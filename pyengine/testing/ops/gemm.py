"""Registry entries for gemm."""
from __future__ import annotations

import numpy as np

from ..registry import ErrorInput, GradSpec, OpInfo, Sample, non_contiguous, randn

# (M, N, K) with odd sizes, sizes just past the register tiles (12, 16, 32), 1, skinny shapes.
SHAPES = [(1, 1, 1), (7, 5, 3), (13, 33, 17), (64, 48, 100), (97, 65, 129), (1, 70, 31), (70, 1, 31),
          (300, 17, 257), (16, 300, 9), (0, 5, 3), (4, 0, 3), (4, 5, 0),
          (50, 40, 1100), (130, 16, 72),  # 3 K blocks of the float kernel; N one vector wide
          (16, 72, 600)]  # few rows, long K: with trans_b computed as Cᵀ = B·Aᵀ


def _samples(rng, dtype):
    out = []
    for (m, n, k) in SHAPES:
        for ta in (False, True):
            for tb in (False, True):
                a = randn(rng, (k, m) if ta else (m, k), dtype)
                b = randn(rng, (n, k) if tb else (k, n), dtype)
                out.append(Sample((a, b), dict(trans_a=ta, trans_b=tb), f"M{m} N{n} K{k} ta={ta} tb={tb}"))
    m, n, k = 37, 29, 41
    a, b, c = randn(rng, (m, k), dtype), randn(rng, (k, n), dtype), randn(rng, (m, n), dtype)
    out.append(Sample((a, b, c), dict(alpha=0.5, beta=-1.5), "alpha 0.5 beta -1.5"))
    out.append(Sample((a, b, c), dict(alpha=2.0, beta=0.0), "beta 0 ignores c"))
    out.append(Sample((non_contiguous(a), b), {}, "non-contiguous a"))
    out.append(Sample((np.asfortranarray(a), b.T.copy().T), {}, "Fortran-ordered a and b"))
    big = 600
    out.append(Sample((randn(rng, (big, 300), dtype), randn(rng, (300, 280), dtype)), {}, "600x280x300 (2 blocks of K)"))
    return out


def _errors(rng):
    a = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.standard_normal((5, 2)).astype(np.float32)
    return [
        ErrorInput((a, b), {}, ValueError, r"gemm: .*inner dimensions 4 and 5 differ", "inner mismatch"),
        ErrorInput((a, a.T.astype(np.float64)), {}, TypeError, r"gemm: b has dtype float64 but a is float32", "mixed dtypes"),
        ErrorInput((a.astype(np.int32), a.T), {}, TypeError, r"gemm: a must be float32 or float64, got int32", "int"),
        ErrorInput((a.astype(np.float16), a.T), {}, TypeError, r"gemm: a must be float32 or float64, got float16", "float16"),
        ErrorInput((a[0], a.T), {}, ValueError, r"gemm: a must be 2-D, got 1-D", "rank"),
        ErrorInput((a.tolist(), a.T), {}, TypeError, r"gemm: a must be a numpy.ndarray, got list", "list"),
        ErrorInput((a, a.T, np.zeros((2, 2), np.float32)), {}, ValueError, r"gemm: c must have shape \(3, 3\), got \(2, 2\)", "c shape"),
        ErrorInput((a, a.T), dict(trans_a=1), TypeError, r"gemm: trans_a must be a bool", "trans flag type"),
    ]


def _grad_inputs(rng):
    return [Sample((rng.standard_normal((4, 3)), rng.standard_normal((3, 5)))),
            Sample((rng.standard_normal((1, 7)), rng.standard_normal((7, 2))))]


GRAD = GradSpec(
    forward=lambda impl, a, b: impl.gemm(a, b),
    # d(a·b) = g·bᵀ for a and aᵀ·g for b, both through the kernel's transpose flags
    vjp=lambda impl, g, a, b: [impl.gemm(g, b, trans_b=True), impl.gemm(a, g, trans_a=True)],
    inputs=_grad_inputs,
)

OPS = [OpInfo("gemm", "gemm", _samples, _errors, tol={np.dtype(np.float32): (2e-4, 2e-4),
                                                    np.dtype(np.float64): (1e-10, 1e-10)}, grad=GRAD)]
