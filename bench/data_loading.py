"""`python -m bench data`: images/s of a data-loading pipeline, pyengine's DataLoader against PyTorch's.

The pipeline, per image: random crop after zero padding (28×28 grey: pad 4 → crop 28; 224×224 RGB:
pad 16 → crop 224), random horizontal flip, uint8 → float32 in [0, 1] (C, H, W), per-channel
normalise; then default collation into a batch (64 of 28×28, 32 of 224×224). Ours is
``pyengine.data.transforms`` in a Dataset (its Compose runs these four steps on a uint8 image as
one C++ pass, csrc/include/pyengine/image.h, bit-identical to the NumPy steps); PyTorch's is the same steps in torch ops
(torchvision is not installed here: its v2 transforms do these same tensor ops) in a
torch.utils.data.Dataset over the same uint8 images. Both loaders are run at 0 and 2 workers
(persistent, so worker start-up is not in the figure: it is timed separately), interleaved in
rounds (ours, torch, ours, ...); each round is one epoch, images/s = images / seconds; the median
over rounds and the interquartile range are reported, with the ratio ours / torch (> 1: ours is
faster). Only the loading is timed: the consumer just touches each batch.

    python -m bench data             # full run (a few minutes on 2 cores)
    python -m bench data --quick     # smoke run
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import statistics
import sys
import time

import numpy as np

from . import machine

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")

SHAPES = {   # name: (images, H, W, C, pad, batch)
    "28x28": (4096, 28, 28, 1, 4, 64),
    "224x224": (192, 224, 224, 3, 16, 32),
}
MEAN = {1: [0.1307], 3: [0.485, 0.456, 0.406]}
STD = {1: [0.3081], 3: [0.229, 0.224, 0.225]}


class OursImages:
    """uint8 (N, H, W) or (N, H, W, C) images through pyengine's transforms; label = index % 10."""

    def __init__(self, images, pad):
        from pyengine.data import transforms as T
        c = 1 if images.ndim == 3 else images.shape[3]
        self.images = images
        self.t = T.Compose([T.RandomCrop(images.shape[1:3], padding=pad), T.RandomHorizontalFlip(), T.ToTensor(),
                            T.Normalize(MEAN[c], STD[c])])

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.t(self.images[i]), i % 10


def torch_dataset(torch, images, pad):
    """The same pipeline in torch ops (what torchvision's v2 RandomCrop/RandomHorizontalFlip/
    ToDtype/Normalize do on a tensor image)."""
    c = 1 if images.ndim == 3 else images.shape[3]
    mean = torch.tensor(MEAN[c]).view(-1, 1, 1)
    std = torch.tensor(STD[c]).view(-1, 1, 1)
    h, w = images.shape[1:3]

    class TorchImages(torch.utils.data.Dataset):
        def __init__(self):
            self.images = torch.from_numpy(images)

        def __len__(self):
            return len(self.images)

        def __getitem__(self, i):
            img = self.images[i]
            img = img.unsqueeze(0) if img.ndim == 2 else img.permute(2, 0, 1)
            img = torch.nn.functional.pad(img, (pad, pad, pad, pad))
            top = int(torch.randint(0, 2 * pad + 1, (1,)))
            left = int(torch.randint(0, 2 * pad + 1, (1,)))
            img = img[:, top:top + h, left:left + w]
            if torch.rand(1) < 0.5:
                img = img.flip(-1)
            img = img.to(torch.float32) / 255.0
            return (img - mean) / std, i % 10

    return TorchImages()


def _epoch(loader) -> float:
    t0 = time.perf_counter()
    n = 0
    for x, _ in loader:
        n += len(x)
    return n / (time.perf_counter() - t0)


def _stats(xs):
    xs = sorted(xs)
    q = statistics.quantiles(xs, n=4) if len(xs) >= 2 else [xs[0]] * 3
    return {"median": statistics.median(xs), "q1": q[0], "q3": q[2], "n": len(xs)}


def _parse(argv):
    p = argparse.ArgumentParser(prog="python -m bench data", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a smoke run: small datasets, 2 rounds")
    p.add_argument("--rounds", type=int, default=None, help="interleaved epochs per loader (default 7)")
    p.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--out", default=None)
    p.add_argument("--name", default=None)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    import pyengine as pe
    from pyengine.data import DataLoader
    torch = None
    if not args.no_torch:
        try:
            import torch
        except ImportError:
            print("bench data: PyTorch is not installed; its column stays empty", file=sys.stderr)
    rounds = args.rounds or (2 if args.quick else 7)
    rng = np.random.default_rng(0)
    print(f"bench data: {machine.cpu_model()}, load {machine.loadavg()}")
    rows = []
    for shape, (n, h, w, c, pad, batch) in SHAPES.items():
        if args.quick:
            n = max(2 * batch, n // 16)
        images = rng.integers(0, 256, (n, h, w) if c == 1 else (n, h, w, c), dtype=np.uint8)
        for workers in args.workers:
            extra = dict(num_workers=workers, persistent_workers=workers > 0)
            pe.manual_seed(0)
            loaders = {"ours": DataLoader(OursImages(images, pad), batch_size=batch, shuffle=True, seed=0, **extra)}
            if torch is not None:
                torch.manual_seed(0)
                loaders["torch"] = torch.utils.data.DataLoader(torch_dataset(torch, images, pad), batch_size=batch,
                                                               shuffle=True, **extra)
            startup = {}
            for name, loader in loaders.items():   # warm-up epoch: starts the persistent workers
                t0 = time.perf_counter()
                next(iter(loader))
                startup[name] = time.perf_counter() - t0
                _epoch(loader)
            rates = {name: [] for name in loaders}
            for _ in range(rounds):
                for name, loader in loaders.items():
                    rates[name].append(_epoch(loader))
            row = {"shape": shape, "images": n, "batch": batch, "workers": workers,
                   "ours": _stats(rates["ours"]), "first_batch_s": startup}
            if "torch" in rates:
                row["torch"] = _stats(rates["torch"])
                row["ratio"] = row["ours"]["median"] / row["torch"]["median"]
            rows.append(row)
            t = row.get("torch", {}).get("median")
            print(f"  {shape:>8} workers={workers}: ours {row['ours']['median']:9.0f} img/s"
                  + (f"   torch {t:9.0f} img/s   ours/torch {row['ratio']:.2f}" if t else ""), flush=True)
            del loaders
    out = args.out or RESULTS_DIR
    os.makedirs(out, exist_ok=True)
    stem = args.name or f"data-loading-{machine.machine_slug()}-{_dt.date.today().isoformat()}"
    record = {"benchmark": "data loading", "machine": machine.cpu_model(), "load": machine.loadavg(),
              "versions": machine.versions(), "rounds": rounds, "quick": args.quick, "rows": rows}
    with open(os.path.join(out, stem + ".json"), "w") as f:
        json.dump(record, f, indent=1)
    lines = [f"# Data loading, images/s (median of {rounds} epochs; IQR)", "",
             f"{machine.cpu_model()}; load at start {record['load']}. Pipeline: RandomCrop(pad) + horizontal flip "
             "+ ToTensor + Normalize, default collate; persistent workers, start-up excluded.", "",
             "| images | batch | workers | pyengine img/s | PyTorch img/s | pyengine / PyTorch |", "|---|---|---|---|---|---|"]
    for r in rows:
        o = r["ours"]
        t = r.get("torch")
        lines.append(f"| {r['shape']} | {r['batch']} | {r['workers']} | {o['median']:.0f} ({o['q1']:.0f}–{o['q3']:.0f}) | "
                     + (f"{t['median']:.0f} ({t['q1']:.0f}–{t['q3']:.0f}) | {r['ratio']:.2f} |" if t else "— | — |"))
    with open(os.path.join(out, stem + ".md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"bench data: wrote {os.path.join(out, stem)}.json/.md")
    return 0
