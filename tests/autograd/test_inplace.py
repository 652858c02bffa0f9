"""In-place ops and version counters: every in-place op bumps the version, views share it, a Function
whose saved tensor changed raises in backward, in-place ops on graph tensors are recorded, and leaves
that require grad refuse in-place changes — each case as PyTorch 2.13 behaves (checked against torch
when it is installed, and against fixed values always)."""
import numpy as np
import pytest

import pyengine as pe

try:
    import torch
except ImportError:          # the fixed expected values below still run
    torch = None

VERSION_ERROR = r"modified by an inplace operation: .*is at version \d+, expected \d+"


def _torch_raises(fn):
    """Whether torch raises RuntimeError for the same program (None when torch is absent)."""
    if torch is None:
        return None
    try:
        fn(torch)
    except RuntimeError:
        return True
    return False


def test_issue_example_sigmoid_then_mul_raises_as_in_torch():
    def prog(lib):
        x = lib.tensor([[0.5, -1.0, 2.0]], requires_grad=True)
        s = x.sigmoid()
        s.mul_(2)
        s.sum().backward()
        return x
    with pytest.raises(RuntimeError, match=r"sigmoid's output 0 \(shape \(1, 3\)\) is at version 1, expected 0"):
        prog(pe)
    assert _torch_raises(prog) in (True, None)


def test_issue_example_mul_of_modified_input_raises_as_in_torch():
    def prog(lib):
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        b = x * 1
        c = b * b
        b.mul_(2)
        c.sum().backward()
    with pytest.raises(RuntimeError, match=r"one of the variables needed for gradient computation has been "
                                           r"modified by an inplace operation: mul's input 0 \(shape \(3,\)\) "
                                           r"is at version 1, expected 0"):
        prog(pe)
    assert _torch_raises(prog) in (True, None)


def _both(prog):
    """prog(lib) -> list of tensors; returns ours as arrays and torch's (or None)."""
    ours = [np.asarray(t.detach().numpy() if hasattr(t, "detach") else t) for t in prog(pe)]
    theirs = None if torch is None else [t.detach().numpy() for t in prog(torch)]
    return ours, theirs


@pytest.mark.parametrize("case", ["mul_", "add_", "sub_", "div_", "iadd", "imul", "clamp_", "setitem", "copy_",
                                  "zero_", "fill_"])
def test_recorded_inplace_on_a_non_leaf_gives_torchs_gradient(case):
    def prog(lib):
        x = lib.tensor([0.5, -1.5, 2.0, 3.0], requires_grad=True)
        w = lib.tensor([1.5, 2.0, -0.5, 1.0], requires_grad=True)
        b = x * 1.0
        if case == "mul_":
            b.mul_(w)
        elif case == "add_":
            b.add_(w, alpha=2.0)
        elif case == "sub_":
            b.sub_(w * w)
        elif case == "div_":
            b.div_(w)
        elif case == "iadd":
            b += w
        elif case == "imul":
            b *= 3.0
        elif case == "clamp_":
            b.clamp_(-1.0, 2.5)
        elif case == "setitem":
            b[1:3] = w[0:2] * 2
        elif case == "copy_":
            b[0:2].sum()        # a view read is fine
            b.copy_(w * 4)
        elif case == "zero_":
            b.zero_()
        elif case == "fill_":
            b.fill_(2.0)
        loss = (b * b * x).sum()
        loss.backward()
        return [b, x.grad if x.grad is not None else lib.zeros(4), w.grad if w.grad is not None else lib.zeros(4)]
    ours, theirs = _both(prog)
    if theirs is not None:
        for o, t in zip(ours, theirs):
            np.testing.assert_allclose(o, t, rtol=1e-6, atol=1e-6)
    if case == "mul_":           # b = x·w, loss = Σ x³w²: d/dx = 3x²w², d/dw = 2x³w
        x, w = np.array([0.5, -1.5, 2.0, 3.0]), np.array([1.5, 2.0, -0.5, 1.0])
        np.testing.assert_allclose(ours[1], 3 * x**2 * w**2, rtol=1e-6)
        np.testing.assert_allclose(ours[2], 2 * x**3 * w, rtol=1e-6)


def test_recorded_inplace_gives_the_right_gradient_fixed_values():
    x = pe.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = x * 1
    b.mul_(2)
    (b * b).sum().backward()
    assert x.grad.tolist() == [8.0, 16.0, 24.0] and b.grad_fn.backward_name == "MulBackward0"
    x = pe.tensor([[0.5, -1.0, 2.0]], requires_grad=True)
    s = x.sigmoid() * 1
    s.mul_(2)
    s.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0.470007, 0.393224, 0.209987]], rtol=1e-5)


def test_every_inplace_op_bumps_the_version():
    t = pe.zeros(4)
    ops = [lambda: t.add_(1), lambda: t.sub_(1), lambda: t.mul_(2), lambda: t.div_(2), lambda: t.clamp_(0, 1),
           lambda: t.zero_(), lambda: t.fill_(3.0), lambda: t.copy_(pe.ones(4)), lambda: t.uniform_(),
           lambda: t.normal_(), lambda: t.__setitem__(0, 5.0), lambda: t.__iadd__(1), lambda: t.__isub__(1),
           lambda: t.__imul__(2), lambda: t.__itruediv__(2)]
    for k, op in enumerate(ops, 1):
        r = op()
        assert r is t or r is None        # in-place ops return the tensor; __setitem__ returns None
        assert t._version == k
    if torch is not None:
        tt = torch.zeros(4)
        tt.add_(1), tt.mul_(2), tt.zero_(), tt.uniform_(), tt.__setitem__(0, 5.0)
        assert tt._version == 5


def test_views_share_the_version_counter_detach_too_data_not():
    t = pe.zeros(2, 3)
    v = t[0]
    r = t.reshape(6)
    d = t.detach()
    plain = t.data
    v.add_(1)
    assert t._version == v._version == r._version == d._version == 1
    r.mul_(2)
    assert t._version == 2 and v._version == 2
    plain.add_(1)
    assert plain._version == 1 and t._version == 2           # .data: changes invisible to the checks
    assert t.tolist() == [[3.0, 3.0, 3.0], [1.0, 1.0, 1.0]]
    if torch is not None:
        tt = torch.zeros(2, 3)
        vv, dd, pp = tt[0], tt.detach(), tt.data
        vv.add_(1)
        assert tt._version == dd._version == 1
        pp.add_(1)
        assert tt._version == 1


def test_a_saved_tensor_changed_through_a_view_or_under_no_grad_raises():
    x = pe.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 1
    z = y * y
    with pe.no_grad():
        y[0] = 5.0
    with pytest.raises(RuntimeError, match=VERSION_ERROR):
        z.sum().backward()
    x = pe.tensor([1.0, 2.0], requires_grad=True)
    w = pe.tensor([3.0, 4.0], requires_grad=True)
    loss = (x * w).sum()
    opt = pe.optim.SGD([w], lr=0.1)
    w.grad = pe.ones(2)
    opt.step()                       # the update is an in-place change of w, as in torch
    with pytest.raises(RuntimeError, match=r"mul's input 1 \(shape \(2,\)\) is at version 1, expected 0"):
        loss.backward()


def test_inplace_change_that_backward_does_not_need_is_fine():
    x = pe.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    z = y + 1                        # add keeps only shapes
    y.add_(10)
    z.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]
    x = pe.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3.0                      # mul by a number keeps only the number
    with pe.no_grad():
        x.mul_(100)
    y.sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


@pytest.mark.parametrize("op", ["add_", "mul_", "zero_", "fill_", "setitem", "iadd", "copy_", "clamp_", "normal_"])
def test_inplace_on_a_leaf_that_requires_grad_raises(op):
    def run(lib, x):
        {"add_": lambda: x.add_(1), "mul_": lambda: x.mul_(2), "zero_": lambda: x.zero_(),
         "fill_": lambda: x.fill_(1.0), "setitem": lambda: x.__setitem__(0, 1.0), "iadd": lambda: x.__iadd__(1),
         "copy_": lambda: x.copy_(lib.ones(3)), "clamp_": lambda: x.clamp_(0, 1),
         "normal_": lambda: x.normal_()}[op]()
    x = pe.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
        run(pe, x)
    assert x._version == 0 and x.tolist() == [0.0, 0.0, 0.0]
    with pe.no_grad():
        run(pe, x)                    # allowed under no_grad, and counted
    assert x._version == 1
    x.data.add_(1)                    # and through .data, not counted
    assert x._version == 1
    if torch is not None:
        tx = torch.zeros(3, requires_grad=True)
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
            run(torch, tx)


def test_inplace_on_a_view_of_a_leaf_or_inside_a_graph_raises():
    x = pe.zeros(4, requires_grad=True)
    with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad"):
        x[0:2].mul_(2)
    y = x * 1
    with pytest.raises(RuntimeError, match="view of another tensor inside an autograd graph is not supported"):
        y[0:2].mul_(2)
    if torch is not None:
        with pytest.raises(RuntimeError, match="a view of a leaf Variable"):
            torch.zeros(4, requires_grad=True)[0:2].mul_(2)
    d = x.detach()
    d[0:2].add_(1)                    # outside the graph: allowed (and seen by x)
    assert x.tolist() == [1.0, 1.0, 0.0, 0.0]


def test_setitem_of_a_grad_tensor_into_a_plain_buffer_is_recorded():
    def prog(lib):
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        buf = lib.zeros(2, 3)
        buf[1] = x * x
        (buf * lib.tensor([[1.0, 1.0, 1.0], [1.0, 2.0, 3.0]])).sum().backward()
        return [buf, x.grad]
    ours, theirs = _both(prog)
    np.testing.assert_allclose(ours[1], [2.0, 8.0, 18.0])
    if theirs is not None:
        np.testing.assert_allclose(ours[1], theirs[1])


def test_inplace_keeps_dtype_rules():
    t = pe.tensor([1, 2, 3])
    with pytest.raises(RuntimeError, match="result type float32 can't be cast to the desired output type int64"):
        t.add_(0.5)
    with pytest.raises(RuntimeError, match="can't be cast"):
        t /= 2
    t += 2
    assert t.tolist() == [3, 4, 5] and t.dtype == np.int64
    f = pe.zeros(2)
    f += pe.tensor([1, 2])
    assert f.dtype == np.float32 and f.tolist() == [1.0, 2.0]
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        y = pe.zeros(3, requires_grad=True) * 1
        y.add_(pe.ones(2, 3))
