"""Hostile and damaged model files: each gives a clear ValueError (CorruptFileError) quickly,
without crashing or allocating memory in proportion to what the header claims, and a model that
a file does not fit is left unchanged. No code path loads pickle. (Interrupted saves at write,
fsync and rename are covered in tests/io/test_safetensors.py.)"""
import ast
import json
import os
import struct

import numpy as np
import pytest

import pyengine as pe
from pyengine import nn
from pyengine.io import CorruptFileError, load, save


def _raw_file(path, header: dict, body: bytes, header_len: int | None = None):
    blob = json.dumps(header).encode()
    n = len(blob) if header_len is None else header_len
    path.write_bytes(struct.pack("<Q", n) + blob + body)
    return path


def _model():
    pe.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))


def _snapshot(model):
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def _unchanged(model, before):
    after = _snapshot(model)
    return all(np.array_equal(before[k], after[k]) for k in before)


def test_huge_header_length_is_rejected_without_allocating(tmp_path):
    p = _raw_file(tmp_path / "huge.safetensors", {}, b"", header_len=2**63 - 1)
    with pytest.raises(CorruptFileError, match="header length"):
        load(p)


def test_header_claiming_more_data_than_the_file_has(tmp_path):
    header = {"w": {"dtype": "F32", "shape": [100000, 100000], "data_offsets": [0, 4 * 10**10]}}
    p = _raw_file(tmp_path / "claims.safetensors", header, b"\0" * 16)
    with pytest.raises(CorruptFileError, match="truncated"):
        load(p)


def test_overlapping_offsets_are_rejected(tmp_path):
    header = {"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
              "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}}
    p = _raw_file(tmp_path / "overlap.safetensors", header, b"\0" * 24)
    with pytest.raises(CorruptFileError):
        load(p)


def test_offsets_that_disagree_with_shape_are_rejected(tmp_path):
    header = {"a": {"dtype": "F32", "shape": [8], "data_offsets": [0, 16]}}
    p = _raw_file(tmp_path / "short.safetensors", header, b"\0" * 16)
    with pytest.raises(CorruptFileError):
        load(p)


def test_unknown_dtype_is_rejected(tmp_path):
    header = {"a": {"dtype": "Q99", "shape": [4], "data_offsets": [0, 16]}}
    p = _raw_file(tmp_path / "dtype.safetensors", header, b"\0" * 16)
    with pytest.raises(CorruptFileError):
        load(p)


def test_header_that_is_not_an_object(tmp_path):
    p = tmp_path / "list.safetensors"
    blob = b"[1, 2, 3]"
    p.write_bytes(struct.pack("<Q", len(blob)) + blob)
    with pytest.raises(CorruptFileError, match="not a JSON object"):
        load(p)


def test_wrong_shape_for_the_model_changes_nothing(tmp_path):
    other = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 2))
    save(other, tmp_path / "other.safetensors")
    model = _model()
    before = _snapshot(model)
    with pytest.raises(ValueError, match=r"\d\.weight has shape \(\d, \d\) in the file, \(\d, \d\) in the model"):
        load(tmp_path / "other.safetensors", model)
    assert _unchanged(model, before)


def test_wrong_dtype_in_the_file_keeps_the_model_dtype(tmp_path):
    model = _model()
    state = {k: v.numpy().astype(np.float16) for k, v in model.state_dict().items()}
    save(state, tmp_path / "half.safetensors")
    target = _model()
    try:
        load(tmp_path / "half.safetensors", target)
    except ValueError as exc:       # rejecting is acceptable, if it names what is wrong
        assert "dtype" in str(exc) or "float16" in str(exc)
        return
    for k, v in target.state_dict().items():
        assert v.numpy().dtype == np.float32, f"{k} became {v.numpy().dtype}"
        np.testing.assert_allclose(v.numpy(), state[k].astype(np.float32))


# The DataLoader and its worker processes exchange batches through pipes they created themselves
# (as multiprocessing always does); these files pickle only that traffic (its large arrays through
# /dev/shm files the workers create and the main process unlinks), never a file a user gives.
PICKLE_IPC_ONLY = {os.path.join("data", "_worker.py"), os.path.join("data", "dataloader.py"),
                   os.path.join("data", "_shm.py")}


def test_no_code_path_loads_pickle():
    root = os.path.dirname(os.path.abspath(pe.__file__))
    offenders = []
    for folder, _, files in os.walk(root):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            if os.path.relpath(path, root) in PICKLE_IPC_ONLY:
                src = open(path, encoding="utf-8").read()
                assert "open(" not in src.replace("os.open(", ""), f"{path} may pickle only pipe traffic"
                continue
            tree = ast.parse(open(path, encoding="utf-8").read())
            for node in ast.walk(tree):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    mods = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
                    if any(m and m.split(".")[0] in ("pickle", "cPickle", "dill", "joblib") for m in mods):
                        offenders.append(f"{path}:{node.lineno} imports pickle")
                if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "load":
                    for kw in node.keywords:
                        if kw.arg == "allow_pickle" and not (isinstance(kw.value, ast.Constant) and kw.value.value is False):
                            offenders.append(f"{path}:{node.lineno} np.load with allow_pickle")
    assert not offenders, offenders
