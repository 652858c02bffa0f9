"""The GEMM's fused epilogue (pyengine/gemm.h gemm_ex: row/column bias and ReLU on the way out),
against NumPy on every CPU instruction set, through each code path of the GEMM: packed and
in-place A, one- and two-vector panels, short row panels, several K blocks, the Cᵀ = B·Aᵀ path,
the one- and two-row dot-product path (K not a multiple of the vector width, N not of 4)."""
import numpy as np
import pytest

from pyengine import _C

SHAPES = [(1, 1, 1), (1, 67, 37), (2, 9, 64), (1, 3, 700), (13, 33, 17), (97, 65, 129), (130, 16, 72), (50, 40, 1100), (16, 72, 600), (5, 7, 0)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m,n,k", SHAPES)
def test_gemm_ex_matches_numpy(cpu_isa, rng, dtype, m, n, k):
    tol = 2e-4 if dtype == np.float32 else 1e-10
    for ta in (False, True):
        for tb in (False, True):
            a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
            b = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
            rb = rng.standard_normal(m).astype(dtype)
            cb = rng.standard_normal(n).astype(dtype)
            prod = (a.T if ta else a).astype(np.float64) @ (b.T if tb else b).astype(np.float64)
            for use_rb, use_cb, relu in ((True, False, False), (False, True, True), (True, True, True), (False, False, False)):
                want = 0.5 * prod + (rb[:, None] if use_rb else 0) + (cb[None, :] if use_cb else 0)
                if relu:
                    want = np.maximum(want, 0)
                got = _C._gemm_ex(a, b, ta, tb, 0.5, rb if use_rb else None, cb if use_cb else None, relu)
                assert got.dtype == dtype
                scale = max(1.0, float(np.abs(want).max(initial=0)))
                err = float(np.abs(got - want).max(initial=0)) / scale
                assert err <= tol, f"{cpu_isa} {m}x{n}x{k} ta={ta} tb={tb} rb={use_rb} cb={use_cb} relu={relu}: {err:.2e}"


def test_gemm_ex_relu_keeps_nan():
    a = np.array([[np.nan, 1.0]], np.float32)
    b = np.ones((2, 3), np.float32)
    assert np.isnan(_C._gemm_ex(a, b, relu=True)).all()


def test_gemm_ex_rejects_bad_bias():
    a = np.ones((3, 4), np.float32)
    with pytest.raises(ValueError, match=r"_gemm_ex: row_bias"):
        _C._gemm_ex(a, a.T.copy(), row_bias=np.ones(4, np.float32))
    with pytest.raises(TypeError, match=r"_gemm_ex: col_bias"):
        _C._gemm_ex(a, a.T.copy(), col_bias=np.ones(3, np.float64))


# Shapes past the blocking: several M blocks (MC) and K blocks (KC), N past one NC block with a
# partial group of B panels, 16-column transposes with tails (K and N not multiples of 16), and the
# M = 128, K = 9·C shape of a batched 3×3 convolution, at each thread count. With several threads
# and several (NC, KC) blocks the next block's B is packed inside the current block's parallel_for
# into a second buffer: 3 K blocks of unequal source offsets (K 1300, not a multiple of KC) with
# the rows split across threads, and two NC blocks × two K blocks (the packing ahead crosses from
# one NC block to the next) with the columns split.
BLOCK_SHAPES = [(200, 300, 40), (61, 4133, 19), (500, 70, 530), (37, 257, 1030), (128, 515, 1152),
                (203, 97, 1300), (30, 4200, 600)]


@pytest.mark.parametrize("m,n,k", BLOCK_SHAPES)
def test_gemm_blocks_and_threads(cpu_isa, thread_count, rng, m, n, k):
    import pyengine.kernels.cpu as cpu
    for dtype, tol in ((np.float32, 2e-4), (np.float64, 1e-10)):
        for ta in (False, True):
            for tb in (False, True):
                a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
                b = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
                c = rng.standard_normal((m, n)).astype(dtype)
                want = 1.5 * ((a.T if ta else a).astype(np.float64) @ (b.T if tb else b).astype(np.float64)) - 0.5 * c
                got = cpu.gemm(a, b, c, trans_a=ta, trans_b=tb, alpha=1.5, beta=-0.5)
                scale = max(1.0, float(np.abs(want).max()))
                err = float(np.abs(got - want).max()) / scale
                assert err <= tol, f"{cpu_isa} {thread_count}thr {dtype.__name__} {m}x{n}x{k} ta={ta} tb={tb}: {err:.2e}"
