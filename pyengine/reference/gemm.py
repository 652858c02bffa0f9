"""Reference gemm: C = alpha·op(A)·op(B) + beta·C in float64."""
from __future__ import annotations

import numpy as np

from ..kernels._contract.gemm import check_gemm

__all__ = ["gemm"]


def gemm(a, b, c=None, *, trans_a=False, trans_b=False, alpha=1.0, beta=0.0):
    """alpha·op(a)·op(b) + beta·c.

    a: (M, K), or (K, M) when trans_a; b: (K, N), or (N, K) when trans_b; c: (M, N) or None.
    Returns a new (M, N) array of a's dtype. With c None (or beta 0) c does not contribute.
    """
    check_gemm(a, b, c, trans_a, trans_b)
    opa = (a.T if trans_a else a).astype(np.float64)
    opb = (b.T if trans_b else b).astype(np.float64)
    out = alpha * (opa @ opb)
    if c is not None and beta != 0:
        out = out + beta * c.astype(np.float64)
    return out.astype(a.dtype)
