"""Reading and writing safetensors files (the ``safetensors`` package's NumPy API) with atomic
replacement, clear errors for truncated or corrupt files, and pyengine's checkpoint layout.

Checkpoint layout: tensors ``model/<name>`` (the state dict), ``optimizer/<index>/<key>`` (the
per-parameter state arrays); the header metadata key ``pyengine.checkpoint`` holds JSON with
everything that is not an array (optimizer hyper-parameters and scalar state, scheduler state,
epoch, history, extra).
"""
from __future__ import annotations

import json
import os
import struct
import tempfile

import numpy as np

__all__ = ["save", "load", "save_file", "load_file", "read_metadata", "save_checkpoint", "load_checkpoint",
           "CorruptFileError"]

_HEADER_LIMIT = 100 * 1024 * 1024   # safetensors' own limit on the JSON header


class CorruptFileError(ValueError):
    """The file is not a readable safetensors file (truncated, corrupt or of another format)."""


def _version() -> str:
    try:
        from .. import __version__
        return __version__
    except ImportError:  # pragma: no cover
        return "unknown"


def _to_numpy(value) -> np.ndarray:
    arr = value._data if hasattr(value, "_data") else value
    if not isinstance(arr, np.ndarray):
        get = getattr(arr, "get", None)   # CuPy → host
        arr = get() if get is not None else np.asarray(arr)
    # np.ascontiguousarray would turn a 0-d array (num_batches_tracked) into shape (1,)
    return arr if arr.flags.c_contiguous else arr.copy(order="C")


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _write_atomic(path: str, data: bytes) -> None:
    """Writes data to path through a temp file in the same folder: write, flush, fsync, rename."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot save {path}: folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())   # mkstemp makes 0600; a saved model is as readable as any file
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:   # make the rename itself durable; not every platform/filesystem allows opening a folder
        dfd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def save_file(tensors: dict, path, metadata: dict | None = None) -> None:
    """Writes name → array (or Tensor) as a safetensors file, atomically. metadata: str → str."""
    from safetensors.numpy import save as st_save

    arrays = {}
    for name, value in tensors.items():
        if not isinstance(name, str):
            raise TypeError(f"save: tensor names must be str, got {type(name).__name__}")
        arrays[name] = _to_numpy(value)
    meta = {"format": "pyengine", "pyengine_version": _version()}
    for k, v in (metadata or {}).items():
        meta[str(k)] = v if isinstance(v, str) else json.dumps(v)
    _write_atomic(path, st_save(arrays, metadata=meta))


def _check_header(path: str, raw: bytes, size: int | None = None) -> dict:
    """Parses and checks the header (raw holds at least the header; size is the file's length)
    before safetensors sees the bytes, so the error can name what is wrong."""
    size = len(raw) if size is None else size
    if size < 8:
        raise CorruptFileError(f"{path}: not a safetensors model file (only {size} bytes)")
    (n,) = struct.unpack("<Q", raw[:8])
    if n > _HEADER_LIMIT or n == 0:
        raise CorruptFileError(f"{path}: not a safetensors model file (header length {n} is invalid)")
    if 8 + n > size:
        raise CorruptFileError(f"{path}: truncated file: the header needs {8 + n} bytes, the file has {size}")
    try:
        header = json.loads(raw[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CorruptFileError(f"{path}: corrupt safetensors header (not valid JSON)") from None
    if not isinstance(header, dict):
        raise CorruptFileError(f"{path}: corrupt safetensors header (not a JSON object)")
    body = size - 8 - n
    try:
        end = max((int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"), default=0)
    except (TypeError, ValueError, IndexError, KeyError):
        raise CorruptFileError(f"{path}: corrupt safetensors header (bad tensor entry)") from None
    if end > body:
        raise CorruptFileError(f"{path}: truncated file: the tensors need {end} bytes of data, the file has {body}")
    return header


def _read(path) -> bytes:
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"model file {path} does not exist")
    if os.path.isdir(path):
        raise CorruptFileError(f"{path} is a folder, not a model file")
    with open(path, "rb") as f:
        return f.read()


def load_file(path, with_metadata: bool = False):
    """name → NumPy array (and the metadata dict when with_metadata) from a safetensors file."""
    from safetensors.numpy import load as st_load

    raw = _read(path)
    header = _check_header(os.fspath(path), raw)
    try:
        arrays = st_load(raw)
    except Exception as exc:   # safetensors raises its own SafetensorError on inconsistent layouts
        raise CorruptFileError(f"{os.fspath(path)}: corrupt safetensors file ({exc})") from None
    # in the header's order (safetensors' own dict order is not stable between runs)
    order = [k for k in header if k != "__metadata__" and k in arrays]
    arrays = {k: arrays[k] if arrays[k].flags.c_contiguous else arrays[k].copy(order="C") for k in order}
    if with_metadata:
        return arrays, dict(header.get("__metadata__") or {})
    return arrays


def read_metadata(path) -> dict:
    """The header metadata (str → str), checking the header but without loading the tensors."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"model file {path} does not exist")
    with open(path, "rb") as f:
        head = f.read(8)
        n = struct.unpack("<Q", head)[0] if len(head) == 8 else 0
        raw = head + (f.read(n) if 0 < n <= _HEADER_LIMIT else b"")
        size = os.fstat(f.fileno()).st_size
    header = _check_header(path, raw, size)
    return dict(header.get("__metadata__") or {})


def _architecture(module) -> dict:
    """Header metadata naming the module's class (and its ``config``), with the whole tree as JSON
    when every module in it is a built-in layer or a registered architecture (else the reason not)."""
    from .architecture import META_KEY, ArchitectureError, to_json
    meta = {"architecture": type(module).__name__}
    config = getattr(module, "config", None)
    if isinstance(config, dict):
        meta["config"] = json.dumps(config)
    try:
        meta[META_KEY] = to_json(module)
    except ArchitectureError as e:
        meta[META_KEY + ".missing"] = str(e)
    return meta


def save(obj, path, metadata: dict | None = None) -> None:
    """Saves a Module's state_dict (with its architecture name in the header) or a dict of arrays."""
    meta = {}
    if hasattr(obj, "state_dict") and callable(obj.state_dict):
        meta.update(_architecture(obj))
        tensors = obj.state_dict()
    elif isinstance(obj, dict):
        tensors = obj
    else:
        raise TypeError(f"save: expected a Module or a dict of arrays, got {type(obj).__name__}")
    meta.update(metadata or {})
    save_file(tensors, path, meta)


def load(path, model=None, strict: bool = True):
    """Reads a file written by save. With ``model``, loads the weights into it (checking the
    architecture name and every shape first, so a file of another network changes nothing) and
    returns the model. Without, rebuilds the saved Module from the architecture in the header (no
    code from the file runs: only built-in layers, the zoo and registered classes can be made) and
    returns it; a file of plain arrays (``save(dict, path)``) gives the dict name → NumPy array."""
    arrays, meta = load_file(path, with_metadata=True)
    if model is None:
        model = _rebuild(os.fspath(path), arrays, meta)
        if model is None:
            return arrays
    load_into(model, arrays, meta, os.fspath(path), strict)
    return model


def _rebuild(path, arrays, meta):
    """The Module a file's header describes; None for a file of arrays with no architecture."""
    from .architecture import META_KEY, ArchitectureError, from_json, registered_architectures
    shapes = [tuple(a.shape) for a in arrays.values()]
    if META_KEY in meta:
        try:
            return from_json(meta[META_KEY], shapes)
        except ArchitectureError as e:
            raise ArchitectureError(f"{path}: {e}") from None
    arch = meta.get("architecture")
    if arch is None:
        return None
    by_class = {cls.__name__: cls for cls in registered_architectures().values()}
    if "config" in meta and arch in by_class:     # written before architectures were stored whole
        try:
            from .architecture import build
            config = json.loads(meta["config"])
            node = {"type": next(n for n, c in registered_architectures().items() if c is by_class[arch]),
                    "config": config if isinstance(config, dict) else {}}
            model = build(node, shapes)
        except (json.JSONDecodeError, StopIteration) as e:
            raise ArchitectureError(f"{path}: its {arch} configuration is unreadable ({e})") from None
        except ArchitectureError as e:
            raise ArchitectureError(f"{path}: {e}") from None
        return model
    why = meta.get(META_KEY + ".missing", f"its class {arch} is not a registered architecture")
    raise ArchitectureError(f"{path} holds the weights of a {arch} but not its architecture ({why}); "
                            f"load them into a model you build: pyengine.load(path, model)")


def load_into(model, arrays: dict, meta: dict, path: str, strict: bool = True) -> None:
    arch = meta.get("architecture")
    if arch is not None and arch not in {cls.__name__ for cls in type(model).__mro__}:
        raise ValueError(f"{path} holds a {arch} model, not a {type(model).__name__}")
    own = model.state_dict()
    if strict:
        missing = sorted(set(own) - set(arrays))
        unexpected = sorted(set(arrays) - set(own))
        if missing or unexpected:
            raise ValueError(f"{path} does not fit this {type(model).__name__}: missing {missing[:4]}, "
                             f"unexpected {unexpected[:4]}")
    for name in own:   # the model's order, so the first mismatch reported is deterministic
        value = arrays.get(name)
        if value is not None:
            want = tuple(_to_numpy(own[name]).shape)
            if tuple(value.shape) != want:
                raise ValueError(f"{path} does not fit this {type(model).__name__}: {name} has shape "
                                 f"{tuple(value.shape)} in the file, {want} in the model")
    model.load_state_dict({k: v for k, v in arrays.items() if k in own}, strict=strict)


# Checkpoints -------------------------------------------------------------------------------------

def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return repr(value)
    return value


def save_checkpoint(path, model, optimizer=None, scheduler=None, epoch: int = 0, history=None,
                    extra: dict | None = None, tensors: dict | None = None) -> None:
    """Model weights, optimizer state (arrays as tensors, the rest as JSON), scheduler state, epoch,
    history, extra (JSON-able) and tensors (name → array, e.g. the best weights so far) in one
    safetensors file, written atomically."""
    out = {f"model/{k}": v for k, v in model.state_dict().items()}
    for k, v in (tensors or {}).items():
        out[f"extra/{k}"] = v
    info: dict = {"epoch": int(epoch), "extra": extra or {}}
    if optimizer is not None:
        sd = optimizer.state_dict()
        scalars = {}
        for idx, st in sd["state"].items():
            for k, v in st.items():
                if isinstance(v, np.ndarray):
                    out[f"optimizer/{idx}/{k}"] = v
                else:
                    scalars.setdefault(str(idx), {})[k] = v
        info["optimizer"] = {"type": type(optimizer).__name__, "param_groups": sd["param_groups"],
                             "scalars": scalars}
    if scheduler is not None:
        info["scheduler"] = {"type": type(scheduler).__name__, "state": scheduler.state_dict()}
    if history is not None:
        info["history"] = history.to_dict() if hasattr(history, "to_dict") else history
    meta = dict(_architecture(model))
    meta["pyengine.checkpoint"] = json.dumps(_jsonable(info))
    save_file(out, path, meta)


def _unjson(value):
    if isinstance(value, dict):
        return {k: _unjson(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unjson(v) for v in value]
    if value in ("inf", "-inf", "nan"):
        return float(value)
    return value


def _parse_checkpoint(path: str, arrays: dict, meta: dict) -> tuple:
    """(info, model weights, optimizer state or None, extra tensors), every part checked so that a
    corrupt or hostile checkpoint raises CorruptFileError before anything is restored."""
    def bad(what):
        return CorruptFileError(f"{path}: corrupt checkpoint ({what})")
    if "pyengine.checkpoint" not in meta:
        raise CorruptFileError(f"{path}: not a pyengine checkpoint (no checkpoint metadata)")
    try:
        info = _unjson(json.loads(meta["pyengine.checkpoint"]))
    except (ValueError, RecursionError):
        raise bad("its metadata is not valid JSON") from None
    if not isinstance(info, dict):
        raise bad("its metadata is not a JSON object")
    epoch = info.setdefault("epoch", 0)
    if isinstance(epoch, bool) or not isinstance(epoch, int):
        raise bad(f"epoch {epoch!r} is not an integer")
    for key, kind in (("extra", dict), ("history", dict), ("optimizer", dict), ("scheduler", dict)):
        if info.get(key) is not None and not isinstance(info[key], kind):
            raise bad(f"'{key}' is not a JSON object")
    for k, v in (info.get("history") or {}).items():
        if k in ("iteration", "epoch", "loss", "accuracy", "lr", "time", "val_iteration", "val_loss",
                 "val_accuracy") and not isinstance(v, list):
            raise bad(f"history.{k} is not a list")
    weights = {k[len("model/"):]: v for k, v in arrays.items() if k.startswith("model/")}
    extra_tensors = {k[len("extra/"):]: v for k, v in arrays.items() if k.startswith("extra/")}
    opt_state = None
    if info.get("optimizer") is not None:
        o = info["optimizer"]
        groups, scalars = o.get("param_groups"), o.get("scalars", {})
        if not isinstance(groups, list) or not all(isinstance(g, dict) for g in groups):
            raise bad("optimizer.param_groups is not a list of objects")
        if not isinstance(scalars, dict) or not all(isinstance(v, dict) for v in scalars.values()):
            raise bad("optimizer.scalars is not an object of objects")
        state: dict = {}
        for k, v in arrays.items():
            if k.startswith("optimizer/"):
                parts = k.split("/", 2)
                if len(parts) != 3 or not parts[1].isdigit():
                    raise bad(f"tensor name {k!r} is not optimizer/<index>/<name>")
                state.setdefault(int(parts[1]), {})[parts[2]] = v
        for idx, values in scalars.items():
            if not str(idx).isdigit():
                raise bad(f"optimizer state index {idx!r} is not an integer")
            state.setdefault(int(idx), {}).update(values)
        for g in groups:
            if isinstance(g.get("betas"), list):
                g["betas"] = tuple(g["betas"])
        opt_state = {"state": state, "param_groups": groups}
    return info, weights, opt_state, extra_tensors


def load_checkpoint(path, model, optimizer=None, scheduler=None) -> dict:
    """Restores what save_checkpoint wrote into model (and optimizer, scheduler); returns
    ``{"epoch", "history", "extra", "tensors"}``. The file is checked whole first; should restoring
    still fail (a checkpoint of another optimizer, say), model, optimizer and scheduler are put
    back as they were and the error names the file."""
    p = os.fspath(path)
    arrays, meta = load_file(path, with_metadata=True)
    info, weights, opt_state, extra_tensors = _parse_checkpoint(p, arrays, meta)
    before = ({k: _to_numpy(v).copy() for k, v in model.state_dict().items()},
              optimizer.state_dict() if optimizer is not None else None,
              scheduler.state_dict() if scheduler is not None else None)
    try:
        load_into(model, weights, meta, p)
        if optimizer is not None and opt_state is not None:
            optimizer.load_state_dict(opt_state)
        if scheduler is not None and info.get("scheduler") is not None:
            scheduler.load_state_dict(info["scheduler"].get("state") or {})
    except Exception as exc:
        model.load_state_dict(before[0])
        if optimizer is not None:
            optimizer.load_state_dict(before[1])
        if scheduler is not None:
            scheduler.load_state_dict(before[2])
        if isinstance(exc, ValueError) and p in str(exc):
            raise
        raise CorruptFileError(f"{p}: the checkpoint does not fit ({type(exc).__name__}: {exc})") from None
    return {"epoch": info["epoch"], "history": info.get("history"), "extra": info.get("extra") or {},
            "tensors": extra_tensors}
