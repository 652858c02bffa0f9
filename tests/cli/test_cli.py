"""`pyengine train / evaluate / predict`: a short real run, and every user mistake ending with one
line on stderr, exit status 2, no traceback and no output written."""
import gzip
import os

import numpy as np
import pytest

from pyengine.cli import main
from pyengine.data import DataError, load_digits

from support import run_python


def _one_line_error(capsys, argv, match, rc=2):
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == rc, (argv, code, err)
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert match in err, err
    return err


def _one_line_error_parser(capsys, argv, match):
    with pytest.raises(SystemExit) as info:
        main(argv)
    err = capsys.readouterr().err.strip()
    assert info.value.code == 2 and len(err.splitlines()) == 1, err
    assert match in err, err


@pytest.mark.parametrize("argv,match", [
    (["train", "--solver", "lbfgs"], "argument --solver: invalid choice: 'lbfgs' (choose from "),
    (["train", "--lr", "-0.1"], "argument --lr: must be a positive number, got -0.1"),
    (["train", "--lr", "abc"], "argument --lr: expected a positive number"),
    (["train", "--batch-size", "0"], "argument --batch-size: must be a positive integer, got 0"),
    (["train", "--epochs", "-3"], "argument --epochs: must be a positive integer, got -3"),
    (["train", "--data", "cifar"], "invalid choice: 'cifar'"),
    (["train", "--val-fraction", "1.5"], "must be between 0 and 1"),
    (["evaluate"], "the following arguments are required: model_file"),
])
def test_bad_options(capsys, argv, match):
    _one_line_error_parser(capsys, argv, match)


def test_missing_data_folder(capsys, tmp_path):
    out = tmp_path / "out"
    _one_line_error(capsys, ["train", "--data", "mnist", "--root", str(tmp_path / "nope"), "--output", str(out)],
                    "does not exist; pass --download")
    _one_line_error(capsys, ["train", "--data", "folder", "--root", str(tmp_path / "nope"), "--output", str(out)],
                    "data folder")
    assert not out.exists()


def test_corrupt_idx_file(capsys, tmp_path):
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        (tmp_path / (name + ".gz")).write_bytes(gzip.compress(b"\x00\x00\x08\x03" + b"\x00\x00\x00\x05" * 3 + b"xx"))
    out = tmp_path / "out"
    _one_line_error(capsys, ["train", "--data", "mnist", "--root", str(tmp_path), "--output", str(out)],
                    "IDX file truncated")
    assert not out.exists()


def test_corrupt_image_in_folder(capsys, tmp_path):
    pytest.importorskip("PIL")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.png").write_bytes(b"\x89PNG\r\n garbage")
    _one_line_error(capsys, ["train", "--data", "folder", "--root", str(tmp_path), "--output", str(tmp_path / "o")],
                    "x.png: not a readable image")


def test_bad_model_files(capsys, tmp_path):
    from pyengine import io as pio
    missing = tmp_path / "none.safetensors"
    _one_line_error(capsys, ["evaluate", str(missing)], "does not exist")
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\": ")
    _one_line_error(capsys, ["evaluate", str(corrupt)], "corrupt.safetensors: ")
    other = tmp_path / "other.safetensors"
    pio.save_file({"w": np.zeros(3, np.float32)}, other, {"architecture": "ResNet50"})
    _one_line_error(capsys, ["evaluate", str(other)], "holds a ResNet50; accepted: models written by `pyengine train`")
    _one_line_error(capsys, ["predict", str(other), "x.png"], "holds a ResNet50")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One real, short `pyengine train` run (1 epoch on the embedded digits), shared by the tests below."""
    try:
        load_digits()
    except DataError:
        pytest.skip("no offline digits installed")
    out = tmp_path_factory.mktemp("run")
    r = run_python("-m", "pyengine", "train", "--epochs", "1", "--output", str(out), "--seed", "1", timeout=600)
    return r, out


def test_train_writes_model_and_plot(trained):
    r, out = trained
    assert r.returncode == 0, r.stderr
    assert "validation accuracy:" in r.stdout and "Traceback" not in r.stderr
    acc = float(r.stdout.split("validation accuracy:")[1].split("%")[0])
    assert acc > 80.0, r.stdout
    assert (out / "model.safetensors").stat().st_size > 1000
    names = sorted(os.listdir(out))
    assert all(not n.endswith(".tmp") for n in names), names
    try:
        import matplotlib  # noqa: F401
        assert (out / "training-progress.png").read_bytes()[:4] == b"\x89PNG"
    except ImportError:
        assert "plot skipped" in r.stdout


def test_evaluate_and_predict_on_what_train_saved(trained, capsys, tmp_path):
    r, out = trained
    assert r.returncode == 0, r.stderr
    model = str(out / "model.safetensors")
    assert main(["evaluate", model]) == 0
    text = capsys.readouterr().out
    acc = float(r.stdout.split("validation accuracy:")[1].split("%")[0])
    assert f"accuracy {acc:.2f}%" in text and "confusion matrix" in text
    x, y, _ = load_digits()
    npy = tmp_path / "digit.npy"
    np.save(npy, x[7])
    paths = [str(npy)]
    try:
        from PIL import Image
        Image.fromarray(255 - x[4000]).save(tmp_path / "ink-on-paper.png")   # dark on light: inverted back
        paths.append(str(tmp_path / "ink-on-paper.png"))
    except ImportError:
        pass
    assert main(["predict", model, *paths]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == len(paths) and lines[0].startswith(f"{npy}: ")
    _one_line_error(capsys, ["predict", model, str(tmp_path / "nothing.png")], "does not exist")


def test_output_path_is_a_file(capsys, tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    _one_line_error(capsys, ["train", "--output", str(f)], "exists and is not a folder")


def test_cuda_without_a_gpu(capsys, tmp_path):
    import pyengine
    if pyengine.cuda.is_available():
        pytest.skip("a GPU is present")
    _one_line_error(capsys, ["train", "--device", "cuda", "--output", str(tmp_path / "o")], "accepted here: --device cpu")
    assert not (tmp_path / "o").exists()
