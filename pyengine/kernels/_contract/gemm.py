"""Contract of gemm: alpha·op(a)·op(b) + beta·c with op = identity or transpose."""
from __future__ import annotations

from .common import as_bool, check_float_array, check_same_dtype, check_shape, checked_numel


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
