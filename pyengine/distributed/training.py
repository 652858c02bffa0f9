"""What fit(execution_environment='parallel' | 'multi-gpu') does differently, in one place.

MATLAB's semantics: the mini-batch is the global one, divided among the ranks, so N ranks × B/N
train like one process × B (same hyper-parameters, same accuracy), and every rank sees the same
averaged metrics. Concretely:
- the process group is joined (backend mpi for 'parallel', nccl for 'multi-gpu'); the model is
  wrapped in DistributedDataParallel (rank 0's weights everywhere);
- the training loader is rebuilt over a DistributedSampler (same seed and epoch on every rank,
  the rank's shard) with the per-rank batch ceil(B / N);
- each iteration's loss and accuracy are averaged over the ranks (one small allreduce of
  [Σloss·n, Σcorrect, Σn]), so callbacks, patience and schedulers decide the same on every rank;
- before each validation rank 0's buffers (BatchNorm running statistics) are copied to all, so
  every rank evaluates the same model and gets the same validation result;
- only rank 0 shows progress, writes checkpoints and the plot (``is_main``); a checkpoint holds
  every rank's random state (``all_ranks``), so each rank resumes its own dropout stream.
"""
from __future__ import annotations

import math

import numpy as np

from . import process_group as pg
from .ddp import DistributedDataParallel
from .sampler import DistributedSampler

__all__ = ["DataParallelFit"]


class DataParallelFit:
    def __init__(self, execution_environment: str):
        backend = "nccl" if execution_environment == "multi-gpu" else "mpi"
        g = pg._group or pg.init_process_group(backend=backend)
        self.rank, self.world_size = g.rank, g.size
        self.is_main = g.rank == 0
        self.ddp = None

    def wrap(self, model):
        """The DDP view of ``model`` that fit calls for the training forward."""
        if isinstance(model, DistributedDataParallel):
            self.ddp = model
        else:
            self.ddp = DistributedDataParallel(model)
        return self.ddp

    def shard(self, loader):
        """A DataLoader over this rank's shard with the per-rank share of the global batch."""
        from ..data import DataLoader
        if self.world_size == 1:
            return loader
        sampler = DistributedSampler(loader.dataset, self.world_size, self.rank, shuffle=loader.shuffle,
                                     seed=loader.seed, drop_last=loader.drop_last)
        if loader.batch_size is None:
            raise ValueError("fit: data-parallel training needs a DataLoader with a batch_size (it is divided "
                             "among the ranks)")
        return DataLoader(loader.dataset, batch_size=math.ceil(loader.batch_size / self.world_size),
                          drop_last=loader.drop_last, collate_fn=loader.collate_fn, seed=loader.seed,
                          sampler=sampler, num_workers=loader.num_workers)

    def metrics(self, loss_v: float, acc, n: int):
        """(loss, accuracy) of the global batch: the ranks' sums added, divided by the global count."""
        if self.world_size == 1:
            return loss_v, acc
        v = np.array([loss_v * n, (acc or 0.0) * n, float(n)], np.float64)
        pg.all_reduce(v)
        total = max(v[2], 1.0)
        return float(v[0] / total), (float(v[1] / total) if acc is not None else None)

    def all_ranks(self, obj):
        """Every rank's JSON-able ``obj``, in rank order (a checkpoint keeps each rank's random state)."""
        return [obj] if self.world_size == 1 else pg.all_gather_object(obj)

    def before_validation(self):
        if self.ddp is not None:
            self.ddp.sync_buffers()
