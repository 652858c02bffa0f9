"""The process group: MPI (mpi4py) for the rendezvous and for NumPy buffers, NCCL (through CuPy)
for CUDA buffers, and the watchdog that turns a dead or silent peer into an error instead of a hang.

Layout of one process group (ChainerMN's design):
- ``comm``: a duplicate of MPI.COMM_WORLD; every collective on NumPy arrays runs on it, issued in
  the same order on every rank (MPI matches collectives by their order on a communicator).
- ``ctrl``: a second duplicate that carries only failure notices (tag _NOTICE) and their
  acknowledgements (tag _ACK), so a notice can never be mistaken for collective traffic.
- ``nccl``: created on the first collective over a CUDA array; rank 0 draws the NCCL unique id and
  it is broadcast over ``comm`` (see nccl.py).

Every wait polls a non-blocking request (Iallreduce, Ibcast, Iallgather, Ibarrier) instead of
blocking inside MPI, so the waiting rank can look around: every 50 ms it reads failure notices
from peers that raised (they name themselves and their exception), every 0.5 s it checks whether
peers on the same host are still running (/proc/<pid>/stat: gone or zombie means dead), and past
``timeout`` seconds it gives up with DistributedTimeoutError naming the collective and the peers
it could not account for. A rank that dies of an uncaught exception sends the notice from the
excepthook installed here, waits a moment for the acknowledgements, and leaves with os._exit(1)
(not MPI_Finalize, which can wait forever for peers stuck in a collective).
"""
from __future__ import annotations

import atexit
import json
import numbers
import os
import socket
import sys
import time
import traceback

import numpy as np

__all__ = ["init_process_group", "destroy_process_group", "is_initialized", "is_available", "get_rank",
           "get_world_size", "get_local_rank", "barrier", "all_reduce", "broadcast", "all_gather",
           "broadcast_object", "all_gather_object", "get_backend", "DistributedError", "PeerFailedError",
           "DistributedTimeoutError", "ReduceOp", "DEFAULT_TIMEOUT"]

DEFAULT_TIMEOUT = 60.0          # seconds a rank waits in one collective before it gives up
_NOTICE, _ACK = 7, 8
_ACK_BYTE = np.ones(1, np.uint8)
_NOTICE_EVERY, _ALIVE_EVERY = 0.05, 0.5


class DistributedError(RuntimeError):
    """A collective could not complete."""


class PeerFailedError(DistributedError):
    """Another rank raised or died; the message names it."""


class DistributedTimeoutError(DistributedError):
    """A collective did not complete within the process group's timeout."""


class ReduceOp:
    SUM, AVG, MAX, MIN, PRODUCT = "sum", "avg", "max", "min", "product"


_OPS = ("sum", "avg", "max", "min", "product")
_group = None


def is_available() -> bool:
    """True when mpi4py and an MPI library can be loaded (pip install "pyengine[distributed]")."""
    try:
        _mpi()
    except ImportError:
        return False
    return True


def _mpi():
    """mpi4py.MPI, initialised with one thread calling MPI (no THREAD_MULTIPLE locking cost)."""
    if "mpi4py.MPI" not in sys.modules:
        try:
            import mpi4py
        except ImportError as e:
            raise ImportError('pyengine.distributed needs mpi4py and an MPI library: '
                              'pip install "pyengine[distributed]"') from e
        if "MPI4PY_RC_THREAD_LEVEL" not in os.environ:     # e.g. "multiple" for MPICH's async progress thread
            mpi4py.rc.thread_level = "serialized"
        mpi4py.rc.finalize = True
    try:
        from mpi4py import MPI
    except (ImportError, RuntimeError) as e:
        raise ImportError(f'pyengine.distributed: mpi4py is installed but no MPI library was found ({e}); '
                          'pip install "pyengine[distributed]" installs MPICH beside it') from e
    return MPI


def _host_key() -> str:
    """Two ranks can look at each other's /proc only with the same host, boot and pid namespace."""
    try:
        ns = os.readlink("/proc/self/ns/pid")
    except OSError:
        ns = "?"
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot = f.read().strip()
    except OSError:
        boot = "?"
    return f"{socket.gethostname()}|{boot}|{ns}"


def _proc_state(pid: int) -> str:
    """'R', 'S', 'T' ... from /proc/<pid>/stat; 'gone' when there is no such process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "gone"


class _Group:
    def __init__(self, backend, timeout):
        MPI = self.MPI = _mpi()
        world = MPI.COMM_WORLD
        self.comm = world.Dup()
        self.ctrl = world.Dup()
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self.timeout = float(timeout)
        self.backend = backend
        self.nccl = None
        self.seq = 0
        self.failed_peers = {}
        self.host = socket.gethostname()
        me = [self.host, os.getpid(), _host_key()]
        self.peers = _gather_json(self.comm, me, MPI)
        shared = self.comm.Split_type(MPI.COMM_TYPE_SHARED, key=self.rank)
        self.local_rank, self.local_size = shared.Get_rank(), shared.Get_size()
        shared.Free()
        self._last_notice = self._last_alive = 0.0

    # ---- waiting ------------------------------------------------------------------------------
    def wait(self, req, what):
        """Completes an MPI request, watching for failed peers; raises instead of hanging."""
        MPI = self.MPI
        try:
            if req.Test():
                return
            start = time.monotonic()
            deadline = start + self.timeout
            nap = 2e-5
            while True:
                if req.Test():
                    return
                now = time.monotonic()
                waited = now - start
                # Spin like MPI's own blocking calls for the first 5 ms (a yielded core goes to whoever
                # else runs on a busy machine, and comes back late); then yield; past 50 ms sleep, up to
                # 1 ms at a time, so a rank waiting long (a peer writing a checkpoint) costs no core.
                if waited > 0.05:
                    time.sleep(nap)
                    nap = min(nap * 2, 1e-3)
                elif waited > 0.005:
                    time.sleep(0)
                if now - self._last_notice >= _NOTICE_EVERY:
                    self._last_notice = now
                    self.check_notices(what)
                    if now - self._last_alive >= _ALIVE_EVERY:
                        self._last_alive = now
                        self.check_alive(what)
                if now > deadline:
                    raise DistributedTimeoutError(self._timeout_message(what, now - start))
        except MPI.Exception as e:
            self.check_notices(what)
            self.check_alive(what)
            raise DistributedError(f"rank {self.rank}: {what} failed in MPI: {e}") from e

    def check_notices(self, what):
        """Raises PeerFailedError when a peer has sent a failure notice (and acknowledges it)."""
        MPI = self.MPI
        st = MPI.Status()
        while self.ctrl.Iprobe(source=MPI.ANY_SOURCE, tag=_NOTICE, status=st):
            src = st.Get_source()
            buf = np.empty(st.Get_count(MPI.BYTE), np.uint8)
            self.ctrl.Recv(buf, source=src, tag=_NOTICE)
            self.ctrl.Isend(_ACK_BYTE, dest=src, tag=_ACK)
            self.failed_peers[src] = buf.tobytes().decode("utf-8", "replace")
        if self.failed_peers:
            src, msg = sorted(self.failed_peers.items())[0]
            host, pid, _ = self.peers[src]
            raise PeerFailedError(f"rank {self.rank}: rank {src} (pid {pid} on {host}) failed: {msg} "
                                  f"(this rank was in {what})")

    def check_alive(self, what):
        """Raises PeerFailedError when a peer on this host is no longer running."""
        me = self.peers[self.rank][2]
        for r, (host, pid, key) in enumerate(self.peers):
            if r != self.rank and key == me:
                st = _proc_state(pid)
                if st in ("gone", "Z", "X", "x"):
                    raise PeerFailedError(
                        f"rank {self.rank}: rank {r} (pid {pid} on {host}) died during {what}: its process is "
                        f"{'gone' if st == 'gone' else 'a zombie'} (killed, or exited without a Python error)")

    def _timeout_message(self, what, waited):
        me = self.peers[self.rank][2]
        local, remote = [], []
        for r, (host, pid, key) in enumerate(self.peers):
            if r == self.rank:
                continue
            if key == me:
                st = _proc_state(pid)
                state = {"T": "stopped", "t": "stopped (traced)", "D": "in uninterruptible I/O",
                         "R": "running", "S": "sleeping"}.get(st, st)
                local.append(f"rank {r} (pid {pid}) is {state}")
            else:
                remote.append(str(r))
        parts = [f"rank {self.rank}: {what} did not complete within {waited:.0f} s (timeout {self.timeout:g} s)"]
        if local:
            parts.append("on this host " + ", ".join(local))
        if remote:
            parts.append(f"ranks {', '.join(remote)} are on other hosts and could not be checked")
        parts.append("a rank is stuck or much slower than the others; pass init_process_group(timeout=...) or "
                     "set PYENGINE_DIST_TIMEOUT to wait longer")
        return "; ".join(parts)

    # ---- failure notice -----------------------------------------------------------------------
    def notify_failure(self, summary, grace=5.0):
        """Tells every other rank that this one is failing, waits up to ``grace`` s for their
        acknowledgements (each is then able to print its own error), and returns."""
        MPI = self.MPI
        reqs = []
        data = np.frombuffer(summary.encode("utf-8"), np.uint8)
        for r in range(self.size):
            if r != self.rank and r not in self.failed_peers:
                try:
                    reqs.append(self.ctrl.Isend(data, dest=r, tag=_NOTICE))
                except MPI.Exception:
                    pass
        want = len(reqs)
        got, end = 0, time.monotonic() + grace
        while got < want and time.monotonic() < end:
            try:
                st = MPI.Status()
                while self.ctrl.Iprobe(source=MPI.ANY_SOURCE, tag=_ACK, status=st):
                    self.ctrl.Recv(np.empty(1, np.uint8), source=st.Get_source(), tag=_ACK)
                    got += 1
            except MPI.Exception:
                break
            time.sleep(0.01)


# ---- set-up ----------------------------------------------------------------------------------

def _default_timeout():
    env = os.environ.get("PYENGINE_DIST_TIMEOUT")
    if env:
        try:
            v = float(env)
        except ValueError:
            raise ValueError(f"PYENGINE_DIST_TIMEOUT must be a number of seconds, got {env!r}") from None
        if v > 0:
            return v
    return DEFAULT_TIMEOUT


def init_process_group(backend: str = "auto", timeout: float | None = None):
    """Joins the job started by mpiexec (or by ``pyengine train --nproc N``); a process started
    alone is a group of one. backend: "mpi" (NumPy buffers through MPI; CuPy buffers are staged
    through the host), "nccl" (CuPy buffers through NCCL, NumPy buffers still through MPI) or
    "auto" (nccl when a CUDA GPU and CuPy's NCCL are usable, else mpi). timeout: seconds one
    collective may wait for the others (default 60, or PYENGINE_DIST_TIMEOUT). Idempotent."""
    global _group
    if backend not in ("auto", "mpi", "nccl"):
        raise ValueError(f"init_process_group: backend must be 'auto', 'mpi' or 'nccl', got {backend!r}")
    if timeout is None:
        timeout = _default_timeout()
    elif isinstance(timeout, bool) or not isinstance(timeout, numbers.Real) or not timeout > 0:
        raise ValueError(f"init_process_group: timeout must be a positive number of seconds, got {timeout!r}")
    if _group is not None:
        _group.timeout = float(timeout)
        return _group
    if backend == "auto":
        from . import nccl
        backend = "nccl" if nccl.usable() else "mpi"
    elif backend == "nccl":
        from . import nccl
        nccl.require()
    g = _Group(backend, timeout)
    want = os.environ.get("PYENGINE_DIST_NPROC")
    if want and want.isdigit() and int(want) != g.size:
        raise RuntimeError(f"init_process_group: the launcher started {want} ranks but MPI sees a world of "
                           f"{g.size}: the mpiexec that started this job belongs to another MPI than the library "
                           "mpi4py loaded (use the mpiexec beside this Python)")
    _group = g
    from . import launch
    launch.record_status(g.rank, "running")
    if g.size > 1:
        _install_excepthook()
    atexit.register(_at_exit)
    return g


def _at_exit():
    g = _group
    if g is not None:
        from . import launch
        launch.record_status(g.rank, "done")


def destroy_process_group():
    """Leaves the group (a barrier, then the communicators are freed). MPI itself stays initialised
    until the interpreter exits, so init_process_group may be called again."""
    global _group
    g = _group
    if g is None:
        return
    try:
        barrier()
    finally:
        _group = None
        if g.nccl is not None:
            g.nccl.destroy()
        for c in (g.comm, g.ctrl):
            try:
                c.Free()
            except Exception:
                pass


def is_initialized() -> bool:
    return _group is not None


def _require(fn):
    if _group is None:
        raise RuntimeError(f"pyengine.distributed.{fn}: call init_process_group() first")
    return _group


def get_rank() -> int:
    """This process's rank (0 when no group was initialised)."""
    return 0 if _group is None else _group.rank


def get_world_size() -> int:
    """The number of ranks (1 when no group was initialised)."""
    return 1 if _group is None else _group.size


def get_local_rank() -> int:
    """This rank's index among the ranks on its host (picks the GPU)."""
    return 0 if _group is None else _group.local_rank


def get_backend() -> str:
    return _require("get_backend").backend


# ---- the excepthook -------------------------------------------------------------------------

_prev_hook = None


def _install_excepthook():
    global _prev_hook
    if _prev_hook is not None:
        return
    _prev_hook = sys.excepthook
    sys.excepthook = _excepthook


def _excepthook(etype, value, tb):
    g = _group
    if g is None or g.size == 1:
        return _prev_hook(etype, value, tb)
    prefix = f"[rank {g.rank}] "
    text = "".join(traceback.format_exception(etype, value, tb))
    sys.stderr.write("".join(prefix + line + "\n" for line in text.rstrip("\n").split("\n")))
    sys.stderr.flush()
    sys.stdout.flush()
    from . import launch
    launch.record_status(g.rank, "failed", f"{etype.__name__}: {value}")   # first: mpiexec may kill us soon
    if not isinstance(value, PeerFailedError):      # the others already know about that failure
        summary = f"{etype.__name__}: {value}"
        if len(summary) > 600:
            summary = summary[:600] + "..."
        try:
            g.notify_failure(summary)
        except Exception:
            pass
    os._exit(1)


# ---- collectives ----------------------------------------------------------------------------

def _is_cuda(a) -> bool:
    return hasattr(type(a), "__cuda_array_interface__")


def _array(fn, name, t):
    """The array behind a Tensor (or the array itself), checked to be contiguous."""
    a = t._data if hasattr(t, "_data") else t
    if not (isinstance(a, np.ndarray) or _is_cuda(a)):
        raise TypeError(f"{fn}: {name} must be a Tensor, a NumPy array or a CuPy array, got {type(a).__name__}")
    if not a.flags.c_contiguous:
        raise ValueError(f"{fn}: {name} must be C-contiguous (call .contiguous() or np.ascontiguousarray)")
    return a


def _check_op(fn, op):
    if op not in _MPI_OPS:
        raise ValueError(f"{fn}: op must be one of {', '.join(_OPS)}, got {op!r}")


_MPI_OPS = {"sum": "SUM", "avg": "SUM", "max": "MAX", "min": "MIN", "product": "PROD"}


def _mpi_op(MPI, op):
    return getattr(MPI, _MPI_OPS[op])


def _use_nccl(g, a):
    return g.backend == "nccl" and _is_cuda(a)


def _nccl(g):
    if g.nccl is None:
        from . import nccl
        g.nccl = nccl.Communicator(g)
    return g.nccl


class Work:
    """A collective in flight: ``wait()`` completes it (for NCCL it orders the current stream after it)."""

    def __init__(self, g, req, what, finish=None):
        self.g, self.req, self.what, self.finish = g, req, what, finish
        self.done = False

    def is_completed(self) -> bool:
        if self.done:
            return True
        if self.req is not None and not self.req.Test():
            return False
        self.wait()
        return True

    def wait(self):
        if not self.done:
            if self.req is not None:
                self.g.wait(self.req, self.what)
            if self.finish is not None:
                self.finish()
            self.done = True
        return True


def _start(g, fn):
    now = time.monotonic()
    if now - g._last_notice >= _NOTICE_EVERY:       # a peer's failure notice, read at most every 50 ms
        g._last_notice = now
        g.check_notices(fn)
    g.seq += 1
    return f"{fn} #{g.seq}"


def all_reduce(tensor, op: str = "sum", async_op: bool = False):
    """Reduces ``tensor`` (Tensor, NumPy or CuPy array) over all ranks in place: every rank ends with
    the same result. op: sum, avg, max, min, product. async_op=True returns a Work to wait() on."""
    g = _require("all_reduce")
    _check_op("all_reduce", op)
    a = _array("all_reduce", "tensor", tensor)
    what = _start(g, "all_reduce")
    if _use_nccl(g, a):
        work = _nccl(g).all_reduce(a, op, what)
    elif _is_cuda(a):
        work = _staged(g, a, lambda h: g.comm.Iallreduce(g.MPI.IN_PLACE, h, op=_mpi_op(g.MPI, op)), what,
                       divide=op == "avg")
    else:
        req = g.comm.Iallreduce(g.MPI.IN_PLACE, a, op=_mpi_op(g.MPI, op))
        if not async_op:                 # the common case without a Work object
            g.wait(req, what)
            if op == "avg":
                _divide(a, g.size)
            return None
        work = Work(g, req, what, (lambda: _divide(a, g.size)) if op == "avg" else None)
    return work if async_op else work.wait() and None


def _divide(a, n):
    if a.dtype.kind == "f":
        a /= n
    else:
        a //= n


def _staged(g, a, start, what, divide=False):
    """MPI on a CUDA array through a host copy (the MPICH wheel is not CUDA-aware)."""
    xp = sys.modules["cupy"]
    host = np.ascontiguousarray(xp.asnumpy(a))
    req = start(host)

    def finish():
        if divide:
            _divide(host, g.size)
        a[...] = xp.asarray(host)
    return Work(g, req, what, finish)


def broadcast(tensor, src: int = 0, async_op: bool = False):
    """Copies rank ``src``'s ``tensor`` into every rank's ``tensor`` (same shape and dtype everywhere)."""
    g = _require("broadcast")
    _check_rank("broadcast", "src", src, g.size)
    a = _array("broadcast", "tensor", tensor)
    what = _start(g, "broadcast")
    if _use_nccl(g, a):
        work = _nccl(g).broadcast(a, src, what)
    elif _is_cuda(a):
        work = _staged(g, a, lambda h: g.comm.Ibcast(h, root=src), what)
    else:
        work = Work(g, g.comm.Ibcast(a, root=src), what)
    return work if async_op else work.wait() and None


def all_gather(tensor_list, tensor, async_op: bool = False):
    """Fills ``tensor_list`` (world_size Tensors/arrays shaped like ``tensor``) with every rank's
    ``tensor``, in rank order. Returns the list."""
    g = _require("all_gather")
    a = _array("all_gather", "tensor", tensor)
    if not isinstance(tensor_list, (list, tuple)) or len(tensor_list) != g.size:
        raise ValueError(f"all_gather: tensor_list must be a list of {g.size} tensors (one per rank), got "
                         f"{len(tensor_list) if isinstance(tensor_list, (list, tuple)) else type(tensor_list).__name__}")
    outs = [_array("all_gather", f"tensor_list[{i}]", t) for i, t in enumerate(tensor_list)]
    for i, o in enumerate(outs):
        if o.shape != a.shape or o.dtype != a.dtype:
            raise ValueError(f"all_gather: tensor_list[{i}] has shape {o.shape} and dtype {o.dtype}, but tensor has "
                             f"shape {a.shape} and dtype {a.dtype}")
    what = _start(g, "all_gather")
    if _use_nccl(g, a):
        work = _nccl(g).all_gather(outs, a, what)
    else:
        xp = sys.modules["cupy"] if _is_cuda(a) else np
        send = np.ascontiguousarray(xp.asnumpy(a)) if _is_cuda(a) else a
        recv = np.empty((g.size,) + a.shape, a.dtype)
        req = g.comm.Iallgather(send, recv)

        def finish():
            for i, o in enumerate(outs):
                o[...] = xp.asarray(recv[i]) if xp is not np else recv[i]
        work = Work(g, req, what, finish)
    if async_op:
        return work
    work.wait()
    return tensor_list


def barrier(timeout: float | None = None):
    """Waits until every rank has reached the barrier (timeout: this call's limit in seconds)."""
    g = _require("barrier")
    what = _start(g, "barrier")
    saved = g.timeout
    if timeout is not None:
        g.timeout = float(timeout)
    try:
        g.wait(g.comm.Ibarrier(), what)
    finally:
        g.timeout = saved


def broadcast_object(obj=None, src: int = 0):
    """A JSON-serialisable object (numbers, strings, lists, dicts) from rank ``src`` to every rank
    (returned; tuples come back as lists). JSON, not pickle: nothing a peer sends is executed."""
    g = _require("broadcast_object")
    _check_rank("broadcast_object", "src", src, g.size)
    what = _start(g, "broadcast_object")
    data = _encode(obj, "broadcast_object") if g.rank == src else b""
    n = np.array([len(data)], np.int64)
    g.wait(g.comm.Ibcast(n, root=src), what)
    buf = np.frombuffer(data, np.uint8).copy() if g.rank == src else np.empty(int(n[0]), np.uint8)
    g.wait(g.comm.Ibcast(buf, root=src), what)
    return json.loads(buf.tobytes().decode("utf-8"))


def all_gather_object(obj):
    """A list of every rank's JSON-serialisable ``obj``, in rank order."""
    g = _require("all_gather_object")
    what = _start(g, "all_gather_object")
    return _gather_json(g.comm, obj, g.MPI, lambda req: g.wait(req, what))


def _encode(obj, fn):
    try:
        return json.dumps(obj).encode("utf-8")
    except (TypeError, ValueError) as e:
        raise TypeError(f"{fn}: the object must be JSON-serialisable (numbers, strings, lists, dicts): {e}") from None


def _gather_json(comm, obj, MPI, wait=None):
    wait = wait or (lambda req: req.Wait())
    data = np.frombuffer(_encode(obj, "all_gather_object"), np.uint8)
    size = comm.Get_size()
    sizes = np.zeros(size, np.int64)
    wait(comm.Iallgather(np.array([data.size], np.int64), sizes))
    recv = np.empty(int(sizes.sum()), np.uint8)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    wait(comm.Iallgatherv(data, [recv, sizes, offsets, MPI.BYTE]))
    return [json.loads(recv[o:o + n].tobytes().decode("utf-8")) for o, n in zip(offsets, sizes)]


def _check_rank(fn, name, r, size):
    if isinstance(r, bool) or not isinstance(r, numbers.Integral) or not 0 <= r < size:
        raise ValueError(f"{fn}: {name} must be a rank in [0, {size}), got {r!r}")
