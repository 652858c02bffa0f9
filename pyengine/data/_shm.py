"""Large arrays of a worker's batch travel through shared memory instead of the pipe.

Pickling a 224×224 RGB batch and pushing it through a pipe copies it four times (pickle, the
pipe's two ends, unpickle). Here the worker's pickler replaces every array of at least
``THRESHOLD`` bytes by a reference to a file in /dev/shm (tmpfs: memory, not disk) that holds its
bytes — one copy in the worker — and the main process maps that file and unlinks it at once: the
array it gets is the mapping itself (no copy; the memory is freed when the array is).

Names are ``pyengine-dl-<main pid>-<worker pid>-<n>``; a batch the main process never unpickles
(a training run SIGKILLed with batches in flight) would leave its files behind, so each new set of
workers first removes the files of main processes that no longer exist. Where /dev/shm is not
there or not writable, batches go through the pipe as before.
"""
from __future__ import annotations

import io
import itertools
import mmap
import os
import pickle

import numpy as np

THRESHOLD = 1 << 18     # 256 KiB: below it the pipe is as fast
SHM_DIR = "/dev/shm"
_PREFIX = "pyengine-dl-"
_counter = itertools.count()


def available() -> bool:
    return os.path.isdir(SHM_DIR) and os.access(SHM_DIR, os.W_OK)


def _attach(path: str, shape, dtype: str):
    """Unpickling side: the array mapped from path; the file is unlinked at once."""
    fd = os.open(path, os.O_RDWR)
    try:
        size = os.fstat(fd).st_size
        mm = mmap.mmap(fd, size) if size else None
    finally:
        os.close(fd)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    if mm is None:
        return np.empty(shape, dtype)
    return np.frombuffer(mm, dtype=np.dtype(dtype)).reshape(shape)


class _Pickler(pickle.Pickler):
    def __init__(self, f, owner_pid):
        super().__init__(f, protocol=pickle.HIGHEST_PROTOCOL)
        self.owner_pid = owner_pid
        self.created = []

    def reducer_override(self, obj):
        if type(obj) is np.ndarray and obj.nbytes >= THRESHOLD and obj.dtype.kind in "biufc":
            path = os.path.join(SHM_DIR, f"{_PREFIX}{self.owner_pid}-{os.getpid()}-{next(_counter)}")
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.ftruncate(fd, obj.nbytes)
                with mmap.mmap(fd, obj.nbytes) as mm:
                    np.frombuffer(mm, dtype=obj.dtype).reshape(obj.shape)[...] = obj
            except BaseException:
                os.close(fd)
                os.unlink(path)
                raise
            os.close(fd)
            self.created.append(path)
            return _attach, (path, obj.shape, obj.dtype.str)
        return NotImplemented


def dumps(obj, owner_pid: int) -> bytes:
    """pickle.dumps, with large arrays written to shared memory (see the module docstring)."""
    buf = io.BytesIO()
    p = _Pickler(buf, owner_pid)
    try:
        p.dump(obj)
    except BaseException:
        for path in p.created:
            try:
                os.unlink(path)
            except OSError:
                pass
        raise
    return buf.getvalue()


def remove_orphans() -> None:
    """Deletes the batch files of main processes that have exited (killed with batches in flight)."""
    try:
        names = os.listdir(SHM_DIR)
    except OSError:
        return
    for name in names:
        if not name.startswith(_PREFIX):
            continue
        try:
            pid = int(name[len(_PREFIX):].split("-")[0])
        except ValueError:
            continue
        if pid != os.getpid() and not os.path.exists(f"/proc/{pid}"):
            try:
                os.unlink(os.path.join(SHM_DIR, name))
            except OSError:
                pass
