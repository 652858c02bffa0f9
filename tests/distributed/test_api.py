"""pyengine.distributed without starting MPI: argument errors, the sampler's arithmetic, the
launcher's command line and its failure report."""
import json
import os

import numpy as np
import pytest

from pyengine import distributed as dist
from pyengine.distributed import launch


def test_bad_arguments_name_what_was_expected():
    with pytest.raises(ValueError, match="backend must be 'auto', 'mpi' or 'nccl', got 'gloo'"):
        dist.init_process_group(backend="gloo")
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        dist.init_process_group(timeout=0)
    with pytest.raises(RuntimeError, match="call init_process_group"):
        dist.all_reduce(np.zeros(3))
    with pytest.raises(TypeError, match="module must be an nn.Module"):
        dist.DistributedDataParallel(object())
    with pytest.raises(ValueError, match="bucket_cap_mb must be a positive number"):
        from pyengine import nn
        dist.DistributedDataParallel(nn.Linear(2, 2), bucket_cap_mb=0)
    with pytest.raises(ValueError, match="nproc must be a positive int"):
        launch.launch(0, ["true"])
    assert dist.get_rank() == 0 and dist.get_world_size() == 1 and not dist.is_initialized()


@pytest.mark.parametrize("n,replicas,drop", [(23, 2, False), (23, 2, True), (10, 3, False), (10, 3, True),
                                              (2, 4, False), (8, 4, True)])
def test_sampler_matches_pytorch_rules(n, replicas, drop):
    shards = [list(dist.DistributedSampler(range(n), replicas, r, shuffle=False, drop_last=drop))
              for r in range(replicas)]
    per = (n - replicas) // replicas + (1 if (n - replicas) % replicas else 0) if drop and n % replicas \
        else -(-n // replicas)
    assert all(len(s) == per for s in shards)
    flat = [i for pos in range(per) for i in (s[pos] for s in shards)]
    if drop:
        assert flat == list(range(per * replicas)) and len(set(flat)) == len(flat)   # the tail dropped
    else:
        assert set(flat) == set(range(n))                                              # covering
        assert flat[:n] == list(range(n)) and flat[n:] == [flat[i % n] for i in range(len(flat) - n)]  # padded


def test_sampler_epochs_reshuffle_identically():
    a = dist.DistributedSampler(range(50), 2, 0, seed=5)
    b = dist.DistributedSampler(range(50), 2, 0, seed=5)
    a.set_epoch(3)
    b.set_epoch(3)
    assert list(a) == list(b)
    b.set_epoch(4)
    assert list(a) != list(b)
    with pytest.raises(ValueError, match=r"rank must be in \[0, 1\], got 2"):
        dist.DistributedSampler(range(5), 2, 2)
    with pytest.raises(TypeError, match="num_replicas must be an int"):
        dist.DistributedSampler(range(5), 2.0, 0)


def test_relaunch_strips_nproc(monkeypatch):
    seen = {}
    monkeypatch.setattr(launch, "launch", lambda n, argv: seen.update(n=n, argv=argv) or 0)
    launch.relaunch(3, ["train", "--nproc", "3", "--epochs", "1", "--nproc=3"], ["--execution-environment", "parallel"])
    assert seen["n"] == 3
    assert seen["argv"][1:] == ["-m", "pyengine", "train", "--epochs", "1", "--execution-environment", "parallel"]


def test_open_mpi_as_root_and_oversubscribed(monkeypatch):
    monkeypatch.setattr(launch, "find_mpiexec", lambda: ("/x/mpiexec", "openmpi"))
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    cmd, env = launch.mpiexec_command((os.cpu_count() or 1) + 1, ["python", "s.py"], env={})
    assert "--allow-run-as-root" in cmd and "--oversubscribe" in cmd
    assert env["OMPI_ALLOW_RUN_AS_ROOT"] == "1" and env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] == "1"
    assert cmd[-2:] == ["python", "s.py"] and env["OMP_NUM_THREADS"] == "1"
    monkeypatch.setattr(launch, "find_mpiexec", lambda: ("/x/mpiexec", "mpich"))
    cmd, env = launch.mpiexec_command(2, ["python", "s.py"], env={"OMP_NUM_THREADS": "4"})
    assert cmd[:3] == ["/x/mpiexec", "-launcher", "fork"] and "--allow-run-as-root" not in cmd
    assert env["OMP_NUM_THREADS"] == "4"                    # the user's choice is kept


def _state(d, rank, pid, state, message=""):
    with open(os.path.join(d, f"rank-{rank}.json"), "w") as f:
        json.dump({"rank": rank, "pid": pid, "host": "h", "state": state, "message": message}, f)


def test_report_names_the_rank_that_failed_first(tmp_path):
    d = str(tmp_path)
    _state(d, 0, 100, "failed", "PeerFailedError: rank 0: rank 1 (pid 101 on h) failed: ValueError: x")
    _state(d, 1, 101, "failed", "ValueError: x")
    assert launch._report(d, 2, 1, "") == ["rank 1 (pid 101 on h) raised ValueError: x"]
    _state(d, 1, 101, "running")
    hydra = "=   PID 101 RUNNING AT h\n=   EXIT CODE: 9\n"
    assert launch._report(d, 2, 9, hydra) == ["rank 1 (pid 101 on h) was killed by signal 9 (SIGKILL)"]
    ompi = "prterun noticed that process rank 1 with PID 101 on node h exited on\nsignal 9 (Killed).\n"
    assert launch._report(d, 2, 137, ompi) == ["rank 1 (pid 101 on h) was killed by signal 9 (SIGKILL)"]
    os.remove(os.path.join(d, "rank-1.json"))
    _state(d, 0, 100, "running")
    assert launch._report(d, 2, 1, "") == ["rank(s) 1 never started (see the output above)"]
