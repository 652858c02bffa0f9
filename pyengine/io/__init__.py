"""pyengine.io — model files and checkpoints in the safetensors format, written atomically.

A file is safetensors (a JSON header of tensor names, dtypes, shapes and offsets, then raw data;
no pickle, nothing executed on load). Its header metadata carries ``format: pyengine``, the
pyengine version, and the model's architecture name and its construction arguments when known.

Atomic write: the bytes go to a temp file in the target's folder, are flushed and fsync'ed, and
the temp file is renamed over the target (then the folder is fsync'ed). A failure at any point
removes the temp file and leaves the previous file at that path untouched.
"""
from .safetensors_io import (CorruptFileError, load, load_checkpoint, load_file, read_metadata, save,
                             save_checkpoint, save_file)

__all__ = ["save", "load", "save_file", "load_file", "read_metadata", "save_checkpoint", "load_checkpoint",
           "CorruptFileError"]
