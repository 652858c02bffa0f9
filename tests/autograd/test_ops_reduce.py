"""Reductions, scans and order statistics against torch 2.13: dim=None / negative dims / tuples,
keepdim, empty tensors, integer dtypes, named-tuple results, ties (sort stability, shared gradients),
NaN, zeros in prod/cumprod, unique's options, and the errors."""
import numpy as np
import pytest

import pyengine as pe

from ops_parity import check, torch


def _distinct(rng, *shape):
    n = int(np.prod(shape))
    return (rng.permutation(n) * 0.37 - n * 0.15).reshape(shape)


@pytest.mark.parametrize("dim,keepdim", [(None, False), (0, False), (-1, True), (1, False)])
def test_prod_with_and_without_zeros(dim, keepdim, rng):
    x = rng.uniform(0.5, 1.5, (3, 4)) * rng.choice([-1, 1], (3, 4))
    kw = {} if dim is None else dict(dim=dim, keepdim=keepdim)
    check(lambda M, t: t.prod(**kw), x)
    one = x.copy()
    one[1, 2] = 0.0
    check(lambda M, t: t.prod(**kw), one)
    two = one.copy()
    two[1, 0] = 0.0
    two[2, 2] = 0.0
    check(lambda M, t: M.prod(t, **kw), two)


def test_prod_dtypes_and_edge_shapes():
    check(lambda M, t: t.prod(), np.array([1, 2, 3], np.int32), grad=False)
    check(lambda M, t: t.prod(0), np.array([[True, False]]), grad=False)
    check(lambda M, t: t.prod(dtype=M.float64), np.array([1.5, 2.0], np.float32))
    check(lambda M, t: t.prod(0), np.zeros((0, 3)))
    check(lambda M, t: t.prod(), np.array(2.5))


@pytest.mark.parametrize("op", ["cumsum", "cumprod"])
def test_scans(op, rng):
    x = rng.uniform(0.5, 1.5, (3, 5))
    for d in (0, 1, -1):
        check(lambda M, t: getattr(t, op)(d), x)
    z = x.copy()
    z[0, 1] = 0.0
    z[2, 3] = 0.0
    z[2, 0] = 0.0
    check(lambda M, t: getattr(M, op)(t, dim=1), z)
    check(lambda M, t: getattr(t, op)(0), np.array([1, 2, 3], np.int32), grad=False)
    check(lambda M, t: getattr(t, op)(0), np.array([True, True, False]), grad=False)
    check(lambda M, t: getattr(t, op)(0, dtype=M.float64), np.array([1, 2, 3]), grad=False)
    check(lambda M, t: getattr(t, op)(1), np.zeros((2, 0)))
    check(lambda M, t: getattr(t, op)(0), np.array(1.5))


@pytest.mark.parametrize("op", ["cummax", "cummin"])
def test_cummax_cummin_ties_nan(op):
    x = np.array([[1.0, 3.0, 3.0, 2.0, 3.0, 0.5], [2.0, 2.0, np.nan, 1.0, 5.0, np.nan]])
    check(lambda M, t: getattr(t, op)(1), x)
    check(lambda M, t: getattr(M, op)(t, 0), x)


def test_logsumexp(rng):
    x = rng.standard_normal((3, 4, 2)) * 5
    check(lambda M, t: t.logsumexp(1), x)
    check(lambda M, t: M.logsumexp(t, (0, 2), keepdim=True), x)
    check(lambda M, t: t.logsumexp(-1), np.array([[1000.0, 1000.0], [-1000.0, -np.inf]]))
    check(lambda M, t: t.logsumexp(0), np.zeros((0, 3)))
    check(lambda M, t: t.logsumexp(0), np.array([1, 2, 3]), grad=False)


@pytest.mark.parametrize("op", ["amax", "amin"])
def test_amax_amin_share_ties(op, rng):
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0], [-1.0, 4.0, 0.0]])
    check(lambda M, t: getattr(t, op)(), x)
    check(lambda M, t: getattr(t, op)(1), x)
    check(lambda M, t: getattr(t, op)((0, 1), keepdim=True), x)
    check(lambda M, t: getattr(M, op)(t, -1), x)
    check(lambda M, t: getattr(t, op)(1), np.zeros((0, 3)))
    check(lambda M, t: getattr(t, op)(0), np.array([3, 1, 3]), grad=False)
    with pytest.raises(IndexError, match="expected reduction dim 0 to have non-zero size"):
        getattr(pe.zeros(0, 3), op)(0)


def test_aminmax():
    check(lambda M, t: t.aminmax(), np.array([1.0, 3.0, -2.0]))
    check(lambda M, t: M.aminmax(t, dim=1, keepdim=True), np.array([[1.0, 3.0], [-2.0, 0.5]]))


def test_max_min_with_dim_and_other(rng):
    x = np.array([[1.0, 3.0, 3.0, 2.0], [5.0, 5.0, 1.0, 5.0]])
    check(lambda M, t: t.max(1), x)
    check(lambda M, t: t.min(0, keepdim=True), x)
    check(lambda M, t: t.max(), x)
    check(lambda M, t, o: t.max(o), x, x[::-1].copy())
    check(lambda M, t, o: M.min(t, o), x, x[::-1].copy())


@pytest.mark.parametrize("p", [2, 1, 3, 0.5, float("inf"), -float("inf"), 0, "fro"])
def test_norm(p, rng):
    x = _distinct(rng, 3, 4)
    check(lambda M, t: t.norm(p), x)
    check(lambda M, t: t.norm(p, dim=1), x)
    check(lambda M, t: M.norm(t, p, dim=(0, 1), keepdim=True), x)


def test_norm_at_zero_and_ties():
    check(lambda M, t: t.norm(), np.zeros(3))
    check(lambda M, t: t.norm(float("inf")), np.array([1.0, -2.0, 2.0]))
    check(lambda M, t: t.norm(dim=0), np.zeros((2, 0)))
    with pytest.raises(TypeError, match="vector_norm: expected a floating-point tensor, got dtype int64"):
        pe.tensor([1, 2]).norm()
    with pytest.raises(ValueError, match="the nuclear norm is not provided"):
        pe.ones(2, 2).norm("nuc")


def test_std_var_signatures(rng):
    x = rng.standard_normal((3, 5))
    check(lambda M, t: t.std(), x)
    check(lambda M, t: t.std(1), x)
    check(lambda M, t: t.std(1, True, True), x)
    check(lambda M, t: t.std(0, False), x)
    check(lambda M, t: t.std(dim=1, correction=0, keepdim=True), x)
    check(lambda M, t: t.var(1, True, True), x)
    check(lambda M, t: M.var(t, (0, 1), correction=2), x)
    check(lambda M, t: M.std(t, -1, unbiased=False), x)
    check(lambda M, t: M.var_mean(t, 1), x)
    check(lambda M, t: M.std_mean(t, 0, keepdim=True), x)
    check(lambda M, t: t.std(1), np.ones((2, 3)))           # std 0: torch's gradient is 0 there
    with pytest.raises(TypeError, match=r"std\(\): expected a floating-point tensor, got dtype int64"):
        pe.tensor([1, 2]).std()


def test_sum_mean_dtypes():
    check(lambda M, t: t.sum(), np.array([200, 100], np.uint8), grad=False)
    check(lambda M, t: t.sum(0), np.array([[True, True]]), grad=False)
    check(lambda M, t: t.sum(dtype=M.float64), np.array([1.5, 2.0], np.float32))
    check(lambda M, t: M.sum(t, (0, 1), keepdim=True), np.ones((2, 3)))
    check(lambda M, t: M.mean(t, 1, dtype=M.float64), np.ones((2, 3), np.float32))
    check(lambda M, t: M.nansum(t), np.array([1.0, np.nan, 2.0]))
    check(lambda M, t: t.nanmean(0), np.array([[1.0, np.nan], [3.0, 2.0]]))


def test_all_any_count_nonzero():
    x = np.array([[0, 1, 2], [3, 0, 0]])
    for op in ("all", "any"):
        check(lambda M, t: getattr(t, op)(), x, grad=False)
        check(lambda M, t: getattr(t, op)(1), x, grad=False)
        check(lambda M, t: getattr(M, op)(t, 0, keepdim=True), x, grad=False)
        check(lambda M, t: getattr(t, op)((0, 1)), x, grad=False)
        check(lambda M, t: getattr(t, op)(), x.astype(np.uint8), grad=False)
    check(lambda M, t: M.count_nonzero(t), x, grad=False)
    check(lambda M, t: M.count_nonzero(t, dim=0), x, grad=False)
    check(lambda M, t: t.count_nonzero((0, 1)), x.astype(float), grad=False)


def test_nonzero_argwhere():
    x = np.array([[0, 1.5, 2], [3, 0, 0]])
    check(lambda M, t: t.nonzero(), x, grad=False)
    check(lambda M, t: M.nonzero(t, as_tuple=True), x, grad=False)
    check(lambda M, t: M.argwhere(t), x, grad=False)
    check(lambda M, t: t.nonzero(), np.array(5.0), grad=False)
    check(lambda M, t: t.nonzero(), np.array(0.0), grad=False)
    check(lambda M, t: t.nonzero(as_tuple=True), np.array(5.0), grad=False)
    check(lambda M, t: M.where(t > 0), x, grad=False)


def test_sort_stable_ties_both_directions(rng):
    x = np.array([[1.0, 3.0, 3.0, 2.0, 1.0, 3.0], [5.0, 5.0, 1.0, 5.0, np.nan, 0.0]])
    for desc in (False, True):
        check(lambda M, t: t.sort(dim=1, descending=desc, stable=True), x)
        check(lambda M, t: t.sort(dim=0, descending=desc), x)
        check(lambda M, t: M.argsort(t, dim=-1, descending=desc, stable=True), x, grad=False)
    check(lambda M, t: M.sort(t), _distinct(rng, 2, 3, 4))
    check(lambda M, t: t.msort(), _distinct(rng, 4, 3))
    ints = np.array([3, 1, 2, 1, 3])
    check(lambda M, t: t.sort(descending=True, stable=True), ints, grad=False)
    check(lambda M, t: t.sort(), np.zeros((0,)))
    check(lambda M, t: t.sort(), np.array(2.0))


def test_topk(rng):
    x = _distinct(rng, 3, 7)
    for largest in (True, False):
        check(lambda M, t: t.topk(3, largest=largest), x)
        check(lambda M, t: M.topk(t, 2, dim=0, largest=largest), x)
    check(lambda M, t: t.topk(0), x)
    check(lambda M, t: t.topk(7, 1), x)
    check(lambda M, t: t.topk(1), np.array([1.0, np.nan, 3.0]))
    with pytest.raises(ValueError, match=r"topk\(\): k must be in \[0, 7\] \(the size of dim 1\), got 8"):
        pe.tensor(x).topk(8)


def test_topk_ties_give_the_same_values_as_torch():
    x = np.array([[1.0, 3.0, 3.0, 2.0], [5.0, 5.0, 1.0, 5.0]])
    ours, theirs = check(lambda M, t: t.topk(2), x, values=False, grad=False)
    np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
    got = np.take_along_axis(x, ours.indices.numpy(), 1)
    np.testing.assert_array_equal(got, ours.values.numpy())         # indices point at the values
    assert ours.indices.tolist() == [[1, 2], [0, 1]]                  # the first ties, in order


def test_kthvalue_median_mode(rng):
    x = _distinct(rng, 3, 5)
    for k in (1, 3, 5):
        check(lambda M, t: t.kthvalue(k, 1), x)
    check(lambda M, t: M.kthvalue(t, 2, 0, keepdim=True), x)
    check(lambda M, t: t.median(), x)
    check(lambda M, t: t.median(1), x)
    check(lambda M, t: M.median(t, 0, keepdim=True), x)
    check(lambda M, t: t.median(), np.array([1.0, 2.0, 2.0, 3.0]))        # ties share the gradient
    check(lambda M, t: t.median(), np.array([1.0, np.nan, 3.0]))
    check(lambda M, t: t.median(1), np.array([[1.0, np.nan, 3.0, 2.0]]))
    check(lambda M, t: t.nanmedian(), np.array([1.0, np.nan, 3.0, 2.0]))
    check(lambda M, t: t.nanmedian(1), np.array([[1.0, np.nan, 3.0, 2.0], [4.0, 1.0, 0.0, 9.0]]))
    ints = np.array([[1, 2, 2, 3, 3, 1], [4, 4, 4, 0, 0, 9]])
    check(lambda M, t: t.mode(1), ints, grad=False)
    check(lambda M, t: t.mode(1), ints.astype(float))
    check(lambda M, t: M.mode(t, 0, keepdim=True), np.array([[1.0, 2.0], [1.0, 3.0], [2.0, 3.0]]))
    with pytest.raises(ValueError, match=r"kthvalue\(\): k must be in \[1, 5\]"):
        pe.tensor(x).kthvalue(0)


def test_kthvalue_median_ties_point_at_a_tied_value():
    x = np.array([[5.0, 5.0, 1.0, 5.0], [2.0, 2.0, 2.0, 2.0], [4.0, 2.0, 2.0, 9.0]])
    for fn in (lambda M, t: t.median(1), lambda M, t: t.kthvalue(2, 1), lambda M, t: t.kthvalue(3, 1)):
        ours, theirs = check(fn, x, values=False, grad=False)
        np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
        np.testing.assert_array_equal(np.take_along_axis(x, ours.indices.numpy()[:, None], 1)[:, 0],
                                      ours.values.numpy())


def test_unique_options():
    x = np.array([3, 1, 2, 1, 3, 3])
    for inv in (False, True):
        for cnt in (False, True):
            check(lambda M, t: M.unique(t, return_inverse=inv, return_counts=cnt), x, grad=False)
    check(lambda M, t: t.unique(sorted=False), x, grad=False)
    m = np.array([[1, 2], [1, 2], [0, 5], [0, 5], [1, 2]])
    check(lambda M, t: t.unique(dim=0, return_inverse=True, return_counts=True), m, grad=False)
    check(lambda M, t: M.unique(t, dim=1), m.T.copy(), grad=False)
    check(lambda M, t: t.unique(return_inverse=True), np.array([[2.0, 1.0], [1.0, 2.0]]), grad=False)
    check(lambda M, t: t.unique(), np.zeros((0,)), grad=False)
    c = np.array([1, 1, 2, 2, 3, 1, 1, 2])
    check(lambda M, t: M.unique_consecutive(t, return_inverse=True, return_counts=True), c, grad=False)
    check(lambda M, t: t.unique_consecutive(dim=0), m, grad=False)


def test_diff_and_trace(rng):
    x = rng.standard_normal((3, 5))
    check(lambda M, t: t.diff(), x)
    check(lambda M, t: M.diff(t, n=2, dim=0), x)
    check(lambda M, t, p: t.diff(dim=1, prepend=p), x, rng.standard_normal((3, 2)))
    check(lambda M, t: t.diff(), np.array([True, False, False]), grad=False)
    check(lambda M, t: t.trace(), x)
    check(lambda M, t: M.trace(t), np.arange(12).reshape(3, 4), grad=False)


def test_reduction_errors():
    x = pe.ones(2, 3)
    with pytest.raises(IndexError, match=r"cumsum\(\): dim 2 is out of range for a tensor with 2 dimensions"):
        x.cumsum(2)
    with pytest.raises(ValueError, match=r"dim 2 is out of range"):
        x.prod(2)
    with pytest.raises(TypeError, match=r"topk\(\): argument 'k' must be an int, got float"):
        x.topk(1.5)
    with pytest.raises(TypeError, match=r"logsumexp\(\): argument 'keepdim' must be a bool, got int"):
        x.logsumexp(0, 1)
    with pytest.raises(ValueError, match="names a dimension more than once"):
        x.amax((0, -2))
