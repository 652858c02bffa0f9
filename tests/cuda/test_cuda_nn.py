"""The Tensor/nn layer on "cuda" (GPU only): the digit CNN and an LSTM train on the GPU along the same
path as on the CPU, devices move both ways, and mixing devices in one op names both devices."""
import numpy as np
import pytest

import pyengine
from pyengine import nn
from pyengine.nn import functional as F

from cuda_support import requires_gpu

pytestmark = [requires_gpu, pytest.mark.cuda]


def _digit_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.Flatten(),
        nn.Linear(32 * 7 * 7, 10))


def _train(model, x, y, steps, lr=0.05):
    losses = []
    for _ in range(steps):
        model.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        for p in model.parameters():
            p._data -= lr * p.grad._data
        losses.append(float(loss.item()))
    return losses


def test_digit_cnn_trains_the_same_on_both_devices():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 32).astype(np.int64)
    pyengine.manual_seed(0)
    cpu_model = _digit_cnn()
    gpu_model = _digit_cnn()
    gpu_model.load_state_dict(cpu_model.state_dict())
    gpu_model.to("cuda")
    cpu_losses = _train(cpu_model, pyengine.tensor(x), pyengine.tensor(y), 5)
    gpu_losses = _train(gpu_model, pyengine.tensor(x).cuda(), pyengine.tensor(y).cuda(), 5)
    np.testing.assert_allclose(gpu_losses, cpu_losses, rtol=2e-3, atol=2e-4)
    assert gpu_losses[-1] < gpu_losses[0]
    for (name, a), (_, b) in zip(cpu_model.state_dict().items(), gpu_model.cpu().state_dict().items()):
        np.testing.assert_allclose(np.asarray(b.numpy()), np.asarray(a.numpy()), rtol=1e-2, atol=1e-3,
                                   err_msg=name)


def test_lstm_forward_backward_on_gpu_matches_cpu():
    pyengine.manual_seed(1)
    lstm = nn.LSTM(7, 5)
    x = np.random.default_rng(2).standard_normal((4, 3, 7)).astype(np.float32)
    out_cpu, _ = lstm(pyengine.tensor(x))
    out_cpu.sum().backward()
    g_cpu = [p.grad.numpy().copy() for p in lstm.parameters()]
    lstm.zero_grad()
    lstm.to("cuda")
    out_gpu, _ = lstm(pyengine.tensor(x, device="cuda"))
    assert out_gpu.device == "cuda"
    out_gpu.sum().backward()
    np.testing.assert_allclose(out_gpu.cpu().numpy(), out_cpu.numpy(), rtol=1e-4, atol=1e-5)
    for g, p in zip(g_cpu, lstm.parameters()):
        np.testing.assert_allclose(p.grad.cpu().numpy(), g, rtol=1e-3, atol=1e-4)


def test_tensor_moves_between_devices():
    t = pyengine.tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    d = t.to("cuda")
    assert d.device == "cuda" and hasattr(d._data, "__cuda_array_interface__")
    assert hasattr(d, "__dlpack__")
    assert d.__cuda_array_interface__["shape"] == (2, 3)
    import pyengine.kernels.cuda as kc
    np.testing.assert_array_equal(kc.relu_forward(d).get(), np.maximum(t.numpy(), 0))  # a Tensor as input
    back = d.cpu()
    assert back.device == "cpu"
    np.testing.assert_array_equal(back.numpy(), t.numpy())


def test_mixing_devices_names_both():
    conv = nn.Conv2d(1, 2, 3)
    x = pyengine.tensor(np.ones((1, 1, 5, 5), np.float32), device="cuda")
    with pytest.raises((ValueError, RuntimeError, TypeError), match=r"cuda.*cpu|cpu.*cuda"):
        conv(x)


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop", "Adagrad"])
def test_optimizers_step_the_same_on_both_devices(name):
    import pyengine.optim as optim
    kwargs = {"SGD": dict(lr=0.1, momentum=0.9)}.get(name, dict(lr=0.01))
    rng = np.random.default_rng(3)
    x = rng.standard_normal((16, 6)).astype(np.float32)
    pyengine.manual_seed(3)
    a = nn.Linear(6, 4)
    b = nn.Linear(6, 4)
    b.load_state_dict(a.state_dict())
    b.to("cuda")
    results = []
    for model, dev in ((a, "cpu"), (b, "cuda")):
        opt = getattr(optim, name)(model.parameters(), **kwargs)
        for _ in range(3):
            opt.zero_grad()
            (model(pyengine.tensor(x, device=dev)) ** 2).mean().backward()
            opt.step()
        results.append([p.cpu().numpy().copy() for p in model.parameters()])
    for pa, pb in zip(*results):
        np.testing.assert_allclose(pb, pa, rtol=1e-4, atol=1e-5)
