"""Models through pyengine.io: weights and architecture in the header, refusing another architecture."""
import numpy as np
import pytest

import pyengine
from pyengine import io as pio
from pyengine.train import DigitCNN, DigitMLP


def test_model_round_trip(tmp_path):
    pyengine.manual_seed(0)
    a = DigitCNN()
    path = tmp_path / "cnn.safetensors"
    pio.save(a, path, metadata={"note": "test"})
    meta = pio.read_metadata(path)
    assert meta["architecture"] == "DigitCNN" and meta["note"] == "test"
    pyengine.manual_seed(1)
    b = pio.load(path, DigitCNN())
    for k, v in a.state_dict().items():
        np.testing.assert_array_equal(b.state_dict()[k].numpy(), v.numpy())


def test_loading_another_architecture_changes_nothing(tmp_path):
    path = tmp_path / "mlp.safetensors"
    pio.save(DigitMLP(), path)
    cnn = DigitCNN()
    before = {k: v.numpy().copy() for k, v in cnn.state_dict().items()}
    with pytest.raises(ValueError, match="holds a DigitMLP model, not a DigitCNN"):
        pio.load(path, cnn)
    pio.save_file({"fc.weight": np.zeros((3, 3), np.float32)}, tmp_path / "odd.safetensors",
                  {"architecture": "DigitCNN"})
    with pytest.raises(ValueError, match="does not fit this DigitCNN"):
        pio.load(tmp_path / "odd.safetensors", cnn)
    for k, v in cnn.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])


def test_module_save_and_load_methods_and_top_level_names(tmp_path):
    pyengine.manual_seed(3)
    a = DigitMLP(hidden=16)
    a.save(tmp_path / "m.safetensors")
    b = DigitMLP(hidden=16).load(tmp_path / "m.safetensors")
    np.testing.assert_array_equal(a.fc1.weight.numpy(), b.fc1.weight.numpy())
    c = pyengine.load(tmp_path / "m.safetensors")          # rebuilt from the header, no model needed
    assert isinstance(c, DigitMLP) and c.fc1.out_features == 16
    np.testing.assert_array_equal(a.fc2.weight.numpy(), c.fc2.weight.numpy())
    arrays = pio.load_file(tmp_path / "m.safetensors")
    assert set(arrays) == set(a.state_dict()) and pyengine.save is pio.save


def test_checkpoint_round_trip_with_adam_and_scheduler(tmp_path):
    from pyengine import nn, optim

    pyengine.manual_seed(4)
    model = DigitMLP(hidden=8)
    opt = optim.Adam(model.parameters(), lr=0.01, amsgrad=True)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=5)
    x = pyengine.from_numpy(np.random.default_rng(0).random((4, 1, 28, 28), dtype=np.float32))
    y = pyengine.from_numpy(np.array([1, 2, 3, 4]))
    for _ in range(2):
        loss = nn.CrossEntropyLoss()(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    path = tmp_path / "ckpt.safetensors"
    pio.save_checkpoint(path, model, opt, sched, epoch=1, history={"loss": [1.0, float("nan")]}, extra={"k": 1})
    m2 = DigitMLP(hidden=8)
    o2 = optim.Adam(m2.parameters(), lr=0.5)
    s2 = optim.lr_scheduler.CosineAnnealingLR(o2, T_max=99)
    info = pio.load_checkpoint(path, m2, o2, s2)
    assert info["epoch"] == 1 and info["extra"] == {"k": 1} and np.isnan(info["history"]["loss"][1])
    assert s2.T_max == 5 and s2.get_last_lr() == sched.get_last_lr()
    assert o2.param_groups[0]["lr"] == opt.param_groups[0]["lr"] and o2.param_groups[0]["betas"] == (0.9, 0.999)
    for p, q in zip(model.parameters(), m2.parameters()):
        np.testing.assert_array_equal(p.numpy(), q.numpy())
        for key in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
            np.testing.assert_array_equal(opt.state[p][key], o2.state[q][key])
        assert o2.state[q]["step"] == 2
    with pytest.raises(pio.CorruptFileError, match="not a pyengine checkpoint"):
        pio.save(model, tmp_path / "plain.safetensors")
        pio.load_checkpoint(tmp_path / "plain.safetensors", m2)
