"""Shape, copy and index ops against torch 2.13 (values, dtypes, gradients with repeated indices,
views sharing storage and the version counter, negative dims, empty tensors) and their errors."""
import numpy as np
import pytest

import pyengine as pe

from ops_parity import IndexArg as I, check, torch


def test_repeat_tile_expand(rng):
    x = rng.standard_normal((2, 3))
    check(lambda M, t: t.repeat(2, 1), x)
    check(lambda M, t: t.repeat(2, 1, 3), x)
    check(lambda M, t: t.repeat((1, 1)), x)
    check(lambda M, t: t.repeat(0, 2), x)
    check(lambda M, t: M.tile(t, (2,)), x)
    check(lambda M, t: t.tile(3, 1, 2), x)
    check(lambda M, t: t.expand(4, -1, -1) * 1, x)
    check(lambda M, t: t[:, :1].expand(2, 5) * 1, x)
    check(lambda M, t: t.broadcast_to((3, 2, 3)) * 1, x)
    with pytest.raises(ValueError, match=r"number of repeats \(1\) can not be smaller than the number of dimensions of the tensor \(2\)"):
        pe.ones(2, 3).repeat(2)


def test_repeat_interleave(rng):
    x = rng.standard_normal((3, 2))
    check(lambda M, t: t.repeat_interleave(2), x)
    check(lambda M, t: t.repeat_interleave(2, dim=0), x)
    check(lambda M, t, r: M.repeat_interleave(t, r, dim=0), x, I(np.array([0, 3, 1])))
    check(lambda M, t, r: t.repeat_interleave(r, dim=1), x, I(np.array([2, 1])))
    check(lambda M, t, r: t.repeat_interleave(r, dim=-1, output_size=3), x, I(np.array([2, 1])))
    check(lambda M, r: M.repeat_interleave(r), I(np.array([2, 0, 3])), grad=False)
    with pytest.raises(ValueError, match="repeats must have shape"):
        pe.ones(3).repeat_interleave(pe.tensor([1, 2]))


def test_split_chunk_unbind_narrow(rng):
    x = rng.standard_normal((5, 4))
    check(lambda M, t: t.split(2), x)
    check(lambda M, t: t.split([1, 3], dim=1), x)
    check(lambda M, t: M.split(t, 5), x)
    check(lambda M, t: t.chunk(3), x)
    check(lambda M, t: t.chunk(4, dim=-1), x)
    check(lambda M, t: M.chunk(t, 10), x)
    check(lambda M, t: t.tensor_split(3), x)
    check(lambda M, t: t.tensor_split([1, 3], dim=1), x)
    check(lambda M, t: t.unbind(1), x)
    check(lambda M, t: M.unbind(t), x)
    check(lambda M, t: t.narrow(1, -3, 2), x)
    check(lambda M, t: t.split(2)[1] * 2, x)               # only one piece used: the rest get zeros
    check(lambda M, t: t.split(2), np.zeros((0, 3)))


def test_split_outputs_are_views():
    x = pe.arange(6.0).reshape(2, 3)
    a, b = x.split([1, 2], dim=1)
    b.fill_(-1.0)
    assert x.tolist() == [[0.0, -1.0, -1.0], [3.0, -1.0, -1.0]]
    assert x._version == b._version == 1
    r0, r1 = x.unbind(0)
    r1.zero_()
    assert x.tolist()[1] == [0.0, 0.0, 0.0]
    d = x.diagonal()
    d.fill_(7.0)
    assert x.tolist()[0][0] == 7.0 and x.tolist()[1][1] == 7.0


def test_gather_scatter(rng):
    x = rng.standard_normal((3, 4))
    idx = np.array([[0, 0, 3], [1, 2, 2]])
    check(lambda M, t, i: t.gather(1, i), x, I(idx))
    check(lambda M, t, i: M.gather(t, 0, i), x, I(np.array([[2, 0, 1, 1], [0, 0, 0, 2]])))
    check(lambda M, t, i: t.gather(-1, i), x, I(np.array([[0, 1, 2, 0, 3]])))
    src = rng.standard_normal((2, 4))
    uniq = np.array([[0, 3, 1], [2, 1, 0]])
    check(lambda M, t, i, s: t.scatter(1, i, s), x, I(uniq), src[:, :3].copy())
    # a src larger than index: torch reads its leading block (torch's own backward refuses this shape)
    check(lambda M, t, i, s: t.scatter(1, i, s), x, I(uniq), src, grad=False)
    check(lambda M, t, i, s: t.scatter_add(1, i, s), x, I(idx), src, grad=False)
    check(lambda M, t, i: t.scatter(1, i, 2.5), x, I(uniq))
    check(lambda M, t, i: M.scatter(t, 1, i, value=-1.0), x, I(uniq))
    check(lambda M, t, i, s: t.scatter_add(1, i, s), x, I(idx), src[:, :3].copy())
    check(lambda M, t, i, s: M.scatter_add(t, 0, i, s), x, I(np.array([[2, 0, 2, 2], [2, 0, 0, 1]])), src)
    check(lambda M, t, i, s: t.scatter(1, i, s, reduce="add"), x, I(idx), src[:, :3].copy(), grad=False)


def test_index_select_add_copy_fill(rng):
    x = rng.standard_normal((4, 3))
    check(lambda M, t, i: t.index_select(0, i), x, I(np.array([3, 0, 3, 1])))
    check(lambda M, t, i: M.index_select(t, 1, i), x, I(np.array([2, 0], np.int32)))
    src = rng.standard_normal((2, 3))
    check(lambda M, t, i, s: t.index_add(0, i, s), x, I(np.array([1, 1])), src)
    check(lambda M, t, i, s: t.index_add(0, i, s, alpha=-2.0), x, I(np.array([3, 0])), src)
    check(lambda M, t, i, s: t.index_copy(0, i, s), x, I(np.array([3, 0])), src)
    check(lambda M, t, i: t.index_fill(1, i, -1.5), x, I(np.array([0, 2])))
    check(lambda M, t, i, v: t.index_fill(1, i, v), x, I(np.array([0, 2, 2])), np.array(0.5))


def test_masked_ops(rng):
    x = rng.standard_normal((3, 4))
    row = np.array([True, False, True, False])
    check(lambda M, t, m: t.masked_fill(m, 7.0), x, I(row))
    check(lambda M, t, m, v: M.masked_fill(t, m, v), x, I(row), np.array(0.5))
    check(lambda M, t, m: t.masked_fill(m, 2.5), np.array([1, 2, 3, 4]), I(row), grad=False)
    check(lambda M, t, m: t.masked_select(m), x, I(row))
    check(lambda M, t, m: M.masked_select(t, m), x[0], I(np.array([[True], [False], [True]])))
    check(lambda M, t, m, s: t.masked_scatter(m, s), x, I(x > 0), rng.standard_normal(20))


def test_take_and_take_along_dim(rng):
    x = rng.standard_normal((3, 4))
    check(lambda M, t, i: t.take(i), x, I(np.array([[11, 0], [-1, 0]])))
    check(lambda M, t, i: M.take_along_dim(t, i, 1), x, I(np.array([[0, 3], [1, 1], [2, 0]])))
    check(lambda M, t, i: M.take_along_dim(t, i, 0), x, I(np.array([[2, 0, 1, 1]])))
    check(lambda M, t, i: t.take_along_dim(i), x, I(np.array([5, 5, 0])))


def test_flip_roll_rot90(rng):
    x = rng.standard_normal((2, 3, 4))
    check(lambda M, t: t.flip(0), x)
    check(lambda M, t: t.flip(0, 2), x)
    check(lambda M, t: M.flip(t, (-1, 1)), x)
    check(lambda M, t: t.flip(()), x)
    check(lambda M, t: M.fliplr(t), x)
    check(lambda M, t: t.flipud(), x)
    check(lambda M, t: t.roll(2), x)
    check(lambda M, t: t.roll(-1, 1), x)
    check(lambda M, t: M.roll(t, (1, 5), (0, 2)), x)
    for k in (0, 1, 2, 3, -1):
        check(lambda M, t: t.rot90(k, (1, 2)), x)


def test_triangles_and_diagonals(rng):
    x = rng.standard_normal((3, 4))
    for k in (-1, 0, 2, 5):
        check(lambda M, t: t.tril(k), x)
        check(lambda M, t: M.triu(t, k), x)
        check(lambda M, t: t.diag(k), x)
        check(lambda M, t: t.diagonal(k) * 1, x)
    check(lambda M, t: t.tril(), rng.standard_normal((2, 3, 3)))
    v = rng.standard_normal(3)
    check(lambda M, t: M.diag(t), v)
    check(lambda M, t: t.diag(-2), v)
    b = rng.standard_normal((2, 3, 4))
    check(lambda M, t: t.diagonal(1, 0, 2) * 1, b)
    check(lambda M, t: M.diagonal(t, -1, dim1=-1, dim2=-2) * 1, b)
    check(lambda M, t: M.diag_embed(t), rng.standard_normal((2, 3)))
    check(lambda M, t: t.diag_embed(1, 0, 2), rng.standard_normal((2, 3)))
    check(lambda M, t: t.triu(1), np.arange(12).reshape(3, 4), grad=False)


def test_tril_triu_inplace_and_masked_fill_inplace(rng):
    x = rng.standard_normal((3, 3))

    def f(M, t):
        y = t * 2
        y.triu_(1)
        y.masked_fill_(y > 0.5, 0.25)
        y.index_fill_(0, M.tensor([1]), 2.0)
        y.scatter_add_(1, M.tensor([[0], [2], [1]]), t[:, :1] * 1)
        y.index_add_(0, M.tensor([0, 0]), t[:2] * 1)
        return y
    check(f, x)


def test_movedim_swapaxes_unflatten_stacks(rng):
    x = rng.standard_normal((2, 3, 4))
    check(lambda M, t: t.movedim(0, -1), x)
    check(lambda M, t: M.movedim(t, (0, 1), (2, 0)), x)
    check(lambda M, t: M.moveaxis(t, -1, 0), x)
    check(lambda M, t: t.swapaxes(0, 2), x)
    check(lambda M, t: M.swapdims(t, 1, 2), x)
    check(lambda M, t: t.unflatten(2, (2, 2)), x)
    check(lambda M, t: M.unflatten(t, -1, (-1, 2)), x)
    a, b = rng.standard_normal(3), rng.standard_normal(3)
    for name in ("hstack", "vstack", "dstack", "column_stack"):
        check(lambda M, p, q: getattr(M, name)([p, q]), a, b)
        check(lambda M, p, q: getattr(M, name)([p, q]), x[0], x[1])
    check(lambda M, p, q: M.broadcast_tensors(p, q.reshape(3, 1)), a, b)
    check(lambda M, p, q: M.meshgrid(p, q[:2], indexing="ij"), a, b)
    check(lambda M, p, q: M.meshgrid(p, q[:2], indexing="xy"), a, b)
    check(lambda M, p: M.atleast_2d(p), a)
    check(lambda M, p: M.atleast_3d(p), x[0])


def test_index_errors_name_what_is_wrong():
    x = pe.ones(2, 3)
    with pytest.raises(IndexError, match=r"gather\(\): index 3 is out of bounds for dim 1 with size 3"):
        x.gather(1, pe.tensor([[3]]))
    with pytest.raises(ValueError, match=r"gather\(\): index -1 is out of bounds"):
        x.gather(1, pe.tensor([[-1]]))
    with pytest.raises(TypeError, match=r"gather\(\): argument 'index' must have dtype int64, got int32"):
        x.gather(1, pe.tensor([[0]], dtype=pe.int32))
    with pytest.raises(TypeError, match=r"argument 'index' must be a Tensor of int64 indices, got list"):
        x.gather(1, [[0]])
    with pytest.raises(ValueError, match=r"gather\(\): index must have the same number of dimensions as input"):
        x.gather(1, pe.tensor([0]))
    with pytest.raises(ValueError, match=r"index_select\(\): index 2 is out of bounds for dim 0 with size 2"):
        x.index_select(0, pe.tensor([2]))
    with pytest.raises(TypeError, match=r"masked_fill\(\): mask must have dtype bool, got int64"):
        x.masked_fill(pe.tensor([1, 0, 1]), 0.0)
    with pytest.raises(ValueError, match=r"mask of shape \(2,\) does not broadcast to the input's shape \(2, 3\)"):
        x.masked_fill(pe.tensor([True, False]), 0.0)
    with pytest.raises(ValueError, match=r"split sizes \(1, 1\) must be non-negative and sum to the size 3 of dim 1"):
        x.split([1, 1], dim=1)
    with pytest.raises(ValueError, match=r"chunk\(\): chunks must be positive, got 0"):
        x.chunk(0)
    with pytest.raises(ValueError, match=r"narrow\(\): start \(2\) \+ length \(2\) must lie within dim 1 of size 3"):
        x.narrow(1, 2, 2)
    with pytest.raises(ValueError, match=r"tril\(\): input must be at least 2-D"):
        pe.ones(3).tril()
    with pytest.raises(TypeError, match=r"scatter\(\): expected src to have dtype float32, got float64"):
        x.scatter(1, pe.tensor([[0]]), pe.ones(1, 1, dtype=pe.float64))
    with pytest.raises(IndexError, match=r"flip\(\): dims 2 is out of range for a tensor with 2 dimensions"):
        x.flip(2)
