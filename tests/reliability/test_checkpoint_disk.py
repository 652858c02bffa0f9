"""A checkpoint that cannot be written — the disk is full, the folder is read-only — stops training
with an error that names the file and the cause, and leaves the earlier checkpoints whole and no
temp file behind; training resumes from them. Tested with faults injected on the write path, and
(where this process may mount, as root in CI) on a real 1 MiB tmpfs filled up and then remounted
read-only."""
import errno
import os
import subprocess

import numpy as np
import pytest

import pyengine as pe
from pyengine import nn, optim
from pyengine.io import load_file
from pyengine.train import fit


def _data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 6)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int64)


def _train(ckpt, epochs=3, resume=False):
    pe.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 2))
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    fit(model, _data(), nn.CrossEntropyLoss(), opt, epochs=epochs, batch_size=16, seed=1, progress=False,
        checkpoint_dir=str(ckpt), resume_from=str(ckpt) if resume else None)
    return model


def _snapshot(folder):
    return {n: load_file(os.path.join(folder, n)) for n in sorted(os.listdir(folder))}


def _same_files(a, b):
    assert list(a) == list(b)
    for name in a:
        for k in a[name]:
            np.testing.assert_array_equal(a[name][k], b[name][k])


@pytest.mark.parametrize("err", [errno.ENOSPC, errno.EROFS, errno.EDQUOT])
def test_failed_checkpoint_write_is_a_clear_error_and_keeps_the_earlier_ones(tmp_path, monkeypatch, err):
    import pyengine.io.safetensors_io as sio
    ckpt = tmp_path / "ckpt"
    real = sio._write_atomic
    calls = []

    def failing(path, data):
        calls.append(path)
        if len(calls) == 2:     # the second checkpoint fails as the system would fail it
            raise OSError(err, os.strerror(err), os.path.dirname(path))
        return real(path, data)
    monkeypatch.setattr(sio, "_write_atomic", failing)
    with pytest.raises(OSError) as exc:
        _train(ckpt)
    msg = str(exc.value)
    assert exc.value.errno == err and os.strerror(err) in msg
    assert "checkpoint-epoch002.safetensors" in msg and "earlier checkpoints" in msg and "intact" in msg
    assert sorted(os.listdir(ckpt)) == ["checkpoint-epoch001.safetensors"]
    monkeypatch.setattr(sio, "_write_atomic", real)
    resumed = _train(ckpt, resume=True)
    ref = _train(tmp_path / "ref")
    for (k, a), b in zip(resumed.state_dict().items(), ref.state_dict().values()):
        np.testing.assert_array_equal(a._data, b._data, err_msg=k)


def _mount(path, *opts):
    return subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(opts), "tmpfs", str(path)],
                          capture_output=True).returncode == 0


def test_real_full_and_read_only_filesystem(tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    if os.geteuid() != 0 or not _mount(mnt, "size=1m"):
        pytest.skip("cannot mount a tmpfs here (needs root); the injected faults above still ran")
    try:
        ckpt = mnt / "ckpt"
        _train(ckpt, epochs=1)
        before = _snapshot(ckpt)
        size = os.path.getsize(ckpt / "checkpoint-epoch001.safetensors")
        st = os.statvfs(mnt)
        with open(mnt / "filler", "wb") as f:     # leave less room than one checkpoint
            f.write(b"\0" * max(0, st.f_bavail * st.f_frsize - size // 2))
        with pytest.raises(OSError) as exc:
            _train(ckpt, epochs=2, resume=True)
        assert exc.value.errno == errno.ENOSPC and "checkpoint-epoch002" in str(exc.value)
        _same_files(before, _snapshot(ckpt))       # untouched, and no temp file left
        os.unlink(mnt / "filler")
        assert subprocess.run(["mount", "-o", "remount,ro", str(mnt)]).returncode == 0
        with pytest.raises(OSError) as exc:
            _train(ckpt, epochs=2, resume=True)
        assert exc.value.errno == errno.EROFS and "checkpoint-epoch002" in str(exc.value)
        _same_files(before, _snapshot(ckpt))
    finally:
        subprocess.run(["umount", "-l", str(mnt)])
