"""A stand-in for CuPy and its NCCL binding, for machines without a GPU (as tests/cuda/fake_gpu.py is
for the kernels).

Device arrays are NumPy arrays of a subclass that has ``__cuda_array_interface__`` (pyengine's
distributed layer takes that as "a CUDA array"). The fake NcclCommunicator receives what the real
one would — raw device pointers, element counts, NCCL dtype and op codes, a stream handle — and
checks them: every pointer range must lie inside one live fake allocation, the dtype code must
match that allocation's dtype, the stream must be the side stream the caller created. It then does
the collective over MPI.COMM_WORLD on the memory behind the pointers (ctypes), so results can be
compared with the MPI path. Streams and events are recorded in order so a test can check that a
collective was enqueued after the caller's work and waited for before the result is used.
It proves nothing about NCCL itself: that waits for a machine with several GPUs.
"""
from __future__ import annotations

import ctypes
import sys
import types
import weakref

import numpy as np

LOG = []                       # ("allReduce", count, dtype_code, op, stream_ptr), ...
_LIVE = weakref.WeakValueDictionary()


class FakeCudaArray(np.ndarray):
    @property
    def __cuda_array_interface__(self):
        return {"shape": self.shape, "typestr": self.dtype.str, "data": (self.__array_interface__["data"][0], False),
                "version": 3, "strides": None}

    def __array_finalize__(self, obj):
        _LIVE[id(self)] = self          # results of NumPy operations are device allocations too


def _dev(a):
    v = np.ascontiguousarray(a).view(FakeCudaArray)
    _LIVE[id(v)] = v
    return v


def _owner(ptr, nbytes):
    for arr in list(_LIVE.values()):
        base = arr.__array_interface__["data"][0]
        if base <= ptr and ptr + nbytes <= base + arr.nbytes:
            return arr
    raise AssertionError(f"fake NCCL: pointer range [{ptr:#x}, +{nbytes}) lies in no live device allocation")


_CODES = {0: np.int8, 1: np.uint8, 2: np.int32, 4: np.int64, 6: np.float16, 7: np.float32, 8: np.float64}


def _view(ptr, count, code):
    dt = np.dtype(_CODES[code])
    owner = _owner(ptr, count * dt.itemsize)
    assert owner.dtype == dt, f"fake NCCL: dtype code {code} ({dt}) for memory of dtype {owner.dtype}"
    buf = (ctypes.c_char * (count * dt.itemsize)).from_address(ptr)
    return np.frombuffer(buf, dtype=dt, count=count)


class _Stream:
    _next = 0x1000

    def __init__(self, non_blocking=False, null=False):
        self.ptr = 0 if null else _Stream._next
        _Stream._next += 0x10
        self.waited = []

    def wait_event(self, ev):
        assert ev.recorded_on is not None, "fake CUDA: waiting for an event that was never recorded"
        self.waited.append(ev)
        LOG.append(("wait_event", self.ptr, ev.recorded_on))

    def synchronize(self):
        pass


class _Event:
    def __init__(self, disable_timing=False, **kw):
        self.recorded_on = None

    def record(self, stream=None):
        self.recorded_on = (stream or _CURRENT[0]).ptr
        LOG.append(("record", self.recorded_on))

    @property
    def done(self):
        return self.recorded_on is not None

    def synchronize(self):
        pass


_CURRENT = [_Stream(null=True)]


class FakeNcclCommunicator:
    instances = []

    def __init__(self, ndev, commId, rank):
        from mpi4py import MPI
        self.comm = MPI.COMM_WORLD
        assert ndev == self.comm.Get_size(), f"fake NCCL: ndev {ndev} but the MPI world has {self.comm.Get_size()}"
        assert rank == self.comm.Get_rank(), f"fake NCCL: rank {rank} but this is MPI rank {self.comm.Get_rank()}"
        ids = self.comm.allgather(commId)
        assert all(i == ids[0] for i in ids), f"fake NCCL: ranks hold different unique ids {ids}"
        self.uid, self.ndev, self.rank = commId, ndev, rank
        self.aborted = False
        FakeNcclCommunicator.instances.append(self)

    def _check_stream(self, stream):
        assert stream != 0, "fake NCCL: collective enqueued on the legacy default stream, not the side stream"

    def allReduce(self, send, recv, count, datatype, op, stream):
        from mpi4py import MPI
        self._check_stream(stream)
        LOG.append(("allReduce", count, datatype, op, stream))
        s, r = _view(send, count, datatype), _view(recv, count, datatype)
        mop = {0: MPI.SUM, 1: MPI.PROD, 2: MPI.MAX, 3: MPI.MIN}[op]
        tmp = np.array(s, copy=True)
        self.comm.Allreduce(MPI.IN_PLACE, tmp, op=mop)
        r[...] = tmp

    def bcast(self, buff, count, datatype, root, stream):
        self._check_stream(stream)
        LOG.append(("bcast", count, datatype, root, stream))
        b = _view(buff, count, datatype)
        tmp = np.array(b, copy=True)
        self.comm.Bcast(tmp, root=root)
        b[...] = tmp

    def allGather(self, send, recv, count, datatype, stream):
        self._check_stream(stream)
        LOG.append(("allGather", count, datatype, stream))
        s = _view(send, count, datatype)
        r = _view(recv, count * self.ndev, datatype)
        tmp = np.empty(count * self.ndev, s.dtype)
        self.comm.Allgather(np.array(s, copy=True), tmp)
        r[...] = tmp

    def check_async_error(self):
        pass

    def abort(self):
        self.aborted = True

    def destroy(self):
        pass


def install():
    """Puts the fake cupy, cupy.cuda and cupy.cuda.nccl into sys.modules; returns the cupy module."""
    cp = types.ModuleType("cupy")
    cuda = types.ModuleType("cupy.cuda")
    nccl = types.ModuleType("cupy.cuda.nccl")
    cp.ndarray = FakeCudaArray
    cp.asarray = lambda a, dtype=None: a if isinstance(a, FakeCudaArray) and dtype is None else _dev(np.asarray(a, dtype))
    cp.asnumpy = lambda a: np.array(np.asarray(a).view(np.ndarray), copy=True)
    cp.empty = lambda shape, dtype=np.float64: _dev(np.empty(shape, dtype))
    cp.zeros = lambda shape, dtype=np.float64: _dev(np.zeros(shape, dtype))
    cp.empty_like = lambda a: _dev(np.empty_like(np.asarray(a)))
    cp.concatenate = lambda arrays, axis=0: _dev(np.concatenate([np.asarray(a) for a in arrays], axis))
    cp.stack = lambda arrays, axis=0: _dev(np.stack([np.asarray(a) for a in arrays], axis))
    cp.sqrt = lambda a: _dev(np.sqrt(np.asarray(a)))
    cuda.Stream = _Stream
    cuda.Event = _Event
    cuda.get_current_stream = lambda: _CURRENT[0]
    cuda.Device = lambda i=0: types.SimpleNamespace(use=lambda: None, id=i)
    cuda.runtime = types.SimpleNamespace(getDeviceCount=lambda: 1)
    cuda.nccl = nccl
    cp.cuda = cuda
    nccl.NcclCommunicator = FakeNcclCommunicator
    nccl.get_unique_id = lambda: tuple(int(x) for x in np.random.default_rng().integers(0, 255, 128))
    for name, code in (("NCCL_INT8", 0), ("NCCL_UINT8", 1), ("NCCL_INT32", 2), ("NCCL_INT64", 4),
                       ("NCCL_FLOAT16", 6), ("NCCL_FLOAT32", 7), ("NCCL_FLOAT64", 8)):
        setattr(nccl, name, code)
    nccl.NCCL_SUM, nccl.NCCL_PROD, nccl.NCCL_MAX, nccl.NCCL_MIN = 0, 1, 2, 3
    sys.modules["cupy"], sys.modules["cupy.cuda"], sys.modules["cupy.cuda.nccl"] = cp, cuda, nccl
    return cp


def device(a):
    """A fake device copy of a NumPy array."""
    return _dev(np.array(a, copy=True))
