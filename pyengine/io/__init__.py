"""pyengine.io — model files and checkpoints in the safetensors format, written atomically.

A file is safetensors (a JSON header of tensor names, dtypes, shapes and offsets, then raw data;
no pickle, nothing executed on load). Its header metadata carries ``format: pyengine``, the
pyengine version, the model's class name, and the whole module tree as JSON
(``io.architecture``) so ``load(path)`` rebuilds the Module without its code.

Atomic write: the bytes go to a temp file in the target's folder, are flushed and fsync'ed, and
the temp file is renamed over the target (then the folder is fsync'ed). A failure at any point
removes the temp file and leaves the previous file at that path untouched.
"""
from .safetensors_io import (CorruptFileError, load, load_checkpoint, load_file, read_metadata, save,
                             save_checkpoint, save_file)
from .architecture import ArchitectureError, register_architecture, register_builtin_layers

register_builtin_layers()



def _module_save(self, path, metadata=None):
    """``model.save(path)``: pyengine.save(model, path) — weights and architecture name, atomically."""
    save(self, path, metadata)


def _module_load(self, path, strict=True):
    """``model.load(path)``: loads a file written by save into this model (checked first) and returns it."""
    return load(path, self, strict)


def _attach_to_module():
    # Module lives in pyengine.nn; the file format lives here, so the two methods are attached here.
    from ..nn import Module
    if not hasattr(Module, "save"):
        Module.save = _module_save
    if not hasattr(Module, "load"):
        Module.load = _module_load


_attach_to_module()

__all__ = ["save", "load", "save_file", "load_file", "read_metadata", "save_checkpoint", "load_checkpoint",
           "CorruptFileError", "ArchitectureError", "register_architecture"]
