"""Matrix products against torch 2.13: matmul in every broadcasting / 1-D combination, bmm, mm, mv,
dot, outer, addmm & co, tensordot and einsum; float32 / float64 / float16 / integers; and that the
batched products run on our GEMM (pyengine.kernels.cpu.gemm), never NumPy's matmul."""
import numpy as np
import pytest

import pyengine as pe
from pyengine.kernels import cpu as kcpu

from ops_parity import check, torch

SHAPES = [((3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,)), ((2, 3, 4), (4, 5)),
          ((3, 4), (2, 4, 5)), ((2, 3, 4), (2, 4, 5)), ((2, 1, 3, 4), (5, 4, 2)), ((1, 3, 4), (2, 1, 4, 6)),
          ((2, 3, 4), (4,)), ((4,), (2, 4, 3)), ((1, 3, 4), (4, 5)), ((3, 4), (1, 1, 4, 5)), ((0, 3, 4), (4, 2)),
          ((2, 3, 0), (2, 0, 5)), ((1, 1), (1, 1))]


@pytest.mark.parametrize("sa,sb", SHAPES, ids=[f"{a}@{b}" for a, b in SHAPES])
def test_matmul_broadcasting_matches_torch(sa, sb, rng):
    check(lambda M, a, b: a @ b, rng.standard_normal(sa), rng.standard_normal(sb))


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_matmul_low_precision(dtype, rng):
    a = rng.standard_normal((2, 3, 5)).astype(dtype)
    b = rng.standard_normal((2, 5, 4)).astype(dtype)
    check(lambda M, x, y: M.matmul(x, y), a, b, atol=1e-2 if dtype == np.float16 else None,
          rtol=1e-2 if dtype == np.float16 else None, gatol=2e-2 if dtype == np.float16 else None,
          grtol=2e-2 if dtype == np.float16 else None)


def test_integer_matmul():
    a = np.arange(6).reshape(2, 3)
    check(lambda M, x, y: x @ y, a, a.T.copy(), grad=False)


def test_non_contiguous_operands(rng):
    a = rng.standard_normal((2, 5, 3))
    b = rng.standard_normal((2, 4, 5))
    check(lambda M, x, y: x.transpose(1, 2) @ y.transpose(1, 2), a, b)
    check(lambda M, x, y: x[:, ::2] @ y[0, :3], a, b)


def test_mm_bmm_mv_dot_outer(rng):
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    check(lambda M, x, y: M.mm(x, y), a, b)
    check(lambda M, x, y: x.mm(y), a, b)
    p, q = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 4, 5))
    check(lambda M, x, y: M.bmm(x, y), p, q)
    check(lambda M, x, y: x.bmm(y), p, q)
    v = rng.standard_normal(4)
    check(lambda M, x, y: M.mv(x, y), a, v)
    check(lambda M, x, y: M.dot(x, y), v, v[::-1].copy())
    check(lambda M, x, y: x.vdot(y), v, v[::-1].copy())
    check(lambda M, x, y: M.outer(x, y), v, b[:, 0].copy())
    check(lambda M, x, y: M.inner(x, y), a, rng.standard_normal((5, 4)))
    check(lambda M, x, y: M.tensordot(x, y, 1), a, b)
    check(lambda M, x, y: M.tensordot(x, y, dims=([1, 2], [1, 0])), p, rng.standard_normal((4, 3, 2)))


def test_add_products(rng):
    c, a, b = rng.standard_normal((3, 2)), rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    check(lambda M, z, x, y: M.addmm(z, x, y, beta=0.5, alpha=2.0), c, a, b)
    check(lambda M, z, x, y: z.addmm(x, y), c, a, b)
    check(lambda M, z, x, y: M.addmv(z[:, 0], x, y[:, 0], alpha=-1), c, a, b)
    check(lambda M, z, x, y: M.addr(z, x[:, 0], y[0], beta=2), c, a, b)
    p, q, r = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 4, 5)), rng.standard_normal((3, 5))
    check(lambda M, x, y, z: M.baddbmm(z, x, y, alpha=0.5), p, q, r)
    check(lambda M, x, y, z: M.addbmm(z, x, y, beta=0), p, q, r)


EQUATIONS = [("ij,jk->ik", [(3, 4), (4, 5)]), ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]), ("ii->i", [(4, 4)]),
             ("ii", [(3, 3)]), ("ij->ji", [(3, 4)]), ("ij->", [(3, 4)]), ("i,i->", [(5,), (5,)]),
             ("i,j->ij", [(3,), (4,)]), ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]),
             ("bhqd,bhkd->bhqk", [(2, 3, 4, 5), (2, 3, 6, 5)]), ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
             ("iij->j", [(3, 3, 2)]), ("ijk,jil->kl", [(2, 3, 4), (3, 2, 5)]), ("ba,ab", [(3, 4), (4, 3)]),
             ("Ab,bA->A", [(3, 4), (4, 3)]), ("i...->...i", [(2, 3, 4)]), ("ij,ij->ij", [(3, 4), (1, 4)]),
             ("b i d, b j d -> b i j", [(2, 3, 4), (2, 5, 4)]), ("ijk->", [(2, 0, 3)])]


@pytest.mark.parametrize("eq,shapes", EQUATIONS, ids=[e for e, _ in EQUATIONS])
def test_einsum_matches_torch(eq, shapes, rng):
    check(lambda M, *xs: M.einsum(eq, *xs), *[rng.standard_normal(s) for s in shapes])


def test_einsum_list_form_and_errors(rng):
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    check(lambda M, x, y: M.einsum("ij,jk", [x, y]), a, b)
    x = pe.tensor(a)
    with pytest.raises(ValueError, match=r"einsum\(\): the equation has 2 terms but 1 operands were given"):
        pe.einsum("ij,jk->ik", x)
    with pytest.raises(ValueError, match=r"einsum: the term 'ijk' has 3 subscripts for an operand of 2 dimensions"):
        pe.einsum("ijk->i", x)
    with pytest.raises(ValueError, match=r"einsum\(\): subscript 'j' has size 4 in one operand and 3 in another"):
        pe.einsum("ij,jk->ik", x, pe.tensor(b.T.copy()))
    with pytest.raises(ValueError, match=r"output subscript 'z' does not appear in the inputs"):
        pe.einsum("ij->z", x)
    with pytest.raises(ValueError, match=r"invalid subscript '1'"):
        pe.einsum("i1->i", x)


def test_bad_products_raise_named_errors():
    a = pe.ones(2, 3)
    with pytest.raises(ValueError, match=r"matmul: \(2, 3\) @ \(2, 3\): inner dimensions 3 and 2 differ"):
        a @ a
    with pytest.raises(ValueError, match=r"mm\(\): mat2 must be a 2-D tensor, got shape \(3,\)"):
        pe.mm(a, pe.ones(3))
    with pytest.raises(ValueError, match=r"bmm\(\): batch sizes differ"):
        pe.bmm(pe.ones(2, 3, 4), pe.ones(3, 4, 5))
    with pytest.raises(TypeError, match=r"bmm\(\): expected both operands to have the same dtype"):
        pe.bmm(pe.ones(2, 3, 4), pe.ones(2, 4, 5, dtype=pe.float64))
    with pytest.raises(ValueError, match=r"batch dimensions \(2,\) and \(3,\) cannot be broadcast together"):
        pe.ones(2, 3, 4) @ pe.ones(3, 4, 5)
    with pytest.raises(ValueError, match=r"dot\(\): 1-D tensors of the same size expected, got 3 and 2"):
        pe.dot(pe.ones(3), pe.ones(2))


def test_batched_matmul_runs_on_our_gemm(monkeypatch, rng):
    calls = []
    real = kcpu.gemm

    def counting(*args, **kw):
        calls.append(args[0].shape)
        return real(*args, **kw)

    def no_numpy(*args, **kw):
        raise AssertionError("float matmul fell back to np.matmul")
    monkeypatch.setattr(kcpu, "gemm", counting)
    monkeypatch.setattr(np, "matmul", no_numpy)
    a = pe.tensor(rng.standard_normal((2, 3, 4, 5)), requires_grad=True)
    b = pe.tensor(rng.standard_normal((3, 5, 6)), requires_grad=True)
    y = a @ b                                                    # 6 batch matrices, b broadcast over dim 0
    assert len(calls) == 6
    y.sum().backward()
    assert len(calls) == 6 + 12                                  # dA and dB: one GEMM per batch element each
    calls.clear()
    c = pe.tensor(rng.standard_normal((5, 6)), requires_grad=True)
    (a @ c).sum().backward()                                     # b without batch: one GEMM each way
    assert len(calls) == 3 and calls[0] == (24, 5)
    calls.clear()
    pe.bmm(pe.tensor(rng.standard_normal((4, 2, 3))), pe.tensor(rng.standard_normal((4, 3, 2))))
    pe.einsum("bij,bjk->bik", pe.tensor(rng.standard_normal((4, 2, 3))), pe.tensor(rng.standard_normal((4, 3, 2))))
    assert len(calls) == 8


def test_matmul_gradients_accumulate_over_broadcast_batches(rng):
    # a (1, 3, 4) is shared by both batch elements of b: its gradient is the sum of both products
    check(lambda M, x, y: (x @ y).sum(0), rng.standard_normal((1, 3, 4)), rng.standard_normal((2, 4, 5)))
