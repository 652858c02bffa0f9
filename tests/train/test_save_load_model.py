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
    arrays = pyengine.load(tmp_path / "m.safetensors")
    assert set(arrays) == set(a.state_dict()) and pyengine.save is pio.save
