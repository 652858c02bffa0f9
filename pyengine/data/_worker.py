"""DataLoader worker processes: the loop each worker runs, its seeding, and get_worker_info().

A worker takes tasks ``(generation, batch_index, indices, key)`` from its own index queue, loads
and collates the batch under ``batch_scope(key)`` and puts ``(generation, batch_index, pickled
data)`` on the shared result queue (pickled by the worker itself, so a batch that cannot be
pickled is reported instead of vanishing in the queue's feeder thread; its large arrays go
through shared memory, see ``_shm``); an exception travels as an ExceptionWrapper carrying the worker's
formatted traceback and is raised again in the main process. ``None`` on the index queue ends the
loop. A worker seeds itself like PyTorch's: seed = base_seed + worker_id for Python's ``random``
and pyengine's global generator, a SeedSequence of (base_seed, worker_id) for NumPy's legacy
global state, then calls ``worker_init_fn(worker_id)``. It runs the kernels on one thread (the
workers already use the cores), and it exits by itself when its parent dies (Linux's
PR_SET_PDEATHSIG, and a poll of the parent's pid elsewhere), so a SIGKILLed training run leaves
no orphans behind.
"""
from __future__ import annotations

import os
import pickle
import queue
import random
import signal
import sys
import traceback
from dataclasses import dataclass

import numpy as np

__all__ = ["WorkerInfo", "get_worker_info", "ExceptionWrapper"]

STATUS_CHECK_INTERVAL = 1.0     # seconds between checks of the parent / the stop event

_worker_info = None


@dataclass(frozen=True)
class WorkerInfo:
    """What a worker process knows about itself: ``id`` in [0, num_workers), ``num_workers``,
    ``seed`` (base_seed + id), ``dataset`` (this process's copy)."""
    id: int
    num_workers: int
    seed: int
    dataset: object


def get_worker_info():
    """The WorkerInfo in a DataLoader worker process, None in the main process."""
    return _worker_info


class ExceptionWrapper:
    """An exception caught in a worker: its type and the formatted traceback, raised again in the
    main process with the same type (RuntimeError if that type cannot take a message)."""

    def __init__(self, exc_info, where: str):
        self.exc_type = exc_info[0]
        self.exc_msg = "".join(traceback.format_exception(*exc_info))
        self.where = where
        try:   # a class defined inside a function cannot travel to the main process
            pickle.dumps(self.exc_type)
        except Exception:
            self.where = f"({self.exc_type.__qualname__}) {where}"
            self.exc_type = RuntimeError

    def reraise(self):
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            msg = KeyErrorMessage(msg)    # KeyError would print its message with quotes and \n escapes
        try:
            exc = self.exc_type(msg)
        except Exception:
            raise RuntimeError(msg) from None
        raise exc


class KeyErrorMessage(str):
    def __repr__(self):
        return self


def _seed_worker(base_seed: int, worker_id: int) -> int:
    from ..tensor import default_generator
    from . import _random
    seed = int(base_seed) + int(worker_id)
    random.seed(seed)
    default_generator.manual_seed(seed)
    np.random.seed(np.random.SeedSequence([int(base_seed), int(worker_id)]).generate_state(4))
    _random._reset_process_rng([int(base_seed), int(worker_id), 2])
    return seed


def _die_with_parent() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):   # pragma: no cover - no prctl: the parent-pid poll still works
        pass


def _worker_loop(dataset, fetch, index_queue, result_queue, done_event, base_seed, worker_init_fn,
                 worker_id, num_workers, parent_pid):
    global _worker_info
    _die_with_parent()
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C is the main process's to handle
        from .. import _runtime
        _runtime.set_num_threads(1)
    except Exception:   # pragma: no cover - a worker without the extension still loads data
        pass
    where = f"in DataLoader worker process {worker_id}"
    init_error = None
    try:   # an error here is reported with the first batch this worker is given
        seed = _seed_worker(base_seed, worker_id)
        _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed, dataset=dataset)
        if worker_init_fn is not None:
            worker_init_fn(worker_id)
    except Exception:
        init_error = ExceptionWrapper(sys.exc_info(), where)
    from . import _shm
    from ._random import batch_scope
    use_shm = _shm.available()
    try:
        while True:
            try:
                task = index_queue.get(timeout=STATUS_CHECK_INTERVAL)
            except queue.Empty:
                if os.getppid() != parent_pid or done_event.is_set():
                    break
                continue
            if task is None:
                break
            if done_event.is_set():
                continue
            generation, batch_index, indices, key = task
            if init_error is not None:
                data, init_error = init_error, None
            else:
                try:
                    with batch_scope(key):
                        data = fetch(dataset, indices)
                except Exception:
                    data = ExceptionWrapper(sys.exc_info(), where)
            try:   # pickled here, not in the queue's feeder thread, so a failure reaches the main process
                payload = _shm.dumps(data, parent_pid) if use_shm else pickle.dumps(data, pickle.HIGHEST_PROTOCOL)
            except Exception:
                payload = pickle.dumps(ExceptionWrapper(sys.exc_info(), where), protocol=pickle.HIGHEST_PROTOCOL)
            result_queue.put((generation, batch_index, payload))
            del payload
            del data, task
    except KeyboardInterrupt:   # pragma: no cover - the main process decides
        pass
    # at exit the queue's feeder thread flushes what this worker put (the main process drains it
    # while it stops the workers), so no batch's shared memory is left unclaimed
    if os.getppid() != parent_pid:     # nobody will read: do not wait for the pipe at exit
        result_queue.cancel_join_thread()
