"""kill -9 at any instant of a 2-rank run, resume, same bits — on every rank.

A ``fit(execution_environment='parallel')`` script (dropout, a StepLR schedule, shuffling, random
augmentation, validation, a checkpoint every 3 iterations; each rank seeded differently, so the
dropout masks of the two ranks differ and a resume that gave rank 1 rank 0's random state would
show) runs at 2 ranks through the launcher, once uninterrupted and once killed with SIGKILL and
resumed (``resume_from`` the checkpoint folder) after every kill. The kills hit one rank while its
peer carries on until the launcher ends the job: in the middle of a step's backward (the peer is in
the allreduce), during a checkpoint write of rank 0 (the only writer: half the temp file written;
written and fsynced but not renamed; renamed, before the folder's fsync), during a validation, and
— in the long mode — at random instants. After every kill each checkpoint in the folder must load
whole; at the end both ranks' final weights must be bit-identical to the uninterrupted run's, and
the History (every iteration's loss, accuracy and learning rate, every validation) equal to it.

The ordinary suite makes 3 kills (one of each kind; about 6 two-rank launches, well under a minute
on 2 cores) under a hard time limit; ``scripts/kill_resume_ranks.sh [KILLS]`` makes 20 (8 at random
instants, 4 in a step, 4 during checkpoint writes, 4 during validation) for the closing figure.
"""
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from support import child_env

from pyengine.io import load_file, read_metadata

KILLS = int(os.environ.get("PYENGINE_DIST_KILLS", "3"))
DEADLINE = float(os.environ.get("PYENGINE_DIST_KILL_DEADLINE", str(150 if KILLS <= 3 else 60 * KILLS)))
LAUNCH_TIMEOUT = 90          # one 2-rank launch; the launcher's own --timeout is below it
HOOK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "killhook")
HISTORY_KEYS = ("iteration", "epoch", "loss", "accuracy", "lr", "val_iteration", "val_loss", "val_accuracy")


def _mpi_reason():
    code = "from mpi4py import MPI; import pyengine.distributed.launch as l; print(l.find_mpiexec())"
    try:
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=_env())
    except subprocess.TimeoutExpired:
        return "checking for MPI timed out"
    if p.returncode != 0:
        return "MPI is not installed (pip install \".[distributed]\"; the test extra includes it): " + \
            (p.stderr.strip().splitlines() or ["?"])[-1]
    return None


def _env(kill=None, rank=None, **extra):
    env = child_env(dict(extra, OMP_NUM_THREADS="1", PYTHONHASHSEED="0"))
    env["PYTHONPATH"] = HOOK + os.pathsep + env["PYTHONPATH"]
    for k in ("PYENGINE_TEST_KILL", "PYENGINE_TEST_KILL_RANK"):
        env.pop(k, None)
    if kill:
        env["PYENGINE_TEST_KILL"] = kill
        env["PYENGINE_TEST_KILL_RANK"] = str(rank)
    return env


SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    import pyengine as pe
    from pyengine import nn, optim
    from pyengine import distributed as dist
    from pyengine.data import DataLoader, Dataset
    from pyengine.data import transforms as T
    from pyengine.io import save_file
    from pyengine.optim import lr_scheduler
    from pyengine.train import fit

    ckpt, out = sys.argv[1], sys.argv[2]
    dist.init_process_group(backend="mpi")
    rank = dist.get_rank()
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (176, 8, 8), dtype=np.uint8)
    labels = (images[:, 2:6, 2:6].mean(axis=(1, 2)) > 127).astype(np.int64) + 2 * (images[:, 0, 0] > 127)

    class Augmented(Dataset):
        def __init__(self, idx, augment):
            self.idx = idx
            steps = [T.RandomCrop(8, padding=1), T.RandomHorizontalFlip()] if augment else []
            self.t = T.Compose(steps + [T.ToTensor(), T.Normalize([0.5], [0.3])])
        def __len__(self):
            return len(self.idx)
        def __getitem__(self, i):
            j = self.idx[i]
            return self.t(images[j]), int(labels[j])

    pe.manual_seed(7 + 100 * rank)          # each rank its own stream: dropout differs between them
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 24), nn.ReLU(), nn.Dropout(0.3), nn.Linear(24, 4))
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    sched = lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
    train = DataLoader(Augmented(np.arange(144), True), batch_size=16, shuffle=True, seed=5)
    fit(model, train, nn.CrossEntropyLoss(), opt, epochs=3, scheduler=sched,
        validation_data=Augmented(np.arange(144, 176), False), validation_frequency=5,
        checkpoint_dir=ckpt, checkpoint_frequency=3, checkpoint_frequency_unit="iteration",
        resume_from=ckpt, progress=False, execution_environment="parallel")
    save_file({k: v._data for k, v in model.state_dict().items()}, f"{out}-rank{rank}.safetensors")
""")


def _launch(script, ckpt, out, env, timeout=LAUNCH_TIMEOUT):
    cmd = [sys.executable, "-m", "pyengine.distributed.launch", "--nproc", "2", "--timeout", str(timeout - 15),
           "--", sys.executable, str(script), str(ckpt), str(out)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    return p.returncode, p.stdout + p.stderr


def _checkpoints_whole(folder):
    names = [n for n in os.listdir(folder) if n.startswith("checkpoint-")] if folder.exists() else []
    for n in names:
        path = os.path.join(folder, n)
        load_file(path)
        json.loads(read_metadata(path)["pyengine.checkpoint"])
    return len(names)


def _final(ckpt, out):
    last = sorted(n for n in os.listdir(ckpt) if n.startswith("checkpoint-epoch"))[-1]
    info = json.loads(read_metadata(os.path.join(ckpt, last))["pyengine.checkpoint"])
    history = {k: info["history"][k] for k in HISTORY_KEYS}
    return [load_file(f"{out}-rank{r}.safetensors") for r in (0, 1)], history


def _kill_plan(rng, kills, fit_seconds):
    """(mode, rank) pairs: a step, a checkpoint write and a validation first, then (long mode)
    random instants and more of each kind, shuffled."""
    def one(kind):
        if kind == "timer":
            return f"timer:{rng.uniform(0.1, 0.8) * fit_seconds:.3f}", rng.randint(0, 1)
        if kind == "step":
            return f"step:{rng.randint(2, 12)}", rng.randint(0, 1)
        if kind == "checkpoint":
            return f"checkpoint:{rng.randint(1, 3)}:{rng.choice(['partial', 'synced', 'renamed'])}", 0
        return f"validation:{rng.randint(1, 2)}", rng.randint(0, 1)
    if kills <= 3:      # the short run: rank 1 in a step, rank 0 writing, rank 1 validating
        return [(m, r) for (m, _), r in zip((one(k) for k in ("step", "checkpoint", "validation")), (1, 0, 1))][:kills]
    kinds = ["timer"] * (kills - 3 * (kills // 5)) + ["step", "checkpoint", "validation"] * (kills // 5)
    plan = [one(k) for k in kinds]
    plan[1:] = rng.sample(plan[1:], len(plan) - 1)
    # every checkpoint phase at least once
    phases = iter(["partial", "synced", "renamed"])
    for i, (mode, r) in enumerate(plan):
        if mode.startswith("checkpoint"):
            ph = next(phases, None)
            if ph:
                plan[i] = (mode.rsplit(":", 1)[0] + ":" + ph, 0)
    return plan


def _assert_same(ref, got):
    (ref_w, ref_h), (w, h) = ref, got
    for r in (0, 1):
        assert list(w[r]) == list(ref_w[r])
        for k in ref_w[r]:
            same = np.array_equal(w[r][k].view(np.uint8), ref_w[r][k].view(np.uint8))
            assert same, f"rank {r}: {k} differs from the uninterrupted run's"
    assert h["iteration"] == list(range(1, len(h["iteration"]) + 1)), "repeated or skipped batches"
    for k in HISTORY_KEYS:
        assert h[k] == ref_h[k], f"history.{k} differs from the uninterrupted run's"


@pytest.mark.slow
def test_two_ranks_killed_and_resumed_bit_identically(tmp_path):
    reason = _mpi_reason()
    if reason:
        pytest.skip(reason)
    t0 = time.monotonic()
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    ref_ckpt, ref_out = tmp_path / "ref-ckpt", tmp_path / "ref"
    measure = tmp_path / "fit-seconds"
    rc, text = _launch(script, ref_ckpt, ref_out, _env("measure:0", 0, PYENGINE_TEST_MEASURE_FILE=str(measure)))
    assert rc == 0, text
    ref = _final(ref_ckpt, ref_out)
    assert len(ref[1]["iteration"]) == 27 and len(ref[1]["val_iteration"]) == 6, ref[1]
    w0, w1 = ref[0]
    assert all(np.array_equal(w0[k], w1[k]) for k in w0), "the uninterrupted ranks disagree"
    fit_seconds = float(measure.read_text())

    rng = random.Random(int(os.environ.get("PYENGINE_KILL_SEED", "18")))
    plan = _kill_plan(rng, KILLS, fit_seconds)
    ckpt, out = tmp_path / "ckpt", tmp_path / "out"
    kinds, runs, identical, misses, launches = {}, 0, 0, 0, 1

    def finish_run():
        nonlocal runs, identical
        got = _final(ckpt, out)
        runs += 1
        _assert_same(ref, got)
        identical += 1

    import shutil
    while plan:
        assert time.monotonic() - t0 < DEADLINE, \
            f"over {DEADLINE:.0f} s with {len(plan)} of {KILLS} kills to go ({launches} launches)"
        mode, rank = plan[0]
        rc, text = _launch(script, ckpt, out, _env(mode, rank))
        launches += 1
        print(f"kill-resume 2 ranks: {mode} on rank {rank}: exit {rc}, {_checkpoints_whole(ckpt)} checkpoints, "
              f"{len(plan) - 1} kills to go", file=sys.stderr, flush=True)
        if rc != 0:
            assert f"rank {rank}" in text and "killed by signal 9" in text, text[-3000:]
            plan.pop(0)
            kinds[mode.split(":")[0]] = kinds.get(mode.split(":")[0], 0) + 1
            _checkpoints_whole(ckpt)            # every checkpoint there loads whole
            continue
        # the run ended before the planned instant: check it, start a fresh interrupted run
        finish_run()
        misses += 1
        assert misses <= KILLS, f"{misses} runs ended before their kill ({mode}): is the hook in place?"
        shutil.rmtree(ckpt)
    rc, text = _launch(script, ckpt, out, _env())      # the last interrupted run, to its end
    assert rc == 0, text
    finish_run()
    print(f"kill-resume 2 ranks: {sum(kinds.values())} kills {kinds}, {runs} runs, {identical} bit-identical, "
          f"{launches + 1} launches in {time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)
    assert sum(kinds.values()) == KILLS
    if KILLS >= 3:
        assert {"step", "checkpoint", "validation"} <= set(kinds), kinds
    assert not [n for n in os.listdir(ckpt) if n.endswith(".tmp")], "temp files of killed writes are removed"
