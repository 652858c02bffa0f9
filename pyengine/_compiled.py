"""Which of pyengine's Cython-compiled modules run compiled, and the switch back to their plain Python.

The per-call core (``autograd/core.py``: Tensor and Function.apply; ``autograd/engine.py``: the
backward loop; ``nn/module.py``: Module.__call__) is written as plain Python and, when the build
had Cython (``cmake/cython.cmake``), also compiled to an extension module of the same name, which
Python's import prefers. The ``.py`` stays the source and the fallback; this module, imported first
by ``pyengine/__init__``, makes import take the ``.py`` instead when

* ``PYENGINE_PURE_PYTHON=1`` (every module), or a comma list of module names (``engine,module``);
* the extension is missing, or was compiled from another version of the ``.py`` (the sha256 written
  next to it at build time differs from the source's): a stale build never shadows newer code.

A compiled module that uses the cdef classes of another (``engine`` and ``module`` use ``core``'s
Tensor and Function) runs compiled only when that one does.
"""
from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import warnings

__all__ = ["MODULES", "status"]

MODULES = ("pyengine.autograd.core", "pyengine.autograd.engine", "pyengine.nn.module", "pyengine.autograd.ops",
           "pyengine.autograd.activation", "pyengine.autograd.linear", "pyengine.autograd.conv2d",
           "pyengine.autograd.pool2d", "pyengine.autograd.batch_norm", "pyengine.autograd.lstm",
           "pyengine.autograd.softmax", "pyengine.autograd.dropout", "pyengine.nn.layers", "pyengine.autograd.device",
           "pyengine.autograd.gru", "pyengine.nn.rnn")
_NEEDS = {"pyengine.autograd.engine": ("pyengine.autograd.core",),
          "pyengine.nn.module": ("pyengine.autograd.core",)}
_PKG = os.path.dirname(os.path.abspath(__file__))


def _files(name):
    """(the .py, its extension module or None, the .sha256 next to it) of a dotted module name."""
    *pkgs, leaf = name.split(".")[1:]
    folder = os.path.join(_PKG, *pkgs)
    ext = None
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        if os.path.exists(os.path.join(folder, leaf + suffix)):
            ext = os.path.join(folder, leaf + suffix)
            break
    return os.path.join(folder, leaf + ".py"), ext, os.path.join(folder, leaf + ".sha256")


def _up_to_date(py, digest_file):
    try:
        with open(digest_file) as f:
            built_from = f.read().strip()
        with open(py, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest() == built_from
    except OSError:
        return os.path.exists(py) is False      # an install without sources: nothing to compare with


def _choose():
    """name -> 'compiled' or why the .py runs instead."""
    want = os.environ.get("PYENGINE_PURE_PYTHON", "").strip().lower()
    names = set(want.replace(" ", "").split(",")) if want not in ("", "0", "false", "no") else set()
    every = bool(names & {"1", "all", "true", "yes"})
    state = {}
    for name in MODULES:
        py, ext, digest = _files(name)
        if every or name.rsplit(".", 1)[1] in names or name in names:
            state[name] = "python (PYENGINE_PURE_PYTHON)"
        elif ext is None:
            state[name] = "python (not compiled)"
        elif not _up_to_date(py, digest):
            state[name] = "python (stale build: the .py changed since it was compiled)"
        else:
            state[name] = "compiled"
    for name, needs in _NEEDS.items():
        if state[name] == "compiled" and any(state[n] != "compiled" for n in needs):
            state[name] = "python (needs " + ", ".join(needs) + " compiled)"
    return state


_STATE = _choose()


def status() -> dict:
    """{module: 'compiled' | 'python (why)'} for the modules that can be compiled."""
    return dict(_STATE)


class _SourceFirst(importlib.abc.MetaPathFinder):
    """Loads the .py of the modules that are not to run compiled."""

    def find_spec(self, fullname, path=None, target=None):
        if _STATE.get(fullname, "compiled") == "compiled":
            return None
        py = _files(fullname)[0]
        return importlib.util.spec_from_file_location(fullname, py)


if any(s != "compiled" for s in _STATE.values()):
    sys.meta_path.insert(0, _SourceFirst())
    stale = [n for n, s in _STATE.items() if s.startswith("python (stale")]
    if stale:
        warnings.warn(f"pyengine: {', '.join(stale)} compiled from an older source; running the .py "
                      "instead (rebuild: scripts/dev_build.sh)", RuntimeWarning, stacklevel=2)
