"""The lean inference path: fuse_conv_bn (against torch's fuse_conv_bn_eval), ConvReLU2d's fused
kernel against relu(conv) on every instruction set, and inference_mode."""
import numpy as np
import pytest

import pyengine as pe
from pyengine import nn
from pyengine.nn.fused import ConvReLU2d
from pyengine.nn.utils import fuse_conv_bn, fuse_conv_bn_eval


def _digit_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2, stride=2),
        nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2, stride=2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 10))


def _trained_stats(model, rng):
    """Batch norms with non-trivial running statistics and affine parameters."""
    model.train()
    for _ in range(3):
        model(pe.tensor(rng.standard_normal((16, 1, 28, 28)).astype(np.float32) * 2 + 0.5))
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.weight._data[...] = rng.uniform(0.5, 2, m.num_features)
            m.bias._data[...] = rng.standard_normal(m.num_features)
    return model.eval()


def test_fused_digit_cnn_matches_the_unfused_model(rng):
    model = _trained_stats(_digit_cnn(), rng)
    fused = fuse_conv_bn(model)
    kinds = [type(m).__name__ for m in fused]
    assert kinds.count("ConvReLU2d") == 3 and "BatchNorm2d" not in kinds and "ReLU" not in kinds
    x = pe.tensor(rng.standard_normal((5, 1, 28, 28)).astype(np.float32))
    with pe.no_grad():
        want = model(x).numpy()
    with pe.inference_mode():
        got = fused(x).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    assert isinstance(model[1], nn.BatchNorm2d), "fuse_conv_bn must not change the original model"


def test_fuse_conv_bn_eval_matches_torch(rng):
    torch = pytest.importorskip("torch")
    from torch.nn.utils.fusion import fuse_conv_bn_eval as torch_fuse
    tc, tb = torch.nn.Conv2d(3, 5, 3, stride=2, bias=False), torch.nn.BatchNorm2d(5)
    with torch.no_grad():
        tb.running_mean.copy_(torch.randn(5))
        tb.running_var.copy_(torch.rand(5) + 0.5)
        tb.weight.copy_(torch.rand(5) + 0.5)
        tb.bias.copy_(torch.randn(5))
    tc.eval(), tb.eval()
    c, b = nn.Conv2d(3, 5, 3, stride=2, bias=False), nn.BatchNorm2d(5)
    c.load_state_dict({k: v.numpy() for k, v in tc.state_dict().items()})
    b.load_state_dict({k: v.numpy() for k, v in tb.state_dict().items()})
    c.eval(), b.eval()
    ours, theirs = fuse_conv_bn_eval(c, b), torch_fuse(tc, tb)
    np.testing.assert_allclose(ours.weight.numpy(), theirs.weight.detach().numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(ours.bias.numpy(), theirs.bias.detach().numpy(), rtol=1e-6, atol=1e-6)


def test_fusing_needs_eval_mode():
    with pytest.raises(ValueError, match="fuse_conv_bn: call model.eval\\(\\) first"):
        fuse_conv_bn(_digit_cnn())
    with pytest.raises(ValueError, match="fuse_conv_bn_eval: conv and bn must be in eval mode"):
        fuse_conv_bn_eval(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))


@pytest.mark.parametrize("cfg", [dict(c=1, k=8, s=1, p=1, g=1), dict(c=16, k=32, s=1, p=1, g=1),
                                 dict(c=6, k=6, s=1, p=1, g=6), dict(c=5, k=7, s=2, p=0, g=1),
                                 dict(c=40, k=24, s=2, p=1, g=1)])
def test_conv_relu_fused_kernel_matches_relu_of_conv(cpu_isa, rng, cfg):
    conv = nn.Conv2d(cfg["c"], cfg["k"], 3, stride=cfg["s"], padding=cfg["p"], groups=cfg["g"])
    fused = ConvReLU2d.from_conv(conv)
    x = pe.tensor(rng.standard_normal((3, cfg["c"], 11, 9)).astype(np.float32))
    with pe.inference_mode():
        got = fused(x).numpy()
        want = np.maximum(conv(x).numpy(), 0)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert (got == 0).any() and (got > 0).any()


def test_conv_relu_records_the_graph_when_training(rng):
    fused = ConvReLU2d(2, 3, 3, padding=1)
    x = pe.tensor(rng.standard_normal((2, 2, 5, 5)).astype(np.float32), requires_grad=True)
    y = fused(x)
    assert y.requires_grad
    y.sum().backward()
    assert x.grad is not None and fused.weight.grad is not None


def test_inference_mode_records_nothing_and_restores():
    x = pe.randn(3, requires_grad=True)
    assert not pe.is_inference_mode_enabled()
    with pe.inference_mode():
        assert pe.is_inference_mode_enabled() and not pe.is_grad_enabled()
        y = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert pe.is_grad_enabled() and not pe.is_inference_mode_enabled()
    with pe.inference_mode(False):
        assert (x * 2).requires_grad

    @pe.inference_mode()
    def f(t):
        return t + 1
    assert not f(x).requires_grad


def test_lstm_inference_forward_keeps_nothing(rng, monkeypatch):
    import tracemalloc

    from pyengine.kernels import cpu
    lstm = nn.LSTM(32, 64, num_layers=2)
    x = pe.tensor(rng.standard_normal((50, 8, 32)).astype(np.float32))
    y_train, _ = lstm(x)                                   # parameters require grad: the recording forward
    assert y_train.grad_fn is not None

    def no_saving_forward(*args, **kwargs):
        raise AssertionError("the inference forward must not compute what a backward keeps")
    with pe.inference_mode():
        tracemalloc.start()
        monkeypatch.setattr(cpu, "lstm_forward", no_saving_forward)
        y, (h, c) = lstm(x)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert y.grad_fn is None and not y.requires_grad
    np.testing.assert_allclose(y.numpy(), y_train.detach().numpy(), rtol=1e-5, atol=1e-6)
    # outputs of the two layers (y 50·8·64 floats each) and the states; the saved gates (4·y) are not there
    assert peak < 3.5 * y.numpy().nbytes, peak


def test_relu6_inplace_clips_the_input_outside_a_graph_and_stays_out_of_place_inside():
    """ReLU6(inplace=True) (MobileNet's) writes into its input under no_grad, as torch does, and
    bumps the version; inside a graph the result and hardtanh's strict (0, 6) gradient are
    torch's and nothing the graph saved is overwritten."""
    torch = pytest.importorskip("torch")
    vals = np.array([-1.5, 0.0, 2.5, 6.0, 7.25, -0.0, 5.999], np.float32)
    m = nn.ReLU6(inplace=True)
    x = pe.tensor(vals.copy())
    v0 = x._version
    with pe.no_grad():
        y = m(x)
    assert y is x and x._version == v0 + 1
    np.testing.assert_array_equal(x.numpy(), np.clip(vals, 0, 6))
    # a tensor that needs no gradient is clipped in place in grad mode too (no graph to protect)
    z = pe.tensor(vals.copy())
    assert m(z) is z and np.array_equal(z.numpy(), np.clip(vals, 0, 6))
    # inside a graph: out of place, torch's values and gradient (0 at exactly 0 and 6)
    a = pe.tensor(vals.copy(), requires_grad=True)
    h = a * 1.0
    out = m(h)
    assert out is not h
    np.testing.assert_array_equal(h.numpy(), vals)
    out.backward(pe.tensor(np.arange(1, 8, dtype=np.float32)))
    ta = torch.tensor(vals, requires_grad=True)
    tout = torch.nn.ReLU6(inplace=True)(ta * 1.0)
    tout.backward(torch.arange(1, 8, dtype=torch.float32))
    np.testing.assert_array_equal(out.numpy(), tout.detach().numpy())
    np.testing.assert_array_equal(a.grad.numpy(), ta.grad.numpy())
    # inplace=False never touches the input
    b = pe.tensor(vals.copy())
    with pe.no_grad():
        assert nn.ReLU6()(b) is not b
    np.testing.assert_array_equal(b.numpy(), vals)
