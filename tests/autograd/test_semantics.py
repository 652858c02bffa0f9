"""PyTorch semantics that ported code relies on: max/min along a dim return (values, indices),
autograd.grad returns a tuple (and takes non-leaf inputs), type promotion, grad_fn names — and the
engine's checks of what a backward returns. Compared with torch 2.13 where installed; the fixed
expected values run everywhere."""
import numpy as np
import pytest

import pyengine as pe
from pyengine.autograd import Function

try:
    import torch
except ImportError:
    torch = None


def test_max_min_along_a_dim_return_values_and_indices():
    data = [[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]]
    x = pe.tensor(data, requires_grad=True)
    r = x.max(1)
    assert type(r).__name__ == "max" and r.values.tolist() == [3.0, 2.0] and r.indices.tolist() == [1, 0]
    values, indices = x.min(0, keepdim=True)
    assert values.tolist() == [[1.0, 2.0, 0.0]] and indices.tolist() == [[0, 1, 1]] and indices.dtype == np.int64
    r.values.sum().backward()
    assert x.grad.tolist() == [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]      # only the first maximum of a tie
    x.grad = None
    x.max().backward()                                                # the full reduction splits ties
    assert x.grad.tolist() == [[0.0, 0.5, 0.5], [0.0, 0.0, 0.0]]
    assert pe.tensor([1.0, 5.0]).max(pe.tensor([3.0, 2.0])).tolist() == [3.0, 5.0]
    if torch is not None:
        t = torch.tensor(data, requires_grad=True)
        tr = t.max(1)
        assert tr.indices.tolist() == r.indices.tolist()
        tr.values.sum().backward()
        assert t.grad.tolist() == [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]
        tv, ti = t.min(0, keepdim=True)
        assert ti.tolist() == indices.tolist()


def test_autograd_grad_returns_a_tuple_and_takes_non_leaf_inputs():
    x = pe.tensor([1.0, 2.0], requires_grad=True)
    w = pe.tensor([3.0, -1.0], requires_grad=True)
    h = x * w
    y = (h * h).sum()
    gx, gh = pe.autograd.grad(y, (x, h), retain_graph=True)
    assert gx.tolist() == [18.0, 4.0] and gh.tolist() == [6.0, -4.0]
    assert x.grad is None and w.grad is None                   # nothing accumulated anywhere
    (gw,) = pe.autograd.grad([y], [w])
    assert gw.tolist() == [6.0, -8.0] and w.grad is None
    z = pe.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="input 0 was not used"):
        pe.autograd.grad((x * 2).sum(), z)
    assert pe.autograd.grad((x * 2).sum(), [x, z], allow_unused=True)[1] is None
    if torch is not None:
        tx = torch.tensor([1.0, 2.0], requires_grad=True)
        tw = torch.tensor([3.0, -1.0], requires_grad=True)
        th = tx * tw
        tgx, tgh = torch.autograd.grad((th * th).sum(), (tx, th))
        assert tgx.tolist() == gx.tolist() and tgh.tolist() == gh.tolist()


PROMOTION = [  # (left, right, op) -> torch's dtype
    ("f32", "i64", "+"), ("i64", "f32", "*"), ("i64", "i64", "/"), ("i32", "int", "+"), ("i64", "float", "*"),
    ("f32", "float", "*"), ("f16", "float", "+"), ("f32", "f64_0d", "*"), ("i64", "f64_0d", "+"),
    ("bool", "int", "+"), ("u8", "i64", "+"), ("f32", "f64", "+"), ("i64", "int", "/"), ("f64", "int", "-"),
]
EXPECTED = ["float32", "float32", "float32", "int32", "float32", "float32", "float16", "float32", "float64",
            "int64", "int64", "float64", "float32", "float64"]


def _operand(lib, kind):
    dt = {"f32": "float32", "f64": "float64", "f16": "float16", "i64": "int64", "i32": "int32", "u8": "uint8",
          "bool": "bool"}
    if kind == "int":
        return 3
    if kind == "float":
        return 2.5
    if kind == "f64_0d":
        return lib.tensor(2.0, dtype=lib.float64)
    base = [True, False] if kind == "bool" else [1, 2]
    return lib.tensor(base, dtype=getattr(lib, dt[kind]) if lib is torch else dt[kind])


@pytest.mark.parametrize("case", range(len(PROMOTION)))
def test_type_promotion_follows_torch(case):
    a, b, op = PROMOTION[case]
    f = {"+": lambda x, y: x + y, "*": lambda x, y: x * y, "/": lambda x, y: x / y, "-": lambda x, y: x - y}[op]
    got = f(_operand(pe, a), _operand(pe, b))
    assert str(got.dtype) == EXPECTED[case]
    if torch is not None:
        want = f(_operand(torch, a), _operand(torch, b))
        assert str(want.dtype).replace("torch.", "") == EXPECTED[case]
        np.testing.assert_allclose(got.numpy().astype(np.float64), want.numpy().astype(np.float64), rtol=1e-3)


def test_promoted_ops_keep_gradients_in_the_inputs_dtype():
    a = pe.tensor([1.0, 2.0], requires_grad=True)                       # float32
    b = pe.tensor(3.0, dtype=pe.float64, requires_grad=True)            # 0-d float64
    y = a * b
    assert y.dtype == np.float32
    y.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64 and b.grad.tolist() == 3.0


GRAD_FNS = [
    ("mul", lambda x: x * 2, "MulBackward0"), ("add", lambda x: x + 1, "AddBackward0"),
    ("sub", lambda x: x - 1, "SubBackward0"), ("div", lambda x: x / 2, "DivBackward0"),
    ("sum", lambda x: x.sum(), "SumBackward0"), ("sum dim", lambda x: x.sum(0), "SumBackward1"),
    ("mean", lambda x: x.mean(), "MeanBackward0"), ("exp", lambda x: x.exp(), "ExpBackward0"),
    ("pow", lambda x: x ** 2, "PowBackward0"), ("neg", lambda x: -x, "NegBackward0"),
    ("relu", lambda x: x.relu(), "ReluBackward0"), ("sigmoid", lambda x: x.sigmoid(), "SigmoidBackward0"),
    ("tanh", lambda x: x.tanh(), "TanhBackward0"), ("view", lambda x: x.reshape(6), "ViewBackward0"),
    ("permute", lambda x: x.permute(1, 0), "PermuteBackward0"), ("clone", lambda x: x.clone(), "CloneBackward0"),
    ("select", lambda x: x[0], "SelectBackward0"), ("slice", lambda x: x[:, 1:], "SliceBackward0"),
    ("max", lambda x: x.max(), "MaxBackward1"), ("max dim", lambda x: x.max(1).values, "MaxBackward0"),
    ("softmax", lambda x: x.softmax(1), "SoftmaxBackward0"), ("to", lambda x: x.double(), "ToCopyBackward0"),
    ("log_softmax", lambda x: x.log_softmax(1), "LogSoftmaxBackward0"), ("mm", lambda x: x @ x.T, "MmBackward0"),
]


@pytest.mark.parametrize("name,fn,want", GRAD_FNS, ids=[g[0] for g in GRAD_FNS])
def test_grad_fn_names_print_as_in_torch(name, fn, want):
    x = pe.randn(2, 3, requires_grad=True)
    y = fn(x)
    assert f"grad_fn=<{want}>" in repr(y) and repr(y.grad_fn).startswith(f"<{want} object at 0x")
    if torch is not None:
        assert type(fn(torch.randn(2, 3, requires_grad=True)).grad_fn).__name__ == want


class SoftClip(Function):
    @staticmethod
    def forward(ctx, x, c):
        t = np.tanh(x / c)
        ctx.x, ctx.c, ctx.t = x, c, t
        return c * t

    @staticmethod
    def backward(ctx, g):
        x, c, t = ctx.x, ctx.c, ctx.t
        dt = 1 - t * t
        return g * dt, g * (t - x / c * dt)          # forgot .sum(axis=0): (8, 5) for c of shape (5,)


def test_engine_names_the_function_and_input_of_a_wrong_gradient_shape():
    x = pe.randn(8, 5, requires_grad=True)
    c = pe.full((5,), 2.0, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"SoftClip.backward returned a gradient of shape \(8, 5\) for input 1 "
                                           r"of shape \(5,\)"):
        SoftClip.apply(x, c).sum().backward()
    assert repr(SoftClip.apply(x, c).grad_fn).startswith("<SoftClipBackward object")


def test_engine_checks_the_number_and_kind_of_gradients():
    class TooFew(Function):
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, g):
            return g

    class Scalar(Function):
        @staticmethod
        def forward(ctx, a):
            return a.sum()

        @staticmethod
        def backward(ctx, g):
            return np.float32(2.0) * np.ones(3, np.float32) * g   # an array from a NumPy scalar product

    a, b = pe.ones(3, requires_grad=True), pe.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"TooFew.backward returned 1 gradients, but input 1 requires one"):
        TooFew.apply(a, b).sum().backward()
    a = pe.ones(3, requires_grad=True)
    Scalar.apply(a).backward()
    assert a.grad.tolist() == [2.0, 2.0, 2.0] and type(a.grad.numpy()) is np.ndarray
