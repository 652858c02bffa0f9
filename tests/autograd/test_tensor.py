"""Tensor construction, conversion, properties and the non-differentiable ops."""
import numpy as np
import pytest

import pyengine as pe


def test_creation_dtypes_follow_torch():
    assert pe.tensor([1.0, 2.0]).dtype == np.float32
    assert pe.tensor([1, 2]).dtype == np.int64
    assert pe.tensor([True, False]).dtype == np.bool_
    assert pe.tensor(np.zeros(3)).dtype == np.float64          # a NumPy array keeps its dtype
    assert pe.tensor([1, 2], dtype="float64").dtype == np.float64
    assert pe.zeros(2, 3).shape == (2, 3) and pe.zeros((2, 3)).dtype == np.float32
    assert pe.ones(4).sum().item() == 4.0
    assert pe.full((2, 2), 7.0).tolist() == [[7.0, 7.0], [7.0, 7.0]]
    assert pe.full((2,), 3).dtype == np.int64
    assert pe.empty(3, 2).shape == (3, 2)
    assert pe.arange(5).tolist() == [0, 1, 2, 3, 4] and pe.arange(5).dtype == np.int64
    assert pe.arange(0.0, 1.0, 0.25).dtype == np.float32
    assert pe.rand(3, 4).shape == (3, 4) and pe.randn(2).dtype == np.float32
    r = pe.randint(0, 10, (50,))
    assert r.dtype == np.int64 and 0 <= r.min().item() and r.max().item() < 10
    t = pe.randn(2, 3, dtype=pe.float64)
    for f in (pe.zeros_like, pe.ones_like, pe.empty_like, pe.rand_like, pe.randn_like):
        assert f(t).shape == (2, 3) and f(t).dtype == np.float64
    assert pe.full_like(t, 2.0).tolist() == [[2.0] * 3] * 2


def test_manual_seed_reproduces_random_tensors_and_init():
    pe.manual_seed(7)
    a, la = pe.randn(5), pe.nn.Linear(3, 2)
    pe.manual_seed(7)
    b, lb = pe.randn(5), pe.nn.Linear(3, 2)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(la.weight.numpy(), lb.weight.numpy())


def test_from_numpy_and_numpy_share_memory():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = pe.from_numpy(a)
    a[0, 0] = 42
    assert t[0, 0].item() == 42
    t.numpy()[1, 2] = -1
    assert a[1, 2] == -1
    assert np.asarray(t) is a


def test_array_protocol_and_dlpack():
    t = pe.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    assert np.array(t, copy=True) is not t.numpy()
    d = np.from_dlpack(t)
    d[0, 0] = 9
    assert t[0, 0].item() == 9                                  # zero-copy
    back = pe.from_dlpack(np.arange(3.0))
    assert back.tolist() == [0.0, 1.0, 2.0]
    assert t.__dlpack_device__()[0] == 1


def test_dlpack_with_torch():
    torch = pytest.importorskip("torch")
    x = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    t = pe.from_dlpack(x)
    x[0, 0] = 5
    assert t[0, 0].item() == 5
    y = torch.from_dlpack(t)
    assert y.shape == (2, 3)


def test_properties_and_repr():
    t = pe.randn(2, 3, requires_grad=True)
    assert t.shape == (2, 3) and t.ndim == 2 and t.device == "cpu" and t.dtype == np.float32
    assert t.T.shape == (3, 2) and t.numel() == 6 and t.size(1) == 3 and len(t) == 2
    assert "requires_grad=True" in repr(t)
    assert "grad_fn=<MulBackward0>" in repr(t * 2)
    assert pe.tensor(3.5).item() == 3.5 and float(pe.tensor([2.0])) == 2.0
    with pytest.raises(ValueError, match="only one-element"):
        t.item()
    assert t.data.requires_grad is False and t.data.numpy() is t.numpy()
    assert t.detach().numpy() is t.numpy()


def test_comparisons_argmax_and_indexing_are_not_differentiable():
    a = pe.tensor([[1.0, 5.0, 3.0], [7.0, 0.0, 2.0]], requires_grad=True)
    assert (a > 2).tolist() == [[False, True, True], [True, False, False]]
    assert (a == 5.0).any().item() and not (a < -1).any().item()
    assert a.argmax(1).tolist() == [1, 0] and a.argmax().item() == 3 and a.argmin(0).tolist() == [0, 1, 1]
    assert not (a > 2).requires_grad
    assert a[1].tolist() == [7.0, 0.0, 2.0] and a[:, 1].requires_grad
    assert a[pe.tensor([1, 0])][0, 0].item() == 7.0


def test_inplace_setitem_and_guard():
    t = pe.zeros(3)
    t[1] = 5.0
    t += 1
    assert t.tolist() == [1.0, 6.0, 1.0]
    p = pe.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place"):
        p.zero_()
    with pe.no_grad():
        p.add_(1.0).mul_(2.0)
    assert p.tolist() == [2.0, 2.0, 2.0]


def test_dtype_conversion_is_differentiable():
    a = pe.tensor([1.0, 2.0], requires_grad=True)
    (a.double() * 3).sum().backward()
    assert a.grad.dtype == np.float32 and a.grad.tolist() == [3.0, 3.0]
    assert a.long().dtype == np.int64


def test_cat_stack_where():
    a, b = pe.ones(2, 3), pe.zeros(1, 3)
    assert pe.cat([a, b]).shape == (3, 3) and pe.stack([a, a], 2).shape == (2, 3, 2)
    assert pe.where(a > 0, a, b).shape == (2, 3)
    with pytest.raises(ValueError, match=r"cat: tensor 0 has shape \(2, 3\) but tensor 1 has shape \(1, 4\)"):
        pe.cat([a, pe.zeros(1, 4)])
    with pytest.raises(ValueError, match=r"stack: .*\(2, 3\).*\(1, 3\)"):
        pe.stack([a, b])


def test_manual_sgd_update_in_place_under_no_grad():
    w = pe.tensor([1.0, 2.0], requires_grad=True)
    storage = w.numpy()
    (w * w).sum().backward()
    with pe.no_grad():
        w -= 0.5 * w.grad
    assert w.requires_grad and w.numpy() is storage and w.tolist() == [0.0, 0.0]
    with pytest.raises(RuntimeError, match="in-place"):
        w += 1
    h = w * 2
    h += 1                                   # a non-leaf: recorded out of place
    assert h.requires_grad
