"""Model files: round trip, metadata, atomic replacement under failures, corrupt and truncated files."""
import json
import os

import numpy as np
import pytest

from pyengine import io as pio
from pyengine.io import CorruptFileError


def _arrays(seed=0):
    rng = np.random.default_rng(seed)
    return {"conv.weight": rng.standard_normal((4, 1, 3, 3)).astype(np.float32),
            "fc.bias": rng.standard_normal(10).astype(np.float32),
            "bn.num_batches_tracked": np.array(7, dtype=np.int64)}


def _leftovers(folder):
    return sorted(n for n in os.listdir(folder) if n.endswith(".tmp"))


def test_round_trip_with_metadata(tmp_path):
    path = tmp_path / "m.safetensors"
    pio.save_file(_arrays(), path, {"architecture": "DigitCNN", "classes": [0, 1]})
    arrays, meta = pio.load_file(path, with_metadata=True)
    for k, v in _arrays().items():
        np.testing.assert_array_equal(arrays[k], v)
        assert arrays[k].dtype == v.dtype and arrays[k].shape == v.shape
    assert meta["format"] == "pyengine" and meta["architecture"] == "DigitCNN"
    assert json.loads(meta["classes"]) == [0, 1]
    assert pio.read_metadata(path)["pyengine_version"]
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask
    # a standard safetensors reader opens it too
    from safetensors.numpy import load_file
    assert set(load_file(str(path))) == set(_arrays())


@pytest.mark.parametrize("fail_at", ["write", "fsync", "replace"])
def test_failed_save_keeps_previous_file_and_leaves_no_temp(tmp_path, monkeypatch, fail_at):
    path = tmp_path / "m.safetensors"
    pio.save_file(_arrays(0), path)
    before = path.read_bytes()

    def boom(*a, **k):
        raise OSError(f"simulated failure at {fail_at}")

    if fail_at == "write":
        import safetensors.numpy
        monkeypatch.setattr(safetensors.numpy, "save", lambda *a, **k: b"x" * 10)
        real_fdopen = os.fdopen

        class BadFile:
            def __init__(self, f):
                self.f = f

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.f.close()

            def write(self, data):
                self.f.write(data[:3])
                raise OSError("simulated failure at write (disk full)")

        monkeypatch.setattr(os, "fdopen", lambda fd, mode: BadFile(real_fdopen(fd, mode)))
    elif fail_at == "fsync":
        monkeypatch.setattr(os, "fsync", boom)
    else:
        monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="simulated failure"):
        pio.save_file(_arrays(1), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert _leftovers(tmp_path) == []
    np.testing.assert_array_equal(pio.load_file(path)["fc.bias"], _arrays(0)["fc.bias"])


def test_save_into_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        pio.save_file(_arrays(), tmp_path / "nope" / "m.safetensors")


@pytest.mark.parametrize("cut", [0, 5, 8, 40, -1, -17])
def test_truncated_files_raise_corrupt_file_error(tmp_path, cut):
    path = tmp_path / "m.safetensors"
    pio.save_file(_arrays(), path)
    data = path.read_bytes()
    path.write_bytes(data[:cut] if cut >= 0 else data[:len(data) + cut])
    with pytest.raises(CorruptFileError, match=r"m\.safetensors: (truncated|not a safetensors|corrupt)"):
        pio.load_file(path)


@pytest.mark.parametrize("payload", [b"PK\x03\x04 this is a zip file, not a model" * 3,
                                     (20).to_bytes(8, "little") + b"{not json at all....",
                                     (2).to_bytes(8, "little") + b"[]",
                                     (40).to_bytes(8, "little") + b'{"w": {"dtype": "F32", "shape": 3}}    '])
def test_garbage_raises_corrupt_file_error(tmp_path, payload):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(payload)
    with pytest.raises(CorruptFileError):
        pio.load_file(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        pio.load_file(tmp_path / "nothing.safetensors")
