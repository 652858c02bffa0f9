"""Pretrained weights: files, downloads with a checksum, and the input normalisation they expect.

Weights are a safetensors file of the model's state dict (torchvision's names). The header's
metadata key ``pyengine.weights`` carries, as JSON, what the weights expect of an input:
``mean`` and ``std`` per channel (applied to [0, 1] pixels), ``size`` (H, W) after cropping,
``resize`` (the shorter side before the centre crop) and optionally ``categories``. It travels with
the weights: ``model.weights_meta`` and ``model.preprocess`` (an image → normalised (C, H, W)
array callable) are set on a model built with ``weights=``.

``weights=`` accepts a local path, an ``http(s)://`` URL or a ``Weights`` (url + sha256 + meta).
A URL is downloaded once into ``$PYENGINE_HOME/models`` (default ``~/.cache/pyengine/models``):
streamed into a temporary file in that folder while its SHA-256 is computed, checked against the
expected digest (the ``sha256`` given, or the hex prefix in a torch-hub style name
``resnet18-f37072fd.safetensors``), then renamed into place, so a failed or tampered download never
leaves a file that looks complete.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Weights", "Preprocess", "load_weights", "read_weights", "save_weights", "download", "cache_dir",
           "IMAGENET_MEAN", "IMAGENET_STD"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
META_KEY = "pyengine.weights"
_HASH_IN_NAME = re.compile(r"-([0-9a-f]{8,64})\.")


@dataclass(frozen=True)
class Weights:
    """A published set of weights: where they are, their SHA-256 and what input they expect."""
    url: str
    sha256: str | None = None
    meta: dict = field(default_factory=dict)

    def transforms(self):
        return Preprocess(self.meta)


class Preprocess:
    """uint8 (H, W[, C]) image or float (C, H, W) in [0, 1] → resized (shorter side ``resize``),
    centre-cropped to ``size``, normalised float32 (C, H, W), as the weights were trained."""

    def __init__(self, meta: dict):
        self.mean = meta.get("mean")
        self.std = meta.get("std")
        size = meta.get("size")
        self.size = tuple(size) if size is not None else None
        self.resize = meta.get("resize")

    def __call__(self, img):
        from ..data.transforms import Normalize, Resize, ToTensor
        x = ToTensor()(np.asarray(img))                       # (C, H, W) float32
        if x.shape[0] == 1 and self.mean is not None and len(self.mean) == 3:
            x = np.repeat(x, 3, axis=0)                         # grayscale into an RGB network
        if self.resize is not None:
            h, w = x.shape[1:]
            s = self.resize / min(h, w)
            x = Resize((max(1, round(h * s)), max(1, round(w * s))))(x)
        if self.size is not None:
            th, tw = self.size
            h, w = x.shape[1:]
            if (h, w) != (th, tw):
                if h < th or w < tw:
                    x = Resize((max(th, h), max(tw, w)))(x)
                    h, w = x.shape[1:]
                top, left = (h - th) // 2, (w - tw) // 2
                x = x[:, top:top + th, left:left + tw]
        if self.mean is not None and self.std is not None:
            x = Normalize(self.mean, self.std)(x)
        return np.ascontiguousarray(x, dtype=np.float32)

    def __repr__(self):
        return f"Preprocess(resize={self.resize}, size={self.size}, mean={self.mean}, std={self.std})"


def cache_dir() -> str:
    home = os.environ.get("PYENGINE_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "pyengine")
    return os.path.join(home, "models")


def _sha256(path, chunk=1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def _expected_digest(url: str, sha256: str | None):
    if sha256 is not None:
        if not isinstance(sha256, str) or not re.fullmatch(r"[0-9a-fA-F]{8,64}", sha256):
            raise ValueError(f"download: sha256 must be a hex digest (8 to 64 hex digits), got {sha256!r}")
        return sha256.lower()
    m = _HASH_IN_NAME.search(os.path.basename(urllib.parse.urlparse(url).path))
    return m.group(1) if m else None


def download(url: str, folder: str | None = None, sha256: str | None = None, progress: bool = False,
             timeout: float = 30.0) -> str:
    """Downloads ``url`` into ``folder`` (default ``cache_dir()``) unless a file with the right digest
    is already there; returns its path. The SHA-256 is checked against ``sha256`` (a full digest or a
    prefix) or the hex prefix in the file name; a mismatch raises ValueError and keeps nothing."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme not in ("http", "https"):
        raise ValueError(f"download: url must be http:// or https://, got {url!r}")
    name = os.path.basename(parsed.path)
    if not name or name in (".", ".."):
        raise ValueError(f"download: cannot tell a file name from url {url!r}")
    expected = _expected_digest(url, sha256)
    folder = folder or cache_dir()
    os.makedirs(folder, exist_ok=True)
    target = os.path.join(folder, name)
    if os.path.exists(target) and (expected is None or _sha256(target).startswith(expected)):
        return target
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + name + ".", suffix=".part")
    h = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            total = resp.headers.get("Content-Length")
            total = int(total) if total and total.isdigit() else None
            bar = None
            if progress:
                from tqdm.auto import tqdm
                bar = tqdm(total=total, unit="B", unit_scale=True, desc=name, leave=False)
            got = 0
            while True:
                block = resp.read(1 << 20)
                if not block:
                    break
                out.write(block)
                h.update(block)
                got += len(block)
                if bar is not None:
                    bar.update(len(block))
            if bar is not None:
                bar.close()
            out.flush()
            os.fsync(out.fileno())
        if total is not None and got != total:
            raise ValueError(f"download: {url}: got {got} bytes, the server announced {total}")
        digest = h.hexdigest()
        if expected is not None and not digest.startswith(expected):
            raise ValueError(f"download: {url}: SHA-256 {digest} does not match the expected {expected}; "
                             "the file was not kept")
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return target


def _resolve_path(weights, progress: bool) -> tuple:
    """(local path, meta from the Weights object) for a path, URL or Weights."""
    meta = {}
    sha = None
    if isinstance(weights, Weights):
        meta, sha, weights = dict(weights.meta), weights.sha256, weights.url
    if isinstance(weights, os.PathLike):
        weights = os.fspath(weights)
    if not isinstance(weights, str):
        raise TypeError(f"weights must be a file path, an http(s) URL or a pyengine.models.Weights, "
                        f"got {type(weights).__name__}")
    if weights.startswith(("http://", "https://")):
        return download(weights, sha256=sha, progress=progress), meta
    if weights.startswith("file://"):
        weights = urllib.parse.urlparse(weights).path
    if not os.path.exists(weights):
        raise FileNotFoundError(f"weights file {weights} does not exist")
    if sha is not None and not _sha256(weights).startswith(_expected_digest(weights, sha)):
        raise ValueError(f"weights file {weights}: SHA-256 does not match the expected {sha}")
    if weights.endswith((".pth", ".pt", ".bin", ".ckpt")):
        raise ValueError(f"weights file {weights} looks like a PyTorch pickle; convert it first with "
                         f"`pyengine convert {weights} {os.path.splitext(weights)[0]}.safetensors` (weights= reads "
                         "safetensors files only, which cannot run code when loaded)")
    return weights, meta


def read_weights(weights, progress: bool = False) -> tuple:
    """(state dict name → NumPy array, meta) of a weights file, URL or Weights."""
    from ..io import load_file
    path, meta = _resolve_path(weights, progress)
    arrays, header = load_file(path, with_metadata=True)
    if META_KEY in header:
        try:
            file_meta = json.loads(header[META_KEY])
        except json.JSONDecodeError:
            raise ValueError(f"{path}: its {META_KEY} metadata is not valid JSON") from None
        if not isinstance(file_meta, dict):
            raise ValueError(f"{path}: its {META_KEY} metadata must be a JSON object")
        meta = {**file_meta, **meta}
    return arrays, meta


def load_weights(model, weights, progress: bool = False, strict: bool = True, _read=None):
    """Loads weights into ``model`` (every name and shape checked first) and attaches their meta."""
    arrays, meta = _read if _read is not None else read_weights(weights, progress)
    own = model.state_dict()
    missing = [k for k in own if k not in arrays]
    unexpected = [k for k in arrays if k not in own]
    if strict and (missing or unexpected):
        raise ValueError(f"weights do not fit this {type(model).__name__}: missing {missing[:5]}"
                         f"{' ...' if len(missing) > 5 else ''}, unexpected {unexpected[:5]}"
                         f"{' ...' if len(unexpected) > 5 else ''}")
    for k, v in own.items():
        if k in arrays and tuple(arrays[k].shape) != tuple(v.shape):
            raise ValueError(f"weights do not fit this {type(model).__name__}: {k} has shape "
                             f"{tuple(arrays[k].shape)} in the file, {tuple(v.shape)} in the model")
    model.load_state_dict({k: v for k, v in arrays.items() if k in own}, strict=strict)
    model.__dict__["weights_meta"] = meta
    model.__dict__["preprocess"] = Preprocess(meta)
    return model


def save_weights(model_or_state, path, mean=None, std=None, size=None, resize=None, categories=None,
                 **extra) -> None:
    """Writes a state dict as a weights file (safetensors, atomic) with its input normalisation."""
    from ..io import save_file
    sd = model_or_state.state_dict() if hasattr(model_or_state, "state_dict") else dict(model_or_state)
    meta = {k: v for k, v in dict(mean=mean, std=std, size=size, resize=resize, categories=categories,
                                  **extra).items() if v is not None}
    for k in ("mean", "std", "size"):
        if k in meta:
            meta[k] = [float(v) if k != "size" else int(v) for v in meta[k]]
    save_file(sd, path, {META_KEY: json.dumps(meta)})


def head_classes(arrays: dict, key: str):
    """num_classes implied by the head tensor ``key`` of a state dict (None when absent)."""
    v = arrays.get(key)
    return int(v.shape[0]) if v is not None and v.ndim >= 1 else None
