"""Transfer learning: freezing, new heads, per-part learning rates, and fit keeping a frozen body's
batch norm in eval mode — frozen weights and statistics do not move by one bit."""
import os

import numpy as np
import pytest

import pyengine
from pyengine import models, nn, optim
from pyengine.train import fit

from support import run_python


def _data(n=32, side=16, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 3, side, side)).astype(np.float32)
    y = rng.integers(0, classes, n)
    x[np.arange(n), y % 3, :4, :4] += 3.0          # learnable signal
    return x, y


def _snap(module):
    return {k: v.numpy().copy() for k, v in module.state_dict().items()}


def test_a_frozen_body_does_not_move_by_one_bit_and_the_head_trains():
    pyengine.manual_seed(0)
    m = models.resnet18()
    head = models.replace_head(m, 3)
    assert m.fc is head and head.weight.shape == (3, 512)
    body = [c for n, c in m.named_children() if n != "fc"]
    models.freeze(*body)
    assert m.training and not m.layer1.training and m.fc.training
    before_body = {k: v for k, v in _snap(m).items() if not k.startswith("fc.")}
    before_head = _snap(m.fc)
    groups = models.param_groups(m, lr=0.05)
    assert len(groups) == 1 and {id(p) for p in groups[0]["params"]} == {id(m.fc.weight), id(m.fc.bias)}
    fit(m, _data(), nn.CrossEntropyLoss(), optim.SGD(groups, momentum=0.9), epochs=2, batch_size=16,
        validation_data=_data(16, seed=1), seed=0, progress=False)
    after = _snap(m)
    for k, v in before_body.items():
        np.testing.assert_array_equal(after[k], v, err_msg=k)        # weights and running statistics
    assert any(not np.array_equal(_snap(m.fc)[k], v) for k, v in before_head.items())
    assert not m.layer4[1].bn2.training and m.fc.training           # fit kept the body in eval mode


def test_without_eval_mode_batch_norm_statistics_do_move():
    pyengine.manual_seed(0)
    m = models.resnet18(num_classes=3)
    models.freeze(*[c for n, c in m.named_children() if n != "fc"], eval_mode=False)
    rm = m.bn1.running_mean.numpy().copy()
    w = m.conv1.weight.numpy().copy()
    fit(m, _data(), nn.CrossEntropyLoss(), optim.SGD(models.param_groups(m, lr=0.05)), epochs=1, batch_size=16,
        seed=0, progress=False)
    assert not np.array_equal(m.bn1.running_mean.numpy(), rm)      # training-mode BN updates its statistics
    np.testing.assert_array_equal(m.conv1.weight.numpy(), w)       # but frozen weights stay


def test_per_part_learning_rates():
    m = models.resnet18(num_classes=3)
    groups = models.param_groups(m, lr=0.01, factors={"fc": 1.0, "layer4": 0.5}, default=0.1)
    lrs = sorted(g["lr"] for g in groups)
    assert lrs == pytest.approx([0.001, 0.005, 0.01])
    by_lr = {g["lr"]: {id(p) for p in g["params"]} for g in groups}
    assert id(m.fc.weight) in by_lr[0.01] and id(m.layer4[0].conv1.weight) in by_lr[0.005]
    assert id(m.conv1.weight) in by_lr[groups[-1]["lr"]] and groups[-1]["lr"] == pytest.approx(0.001)
    total = sum(len(g["params"]) for g in groups)
    assert total == len(list(m.parameters()))
    opt = optim.SGD(groups, lr=1.0)
    assert sorted(g["lr"] for g in opt.param_groups) == pytest.approx([0.001, 0.005, 0.01])
    # fine-tuning the whole net at a low rate: everything moves, the body less than the head
    pyengine.manual_seed(0)
    m = models.resnet18(num_classes=3)
    w0, h0 = m.conv1.weight.numpy().copy(), m.fc.weight.numpy().copy()
    fit(m, _data(), nn.CrossEntropyLoss(), optim.SGD(models.param_groups(m, 0.01, {"fc": 1.0}, default=0.01)),
        epochs=1, batch_size=16, seed=0, progress=False)
    assert not np.array_equal(m.conv1.weight.numpy(), w0) and not np.array_equal(m.fc.weight.numpy(), h0)
    with pytest.raises(ValueError, match="no module 'head'"):
        models.param_groups(m, 0.1, {"head": 1.0})
    with pytest.raises(ValueError, match=">= 0"):
        models.param_groups(m, 0.1, {"fc": -1})


@pytest.mark.parametrize("name, shape", [("lenet5", (1, 1, 28, 28)), ("digit_cnn", (1, 1, 28, 28)),
                                         ("alexnet", (1, 3, 64, 64)), ("vgg11", (1, 3, 32, 32)),
                                         ("resnet50", (1, 3, 32, 32)), ("mobilenet_v2", (1, 3, 32, 32)),
                                         ("squeezenet1_1", (1, 3, 48, 48))])
def test_replace_head_on_every_architecture(name, shape):
    m = models.get_model(name, num_classes=10)
    models.replace_head(m, 4)
    with pyengine.no_grad():
        assert m.eval()(pyengine.randn(*shape)).shape == (1, 4)


def test_the_example_fine_tunes_a_zoo_model_and_prints_both_accuracies():
    example = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "transfer_learning.py")
    pytest.importorskip("mlxtend")
    r = run_python(os.path.abspath(example), timeout=600)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    acc = {ln.split(":")[0].strip(): float(ln.split(":")[1].split("%")[0]) for ln in lines if "%" in ln}
    assert acc["digits 0-4, the trained zoo model"] > 95
    assert acc["digits 5-9, new head on the frozen pretrained body"] > 90
    assert acc["digits 5-9, whole network, body at 0.1x the rate"] > 90
    assert acc["digits 5-9, new head on the frozen pretrained body"] > acc["digits 5-9, new head on a random frozen body"]
    assert "largest change of a frozen weight or statistic: 0.0e+00" in r.stdout
