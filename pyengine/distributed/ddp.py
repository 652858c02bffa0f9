"""DistributedDataParallel: PyTorch DDP's semantics over pyengine.distributed's process group.

At construction every rank checks that it holds the same parameters (names, shapes, dtypes) as
rank 0, and takes rank 0's parameters and buffers (one broadcast per dtype, packed).

Gradient buckets: the parameters that require grad, in reverse registration order (backward
produces the last layer's gradients first), are cut into buckets of about ``bucket_cap_mb`` MiB
(the first one ``first_bucket_cap_mb``, small, so communication starts early), one dtype and
device per bucket; every rank makes the same buckets. Each bucket owns one flat buffer. After the
first synchronised iteration the buckets are made again in the order rank 0's gradients became
ready (broadcast, so every rank agrees), as PyTorch does.

One iteration:
  forward (armed unless inside no_sync(); rank 0's buffers broadcast first when broadcast_buffers)
  backward: the engine calls the post-accumulate-grad hook of a parameter once its gradient for
    this backward is complete → the gradient is copied into its slot of the bucket → when the
    bucket's last slot is filled, its allreduce starts (MPI Iallreduce on a DDP-private
    communicator, or NCCL on a side stream), buckets strictly in index order on every rank →
    each later hook pokes the MPI requests in flight, so they progress while backward computes
  the hook that starts the last bucket waits for all of them, divides by the world size and
  makes each parameter's .grad a view of its slot of the averaged bucket.

Unused parameters: with find_unused_parameters=True the graph of the forward's outputs is walked
and the parameters it does not reach are counted as ready with a zero gradient at the first hook
of the backward; a small allreduce of the "used" flags tells which parameters no rank used, whose
.grad is left as it was (as in PyTorch). Without it, a parameter that got no gradient leaves its
bucket unreduced, and the next forward raises an error naming it.
"""
from __future__ import annotations

import contextlib
import sys

import numpy as np

from ..autograd.grad_mode import STATE
from ..nn.module import Module
from ..tensor import Tensor
from . import process_group as pg

__all__ = ["DistributedDataParallel"]

_MiB = 1 << 20


def _is_cuda(a):
    return hasattr(type(a), "__cuda_array_interface__")


def _xp(a):
    return sys.modules["cupy"] if _is_cuda(a) else np


class _Bucket:
    def __init__(self, index, params, slots, dtype, cuda):
        self.index, self.params, self.dtype, self.cuda = index, params, dtype, cuda
        self.slots = slots                      # id(param) -> (offset, numel)
        total = sum(n for _, n in slots.values())
        xp = sys.modules["cupy"] if cuda else np
        self.flat = xp.zeros(total, dtype)
        self.pending = len(params)
        self.work = None


class DistributedDataParallel(Module):
    """Wraps ``module`` for data-parallel training: call it like the module; after backward every
    rank holds the same averaged gradients. State-dict keys get the ``module.`` prefix, as in
    PyTorch (``ddp.module`` is the wrapped network). delay_allreduce=True (as in apex's DDP) starts
    every bucket's allreduce only once backward has produced all gradients: no overlap, for
    measuring what the overlap gains. device_ids / output_device are accepted for PyTorch
    compatibility; the module's parameters already live on this rank's device."""

    def __init__(self, module, bucket_cap_mb: float = 25, broadcast_buffers: bool = True,
                 find_unused_parameters: bool = False, first_bucket_cap_mb: float = 1, device_ids=None,
                 output_device=None, dim: int = 0, delay_allreduce: bool = False):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: module must be an nn.Module, got {type(module).__name__}")
        for name, v in (("bucket_cap_mb", bucket_cap_mb), ("first_bucket_cap_mb", first_bucket_cap_mb)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
                raise ValueError(f"DistributedDataParallel: {name} must be a positive number of MiB, got {v!r}")
        if dim != 0:
            raise ValueError(f"DistributedDataParallel: only dim=0 (the batch dimension) is supported, got {dim}")
        if not hasattr(Tensor, "register_post_accumulate_grad_hook"):
            raise RuntimeError("DistributedDataParallel needs Tensor.register_post_accumulate_grad_hook, which this "
                               "build of pyengine's engine does not have")
        self.module = module
        g = pg._group or pg.init_process_group()
        d = self.__dict__
        d["_g"] = g
        d["broadcast_buffers"] = bool(broadcast_buffers)
        d["find_unused_parameters"] = bool(find_unused_parameters)
        d["bucket_cap_mb"] = float(bucket_cap_mb)
        d["delay_allreduce"] = bool(delay_allreduce)
        d["_require_sync"] = True
        d["_armed"] = False
        d["_fired"] = 0
        d["_unused"] = []
        d["_used"] = None
        d["_unused_marked"] = False
        d["_ready"] = set()
        d["_comm"] = g.comm.Dup() if g.size > 1 else None     # gradient traffic never meets user collectives
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        d["_named"] = named
        d["_index"] = {id(p): i for i, (_, p) in enumerate(named)}
        self._check_same_parameters()
        self._broadcast_state()
        d["_caps"] = (bucket_cap_mb * _MiB, first_bucket_cap_mb * _MiB)
        d["_order"] = None                  # the order gradients became ready in, recorded in iteration 1
        d["_rebuilt"] = False
        self._set_buckets(list(range(len(named)))[::-1])
        d["_next"] = 0
        d["_handles"] = [p.register_post_accumulate_grad_hook(self._hook) for _, p in named] if g.size > 1 else []

    # ---- construction -------------------------------------------------------------------------
    def _check_same_parameters(self):
        g = self._g
        if g.size == 1:
            return
        mine = [[n, list(p.shape), str(p.dtype), p._device] for n, p in self._named]
        theirs = pg.broadcast_object(mine, src=0)
        if mine != theirs:
            for i in range(max(len(mine), len(theirs))):
                a = mine[i] if i < len(mine) else None
                b = theirs[i] if i < len(theirs) else None
                if a != b:
                    raise ValueError(
                        f"DistributedDataParallel: rank {g.rank} has a different model than rank 0: parameter "
                        f"{i} is {_describe(a)} here and {_describe(b)} on rank 0; every rank must build the same "
                        "network")

    def _coalesced(self, tensors, op):
        """Runs ``op(flat)`` on each dtype/device group of ``tensors`` packed into one buffer."""
        groups = {}
        for t in tensors:
            groups.setdefault((str(t._data.dtype), _is_cuda(t._data)), []).append(t)
        for (_, cuda), ts in sorted(groups.items()):
            xp = _xp(ts[0]._data)
            flat = xp.concatenate([t._data.reshape(-1) for t in ts]) if len(ts) > 1 else ts[0]._data.reshape(-1).copy()
            op(flat)
            off = 0
            for t in ts:
                n = t._data.size
                t._data[...] = flat[off:off + n].reshape(t._data.shape)
                off += n

    def _broadcast_state(self):
        if self._g.size == 1:
            return
        tensors = [p for _, p in self.module.named_parameters()] + [b for _, b in self.module.named_buffers()]
        self._coalesced(tensors, lambda flat: pg.broadcast(flat, src=0))

    def _set_buckets(self, order):
        d = self.__dict__
        d["_buckets"] = self._make_buckets(order, *self._caps)
        d["_where"] = {id(p): b for b in self._buckets for p in b.params}

    def _rebuild_buckets(self):
        """After the first synchronised iteration, as PyTorch does: buckets in the order rank 0's
        gradients became ready (registration order need not be the order backward runs in)."""
        d = self.__dict__
        d["_rebuilt"] = True
        order = np.array(self._order if self._order and len(self._order) == len(self._named) else
                         list(range(len(self._named)))[::-1], np.int64)
        self._wait(("mpi", self._comm.Ibcast(order, root=0), None), "DDP bucket order")
        if sorted(order.tolist()) == list(range(len(self._named))):
            self._set_buckets(order.tolist())

    def _make_buckets(self, order, cap, first_cap):
        buckets, cur, size, key = [], [], 0, None
        limit = first_cap

        def close():
            nonlocal cur, size, limit
            if cur:
                slots, off = {}, 0
                for p in cur:
                    slots[id(p)] = (off, p._data.size)
                    off += p._data.size
                buckets.append(_Bucket(len(buckets), cur, slots, cur[0]._data.dtype, _is_cuda(cur[0]._data)))
                limit = cap
            cur, size = [], 0

        for i in order:
            p = self._named[i][1]
            k = (str(p._data.dtype), _is_cuda(p._data))
            nbytes = p._data.size * p._data.itemsize
            if cur and (k != key or size + nbytes > limit):
                close()
            key = k
            cur.append(p)
            size += nbytes
        close()
        return buckets

    # ---- forward ------------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        g = self._g
        if g.size > 1:
            self._check_previous_iteration()
            if not self._rebuilt and self._order is not None and self._require_sync and STATE.grad_enabled:
                self._rebuild_buckets()
            grad = STATE.grad_enabled
            if self.broadcast_buffers and grad and self.module.training:
                bufs = [b for _, b in self.module.named_buffers()]
                if bufs:
                    self._coalesced(bufs, lambda flat: self._wait(self._start_bcast(flat), "buffer broadcast"))
        out = self.module(*args, **kwargs)
        if g.size > 1 and STATE.grad_enabled and self._require_sync:
            self._arm(out)
        return out

    def _start_bcast(self, flat):
        if _is_cuda(flat) and self._g.backend == "nccl":
            return ("work", pg._nccl(self._g).broadcast(flat, 0, "DDP buffer broadcast"))
        if _is_cuda(flat):
            host = np.ascontiguousarray(_xp(flat).asnumpy(flat))
            req = self._comm.Ibcast(host, root=0)

            def finish():
                flat[...] = _xp(flat).asarray(host)
            return ("mpi", req, finish)
        return ("mpi", self._comm.Ibcast(flat, root=0), None)

    def _check_previous_iteration(self):
        if self._armed and self._fired:
            missing = [n for n, p in self._named if self._where[id(p)].pending and not self._is_ready(p)]
            self.__dict__["_armed"] = False
            raise RuntimeError(
                f"DistributedDataParallel (rank {self._g.rank}): the previous backward produced no gradient for "
                f"parameter(s) {', '.join(missing[:8])}{' ...' if len(missing) > 8 else ''}, so their gradient "
                "buckets were never reduced and the ranks are out of step. Pass find_unused_parameters=True if "
                "the forward legitimately skips parameters, or make the loss depend on all of them")

    def _is_ready(self, p):
        return id(p) in self._ready

    def _arm(self, out):
        d = self.__dict__
        d["_armed"] = True
        d["_fired"] = 0
        if not self._rebuilt and self._order is None:
            d["_order"] = []
        d["_next"] = 0
        d["_ready"] = set()
        d["_unused_marked"] = False
        for b in self._buckets:
            b.pending = len(b.params)
            b.work = None
        if self.find_unused_parameters:
            reached = _reachable_leaves(out)
            d["_unused"] = [p for _, p in self._named if id(p) not in reached]
            d["_used"] = np.array([0 if id(p) not in reached else 1 for _, p in self._named], np.uint8)

    @contextlib.contextmanager
    def no_sync(self):
        """Inside, forward/backward accumulate gradients locally with no communication; the first
        forward/backward after it reduces the accumulated gradients."""
        old = self._require_sync
        self.__dict__["_require_sync"] = False
        try:
            yield
        finally:
            self.__dict__["_require_sync"] = old

    # ---- backward: the hooks ------------------------------------------------------------------
    def _hook(self, p):
        if not self._armed:
            return
        d = self.__dict__
        if id(p) in self._ready:
            raise RuntimeError(f"DistributedDataParallel: parameter {self._named[self._index[id(p)]][0]} got its "
                               "gradient twice in one backward (a second backward over the same forward needs "
                               "no_sync(), or a new forward)")
        d["_fired"] += 1
        if not self._unused_marked:
            d["_unused_marked"] = True
            for q in self._unused:
                self._mark_ready(q, zero=True)
        self._mark_ready(p)
        self._launch_ready()

    def _mark_ready(self, p, zero=False):
        b = self._where[id(p)]
        off, n = b.slots[id(p)]
        dst = b.flat[off:off + n]
        if zero or p.grad is None:
            dst[...] = 0
        else:
            src = p.grad._data.reshape(-1)
            if not _same_memory(src, dst):       # .grad is already this slot when it accumulated in place
                dst[...] = src
        self._ready.add(id(p))
        if self._order is not None and not self._rebuilt:
            self._order.append(self._index[id(p)])
        b.pending -= 1

    def _launch_ready(self):
        d = self.__dict__
        bs = self._buckets
        if self.delay_allreduce and bs[-1].pending and any(b.pending for b in bs):
            return
        while self._next < len(bs) and bs[self._next].pending == 0:
            b = bs[self._next]
            b.work = self._start_allreduce(b)
            d["_next"] += 1
        for b in bs[:self._next]:                 # drive the MPI progress engine while backward runs
            w = b.work
            if w is not None and w[0] == "mpi" and w[1] is not None:
                w[1].Test()
        if self._next == len(bs):
            self._finish()

    def _start_allreduce(self, b):
        g = self._g
        if b.cuda and g.backend == "nccl":
            return ("work", pg._nccl(g).all_reduce(b.flat, "sum", f"DDP bucket {b.index}"))
        if b.cuda:
            host = np.ascontiguousarray(_xp(b.flat).asnumpy(b.flat))
            req = self._comm.Iallreduce(g.MPI.IN_PLACE, host, op=g.MPI.SUM)

            def finish():
                b.flat[...] = _xp(b.flat).asarray(host)
            return ("mpi", req, finish)
        return ("mpi", self._comm.Iallreduce(g.MPI.IN_PLACE, b.flat, op=g.MPI.SUM), None)

    def _wait(self, w, what):
        if w[0] == "work":
            w[1].wait()
        else:
            self._g.wait(w[1], what)
            if w[2] is not None:
                w[2]()

    def _finish(self):
        d = self.__dict__
        g = self._g
        used = None
        if self.find_unused_parameters:
            used = self._used.copy()
            self._g.wait(self._comm.Iallreduce(g.MPI.IN_PLACE, used, op=g.MPI.MAX), "DDP unused-parameter map")
        for b in self._buckets:
            self._wait(b.work, f"DDP gradient bucket {b.index}")
            b.flat /= g.size
            b.work = None
        for i, (_, p) in enumerate(self._named):
            if used is not None and not used[i]:
                continue                            # no rank used it: its .grad stays as it was
            b = self._where[id(p)]
            off, n = b.slots[id(p)]
            view = b.flat[off:off + n].reshape(p._data.shape)
            if p.grad is None:
                p.grad = Tensor._make(view)
            else:
                p.grad._data = view
                p.grad._device = p._device
        d["_armed"] = False

    # ---- the rest -----------------------------------------------------------------------------
    def sync_buffers(self):
        """Copies rank 0's buffers (BatchNorm running statistics) to every rank now."""
        if self._g.size > 1:
            bufs = [b for _, b in self.module.named_buffers()]
            if bufs:
                self._coalesced(bufs, lambda flat: self._wait(self._start_bcast(flat), "buffer broadcast"))

    def extra_repr(self):
        return f"world_size={self._g.size}, buckets={len(self._buckets)}"

    @property
    def bucket_sizes(self):
        """Parameters per bucket, in launch order (for inspection and tests)."""
        return [len(b.params) for b in self._buckets]



def _same_memory(a, b):
    def ptr(x):
        iface = getattr(x, "__cuda_array_interface__", None) or x.__array_interface__
        return iface["data"][0]
    return a.shape == b.shape and ptr(a) == ptr(b)


def _describe(entry):
    if entry is None:
        return "missing"
    name, shape, dtype, dev = entry
    return f"{name} {shape} {dtype} on {dev}"


def _reachable_leaves(out):
    """ids of the leaf tensors the autograd graph of ``out`` (a Tensor or nested tuple/list/dict) reaches."""
    from ..autograd.function import Function
    stack, seen, leaves = [], set(), set()

    def add(o):
        if isinstance(o, Tensor):
            if o._grad_fn is not None:
                stack.append(o._grad_fn)
            elif o.requires_grad:
                leaves.add(id(o))
        elif isinstance(o, (tuple, list)):
            for x in o:
                add(x)
        elif isinstance(o, dict):
            for x in o.values():
                add(x)
    add(out)
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for e in getattr(node, "next_edges", None) or ():
            if e is None:
                continue
            nxt = e[0]
            if isinstance(nxt, Function):
                stack.append(nxt)
            else:
                leaves.add(id(nxt))
    return leaves
