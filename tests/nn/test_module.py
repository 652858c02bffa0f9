"""Module API, containers, state dicts (PyTorch names), initialisation, modes, summary."""
from collections import OrderedDict

import numpy as np
import pytest

import pyengine as pe
from pyengine import nn


def digit_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.Flatten(), nn.Linear(32 * 7 * 7, 10))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3))
        self.rnn = nn.LSTM(4, 5, num_layers=2)
        self.head = nn.ModuleDict({"fc": nn.Linear(5, 2)})
        self.blocks = nn.ModuleList([nn.Linear(2, 2), nn.PReLU()])
        self.register_buffer("scale", pe.ones(2))
        self.register_buffer("scratch", pe.zeros(1), persistent=False)


def test_state_dict_names_and_shapes_are_pytorchs():
    sd = Net().state_dict()
    expected = OrderedDict([
        ("scale", (2,)), ("features.0.weight", (3, 2, 3, 3)), ("features.0.bias", (3,)),
        ("features.1.weight", (3,)), ("features.1.bias", (3,)), ("features.1.running_mean", (3,)),
        ("features.1.running_var", (3,)), ("features.1.num_batches_tracked", ()),
        ("rnn.weight_ih_l0", (20, 4)), ("rnn.weight_hh_l0", (20, 5)), ("rnn.bias_ih_l0", (20,)),
        ("rnn.bias_hh_l0", (20,)), ("rnn.weight_ih_l1", (20, 5)), ("rnn.weight_hh_l1", (20, 5)),
        ("rnn.bias_ih_l1", (20,)), ("rnn.bias_hh_l1", (20,)), ("head.fc.weight", (2, 5)), ("head.fc.bias", (2,)),
        ("blocks.0.weight", (2, 2)), ("blocks.0.bias", (2,)), ("blocks.1.weight", (1,))])
    assert sorted(sd) == sorted(expected)
    for k, shape in expected.items():
        assert sd[k].shape == shape, k
    assert sd["features.1.num_batches_tracked"].dtype == np.int64
    assert "scratch" not in sd


def test_state_dict_shares_storage_and_round_trips():
    a, b = Net(), Net()
    sd = a.state_dict()
    assert sd["head.fc.weight"].numpy() is a.head["fc"].weight.numpy() and not sd["head.fc.weight"].requires_grad
    res = b.load_state_dict({k: v.numpy().copy() for k, v in sd.items()})
    assert res.missing_keys == [] and res.unexpected_keys == []
    for k, v in b.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), sd[k].numpy())
    ids = [id(p) for p in b.parameters()]
    b.load_state_dict(a.state_dict())
    assert ids == [id(p) for p in b.parameters()]          # loaded in place: optimizers keep their refs


def test_load_state_dict_wrong_shape_names_key_and_changes_nothing():
    m = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    before = {k: v.numpy().copy() for k, v in m.state_dict().items()}
    bad = {k: np.zeros(v.shape, np.float32) for k, v in m.state_dict().items()}
    bad["1.weight"] = np.zeros((2, 5), np.float32)
    with pytest.raises(ValueError, match=r"1\.weight: checkpoint has shape \(2, 5\) but the model's is \(2, 4\)"):
        m.load_state_dict(bad)
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])


def test_load_state_dict_missing_and_unexpected_keys():
    m = nn.Linear(3, 2)
    with pytest.raises(KeyError, match="missing keys: bias.*unexpected keys: extra"):
        m.load_state_dict({"weight": np.zeros((2, 3)), "extra": np.zeros(1)})
    res = m.load_state_dict({"weight": np.ones((2, 3)), "extra": np.zeros(1)}, strict=False)
    assert res.missing_keys == ["bias"] and res.unexpected_keys == ["extra"]
    assert m.weight.numpy().sum() == 6


def test_parameters_children_modules_and_registration():
    n = Net()
    names = [k for k, _ in n.named_parameters()]
    assert names[0] == "features.0.weight" and len(names) == len(list(n.parameters()))
    assert [type(c).__name__ for c in n.children()] == ["Sequential", "LSTM", "ModuleDict", "ModuleList"]
    assert sum(1 for _ in n.modules()) == 10
    assert [k for k, _ in n.named_buffers()][0] == "scale"
    shared = nn.Linear(2, 2)
    s = nn.Sequential(shared, shared)
    assert len(list(s.parameters())) == 2                  # de-duplicated
    with pytest.raises(TypeError, match="cannot assign"):
        shared.weight = pe.zeros(2, 2)
    shared.weight = nn.Parameter(pe.zeros(2, 2))
    assert isinstance(shared.weight, nn.Parameter) and shared.weight.requires_grad


def test_train_eval_zero_grad_requires_grad_apply_and_to():
    m = digit_cnn()
    m.eval()
    assert all(not x.training for x in m.modules())
    m.train()
    assert all(x.training for x in m.modules())
    out = m(pe.randn(2, 1, 28, 28))
    out.sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad(set_to_none=False)
    assert all(float(abs(p.grad).sum()) == 0 for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())
    seen = []
    m.apply(lambda mod: seen.append(type(mod).__name__))
    assert seen[-1] == "Sequential" and len(seen) == 14
    ids = [id(p) for p in m.parameters()]
    m.double()
    assert [id(p) for p in m.parameters()] == ids and m[0].weight.dtype == np.float64
    assert m[1].num_batches_tracked.dtype == np.int64
    assert m(pe.randn(1, 1, 28, 28, dtype=pe.float64)).dtype == np.float64
    m.to("cpu", pe.float32)
    assert m[0].weight.dtype == np.float32


def test_batch_norm_running_stats_and_eval():
    bn = nn.BatchNorm2d(3)
    x = pe.randn(4, 3, 2, 2) * 2 + 1
    bn(x)
    xv = x.numpy().astype(np.float64)
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.1 * xv.mean(axis=(0, 2, 3)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bn.running_var.numpy(), 0.9 + 0.1 * xv.var(axis=(0, 2, 3), ddof=1), rtol=1e-5)
    assert bn.num_batches_tracked.item() == 1
    bn.eval()
    y = bn(x)
    rm, rv = bn.running_mean.numpy(), bn.running_var.numpy()
    np.testing.assert_allclose(y.numpy(), (xv - rm[:, None, None]) / np.sqrt(rv[:, None, None] + 1e-5), rtol=1e-4,
                               atol=1e-5)
    assert bn.num_batches_tracked.item() == 1


def test_default_initialisation_bounds_match_pytorch():
    pe.manual_seed(0)
    lin = nn.Linear(100, 50)
    b = 1 / np.sqrt(100)
    assert np.abs(lin.weight.numpy()).max() <= b and np.abs(lin.weight.numpy()).max() > 0.9 * b
    assert np.abs(lin.bias.numpy()).max() <= b
    conv = nn.Conv2d(4, 6, 3)
    b = 1 / np.sqrt(4 * 9)
    assert np.abs(conv.weight.numpy()).max() <= b and np.abs(conv.bias.numpy()).max() <= b
    lstm = nn.LSTM(10, 16)
    assert all(np.abs(p.numpy()).max() <= 0.25 for p in lstm.parameters())
    bn = nn.BatchNorm2d(5)
    assert bn.weight.tolist() == [1.0] * 5 and bn.bias.tolist() == [0.0] * 5 and bn.running_var.tolist() == [1.0] * 5
    assert nn.PReLU().weight.tolist() == [0.25]
    w = pe.empty(64, 32)
    nn.init.xavier_uniform_(w)
    assert np.abs(w.numpy()).max() <= np.sqrt(6 / 96)
    nn.init.kaiming_normal_(w, nonlinearity="relu")
    assert abs(w.numpy().std() - np.sqrt(2 / 32)) < 0.03
    nn.init.constant_(w, 3)
    assert w.numpy().mean() == 3
    for f in (nn.init.zeros_, nn.init.ones_, nn.init.normal_, nn.init.uniform_, nn.init.xavier_normal_,
              nn.init.kaiming_uniform_):
        f(w)


def test_repr_and_summary():
    m = digit_cnn()
    r = repr(m)
    assert "(0): Conv2d(1, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))" in r
    assert "(12): Linear(in_features=1568, out_features=10, bias=True)" in r
    s = m.summary((1, 1, 28, 28))
    assert "(1, 32, 7, 7)" in s and "15,690" in s and "Total params: 21,690" in s
    assert m.training


def test_sequential_containers():
    s = nn.Sequential(OrderedDict([("a", nn.Linear(2, 3)), ("b", nn.ReLU())]))
    assert isinstance(s[0], nn.Linear) and len(s) == 2 and isinstance(s[1:][0], nn.ReLU)
    assert "a.weight" in s.state_dict()
    ml = nn.ModuleList([nn.Linear(1, 1)])
    ml.append(nn.Tanh())
    assert len(ml) == 2 and isinstance(ml[-1], nn.Tanh)


def test_lstm_shapes_and_options():
    lstm = nn.LSTM(4, 3, num_layers=2, batch_first=True, dropout=0.5)
    out, (h, c) = lstm(pe.randn(2, 5, 4))
    assert out.shape == (2, 5, 3) and h.shape == (2, 2, 3) and c.shape == (2, 2, 3)
    lstm.eval()
    out1, _ = lstm(pe.randn(2, 5, 4))
    out2, (h2, _) = nn.LSTM(4, 3)(pe.randn(5, 4))          # unbatched
    assert out2.shape == (5, 3) and h2.shape == (1, 3)
    cell = nn.LSTMCell(4, 3)
    h, c = cell(pe.randn(2, 4))
    assert h.shape == (2, 3)
    rnn = nn.RNN(4, 3, nonlinearity="relu")
    o, h = rnn(pe.randn(5, 2, 4))
    assert o.shape == (5, 2, 3) and h.shape == (1, 2, 3)


def test_dropout_train_and_eval():
    d = nn.Dropout(0.5)
    x = pe.ones(1000)
    y = d(x).numpy()
    assert set(np.unique(y)) <= {0.0, 2.0} and 350 < (y == 0).sum() < 650
    d.eval()
    assert d(x) is x


def test_custom_layer_with_parameter():
    class Scale(nn.Module):
        def __init__(self, n):
            super().__init__()
            self.alpha = nn.Parameter(pe.ones(n))

        def forward(self, x):
            return x * self.alpha

    m = Scale(3)
    assert [k for k, _ in m.named_parameters()] == ["alpha"]
    m(pe.randn(4, 3)).sum().backward()
    assert m.alpha.grad.shape == (3,)


def test_dropout_p_one_zeroes_everything():
    x = pe.randn(3, 4, requires_grad=True)
    y = pe.nn.functional.dropout(x, 1.0)
    assert float(abs(y).sum()) == 0
    y.sum().backward()
    assert float(abs(x.grad).sum()) == 0
