"""DataLoader: mini-batches over a dataset, in the main process or in worker processes, with
PyTorch's signature and semantics; default_collate, default_convert and pin_memory.

Order. Indices come from ``sampler`` (SequentialSampler, or a RandomSampler with ``shuffle``)
grouped by a BatchSampler, or from ``batch_sampler``. The shuffled order of epoch e is drawn from
``default_rng([seed, e])`` (or from ``generator``, which then advances), so any epoch's batches
can be regenerated; ``set_epoch`` picks the epoch, and every ``iter()`` moves to the next.

Loading. With ``num_workers=0`` batches are loaded in the calling process. With N > 0, N worker
processes (fork on Linux, or ``multiprocessing_context``) each take batch tasks from their own
queue, round-robin, ``prefetch_factor`` of them in flight per worker, and the main process hands
the results back in the sampler's order. Worker i is seeded with base_seed + i (base_seed drawn
per pass, as in PyTorch); random transforms draw from generators keyed by (base_seed, batch
index) (see ``_random``), so the same batches come out whatever the number of workers. A worker's
exception is raised again in the main process with its traceback; a worker that dies is reported
at once (its process sentinel is watched), ``timeout`` bounds the wait for a batch; the workers
are stopped when the pass ends, when the iterator is garbage-collected, or at exit —
``persistent_workers`` keeps them for the next pass.

Position. ``state_dict()`` is (epoch, batches yielded, generator states); ``load_state_dict``
makes the next pass resume right after the last yielded batch without loading the skipped
ones, which is how a checkpointed training run continues without repeating or skipping a batch.
"""
from __future__ import annotations

import collections
import copy
import multiprocessing
import numbers
import pickle
import queue
import sys
import time
import weakref
from multiprocessing.connection import wait as _wait_ready

import numpy as np

from . import _random, _shm
from ._worker import STATUS_CHECK_INTERVAL, ExceptionWrapper, _worker_loop, get_worker_info
from .dataset import _Batch
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader", "default_collate", "default_convert", "pin_memory", "get_worker_info"]


# Collation ---------------------------------------------------------------------------------------

def _tensor(arr):
    from ..tensor import from_numpy
    arr = np.asarray(arr)
    return from_numpy(arr if arr.flags.c_contiguous else arr.copy(order="C"))   # keeps 0-d arrays 0-d


def _is_tensor(x) -> bool:
    from ..tensor import Tensor
    return isinstance(x, Tensor)


_COLLATE_ERROR = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}")


def default_collate(batch):
    """A list of samples → one batch, as torch.utils.data.default_collate: Tensors and arrays stack
    along a new first axis (keeping their dtype), Python ints become int64, floats float64 and
    bools bool 1-D Tensors, NumPy scalars a 1-D Tensor of their dtype, strings stay as they are (a list or tuple), dicts
    (mappings) are collated per key, namedtuples per field, and other sequences are transposed
    and collated per position (a list of results; equal lengths required)."""
    if isinstance(batch, _Batch):     # TensorDataset.__getitems__: already one array per field
        return [_tensor(a) for a in batch]
    if len(batch) == 0:
        raise ValueError("default_collate: got an empty batch")
    elem = batch[0]
    if _is_tensor(elem):
        return _tensor(np.stack([e._data for e in batch]))
    if isinstance(elem, np.ndarray) or (isinstance(elem, np.generic) and not isinstance(elem, (np.str_, np.bytes_))):
        arr = np.asarray(elem)
        if arr.dtype.kind in "OUSV":
            raise TypeError(_COLLATE_ERROR.format(arr.dtype))
        return _tensor(np.stack([np.asarray(e) for e in batch]) if isinstance(elem, np.ndarray)
                       else np.asarray(batch, dtype=arr.dtype))
    if isinstance(elem, bool):
        return _tensor(np.array(batch, dtype=np.bool_))
    if isinstance(elem, numbers.Integral):
        return _tensor(np.array(batch, dtype=np.int64))
    if isinstance(elem, float):
        return _tensor(np.array(batch, dtype=np.float64))
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        out = {key: default_collate([d[key] for d in batch]) for key in elem}
        try:
            return type(elem)(out)
        except TypeError:
            return out
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):   # namedtuple
        return type(elem)(*(default_collate(s) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(e) != size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        transposed = [default_collate(s) for s in zip(*batch)]
        if isinstance(elem, list):
            return transposed
        if isinstance(elem, tuple):
            return transposed     # PyTorch returns a list for tuples too
        try:
            return type(elem)(transposed)
        except TypeError:
            return transposed
    raise TypeError(_COLLATE_ERROR.format(type(elem)))


def default_convert(data):
    """One sample as it is, with NumPy arrays (not of strings or objects) made Tensors, through
    mappings, namedtuples and sequences: the collate of ``batch_size=None``."""
    if isinstance(data, np.ndarray) and data.dtype.kind not in "OUSV":
        return _tensor(data)
    if isinstance(data, np.generic) and not isinstance(data, (np.str_, np.bytes_)):
        return _tensor(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        out = {k: default_convert(v) for k, v in data.items()}
        try:
            return type(data)(out)
        except TypeError:
            return out
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        converted = [default_convert(d) for d in data]
        try:
            return type(data)(converted)
        except TypeError:
            return converted
    return data


def _cupy_pinned(arr: np.ndarray):
    import cupyx
    out = cupyx.empty_pinned(arr.shape, arr.dtype)
    np.copyto(out, arr)
    return out


def _can_pin() -> bool:
    try:
        from .. import cuda
        if not cuda.is_available():
            return False
        import cupyx  # noqa: F401
    except Exception:
        return False
    return True


def pin_memory(data, _pin=None):
    """Every CPU array/Tensor in ``data`` (through dicts, tuples, lists) copied into page-locked host
    memory (CuPy's pinned allocator), so a later copy to the GPU can be asynchronous; without a
    usable GPU and CuPy, ``data`` is returned unchanged."""
    pin = _pin if _pin is not None else (_can_pin() and _cupy_pinned)
    if not pin:
        return data
    if _is_tensor(data):
        if isinstance(data._data, np.ndarray):
            t = _tensor(data._data)
            t._data = pin(data._data)
            return t
        return data
    if isinstance(data, np.ndarray):
        return pin(data)
    if isinstance(data, collections.abc.Mapping):
        return type(data)({k: pin_memory(v, pin) for k, v in data.items()}) if isinstance(data, dict) else \
            {k: pin_memory(v, pin) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(pin_memory(d, pin) for d in data))
    if isinstance(data, (list, tuple)):
        return type(data)(pin_memory(d, pin) for d in data)
    return data


class _Fetcher:
    """Loads one batch (a list of indices) or one sample (an index) and collates it; picklable so
    spawned workers get it too."""

    def __init__(self, auto_collation: bool, collate_fn):
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn

    def __call__(self, dataset, index):
        if not self.auto_collation:
            return self.collate_fn(dataset[index])
        getitems = getattr(dataset, "__getitems__", None)
        if getitems is not None:
            samples = getitems(index)
            if isinstance(samples, _Batch) and self.collate_fn is not default_collate:
                samples = [tuple(a[i] for a in samples) for i in range(len(index))]
        else:
            samples = [dataset[i] for i in index]
        return self.collate_fn(samples)


# The loader --------------------------------------------------------------------------------------

def _check(cond, message):
    if not cond:
        raise ValueError(message)


class DataLoader:
    """Iterates over ``dataset`` in mini-batches (PyTorch's DataLoader).

    batch_size: samples per batch (None: no batching, one converted sample per step); shuffle:
    a new order every epoch (a RandomSampler); sampler / batch_sampler: the indices (exclusive
    with shuffle, resp. with batch_size/shuffle/sampler/drop_last); num_workers: worker processes
    (0: load in this process); collate_fn: samples → batch (default_collate); pin_memory: batches
    in page-locked memory (CUDA with CuPy; a no-op otherwise); drop_last: skip a short last batch;
    timeout: seconds to wait for a worker's batch (0: forever); worker_init_fn(worker_id): called
    in each worker after seeding; multiprocessing_context: "fork", "spawn", "forkserver" or a
    context; generator: a numpy Generator for the order and the worker seeds; prefetch_factor:
    batches in flight per worker (2 by default with workers); persistent_workers: keep the
    workers between epochs; in_order: yield batches in the sampler's order (False: as they come).
    seed (pyengine's addition): fixes the shuffled order of every epoch and the worker seeds
    without a generator (drawn from pyengine.manual_seed's generator when not given).
    """

    def __init__(self, dataset, batch_size: int | None = 1, shuffle: bool | None = None, sampler=None,
                 batch_sampler=None, num_workers: int = 0, collate_fn=None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0, worker_init_fn=None, multiprocessing_context=None,
                 generator=None, *, prefetch_factor: int | None = None, persistent_workers: bool = False,
                 pin_memory_device: str = "", in_order: bool = True, seed: int | None = None):
        if isinstance(num_workers, bool) or not isinstance(num_workers, numbers.Integral) or num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable "
                             f"multiprocessing (got num_workers={num_workers!r})")
        if not isinstance(timeout, numbers.Real) or timeout < 0:
            raise ValueError(f"timeout option should be non-negative, got timeout={timeout!r}")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing. let num_workers > 0 "
                             "to enable multiprocessing, otherwise set prefetch_factor to None.")
        if prefetch_factor is None and num_workers > 0:
            prefetch_factor = 2
        if prefetch_factor is not None and (isinstance(prefetch_factor, bool) or
                                            not isinstance(prefetch_factor, numbers.Integral) or prefetch_factor < 1):
            raise ValueError(f"prefetch_factor option should be a positive integer, got {prefetch_factor!r}")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        if generator is not None and not isinstance(generator, np.random.Generator):
            raise TypeError(f"DataLoader: generator must be a numpy.random.Generator, got {type(generator).__name__}")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, "
                                 "and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None:
            if drop_last:
                raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with "
                                 "drop_last")
        elif isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int or None, got {batch_size!r}")
        if worker_init_fn is not None and not callable(worker_init_fn):
            raise TypeError(f"DataLoader: worker_init_fn must be callable, got {type(worker_init_fn).__name__}")
        self.dataset = dataset
        self.num_workers = int(num_workers)
        self.prefetch_factor = prefetch_factor
        self.pin_memory = bool(pin_memory)
        self.pin_memory_device = pin_memory_device
        self.timeout = float(timeout)
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.generator = generator
        self.persistent_workers = bool(persistent_workers)
        self.in_order = bool(in_order)
        self.seed = _random_seed() if seed is None else int(seed)
        self.batch_size = None if batch_size is None else int(batch_size)
        self.drop_last = bool(drop_last)
        self.shuffle = bool(shuffle)
        if sampler is None:
            sampler = RandomSampler(dataset, generator=generator, seed=self.seed) if shuffle else \
                SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, self.batch_size, self.drop_last)
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self.epoch = 0
        self._pass = None          # {"epoch", "generator", "sampler"} of the pass in progress
        self._position = [0, 0]    # (epoch, batches yielded) shared with the iterator
        self._skip = None          # (epoch, batches) to skip at the next pass (load_state_dict)
        self._pending = None       # the state loaded and not yet iterated from
        self._iterator = None      # kept with persistent workers

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def __len__(self) -> int:
        return len(self._index_sampler)

    def set_epoch(self, epoch: int) -> None:
        """The epoch the next pass is (its shuffled order and seeds); also sets the sampler's epoch."""
        self.epoch = int(epoch)
        if self._pending is not None:
            self._pending["epoch"] = self.epoch
            if self._skip is not None and self._skip[0] != self.epoch:
                self._skip, self._pending["batches"] = None, 0
        for s in (self.sampler, self.batch_sampler):
            if hasattr(s, "set_epoch") and not isinstance(s, BatchSampler):
                s.set_epoch(epoch)

    def state_dict(self) -> dict:
        """Where iteration stands: the epoch of the pass in progress and how many batches it has
        yielded (or the next epoch and 0 between passes), with the generator states that replay it."""
        if self._pending is not None:
            return copy.deepcopy(self._pending)
        epoch, done = self._position
        in_pass = self._pass is not None and epoch == self._pass["epoch"] and done < len(self)
        sampler = self.sampler if not isinstance(self._index_sampler, BatchSampler) else self.batch_sampler
        state = {"epoch": epoch if in_pass else self.epoch, "batches": done if in_pass else 0, "seed": self.seed,
                 "sampler": sampler.state_dict() if hasattr(sampler, "state_dict") else None,
                 "generator": None}
        if self.generator is not None:
            state["generator"] = copy.deepcopy(self._pass["generator"] if in_pass
                                               else self.generator.bit_generator.state)
        if in_pass and state["sampler"] is not None:
            state["sampler"]["replay"] = True
        return state

    def load_state_dict(self, state: dict) -> None:
        """Restores state_dict(): the next pass is that epoch, starting after its yielded batches."""
        self.seed = int(state["seed"])
        self.epoch = int(state["epoch"])
        sampler = self.sampler if not isinstance(self._index_sampler, BatchSampler) else self.batch_sampler
        s_state = state.get("sampler")
        if s_state is not None and hasattr(sampler, "load_state_dict"):
            sampler.load_state_dict(s_state, replay=bool(s_state.get("replay")))
        if hasattr(self.sampler, "set_epoch") and s_state is None:
            self.sampler.set_epoch(self.epoch)
        if self.generator is not None and state.get("generator") is not None:
            self.generator.bit_generator.state = copy.deepcopy(state["generator"])
        self._skip = (self.epoch, int(state["batches"])) if state["batches"] else None
        self._pending = copy.deepcopy(state)

    def _begin_pass(self):
        """(tasks iterator of (batch_index, indices, key), first batch index, base_seed)."""
        epoch = self.epoch
        gen_state = copy.deepcopy(self.generator.bit_generator.state) if self.generator is not None else None
        indices = iter(self._index_sampler)
        if self.generator is not None:
            base_seed = int(self.generator.integers(0, 2**62))
        else:
            base_seed = int(np.random.SeedSequence([self.seed, epoch]).generate_state(1, np.uint64)[0] >> 2)
        self.epoch += 1
        self._pass = {"epoch": epoch, "generator": gen_state}
        skip = self._skip[1] if self._skip is not None and self._skip[0] == epoch else 0
        self._skip = self._pending = None
        position = self._position
        position[0], position[1] = epoch, skip
        for _ in range(skip):
            next(indices, None)

        def tasks():
            for b, idx in enumerate(indices, start=skip):
                yield b, idx, (base_seed, b)
        return tasks(), base_seed, position

    def __iter__(self):
        tasks, base_seed, position = self._begin_pass()
        if self.num_workers == 0:
            return _SingleProcessIter(self, tasks, position)
        if self.persistent_workers and self._iterator is not None and self._iterator._alive():
            self._iterator._reset(tasks, position)
            return self._iterator
        it = _MultiProcessIter(self, base_seed)
        it._reset(tasks, position)
        if self.persistent_workers:
            self._iterator = it
        return it

    def __del__(self):
        it = getattr(self, "_iterator", None)
        if it is not None:
            it._shutdown()


def _random_seed() -> int:
    from ..tensor import default_generator
    return int(default_generator.next_seed() % (2**31 - 1))


class _SingleProcessIter:
    def __init__(self, loader, tasks, position):
        self._tasks = tasks
        self._dataset = loader.dataset
        self._fetch = _Fetcher(loader._auto_collation, loader.collate_fn)
        self._pin = loader.pin_memory
        self._position = position

    def __iter__(self):
        return self

    def __next__(self):
        b, idx, key = next(self._tasks)
        with _random.batch_scope(key):
            data = self._fetch(self._dataset, idx)
        if self._pin:
            data = pin_memory(data)
        self._position[1] = b + 1
        return data


def _context(spec):
    if spec is None:
        return multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    if isinstance(spec, str):
        try:
            return multiprocessing.get_context(spec)
        except ValueError:
            raise ValueError(f"DataLoader: multiprocessing_context {spec!r} is not one of "
                             f"{multiprocessing.get_all_start_methods()}") from None
    return spec


def _shutdown_workers(owner_pid, workers, index_queues, result_queue, done_event):
    """Stops the workers (a None task, then terminate after a grace period) and closes the queues;
    a finalizer: it holds no reference to the iterator. Only the process that started the workers
    does it (a forked child may collect its copy of the iterator)."""
    import os
    if os.getpid() != owner_pid:
        return
    try:
        done_event.set()
    except Exception:   # pragma: no cover - interpreter shutdown
        pass
    for q in index_queues:
        try:
            q.put(None)
        except Exception:
            pass
    def drain():   # batches nobody will take: unpickling them frees their shared memory
        while True:
            try:
                pickle.loads(result_queue.get(timeout=0.02)[2])
            except Exception:
                return
    deadline = time.monotonic() + STATUS_CHECK_INTERVAL
    while any(w.is_alive() for w in workers) and time.monotonic() < deadline:
        drain()     # a worker exits once its last batch has left through the pipe
        for w in workers:
            w.join(timeout=0.01)
    for w in workers:
        if w.is_alive():
            w.terminate()
            w.join(timeout=1.0)
    drain()
    for q in list(index_queues) + [result_queue]:
        try:
            q.cancel_join_thread()
            q.close()
        except Exception:
            pass


def _describe_exit(code) -> str:
    if code is None:
        return "is still running"
    if code < 0:
        import signal
        try:
            return f"was killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


class _MultiProcessIter:
    """The workers and the bookkeeping of one pass (or of every pass, with persistent workers)."""

    def __init__(self, loader, base_seed):
        ctx = _context(loader.multiprocessing_context)
        _shm.remove_orphans()
        self._num_workers = loader.num_workers
        self._prefetch = loader.prefetch_factor * loader.num_workers
        self._timeout = loader.timeout
        self._pin = loader.pin_memory
        self._in_order = loader.in_order
        self._persistent = loader.persistent_workers
        fetch = _Fetcher(loader._auto_collation, loader.collate_fn)
        import os
        self._done_event = ctx.Event()
        self._result_queue = ctx.Queue()
        self._index_queues, self._workers = [], []
        for i in range(self._num_workers):
            q = ctx.Queue()
            w = ctx.Process(target=_worker_loop, name=f"pyengine-dataloader-{i}",
                            args=(loader.dataset, fetch, q, self._result_queue, self._done_event, base_seed,
                                  loader.worker_init_fn, i, self._num_workers, os.getpid()), daemon=True)
            w.start()
            self._index_queues.append(q)
            self._workers.append(w)
        self._finalizer = weakref.finalize(self, _shutdown_workers, os.getpid(), self._workers, self._index_queues,
                                           self._result_queue, self._done_event)
        self._generation = 0
        self._next_worker = 0

    def _alive(self) -> bool:
        return self._finalizer.alive

    def _reset(self, tasks, position):
        self._generation += 1
        self._tasks = tasks
        self._position = position
        self._sent = collections.deque()     # batch indices in flight, in order
        self._buffer = {}
        self._exhausted = False
        for _ in range(self._prefetch):
            if not self._put_task():
                break

    def _put_task(self) -> bool:
        if self._exhausted:
            return False
        try:
            b, idx, key = next(self._tasks)
        except StopIteration:
            self._exhausted = True
            return False
        q = self._index_queues[self._next_worker]
        self._next_worker = (self._next_worker + 1) % self._num_workers
        q.put((self._generation, b, idx, key))
        self._sent.append(b)
        return True

    def __iter__(self):
        return self

    def _check_workers(self):
        dead = [(i, w) for i, w in enumerate(self._workers) if w.exitcode is not None]
        if dead:
            detail = "; ".join(f"worker {i} (pid {w.pid}) {_describe_exit(w.exitcode)}" for i, w in dead)
            self._shutdown()
            raise RuntimeError(f"DataLoader worker exited unexpectedly: {detail}. A worker can die of running "
                               "out of memory (the OOM killer), of a crash in native code, or of os._exit "
                               "in the dataset; try num_workers=0 to see the error in this process.")

    def _get(self):
        """The next (generation, batch_index, data) from the workers, watching for dead workers and
        for the timeout."""
        deadline = time.monotonic() + self._timeout if self._timeout > 0 else None
        reader = self._result_queue._reader
        while True:
            wait_s = STATUS_CHECK_INTERVAL if deadline is None else max(0.0, min(STATUS_CHECK_INTERVAL,
                                                                               deadline - time.monotonic()))
            ready = _wait_ready([reader] + [w.sentinel for w in self._workers], timeout=wait_s)
            if reader in ready:
                try:
                    return self._result_queue.get(timeout=STATUS_CHECK_INTERVAL)
                except queue.Empty:
                    pass
            elif ready:
                try:   # a worker that put its batch and then died: take the batch, report the death next
                    return self._result_queue.get(timeout=0.05)
                except queue.Empty:
                    self._check_workers()
            if deadline is not None and time.monotonic() >= deadline:
                self._shutdown()
                raise RuntimeError(f"DataLoader timed out after {self._timeout:g} seconds waiting for a batch "
                                   "from its workers")

    def __next__(self):
        if not self._alive():
            raise StopIteration
        while True:
            if self._sent and (self._sent[0] in self._buffer if self._in_order else self._buffer):
                b = self._sent[0] if self._in_order else next(iter(self._buffer))
                data = self._buffer.pop(b)
                self._sent.remove(b)
                self._put_task()
                if isinstance(data, ExceptionWrapper):
                    if not self._persistent:   # the pass is over: stop the workers before raising
                        self._shutdown()
                    data.reraise()
                if self._pin:
                    data = pin_memory(data)
                self._position[1] = max(self._position[1], b + 1)
                return data
            if not self._sent:
                if not self._persistent:
                    self._shutdown()
                raise StopIteration
            generation, b, payload = self._get()
            data = pickle.loads(payload)    # also for a stale batch: it frees its shared memory
            if generation == self._generation:
                self._buffer[b] = data
            del data

    def _shutdown(self):
        self._finalizer()
