"""pyengine.distributed — data-parallel training across processes and machines.

MPI (mpi4py) is the transport and the rendezvous; CUDA arrays go through NCCL (CuPy) when the
backend is "nccl". Start N ranks with ``pyengine train --nproc N``,
``python -m pyengine.distributed.launch --nproc N -- python script.py`` or ``mpiexec -n N ...``.

    from pyengine import distributed as dist
    dist.init_process_group()                       # every rank
    model = dist.DistributedDataParallel(model)     # rank 0's weights everywhere; averaged grads
    sampler = dist.DistributedSampler(train_set)    # this rank's shard
    loader = DataLoader(train_set, batch_size=32, sampler=sampler)

Importing this package needs nothing beyond NumPy; mpi4py and an MPI library (the
``distributed`` extra: pip install "pyengine[distributed]") are loaded by init_process_group.
"""
from .ddp import DistributedDataParallel
from .process_group import (DEFAULT_TIMEOUT, DistributedError, DistributedTimeoutError, PeerFailedError, ReduceOp,
                            Work, all_gather, all_gather_object, all_reduce, barrier, broadcast, broadcast_object,
                            destroy_process_group, get_backend, get_local_rank, get_rank, get_world_size,
                            init_process_group, is_available, is_initialized)
from .sampler import DistributedSampler
from .sync_batchnorm import SyncBatchNorm, convert_sync_batchnorm

__all__ = ["init_process_group", "destroy_process_group", "is_initialized", "is_available", "get_rank",
           "get_world_size", "get_local_rank", "get_backend", "barrier", "all_reduce", "broadcast", "all_gather",
           "broadcast_object", "all_gather_object", "ReduceOp", "Work", "DistributedDataParallel",
           "DistributedSampler", "SyncBatchNorm", "convert_sync_batchnorm", "DistributedError", "PeerFailedError",
           "DistributedTimeoutError", "DEFAULT_TIMEOUT"]
