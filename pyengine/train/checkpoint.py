"""What a training checkpoint holds beyond the weights, and finding the latest one in a folder.

A run killed at any instant (SIGKILL included) resumes from its last checkpoint to the same bits as
the uninterrupted run, because a checkpoint holds everything the rest of the run depends on:

- model weights and buffers, optimizer and scheduler state (``save_checkpoint``);
- every random state: pyengine's global generator (initialisation, dropout's per-call seeds,
  rand/randn), NumPy's legacy global state, Python's ``random`` — in a data-parallel run each
  rank's (rank 0 writes, and every rank resumes its own);
- the position: the epoch, how many of its batches are done, whether its end (validation,
  scheduler step, callbacks) has run, the iteration count — and the training DataLoader's own
  state (its seed, its sampler's and generator's state), from which the rest of the epoch's order,
  the worker seeds and the augmentation of every later batch follow;
- early stopping (best loss, its iteration and weights, the count of bad validations, whether
  training has stopped) and the History.

Checkpoints are written atomically (temp file, fsync, rename, fsync of the folder), so a file
named ``checkpoint-*.safetensors`` is always whole; a kill during a write leaves at most a
``.checkpoint-*.tmp`` file, which the next run removes. ``latest_checkpoint(folder)`` picks the
checkpoint furthest into training (by iteration, then by whether the epoch end was done).
"""
from __future__ import annotations

import json
import os
import random
import re
import warnings

import numpy as np

__all__ = ["rng_state", "set_rng_state", "latest_checkpoint", "remove_stale_temp_files", "CHECKPOINT_RE"]

CHECKPOINT_RE = re.compile(r"^checkpoint-(epoch\d+|iter\d+)\.safetensors$")
_TEMP_RE = re.compile(r"^\.(checkpoint-.*|best)\.safetensors\..*\.tmp$")


def _plain(v):
    """JSON-able copy of a bit generator state (ints may be big; arrays become lists)."""
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    return v


def rng_state() -> dict:
    """Every global random state a training run draws from, as JSON-able values."""
    from ..tensor import default_generator
    mt = np.random.get_state()
    py = random.getstate()
    return {"pyengine": {"seed": default_generator.seed, "state": _plain(default_generator.rng.bit_generator.state)},
            "numpy": {"kind": mt[0], "key": mt[1].tolist(), "pos": int(mt[2]), "has_gauss": int(mt[3]),
                      "gauss": float(mt[4])},
            "python": [py[0], list(py[1]), py[2]]}


def set_rng_state(state: dict) -> None:
    """Restores what rng_state() returned."""
    from ..tensor import default_generator
    g = state["pyengine"]
    default_generator.manual_seed(g["seed"])
    default_generator.rng.bit_generator.state = g["state"]
    n = state["numpy"]
    np.random.set_state((n["kind"], np.asarray(n["key"], dtype=np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    p = state["python"]
    random.setstate((p[0], tuple(p[1]), p[2]))


def remove_stale_temp_files(folder) -> list:
    """Deletes the temp files that killed checkpoint writes left in folder; returns their names."""
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        if _TEMP_RE.match(name):
            try:
                os.unlink(os.path.join(folder, name))
                removed.append(name)
            except OSError:
                pass
    return removed


def _progress(path):
    from ..io import read_metadata
    meta = read_metadata(path)
    info = json.loads(meta["pyengine.checkpoint"])
    train = (info.get("extra") or {}).get("train_state") or {}
    pos = train.get("position") or {}
    # old checkpoints (epoch end only): iteration from the history
    iteration = train.get("iteration")
    if iteration is None:
        it = (info.get("history") or {}).get("iteration") or [0]
        iteration = it[-1] if it else 0
    return int(iteration), int(pos.get("epoch", int(info.get("epoch", 0)) + 1)), int(pos.get("batch", 0))


def latest_checkpoint(folder):
    """The path of the checkpoint in folder furthest into training, or None when there is none.
    A file that cannot be read is passed over with a warning (it cannot be a torn write of ours:
    those never carry the final name)."""
    try:
        names = sorted(n for n in os.listdir(folder) if CHECKPOINT_RE.match(n))
    except FileNotFoundError:
        return None
    best, best_key = None, None
    for name in names:
        path = os.path.join(folder, name)
        try:
            key = _progress(path)
        except (ValueError, KeyError, TypeError, OSError) as exc:
            warnings.warn(f"checkpoint {path} is unreadable and is skipped ({exc})", RuntimeWarning, stacklevel=2)
            continue
        if best_key is None or key > best_key:
            best, best_key = path, key
    return best
