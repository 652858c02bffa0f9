"""The rough edges a new user hit: --version, defaults in every --help, demo doing what its help
says, option ranges and the output folder checked before training, .npy batches in predict with a
warning on resize, a bad PYENGINE_CPU_ISA and a shadowing source tree explained in one line, info's
wording, and the training options on the command line."""
import argparse
import csv
import os

import numpy as np
import pytest

import pyengine
from pyengine import _diagnose
from pyengine.cli import build_parser, main

from support import run_python
from test_cli import _one_line_error, _one_line_error_parser


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out.strip() == f"pyengine {pyengine.__version__}"


def _subparsers(parser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices
    return {}


def test_every_option_of_every_command_shows_its_default():
    missing = []
    for name, sub in _subparsers(build_parser()).items():
        text = sub.format_help()
        for action in sub._actions:
            if not action.option_strings or isinstance(action, (argparse._HelpAction, argparse._StoreTrueAction)):
                continue
            help_text = sub._get_formatter()._get_help_string(action)
            if "default" not in help_text:
                missing.append(f"{name} {action.option_strings[0]}")
        if any(a.option_strings and not isinstance(a, argparse._HelpAction) for a in sub._actions):
            assert "(default: " in text or "(default " in text, name
    assert not missing, missing


def test_train_help_names_the_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for expect in ("initial learning rate (default: 0.01)", "sgdm momentum, in [0, 1) (default: 0.9)",
                   "mini-batch size (default: 32)", "(default: 6)", "(default: pyengine-output)",
                   "(default: 0.25)", "(default: every epoch)", "(default: every-epoch)"):
        assert expect in text, expect


def test_demo_runs_every_kernel_once_against_the_reference(capsys):
    from pyengine.testing.registry import all_ops

    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    names = [op.name for op in all_ops()]
    rows = [ln.split() for ln in out.splitlines() if ln.split()[1:2] and ln.split()[1] in names]
    assert sorted(r[1] for r in rows) == sorted(names)
    assert all(r[-1] == "ok" for r in rows), [r for r in rows if r[-1] != "ok"]
    assert f"{len(names)} kernels run once each" in out and f"{len(names)} within tolerance" in out
    # the help says what the command does
    assert "each CPU kernel once against the NumPy reference" in build_parser().format_help()


@pytest.mark.parametrize("argv,match", [
    (["train", "--momentum", "2"], "argument --momentum: must be in [0, 1), got 2"),
    (["train", "--momentum", "1"], "argument --momentum: must be in [0, 1), got 1"),
    (["train", "--momentum", "-0.5"], "must be in [0, 1)"),
    (["train", "--lr-drop-factor", "3"], "must be between 0 and 1"),
    (["train", "--l2", "-1"], "must be a number >= 0"),
    (["train", "--grad-clip", "0"], "must be a positive number"),
    (["train", "--verbose-frequency", "0"], "must be a positive integer"),
    (["train", "--shuffle", "sometimes"], "invalid choice: 'sometimes'"),
    (["train", "--execution-environment", "tpu"], "invalid choice: 'tpu'"),
])
def test_ranges_checked_up_front(capsys, argv, match):
    _one_line_error_parser(capsys, argv, match)


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc")
def test_unwritable_output_fails_before_training(capsys, tmp_path):
    err = _one_line_error(capsys, ["train", "--output", "/proc/nope"], "--output /proc/nope: cannot write there")
    assert "epoch" not in capsys.readouterr().out
    blocker = tmp_path / "file"
    blocker.write_text("x")
    _one_line_error(capsys, ["train", "--output", str(blocker / "sub")], "cannot write there")
    _one_line_error(capsys, ["train", "--log-dir", str(blocker / "logs"), "--output", str(tmp_path / "o")],
                    "--log-dir")
    assert not (tmp_path / "o").exists(), "a failed run leaves no empty folder behind"
    assert err


def test_failed_run_removes_the_folders_it_created(capsys, tmp_path):
    out = tmp_path / "a" / "b"
    _one_line_error(capsys, ["train", "--data", "folder", "--root", str(tmp_path / "none"), "--output", str(out)],
                    "data folder")
    assert not (tmp_path / "a").exists()


def test_execution_environment_option(capsys, tmp_path):
    if not pyengine.cuda.is_available():
        _one_line_error(capsys, ["train", "--execution-environment", "gpu", "--output", str(tmp_path / "o")],
                        "--execution-environment 'gpu' needs a usable CUDA GPU")
    _one_line_error(capsys, ["train", "--execution-environment", "cpu", "--device", "cuda",
                             "--output", str(tmp_path / "o")], "not both")
    assert not (tmp_path / "o").exists()


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """One short in-process run with the training options: 1 epoch, shuffled once, a verbose table,
    a CSV log, the MLP (fast)."""
    from pyengine.data import DataError, load_digits
    try:
        load_digits()
    except DataError:
        pytest.skip("no offline digits installed")
    out = tmp_path_factory.mktemp("opts")
    return out, ["train", "--model", "mlp", "--epochs", "2", "--output", str(out / "run"), "--shuffle", "once",
                 "--verbose-frequency", "40", "--log-dir", str(out / "logs"), "--execution-environment", "auto",
                 "--no-plot"]


def test_training_options_on_the_command_line(capsys, small_run):
    out, argv = small_run
    assert main(argv) == 0
    text = capsys.readouterr().out
    rows = [ln for ln in text.splitlines() if ln.startswith("|") and ln.split("|")[2].strip().isdigit()]
    iters = [int(r.split("|")[2]) for r in rows]
    assert iters[:3] == [1, 40, 80] and iters[-1] == 236 and 118 in iters      # 118 batches per epoch
    with open(out / "logs" / "scalars.csv") as f:
        log = list(csv.DictReader(f))
    assert len(log) == 236 and [int(r["iteration"]) for r in log] == list(range(1, 237))
    assert [int(r["iteration"]) for r in log if r["val_accuracy"]] == [118, 236]
    assert (out / "run" / "model.safetensors").exists()


def test_predict_npy_batches(capsys, small_run, tmp_path):
    out, argv = small_run
    model = out / "run" / "model.safetensors"
    if not model.exists():
        assert main(argv) == 0
        capsys.readouterr()
    from pyengine.data import load_digits
    x, y, _ = load_digits()
    pick = [0, 1000, 2000, 3000]
    cases = {"hw.npy": x[pick[0]], "1hw.npy": x[pick[:1]], "nhw.npy": x[pick], "n1hw.npy": x[pick][:, None],
             "nhw1.npy": x[pick][..., None], "float.npy": x[pick].astype(np.float32) / 255}
    for name, arr in cases.items():
        np.save(tmp_path / name, arr)
    assert main(["predict", str(model)] + [str(tmp_path / n) for n in cases]) == 0
    res = capsys.readouterr()
    lines = res.out.strip().splitlines()
    assert len(lines) == 1 + 1 + 4 + 4 + 4 + 4, lines
    assert "warning" not in res.err
    label = {ln.split(": ")[0]: ln.split(": ")[1].split()[0] for ln in lines}
    for name in ("nhw.npy", "n1hw.npy", "nhw1.npy", "float.npy"):
        got = [label[f"{tmp_path / name}[{i}]"] for i in range(4)]
        assert got == [label[f"{tmp_path / 'nhw.npy'}[{i}]"] for i in range(4)], name
    assert label[str(tmp_path / "hw.npy")] == label[f"{tmp_path / 'nhw.npy'}[0]"]
    # another size: resized, with a warning naming the sizes
    big = np.kron(x[pick[0]], np.ones((2, 2), np.uint8))
    np.save(tmp_path / "big.npy", big)
    assert main(["predict", str(model), str(tmp_path / "big.npy")]) == 0
    res = capsys.readouterr()
    assert "big.npy is 56x56, resized to the model's 28x28" in res.err
    np.save(tmp_path / "bad.npy", np.zeros((2, 3, 28, 28), np.float32))
    _one_line_error(capsys, ["predict", str(model), str(tmp_path / "bad.npy")], "accepted: (H, W), (N, H, W)")


def test_bad_cpu_isa_is_one_line_and_exit_2():
    r = run_python("-m", "pyengine", "info", env={"PYENGINE_CPU_ISA": "avx9000"})
    assert r.returncode == 2, r
    assert r.stderr.strip().splitlines() == [
        "pyengine: error: PYENGINE_CPU_ISA=avx9000 is not an instruction set pyengine knows; accepted: avx512, "
        "avx2, generic (or unset it to let the CPU decide)"]
    lib = run_python(code="import pyengine", env={"PYENGINE_CPU_ISA": "avx9000"})
    assert lib.returncode == 1 and "ImportError: PYENGINE_CPU_ISA=avx9000 is not an instruction set" in lib.stderr
    assert "is not built" not in lib.stderr.splitlines()[-1]


def test_import_failure_reasons():
    exc = ImportError("set_cpu_isa: isa must be one of 'avx512', 'avx2', 'generic', got 'x'")
    assert "accepted: avx512" in _diagnose.describe(exc, env={"PYENGINE_CPU_ISA": "x"})
    exc = ImportError("PYENGINE_CPU_ISA=avx512 is not supported on this CPU or build")
    assert "use a lower one (avx2, generic)" in _diagnose.describe(exc, env={"PYENGINE_CPU_ISA": "avx512"})
    src = os.path.dirname(os.path.abspath(pyengine.__file__))
    missing = ImportError("cannot import name '_C' from partially initialized module 'pyengine'")
    shadow = _diagnose.describe(missing, env={}, pkg_dir=src, installed="/venv/site-packages/pyengine")
    if _diagnose._is_source_checkout(src):
        assert shadow.startswith(f"the source folder {os.path.dirname(src)} shadows the installed pyengine "
                                 "(/venv/site-packages/pyengine)")
        assert "Run from another folder, or install in editable mode (pip install -e .)" in shadow
    plain = _diagnose.describe(missing, env={}, pkg_dir=src, installed="")
    assert "is not built: install with `pip install .`" in plain
    assert _diagnose.running_cli(["/venv/bin/pyengine", "info"], ["python"])
    assert _diagnose.running_cli(["-m", "info"], ["python", "-m", "pyengine", "info"])
    assert not _diagnose.running_cli(["script.py"], ["python", "script.py"])


def test_info_wording():
    from pyengine import _runtime
    r = run_python("-m", "pyengine", "info", env={"OMP_NUM_THREADS": "1"})
    assert r.returncode == 0 and ", 1 thread\n" in r.stdout and "1 threads" not in r.stdout
    d = _runtime.info_dict()
    if not d["cuda_built"]:
        assert d["cuda_unavailable_reason"] == "this pyengine was built without CUDA"
    elif not d["cuda_available"] and not _runtime.nvidia_driver_present():
        assert d["cuda_unavailable_reason"] == "no NVIDIA driver found"
