"""The torch-shaped surface of the tensor ops: every pe.<op> exists where torch.<op> does and agrees with
the method; inference_mode (context manager, decorator, nesting) and the grad-mode decorators as in
torch; tensor hooks and retain_grad on the new multi-output and view ops, and through autograd.grad."""
import numpy as np
import pytest

import pyengine as pe
from pyengine import functions

from ops_parity import check, torch

ISSUE_OPS = ("repeat repeat_interleave expand chunk split gather scatter scatter_add index_select masked_fill "
             "masked_select where topk sort argsort cumsum cumprod prod flip roll tril triu diag norm std logsumexp "
             "amax amin all any nonzero unique clone sin cos tan asin acos atan atan2 sinh cosh tanh asinh acosh "
             "atanh log1p expm1 log2 log10 exp2 rsqrt reciprocal sign floor ceil round trunc frac erf erfc pow "
             "maximum minimum fmod remainder clamp lerp").split()
TOP_LEVEL = "exp sum mean mm bmm matmul einsum sigmoid tanh relu clamp cat stack where".split()


def test_every_issue_op_is_a_method_and_a_top_level_function():
    missing_methods = [n for n in ISSUE_OPS if not hasattr(pe.Tensor, n)]
    top = [n for n in ISSUE_OPS + TOP_LEVEL if n not in ("repeat", "expand") and not hasattr(pe, n)]
    assert not missing_methods and not top, (missing_methods, top)


def test_top_level_names_that_torch_has_are_here():
    ours = set(functions.__all__)
    missing = sorted(n for n in ours if not hasattr(torch, n) and n not in ("return_types", "broadcast_shapes"))
    assert not missing, f"pe has names torch lacks (typos?): {missing}"


def test_functions_agree_with_methods(rng):
    x = rng.standard_normal((3, 4))
    check(lambda M, t: (M.exp(t), M.sum(t, 1), M.mean(t, dim=0, keepdim=True), M.sigmoid(t), M.tanh(t), M.relu(t),
                        M.clamp(t, -0.5, 0.5), M.softmax(t, 1), M.log_softmax(t, dim=0), M.abs(t), M.neg(t),
                        M.sqrt(M.abs(t)), M.transpose(t, 0, 1), M.flatten(t), M.squeeze(M.unsqueeze(t, 0))), x)
    check(lambda M, a, b: (M.add(a, b, alpha=2), M.sub(a, b, alpha=0.5), M.mul(a, b), M.div(a, b), M.pow(a, 2),
                           M.cat([a, b], 1), M.stack([a, b]), M.where(a > b, a, b), M.where(a > 0, a, 0.0),
                           M.max(a, 1), M.min(a), M.argmax(a, 1), M.argmin(a)), x, x[::-1].copy())
    check(lambda M, t: M.std(t, 1), x)
    assert pe.numel(pe.tensor(x)) == 12


def test_return_types_module():
    assert pe.return_types.sort._fields == ("values", "indices")
    assert pe.return_types.aminmax._fields == ("min", "max")
    r = pe.tensor([3.0, 1.0]).sort()
    assert isinstance(r, pe.return_types.sort) and r.indices.tolist() == [1, 0]
    assert type(pe.tensor([[1.0]]).max(0)) is pe.return_types.max


def test_where_errors():
    with pytest.raises(TypeError, match=r"where\(\): condition must be a bool tensor, got dtype float32"):
        pe.where(pe.ones(2), pe.ones(2), 0.0)
    with pytest.raises(TypeError, match="expected both 'input' and 'other'"):
        pe.where(pe.ones(2) > 0, pe.ones(2))


# ---- inference_mode and grad-mode decorators ---------------------------------------------------------
def _modes(M):
    out = []
    x = M.ones(2, requires_grad=True)
    with M.inference_mode():
        out.append((M.is_inference_mode_enabled(), M.is_grad_enabled(), (x * 2).requires_grad))
        with M.inference_mode(False):
            out.append((M.is_inference_mode_enabled(), M.is_grad_enabled(), (x * 2).requires_grad))
        with M.enable_grad():
            out.append(("enable_grad inside", (x * 2).requires_grad))
    with M.no_grad():
        with M.inference_mode(False):
            out.append((M.is_inference_mode_enabled(), M.is_grad_enabled(), (x * 2).requires_grad))
        out.append(M.is_grad_enabled())

    @M.inference_mode
    def bare(a):
        return a * 2, M.is_inference_mode_enabled()

    @M.inference_mode()
    def called(a):
        return a * 2

    @M.inference_mode(mode=False)
    def off(a):
        return M.is_inference_mode_enabled()

    @M.no_grad
    def ng(a):
        return a * 2

    @M.enable_grad()
    def eg(a):
        return a * 2
    y, flag = bare(x)
    out += [y.requires_grad, flag, called(x).requires_grad, off(x), ng(x).requires_grad]
    with M.no_grad():
        out.append(eg(x).requires_grad)
    out.append((M.is_inference_mode_enabled(), M.is_grad_enabled()))
    return out


def test_inference_mode_and_decorators_match_torch():
    assert _modes(pe) == _modes(torch)


def test_inference_mode_restores_on_error_and_checks_mode():
    with pytest.raises(KeyError):
        with pe.inference_mode():
            raise KeyError("x")
    assert pe.is_grad_enabled() and not pe.is_inference_mode_enabled()
    with pytest.raises(TypeError, match="inference_mode: mode must be a bool, got str"):
        pe.inference_mode("yes")


def test_inference_mode_runs_layers_without_a_graph():
    m = pe.nn.Sequential(pe.nn.Linear(4, 3), pe.nn.ReLU())
    x = pe.randn(2, 4)
    with pe.inference_mode():
        y = m(x)
    assert not y.requires_grad and y.grad_fn is None
    np.testing.assert_allclose(y.numpy(), m(x).detach().numpy(), rtol=1e-6)


# ---- hooks on the new ops -------------------------------------------------------------------------
def _hooked(M):
    log = []
    x = M.tensor([[3.0, 1.0, 2.0], [0.5, 4.0, -1.0]], dtype=M.float64, requires_grad=True)
    v, i = x.sort(1)
    v.register_hook(lambda g: log.append(("sorted", g.tolist())))
    a, b = x.split([1, 2], dim=1)
    b.retain_grad()
    b.register_hook(lambda g: g * 3)
    top = x.topk(2).values
    top.retain_grad()
    loss = (v * M.tensor([1.0, 2.0, 3.0], dtype=M.float64)).sum() + (b ** 2).sum() + top.sum() + a.sum()
    loss.backward()
    (gx,) = M.autograd.grad((x.cumsum(1) * x).sum(), [x])
    return log, x.grad.tolist(), b.grad.tolist(), top.grad.tolist(), gx.tolist(), b.retains_grad, v.retains_grad


def test_hooks_and_retain_grad_on_multi_output_and_view_ops_match_torch():
    ours, theirs = _hooked(pe), _hooked(torch)
    for o, t in zip(ours, theirs):
        if isinstance(t, bool):
            assert o == t
        else:
            np.testing.assert_allclose(np.array(o, dtype=object).tolist() if False else _num(o), _num(t))


def _num(v):
    if isinstance(v, list) and v and isinstance(v[0], tuple):
        return [np.asarray(x[1]) for x in v]
    return np.asarray(v)


def test_hooks_run_inside_autograd_grad():
    for M in (pe, torch):
        x = M.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2
        y.register_hook(lambda g: g * 10)
        (g,) = M.autograd.grad((y * y).sum(), [x])
        assert g.tolist() == [80.0, 160.0]
