"""Soak run: training for a fixed wall time with validation, checkpoints and a DataLoader with worker
processes, recording resident memory (the main process and its workers) and open file descriptors.

    python scripts/soak.py [--minutes 30] [--workers 2] [--out bench/results/soak-<date>.json]

The digit CNN trains on the embedded MNIST sample (random crop + flip, 2 persistent workers),
validates every 100 iterations, writes a checkpoint every 200 iterations (the last 3 kept), and
samples every 15 s: RSS of the main process and of each worker, open fds of the main process,
live Tensors, iterations done. Flat means: after the first 5 minutes (warm-up: caches, arenas,
the first checkpoints) the RSS and fd series stay within a small band; the summary gives the
growth from the 5-minute mark to the end and the least-squares slope per hour.
"""
import argparse
import datetime as _dt
import gc
import json
import os
import sys
import time

import numpy as np


def _rss(pid) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _slope_per_hour(ts, ys):
    if len(ts) < 3:
        return 0.0
    t = np.asarray(ts) / 3600.0
    return float(np.polyfit(t, np.asarray(ys, dtype=np.float64), 1)[0])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--warmup-minutes", type=float, default=5.0)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)

    import multiprocessing

    import pyengine as pe
    from pyengine import nn, optim
    from pyengine.data import DataLoader, Dataset, load_digits, split_each_label
    from pyengine.data import transforms as T
    from pyengine.optim import lr_scheduler
    from pyengine.train import DigitCNN, evaluate
    from pyengine.train.checkpoint import rng_state
    from pyengine.io import save_checkpoint

    pe.set_num_threads(1)
    images, labels, _ = load_digits()

    class Digits(Dataset):
        def __init__(self, idx, augment):
            self.idx = np.asarray(idx)
            steps = [T.RandomCrop(28, padding=2), T.RandomHorizontalFlip(0.0)] if augment else []
            self.t = T.Compose(steps + [T.ToTensor()])

        def __len__(self):
            return len(self.idx)

        def __getitem__(self, i):
            j = int(self.idx[i])
            return self.t(images[j]), int(labels[j])

    class Labels:
        targets = labels

        def __len__(self):
            return len(labels)

    tr, va = split_each_label(Labels(), 0.8, seed=0)
    pe.manual_seed(0)
    model = DigitCNN()
    opt = optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=50)
    train = DataLoader(Digits(tr.indices, True), batch_size=64, shuffle=True, seed=0, num_workers=args.workers,
                       persistent_workers=args.workers > 0)
    val = DataLoader(Digits(va.indices, False), batch_size=256)
    loss_fn = nn.CrossEntropyLoss()
    ckpt_dir = os.path.join("build", "soak", "checkpoints")
    os.makedirs(ckpt_dir, exist_ok=True)

    t0 = time.monotonic()
    end = t0 + 60 * args.minutes
    samples, it, epoch, next_sample, kept = [], 0, 0, t0, []
    val_acc = None

    def sample():
        gc.collect()
        workers = [p.pid for p in multiprocessing.active_children()]
        samples.append({"t": round(time.monotonic() - t0, 1), "iteration": it, "epoch": epoch,
                        "rss_main": _rss(os.getpid()), "rss_workers": [_rss(p) for p in workers],
                        "fds": _fds(), "tensors": sum(1 for o in gc.get_objects() if issubclass(type(o), pe.Tensor)),
                        "val_accuracy": val_acc})
    while time.monotonic() < end:
        train.set_epoch(epoch)
        model.train()
        for x, y in train:
            loss = loss_fn(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            it += 1
            if it % 100 == 0:
                val_acc = evaluate(model, val, loss_fn).accuracy
                model.train()
            if it % 200 == 0:
                path = os.path.join(ckpt_dir, f"checkpoint-iter{it:07d}.safetensors")
                save_checkpoint(path, model, opt, sched, epoch=epoch,
                                extra={"train_state": {"rng": rng_state(), "loader": train.state_dict()}})
                kept.append(path)
                while len(kept) > 3:
                    os.unlink(kept.pop(0))
            if time.monotonic() >= next_sample:
                sample()
                next_sample += 15
            if time.monotonic() >= end:
                break
        sched.step()
        epoch += 1
    sample()
    warm = [s for s in samples if s["t"] >= 60 * args.warmup_minutes] or samples
    first, last = warm[0], warm[-1]
    workers_total = [sum(s["rss_workers"]) for s in warm]
    summary = {
        "minutes": args.minutes, "iterations": it, "epochs": epoch, "final_val_accuracy": val_acc,
        "load_at_end": list(os.getloadavg()),
        "rss_main_mib": {"at_warmup": first["rss_main"] / 2**20, "end": last["rss_main"] / 2**20,
                         "min": min(s["rss_main"] for s in warm) / 2**20, "max": max(s["rss_main"] for s in warm) / 2**20,
                         "slope_mib_per_hour": _slope_per_hour([s["t"] for s in warm],
                                                               [s["rss_main"] / 2**20 for s in warm])},
        "rss_workers_mib": {"at_warmup": workers_total[0] / 2**20, "end": workers_total[-1] / 2**20,
                            "max": max(workers_total) / 2**20,
                            "slope_mib_per_hour": _slope_per_hour([s["t"] for s in warm],
                                                                  [w / 2**20 for w in workers_total])},
        "fds": {"at_warmup": first["fds"], "end": last["fds"], "min": min(s["fds"] for s in warm),
                "max": max(s["fds"] for s in warm)},
        "tensors": {"at_warmup": first["tensors"], "end": last["tensors"]},
    }
    out = args.out or os.path.join("bench", "results", f"soak-{_dt.date.today().isoformat()}.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump({"summary": summary, "samples": samples}, f, indent=1)
    print(json.dumps(summary, indent=1))
    print(f"soak: wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
