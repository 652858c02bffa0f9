"""CPU gemm: the packed AVX-512/AVX2 GEMM of csrc/cpu (see csrc/include/pyengine/gemm.h)."""
from __future__ import annotations

import numpy as np

from .._contract.gemm import check_gemm
from ._ext import _C

__all__ = ["gemm"]


def gemm(a, b, c=None, *, trans_a=False, trans_b=False, alpha=1.0, beta=0.0):
    """alpha·op(a)·op(b) + beta·c.

    a: (M, K), or (K, M) when trans_a; b: (K, N), or (N, K) when trans_b; c: (M, N) or None.
    Returns a new (M, N) array of a's dtype. A transposed view passed as a is read through
    trans_a instead of being copied.
    """
    check_gemm(a, b, c, trans_a, trans_b)
    # A Fortran-ordered matrix is the C-ordered transpose: flip the flag rather than copy.
    if not a.flags.c_contiguous and a.T.flags.c_contiguous:
        a, trans_a = a.T, not trans_a
    if not b.flags.c_contiguous and b.T.flags.c_contiguous:
        b, trans_b = b.T, not trans_b
    a = np.ascontiguousarray(a)
    b = np.ascontiguousarray(b)
    if c is not None:
        c = np.ascontiguousarray(c)
    return _C.gemm(a, b, c, trans_a, trans_b, float(alpha), float(beta))
