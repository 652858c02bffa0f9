"""NCCL through CuPy (``cupy.cuda.nccl``) for collectives over CUDA arrays.

Created lazily, on the first collective over a CUDA array: the rank picks GPU
``local_rank % device_count``, rank 0 draws ``nccl.get_unique_id()``, the id is broadcast over MPI
(ChainerMN's rendezvous), and every rank makes ``NcclCommunicator(world_size, id, rank)``.

Collectives are enqueued on a side stream that first waits for the caller's current stream
(an event), so they see every kernel that produced their input and overlap whatever the caller
enqueues next; ``Work.wait()`` makes the caller's stream wait for the collective (an event again:
no host synchronisation). A watchdog thread polls the completion events of the collectives in
flight and aborts the communicator when one has not finished within the group's timeout, so a
dead peer turns into an error (raised at the next collective or wait) instead of a stream that
never drains.
"""
from __future__ import annotations

import threading
import time

__all__ = ["usable", "require", "Communicator"]


def _modules():
    import cupy
    from cupy.cuda import nccl
    return cupy, nccl


def usable() -> bool:
    """A CUDA GPU, CuPy and CuPy's NCCL binding are all there."""
    try:
        from .. import cuda
        if not cuda.is_available():
            return False
        _modules()
    except Exception:
        return False
    return True


def require():
    try:
        _modules()
    except ImportError as e:
        raise ImportError("init_process_group(backend='nccl') needs CuPy built with NCCL "
                          "(pip install \"pyengine[cuda13]\"; CuPy's wheels load NCCL from the nvidia-nccl wheel)"
                          ) from e


def _dtype_code(nccl, dtype, what):
    names = {"float32": "NCCL_FLOAT32", "float64": "NCCL_FLOAT64", "float16": "NCCL_FLOAT16",
             "int32": "NCCL_INT32", "int64": "NCCL_INT64", "uint8": "NCCL_UINT8", "int8": "NCCL_INT8"}
    name = names.get(str(dtype))
    if name is None or not hasattr(nccl, name):
        raise TypeError(f"{what}: NCCL has no reduction for dtype {dtype}")
    return getattr(nccl, name)


def _bcast_uid(group, uid):
    """Rank 0's NCCL unique id on every rank, as raw bytes over MPI (CuPy gives bytes, older CuPy a
    tuple of ints); the type it had on rank 0 is kept."""
    import numpy as np
    head = np.zeros(2, np.int64)
    if group.rank == 0:
        is_bytes = isinstance(uid, (bytes, bytearray))
        body = np.frombuffer(bytes(uid), np.uint8).astype(np.int64) if is_bytes else np.asarray(uid, np.int64)
        head[:] = (1 if is_bytes else 0, body.size)
    group.wait(group.comm.Ibcast(head, root=0), "NCCL unique id")
    if group.rank != 0:
        body = np.empty(int(head[1]), np.int64)
    group.wait(group.comm.Ibcast(body, root=0), "NCCL unique id")
    return bytes(body.astype(np.uint8)) if head[0] else tuple(int(v) for v in body)


def _ptr(a) -> int:
    return int(a.__cuda_array_interface__["data"][0])


class Communicator:
    def __init__(self, group):
        cupy, nccl = _modules()
        self.cupy, self.nccl, self.group = cupy, nccl, group
        n = max(1, int(cupy.cuda.runtime.getDeviceCount()))
        self.device = group.local_rank % n
        cupy.cuda.Device(self.device).use()
        uid = _bcast_uid(group, nccl.get_unique_id() if group.rank == 0 else None)   # the rendezvous, over MPI
        self.comm = nccl.NcclCommunicator(group.size, uid, group.rank)
        self.stream = cupy.cuda.Stream(non_blocking=True)
        self.inflight = []                             # (event, started, what)
        self.error = None
        self.lock = threading.Lock()
        self._stop = False
        self.watchdog = threading.Thread(target=self._watch, name="pyengine-nccl-watchdog", daemon=True)
        self.watchdog.start()

    # ---- the watchdog -------------------------------------------------------------------------
    def _watch(self):
        while not self._stop:
            time.sleep(0.2)
            with self.lock:
                keep = []
                for ev, t0, what in self.inflight:
                    if ev.done:
                        continue
                    if time.monotonic() - t0 > self.group.timeout and self.error is None:
                        self.error = (f"rank {self.group.rank}: NCCL {what} did not complete within "
                                      f"{self.group.timeout:g} s; the communicator was aborted (a peer died or hangs)")
                        try:
                            self.comm.abort()
                        except Exception:
                            pass
                    keep.append((ev, t0, what))
                self.inflight = keep

    def _check(self, what):
        from .process_group import DistributedTimeoutError
        if self.error is not None:
            raise DistributedTimeoutError(self.error)
        self.group.check_notices(what)
        try:
            self.comm.check_async_error()
        except Exception as e:
            from .process_group import DistributedError
            raise DistributedError(f"rank {self.group.rank}: NCCL reported an error before {what}: {e}") from e

    # ---- launching ----------------------------------------------------------------------------
    def _launch(self, what, enqueue):
        """Runs enqueue(stream_ptr) on the side stream after the caller's current stream; returns a Work."""
        from .process_group import Work
        self._check(what)
        cp = self.cupy
        caller = cp.cuda.get_current_stream()
        ready = cp.cuda.Event(disable_timing=True)
        ready.record(caller)
        self.stream.wait_event(ready)
        enqueue(int(self.stream.ptr))
        done = cp.cuda.Event(disable_timing=True)
        done.record(self.stream)
        with self.lock:
            self.inflight.append((done, time.monotonic(), what))

        def finish():
            self._check(what)
            cp.cuda.get_current_stream().wait_event(done)
        return Work(self.group, None, what, finish)

    def all_reduce(self, a, op, what):
        nccl = self.nccl
        ops = {"sum": nccl.NCCL_SUM, "avg": nccl.NCCL_SUM, "max": nccl.NCCL_MAX, "min": nccl.NCCL_MIN,
               "product": nccl.NCCL_PROD}
        code = _dtype_code(nccl, a.dtype, "all_reduce")
        p = _ptr(a)
        work = self._launch(what, lambda s: self.comm.allReduce(p, p, a.size, code, ops[op], s))
        if op == "avg":
            inner = work.finish

            def finish():
                inner()
                if a.dtype.kind == "f":
                    a[...] /= self.group.size
                else:
                    a[...] //= self.group.size
            work.finish = finish
        return work

    def broadcast(self, a, src, what):
        code = _dtype_code(self.nccl, a.dtype, "broadcast")
        p = _ptr(a)
        return self._launch(what, lambda s: self.comm.bcast(p, a.size, code, src, s))

    def all_gather(self, outs, a, what):
        cp = self.cupy
        code = _dtype_code(self.nccl, a.dtype, "all_gather")
        recv = cp.empty((self.group.size,) + tuple(a.shape), a.dtype)
        work = self._launch(what, lambda s: self.comm.allGather(_ptr(a), _ptr(recv), a.size, code, s))
        inner = work.finish

        def finish():
            inner()
            for i, o in enumerate(outs):
                o[...] = recv[i]
        work.finish = finish
        return work

    def destroy(self):
        self._stop = True
        try:
            self.comm.destroy()
        except Exception:
            pass
