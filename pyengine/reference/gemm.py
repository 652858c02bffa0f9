"""Reference gemm: C = alpha·op(A)·op(B) + beta·C in float64."""
from __future__ import annotations

import numpy as np

from ._checks import as_bool, as_real, check_float_array, check_same_dtype, check_shape, checked_numel

__all__ = ["gemm"]


# ---- the contract, as the oracle checks it (the same messages as the C++ bindings) ----

def check_gemm(a, b, c, trans_a: bool, trans_b: bool, fn: str = "gemm") -> tuple[int, int, int]:
    """Returns (M, N, K) for a (M,K) [or (K,M) with trans_a], b (K,N) [or (N,K)], c (M,N) or None."""
    check_float_array(fn, "a", a, 2)
    check_float_array(fn, "b", b, 2)
    check_same_dtype(fn, "a", a, b=b)
    trans_a = as_bool(fn, "trans_a", trans_a)
    trans_b = as_bool(fn, "trans_b", trans_b)
    m, k = (a.shape[1], a.shape[0]) if trans_a else a.shape
    kb, n = (b.shape[1], b.shape[0]) if trans_b else b.shape
    if k != kb:
        raise ValueError(f"{fn}: op(a) is {m}x{k} and op(b) is {kb}x{n}; inner dimensions {k} and {kb} differ")
    checked_numel(fn, "output shape", (m, n))
    if c is not None:
        check_float_array(fn, "c", c, 2)
        check_same_dtype(fn, "a", a, c=c)
        check_shape(fn, "c", c, (m, n))
    return m, n, k


# ---- the kernels ----


def gemm(a, b, c=None, *, trans_a=False, trans_b=False, alpha=1.0, beta=0.0):
    """alpha·op(a)·op(b) + beta·c.

    a: (M, K), or (K, M) when trans_a; b: (K, N), or (N, K) when trans_b; c: (M, N) or None.
    Returns a new (M, N) array of a's dtype. With c None (or beta 0) c does not contribute.
    """
    check_gemm(a, b, c, trans_a, trans_b)
    alpha, beta = as_real("gemm", "alpha", alpha), as_real("gemm", "beta", beta)
    opa = (a.T if trans_a else a).astype(np.float64)
    opb = (b.T if trans_b else b).astype(np.float64)
    out = alpha * (opa @ opb)
    if c is not None and beta != 0:
        out = out + beta * c.astype(np.float64)
    return out.astype(a.dtype)
