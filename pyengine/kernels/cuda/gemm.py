"""CUDA gemm: the tiled kernel of csrc/cuda/gemm.cu (TF32 tensor cores when
``pyengine.backends.cuda.allow_tf32`` is set and the arrays are float32)."""
from __future__ import annotations

from .._contract.gemm import check_gemm
from . import _ext

__all__ = ["gemm"]


def gemm(a, b, c=None, *, trans_a=False, trans_b=False, alpha=1.0, beta=0.0):
    """alpha·op(a)·op(b) + beta·c on the GPU.

    a: (M, K), or (K, M) when trans_a; b: (K, N), or (N, K) when trans_b; c: (M, N) or None.
    Returns a new (M, N) CuPy array of a's dtype. A transposed view is read through the flag.
    """
    fn = "gemm"
    a = _ext.to_device(fn, "a", a)
    b = _ext.to_device(fn, "b", b)
    c = _ext.to_device(fn, "c", c, optional=True)
    m, n, _ = check_gemm(a, b, c, trans_a, trans_b)
    dev = _ext.device_of(fn, a=a, b=b, c=c)
    with _ext.on_device(dev):
        if not a.flags.c_contiguous and a.T.flags.c_contiguous:
            a, trans_a = a.T, not trans_a
        if not b.flags.c_contiguous and b.T.flags.c_contiguous:
            b, trans_b = b.T, not trans_b
        a, b, c = _ext.contiguous(a), _ext.contiguous(b), _ext.contiguous(c)
        out = _ext.empty((m, n), a.dtype)
        _ext.lib().gemm(a, b, c, out, bool(trans_a), bool(trans_b), float(alpha), float(beta), None, True,
                        _ext.tf32() and a.dtype.itemsize == 4, _ext.stream())
    return out
