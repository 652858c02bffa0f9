"""int8 model files: ``save_quantized`` / ``load_quantized`` (safetensors, atomic, no pickle).

The file holds the converted model's state dict (int8 weights, their per-channel scales, float
biases, every layer's output scale and zero point) and, in the header, the float model's
architecture and the input shape. Loading rebuilds the float model from the architecture, runs the
same fuse → QuantWrapper → prepare → convert flow on one zero input (which fixes the structure of
the int8 model) and then loads the saved parameters over it, so no code from the file runs.
"""
from __future__ import annotations

import json

import numpy as np

from ..tensor import zeros

__all__ = ["save_quantized", "load_quantized", "is_quantized_file"]

META = "pyengine.int8"


def save_quantized(qmodel, float_model, path, input_shape, extra: dict | None = None) -> None:
    """Writes qmodel (a convert()ed QuantWrapper of float_model) to path. input_shape: one
    sample's shape, e.g. (1, 28, 28). extra: more header metadata (strings)."""
    from ..io.safetensors_io import _architecture, save_file
    meta = _architecture(float_model)
    meta[META] = json.dumps({"input_shape": [int(s) for s in input_shape], "format": 1})
    meta.update(extra or {})
    save_file({k: v for k, v in qmodel.state_dict().items()}, path, meta)


def is_quantized_file(meta: dict) -> bool:
    return META in (meta or {})


def load_quantized(path):
    """(int8 model, header metadata) of a file written by save_quantized."""
    from ..io.architecture import META_KEY, ArchitectureError, from_json
    from ..io.safetensors_io import CorruptFileError, load_file
    from .modules import _QuantizedWeighted
    from .quantize import QuantWrapper, convert, fuse_modules, prepare
    arrays, meta = load_file(path, with_metadata=True)
    if not is_quantized_file(meta):
        raise ValueError(f"{path} is not an int8 model file (no {META} entry in its header)")
    try:
        info = json.loads(meta[META])
        shape = tuple(int(s) for s in info["input_shape"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        raise CorruptFileError(f"{path}: its {META} header entry is unreadable ({e})") from None
    if META_KEY not in meta:
        raise ArchitectureError(f"{path} holds an int8 model without the architecture of its float model")
    float_model = from_json(meta[META_KEY]).eval()
    q = prepare(QuantWrapper(fuse_modules(float_model)), inplace=True)
    q(zeros(1, *shape))
    q = convert(q, inplace=True)
    own = q.state_dict()
    missing, unexpected = sorted(set(own) - set(arrays)), sorted(set(arrays) - set(own))
    if missing or unexpected:
        raise ValueError(f"{path} does not fit the int8 model of its architecture: missing {missing[:4]}, "
                         f"unexpected {unexpected[:4]}")
    for k, v in own.items():
        if tuple(np.shape(arrays[k])) != tuple(v.shape) or arrays[k].dtype != v._data.dtype:
            raise ValueError(f"{path}: {k} is {arrays[k].dtype}{tuple(arrays[k].shape)} in the file, "
                             f"{v._data.dtype}{tuple(v.shape)} in the model")
    q.load_state_dict(arrays)
    for m in q.modules():
        if isinstance(m, _QuantizedWeighted):
            m._cache = (None, None, None)     # multipliers and biases follow the loaded parameters
    return q.eval(), meta
