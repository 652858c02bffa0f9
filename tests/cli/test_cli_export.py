"""`pyengine export --int8 [--onnx]` on a model `pyengine train` wrote, and `evaluate` / `predict`
running the int8 file."""
import numpy as np
import pytest

from pyengine.cli import main
from pyengine.data import DataError, load_digits

from support import run_python


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    try:
        load_digits()
    except DataError:
        pytest.skip("no offline digits installed")
    out = tmp_path_factory.mktemp("run")
    r = run_python("-m", "pyengine", "train", "--epochs", "2", "--output", str(out), "--no-plot", "--quiet",
                   timeout=600)
    assert r.returncode == 0, r.stderr
    return out / "model.safetensors"


def _acc(text, label):
    return float(text.split(label)[1].split("%")[0])


def test_export_int8_then_evaluate_and_predict(model_file, tmp_path, capsys):
    pytest.importorskip("onnx")
    q = tmp_path / "digits-int8.safetensors"
    onnx_path = tmp_path / "digits-int8.onnx"
    assert main(["export", str(model_file), "--int8", "--output", str(q), "--onnx", str(onnx_path),
                 "--calibration", "200"]) == 0
    out = capsys.readouterr().out
    acc_f, acc_q = _acc(out, "float32 "), _acc(out, "int8 ")
    assert acc_f > 85 and acc_q >= acc_f - 1.0, out
    assert q.stat().st_size < model_file.stat().st_size / 2.5
    import onnx
    onnx.checker.check_model(onnx.load(str(onnx_path)))
    assert main(["evaluate", str(q)]) == 0
    assert f"accuracy {acc_q:.2f}%" in capsys.readouterr().out
    x, y, _ = load_digits()
    npy = tmp_path / "batch.npy"
    np.save(npy, x[:5])
    assert main(["predict", str(q), str(npy)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 5 and lines[0].startswith(f"{npy}[0]: ")
    assert sum(int(line.split(": ")[1].split(" ")[0]) == t for line, t in zip(lines, y[:5])) >= 4


def test_export_errors_are_one_line(model_file, tmp_path, capsys):
    assert main(["export", str(model_file)]) == 2
    assert "say what to write: --int8" in capsys.readouterr().err
    q = tmp_path / "q.safetensors"
    assert main(["export", str(model_file), "--int8", "--output", str(q), "--calibration", "16"]) == 0
    capsys.readouterr()
    assert main(["export", str(q), "--int8"]) == 2
    err = capsys.readouterr().err.strip()
    assert "is already an int8 model" in err and len(err.splitlines()) == 1
    assert main(["export", str(tmp_path / "missing.safetensors"), "--int8"]) == 2
    assert "does not exist" in capsys.readouterr().err
