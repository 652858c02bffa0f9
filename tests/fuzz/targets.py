"""Fuzz targets: every reader of untrusted bytes, as a function of one input (bytes).

Each target feeds the bytes to one reader the way a user's file would reach it and lets only the
reader's documented errors through (ValueError and its subclasses CorruptFileError,
ArchitectureError, DataError; SystemExit from argparse). Anything else — another exception type,
a crash, a hang, an allocation over the fuzzer's bound — is a finding. The same functions drive
the long coverage-guided runs (``scripts/fuzz.sh TARGET SECONDS``, through atheris) and the short
deterministic replay of the committed corpus in the ordinary suite (tests/fuzz/test_replay.py).

Targets: safetensors (model files: load_file, read_metadata, pyengine.load which rebuilds the
architecture from the header), checkpoint (load_checkpoint into a small model, optimizer and
scheduler), architecture (the architecture JSON alone, with tensor shapes from the input), idx
(read_idx, plain and gzip), image_folder (ImageFolder over a folder made from the input), cli
(the command line's argument parsing), onnx (the ONNX importer, when pyengine.onnx exists).
"""
from __future__ import annotations

import contextlib
import io
import os
import shutil
import struct
import tempfile
import warnings

_TMP = None


def _tmpdir() -> str:
    """A per-process scratch folder, in memory where the system has /dev/shm."""
    global _TMP
    if _TMP is None:
        base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
        _TMP = tempfile.mkdtemp(prefix="pyengine-fuzz-", dir=base)
    return _TMP


def _write(name: str, data: bytes) -> str:
    path = os.path.join(_tmpdir(), name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def cleanup() -> None:
    global _TMP
    if _TMP is not None:
        shutil.rmtree(_TMP, ignore_errors=True)
        _TMP = None


# --------------------------------------------------------------------------------- targets
def safetensors(data: bytes) -> None:
    import pyengine
    from pyengine.io import load_file, read_metadata
    path = _write("model.safetensors", data)
    for fn in (load_file, read_metadata, pyengine.load):
        try:
            fn(path)
        except ValueError:
            pass


_SMALL = None


def _small_training_state():
    global _SMALL
    if _SMALL is None:
        import pyengine
        from pyengine import nn, optim
        from pyengine.optim import lr_scheduler
        pyengine.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Linear(3, 2))
        opt = optim.Adam(model.parameters(), lr=0.01)
        _SMALL = (model, opt, lr_scheduler.StepLR(opt, 2))
    return _SMALL


def checkpoint(data: bytes) -> None:
    from pyengine.io import load_checkpoint
    path = _write("checkpoint.safetensors", data)
    model, opt, sched = _small_training_state()
    try:
        load_checkpoint(path, model, opt, sched)
    except ValueError:
        pass


def architecture(data: bytes) -> None:
    """First byte: how many tensor shapes follow (each 1–3 uint16 dimensions); the rest: the JSON."""
    from pyengine.io.architecture import from_json
    shapes, pos = [], 1
    count = data[0] % 5 if data else 0
    for _ in range(count):
        if pos + 2 > len(data):
            break
        ndim = 1 + data[pos] % 3
        dims = data[pos + 1:pos + 1 + 2 * ndim]
        pos += 1 + 2 * ndim
        if len(dims) < 2 * ndim:
            break
        shapes.append(tuple(min(d, 4096) for d in struct.unpack(f"<{ndim}H", dims)))
    text = data[pos:].decode("utf-8", "replace")
    try:
        from_json(text, shapes)
    except ValueError:
        pass


def idx(data: bytes) -> None:
    from pyengine.data import read_idx
    if data and data[0] & 1:
        import gzip
        path = _write("images-idx3-ubyte.gz", gzip.compress(data[1:], compresslevel=1))
    else:
        path = _write("images-idx3-ubyte", data[1:])
    try:
        read_idx(path)
    except ValueError:
        pass


_MAX_PIXELS = 1 << 16
_EXTS = (".png", ".jpg", ".bmp", ".gif", ".pgm", ".tif", ".txt", ".png")


def image_folder(data: bytes) -> None:
    """Up to three files in two class folders; per file: a byte (class, extension, grayscale), a
    uint16 length, the bytes. The first byte's top bit asks for a resize; the last byte picks the
    augmentation every loaded image then goes through (``_augment``)."""
    from PIL import Image

    from pyengine.data import ImageFolder
    # Pillow's decoding is Pillow's; what we own is the handling of what it returns (and of its
    # errors). Its decompression-bomb limit (89 M pixels by default) lets one input decode for
    # 100 ms, so the fuzzer spends its hour on a few huge canvases: lowered here, a canvas over
    # 2 × 64 K pixels takes the same DecompressionBombError path (a DataError) at once.
    saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, _MAX_PIXELS
    try:
        _image_folder(data, ImageFolder)
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def _image_folder(data: bytes, ImageFolder) -> None:
    root = os.path.join(_tmpdir(), "images")
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(os.path.join(root, "a"))
    os.makedirs(os.path.join(root, "b"))
    pos, k = 1, 0
    grayscale, size = True, None
    if data:
        grayscale = not data[0] & 2
        size = (1 + data[0] % 7, 1 + (data[0] >> 3) % 5) if data[0] & 128 else None
    while pos + 3 <= len(data) and k < 3:
        tag = data[pos]
        (n,) = struct.unpack("<H", data[pos + 1:pos + 3])
        body = data[pos + 3:pos + 3 + n]
        pos += 3 + n
        folder = "a" if tag & 1 else "b"
        with open(os.path.join(root, folder, f"img{k}{_EXTS[(tag >> 1) % len(_EXTS)]}"), "wb") as f:
            f.write(body)
        k += 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # Pillow warns about odd files; an error is what counts
        try:
            ds = ImageFolder(root, grayscale=grayscale, size=size, transform=_augment(data[-1] if data else 0))
            for i in range(len(ds)):
                ds[i]
        except ValueError:
            pass


def _augment(byte: int):
    """The usual training transform (its fused path is a C++ kernel the decoded pixels reach): crop
    1–8 square after 0–3 pixels of padding, flip, to float, normalise; from the input's last byte."""
    from pyengine.data import transforms as T
    crop, pad = 1 + (byte >> 2) % 8, byte % 4
    return T.Compose([T.RandomCrop(crop, padding=pad, seed=byte), T.RandomHorizontalFlip(seed=byte + 1), T.ToTensor(),
                      T.Normalize([0.5], [0.25])])


_PARSER = None


def cli(data: bytes) -> None:
    """NUL-separated arguments, parsed (not run): only a usage error (SystemExit) may come out."""
    global _PARSER
    if _PARSER is None:     # building it costs far more than parsing; parse_args leaves it as it was
        from pyengine.cli import build_parser
        _PARSER = build_parser()
    argv = [a.decode("utf-8", "surrogateescape") for a in data.split(b"\0")] if data else []
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            _PARSER.parse_args(argv)
        except SystemExit as e:
            if e.code not in (0, 2, None):
                raise AssertionError(f"argparse exited with {e.code!r}") from None


def onnx(data: bytes) -> None:
    """The ONNX importer (pyengine.onnx.load), then, for a model it accepts, one forward pass on
    small inputs of the declared shapes (unknown or large dimensions become 1..3, at most 4096
    elements per input): a graph the importer took must run or fail with the ValueError naming
    the node — the kernels behind it see the file's attributes."""
    import numpy as np

    from pyengine import no_grad
    from pyengine import onnx as pe_onnx
    from pyengine.onnx._onnx import NUMPY_OF_ONNX
    path = _write("model.onnx", data)
    try:
        model = pe_onnx.load(path)
    except ValueError:
        return
    import onnx as _onnx
    proto = _onnx.ModelProto()
    proto.ParseFromString(data)
    declared = {i.name: i for i in proto.graph.input}
    inputs = []
    for k, name in enumerate(model.input_names):
        t = declared[name].type.tensor_type if name in declared else None
        dims = [d.dim_value if d.HasField("dim_value") and 0 <= d.dim_value <= 16 else 1 + k % 3
                for d in (t.shape.dim if t is not None and t.HasField("shape") else [])]
        while int(np.prod(dims, dtype=np.int64)) > 4096:
            dims[dims.index(max(dims))] = 1
        dtype = NUMPY_OF_ONNX.get(int(t.elem_type) if t is not None else 1, np.dtype(np.float32))
        vals = np.random.default_rng(k).standard_normal(dims) * 3
        inputs.append(vals.astype(dtype) if dtype.kind in "fc" else np.abs(vals).astype(dtype))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # NumPy's divide-by-zero/invalid warnings on random data
        try:
            with no_grad():
                model(*inputs)
        except ValueError:
            pass


def available() -> dict:
    """name → target function, for the targets this tree has."""
    targets = {"safetensors": safetensors, "checkpoint": checkpoint, "architecture": architecture, "idx": idx,
               "image_folder": image_folder, "cli": cli}
    try:
        import pyengine.onnx  # noqa: F401
        targets["onnx"] = onnx
    except ImportError:
        pass
    return targets
