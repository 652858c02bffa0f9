"""kill -9 at any instant, resume, same bits.

Two programs are trained once without interruption and once killed with SIGKILL at 20 instants
and resumed each time: ``pyengine train --checkpoint-dir D --resume`` (the command line), and a
``fit`` script with dropout, an LR schedule, validation, and a DataLoader with 2 worker processes
doing random augmentation. The instants (tests/reliability/killhook) are a mix of random times
after training starts (a timer thread SIGKILLs the process whatever it is doing: a step, a
validation, a checkpoint write, a DataLoader hand-over) and, to be sure every kind is hit, kills
in the middle of the N-th checkpoint write (half
the temp file written; written and fsynced but not renamed; renamed, before the folder's fsync)
and during the N-th validation. After every kill each checkpoint file in D must load whole; at the
end the final weights must be bit-identical to the uninterrupted run's, and the History (every
iteration's loss, accuracy, learning rate; every validation) equal to it — a repeated or skipped
batch would change the loss sequence and the iteration count. When a run finishes before its 20
kills are spent, a fresh interrupted run begins and is checked the same way.
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

KILLS = 20
HOOK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "killhook")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HISTORY_KEYS = ("iteration", "epoch", "loss", "accuracy", "lr", "val_iteration", "val_loss", "val_accuracy",
                "stopped_early", "best_iteration")


def _env(kill=None, **extra):
    env = child_env(dict(extra, OMP_NUM_THREADS="1", PYTHONHASHSEED="0"))   # the pyengine this test imports
    env["PYTHONPATH"] = HOOK + os.pathsep + env["PYTHONPATH"]
    env.pop("PYENGINE_TEST_KILL", None)
    if kill:
        env["PYENGINE_TEST_KILL"] = kill
    return env


def _checkpoints_whole(folder):
    """Every checkpoint-*.safetensors loads: header, JSON and every tensor."""
    names = [n for n in os.listdir(folder) if n.startswith("checkpoint-")]
    for n in names:
        path = os.path.join(folder, n)
        load_file(path)
        json.loads(read_metadata(path)["pyengine.checkpoint"])
    return len(names)


def _final_history(folder):
    last = sorted(n for n in os.listdir(folder) if n.startswith("checkpoint-epoch"))[-1]
    info = json.loads(read_metadata(os.path.join(folder, last))["pyengine.checkpoint"])
    return {k: info["history"][k] for k in HISTORY_KEYS}


def _kill_plan(rng, fit_seconds):
    plan = [(f"timer:{rng.uniform(0.03, 0.7) * fit_seconds:.3f}", None) for _ in range(8)]
    plan += [(f"checkpoint:{rng.randint(1, 3)}:{phase}", None) for phase in ("partial", "synced", "renamed")] * 2
    plan += [(f"validation:{rng.randint(1, 2)}", None)] * 6
    rng.shuffle(plan)
    return [p for p, _ in plan]


def _reference(cmd, ckpt, out_file, tmp_path):
    """The uninterrupted run: (final weights, history, seconds fit() took)."""
    measure = tmp_path / "fit-seconds"
    subprocess.run(cmd, env=_env("measure:0", PYENGINE_TEST_MEASURE_FILE=str(measure)), check=True,
                   capture_output=True, cwd=ROOT, timeout=300)
    return load_file(out_file), _final_history(ckpt), float(measure.read_text())


def _run_killed(cmd, ckpt, out_file, reset, rng, fit_seconds):
    """Kills the program KILLS times, resuming after each; returns (kills per mode, finished runs,
    final weight files of every finished run)."""
    plan = _kill_plan(rng, fit_seconds)
    finished, kinds = [], {}
    misses, misses_mode = 0, None
    reset()
    while plan:
        mode = plan[0]
        proc = subprocess.Popen(cmd, env=_env(mode), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
        try:
            _, err = proc.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        print(f"kill-resume: {mode}: exit {proc.returncode}, {len(os.listdir(ckpt)) if ckpt.exists() else 0} "
              f"files in {ckpt.name}, {len(plan)} kills to go", file=sys.stderr, flush=True)
        if proc.returncode == -signal.SIGKILL:
            plan.pop(0)
            kinds[mode.split(":")[0]] = kinds.get(mode.split(":")[0], 0) + 1
            _checkpoints_whole(ckpt)
            continue
        assert proc.returncode == 0, f"the resumed run failed ({proc.returncode}): {err.decode()[-2000:]}"
        # finished before the planned kill: check it, then start a fresh interrupted run
        finished.append((load_file(out_file), _final_history(ckpt)))
        misses = misses + 1 if misses_mode == mode else 1
        misses_mode = mode
        assert misses <= 3, f"the kill {mode} never happened in 3 whole runs (is the hook still in place?)"
        reset()
    while True:   # the last interrupted run, to its end
        proc = subprocess.run(cmd, env=_env(), capture_output=True, cwd=ROOT, timeout=300)
        assert proc.returncode == 0, proc.stderr.decode()[-2000:]
        finished.append((load_file(out_file), _final_history(ckpt)))
        return kinds, finished


def _assert_same(ref_weights, ref_history, finished):
    for weights, history in finished:
        assert list(weights) == list(ref_weights)
        for k in ref_weights:
            assert weights[k].dtype == ref_weights[k].dtype
            assert np.array_equal(weights[k].view(np.uint8), ref_weights[k].view(np.uint8)), \
                f"{k} differs from the uninterrupted run's"
        assert history["iteration"] == list(range(1, len(history["iteration"]) + 1)), "repeated or skipped batches"
        for k in HISTORY_KEYS:
            assert history[k] == ref_history[k], f"history.{k} differs from the uninterrupted run's"


def _clear(*folders):
    import shutil
    for f in folders:
        shutil.rmtree(f, ignore_errors=True)


@pytest.mark.slow
def test_cli_killed_20_times_resumes_bit_identically(tmp_path):
    ckpt, out = tmp_path / "ckpt", tmp_path / "out"
    cmd = [sys.executable, "-m", "pyengine", "train", "--model", "mlp", "--epochs", "4", "--batch-size", "32",
           "--lr-schedule", "piecewise", "--lr-drop-period", "1", "--validation-frequency", "25", "--threads", "1",
           "--checkpoint-dir", str(ckpt), "--checkpoint-frequency", "10", "--checkpoint-frequency-unit", "iteration",
           "--output", str(out), "--no-plot", "--quiet", "--resume"]
    *ref, seconds = _reference(cmd, ckpt, out / "model.safetensors", tmp_path)
    rng = random.Random(int(os.environ.get("PYENGINE_KILL_SEED", "18")))
    kinds, finished = _run_killed(cmd, ckpt, out / "model.safetensors", lambda: _clear(ckpt, out), rng, seconds)
    assert sum(kinds.values()) == KILLS and set(kinds) == {"timer", "checkpoint", "validation"}, kinds
    _assert_same(*ref, finished)


FIT_SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    import pyengine as pe
    from pyengine import nn, optim
    from pyengine.data import DataLoader, Dataset
    from pyengine.data import transforms as T
    from pyengine.optim import lr_scheduler
    from pyengine.train import fit

    ckpt, out = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (300, 10, 10), dtype=np.uint8)
    labels = (images[:, 3:7, 3:7].mean(axis=(1, 2)) > 127).astype(np.int64) + 2 * (images[:, 0, 0] > 127)

    class Augmented(Dataset):
        def __init__(self, idx, augment):
            self.idx = idx
            steps = [T.RandomCrop(8, padding=1), T.RandomHorizontalFlip()] if augment else [T.Resize(8)]
            self.t = T.Compose(steps + [T.ToTensor(), T.Normalize([0.5], [0.3])])
        def __len__(self):
            return len(self.idx)
        def __getitem__(self, i):
            j = self.idx[i]
            return self.t(images[j]), int(labels[j])

    pe.manual_seed(7)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 48), nn.ReLU(), nn.Dropout(0.3), nn.Linear(48, 4))
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    sched = lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
    train = DataLoader(Augmented(np.arange(240), True), batch_size=16, shuffle=True, num_workers=2)
    history = fit(model, train, nn.CrossEntropyLoss(), opt, epochs=3, scheduler=sched,
                  validation_data=Augmented(np.arange(240, 300), False), validation_frequency=9,
                  checkpoint_dir=ckpt, checkpoint_frequency=4, checkpoint_frequency_unit="iteration",
                  resume_from=ckpt, progress=False)
    pe.save(model, out)
""")


@pytest.mark.slow
def test_fit_with_dropout_schedule_and_workers_killed_20_times_resumes_bit_identically(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(FIT_SCRIPT)
    ckpt, out = tmp_path / "ckpt", tmp_path / "model.safetensors"
    cmd = [sys.executable, str(script), str(ckpt), str(out)]
    *ref, seconds = _reference(cmd, ckpt, out, tmp_path)

    def reset():
        _clear(ckpt)
        if out.exists():
            out.unlink()
    rng = random.Random(int(os.environ.get("PYENGINE_KILL_SEED", "18")) + 1)
    kinds, finished = _run_killed(cmd, ckpt, out, reset, rng, seconds)
    assert sum(kinds.values()) == KILLS and set(kinds) == {"timer", "checkpoint", "validation"}, kinds
    _assert_same(*ref, finished)
    assert not [n for n in os.listdir(ckpt) if n.endswith(".tmp")], "temp files of killed writes are removed"
