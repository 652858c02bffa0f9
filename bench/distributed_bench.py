"""Benchmarks of pyengine.distributed (run at 2 ranks through the launcher):

    python -m pyengine.distributed.launch --nproc 2 -- python bench/distributed_bench.py allreduce
    python -m pyengine.distributed.launch --nproc 2 -- python bench/distributed_bench.py step
    python bench/distributed_bench.py model          # the α-β cost model from the two JSON files
    python bench/distributed_bench.py report         # both results as markdown tables

allreduce: float32 buffers of 1 KiB … 256 MiB, summed in place; ours (pyengine.distributed.all_reduce:
  Iallreduce + the watchdog's polling wait) against raw mpi4py ``comm.Allreduce(IN_PLACE, buf)`` on the
  same buffer, interleaved, barrier before each call, median of N calls timed on rank 0.
step: one SGD-momentum training step (forward, backward, gradient averaging, step) of the digit CNN
  (batch 32 per rank, 28×28) and of ResNet-18 / ResNet-50 (torchvision's shapes, 11.7 M / 25.6 M
  parameters, batch 2 per rank at 224×224), three ways: compute only (no_sync: no communication),
  DDP with delay_allreduce (all buckets after backward: no overlap) and DDP as it is (buckets
  started from the hooks during backward). Communication share = (step − compute) / step.
model: α (latency) and β (s/byte) fitted to raw MPI times, the ring allreduce cost
  T(p, M) = 2(p−1)·α + 2(p−1)/p·M·β, and the predicted weak-scaling efficiency
  E(p) = Tc / (Tc + T(p, M)) without overlap and Tc / (Tf + max(Tb, T(p, M))) with perfect overlap
  (Tb = backward ≈ ⅔ of the compute), at 2, 8, 64 and 256 ranks.
Results: bench/results/distributed-<what>-<date>.json, printed as markdown tables.
"""
from __future__ import annotations

import datetime
import json
import os
import platform
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")


def _load():
    try:
        return [float(x) for x in os.getloadavg()]
    except OSError:
        return None


def _out(what):
    return os.path.join(RESULTS, f"distributed-{what}-{datetime.date.today().isoformat()}.json")


def bench_allreduce(quick=False):
    from pyengine import distributed as dist
    g = dist.init_process_group()
    comm, MPI = g.comm, g.MPI
    sizes = [1 << k for k in range(10, 29, 2)]            # 1 KiB … 256 MiB
    rows = []
    load0 = _load()
    for nbytes in sizes:
        reps = 200 if nbytes <= 1 << 16 else 50 if nbytes <= 1 << 22 else 10 if nbytes <= 1 << 26 else 5
        if quick:
            reps = max(3, reps // 10)
        buf = np.ones(nbytes // 4, np.float32)
        t = {"ours": [], "mpi4py": []}
        for i in range(reps + 2):
            order = ("ours", "mpi4py") if i % 2 == 0 else ("mpi4py", "ours")
            for name in order:
                comm.Barrier()
                t0 = time.perf_counter()
                if name == "ours":
                    dist.all_reduce(buf)
                else:
                    comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
                dt = time.perf_counter() - t0
                if i >= 2:                                   # two warm-up rounds
                    t[name].append(dt)
            buf[...] = 1
        if g.rank == 0:
            row = {"bytes": nbytes, "reps": reps}
            for name, ts in t.items():
                ts = np.array(ts)
                med = float(np.median(ts))
                row[name] = {"median_s": med, "min_s": float(ts.min()), "q1_s": float(np.percentile(ts, 25)),
                             "q3_s": float(np.percentile(ts, 75)), "algbw_GBps": nbytes / med / 1e9,
                             "busbw_GBps": nbytes / med / 1e9 * 2 * (g.size - 1) / g.size}
            rows.append(row)
            print(f"{_human(nbytes):>8}  ours {row['ours']['median_s'] * 1e6:10.1f} µs  mpi4py "
                  f"{row['mpi4py']['median_s'] * 1e6:10.1f} µs  ratio {row['mpi4py']['median_s'] / row['ours']['median_s']:.3f}"
                  f"  busbw {row['ours']['busbw_GBps']:.2f} / {row['mpi4py']['busbw_GBps']:.2f} GB/s", flush=True)
    if g.rank == 0:
        _write("allreduce", {"ranks": g.size, "mpi": MPI.Get_library_version().splitlines()[0].strip(),
                             "load_before": load0, "load_after": _load(), "rows": rows})


def _human(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024:
            return f"{n:g} {unit}"
        n /= 1024
    return f"{n:g} TiB"


def _write(what, payload):
    os.makedirs(RESULTS, exist_ok=True)
    payload.update(machine=platform.processor() or platform.machine(), cpus=os.cpu_count(),
                   python=platform.python_version(), date=datetime.datetime.now().isoformat(timespec="seconds"),
                   omp_threads=os.environ.get("OMP_NUM_THREADS"))
    path = _out(what)
    with open(path, "w") as f:
        json.dump(payload, f, indent=1)
    print(f"wrote {path}")


# ---- models -----------------------------------------------------------------------------------

def _resnet(kind):
    """torchvision's ResNet-18 / ResNet-50 layer shapes (parameter counts 11,689,512 / 25,557,032),
    built from pyengine.nn for the benchmark (pyengine.models is used when it exists)."""
    try:
        from pyengine import models
        return getattr(models, kind)()
    except (ImportError, AttributeError):
        pass
    from pyengine import nn

    class Basic(nn.Module):
        expansion = 1

        def __init__(self, cin, c, stride):
            super().__init__()
            self.conv1, self.bn1 = nn.Conv2d(cin, c, 3, stride, 1, bias=False), nn.BatchNorm2d(c)
            self.conv2, self.bn2 = nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c)
            self.relu = nn.ReLU()
            self.down = None if stride == 1 and cin == c else nn.Sequential(
                nn.Conv2d(cin, c, 1, stride, bias=False), nn.BatchNorm2d(c))

        def forward(self, x):
            y = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
            return self.relu(y + (x if self.down is None else self.down(x)))

    class Bottle(nn.Module):
        expansion = 4

        def __init__(self, cin, c, stride):
            super().__init__()
            self.conv1, self.bn1 = nn.Conv2d(cin, c, 1, bias=False), nn.BatchNorm2d(c)
            self.conv2, self.bn2 = nn.Conv2d(c, c, 3, stride, 1, bias=False), nn.BatchNorm2d(c)
            self.conv3, self.bn3 = nn.Conv2d(c, 4 * c, 1, bias=False), nn.BatchNorm2d(4 * c)
            self.relu = nn.ReLU()
            self.down = None if stride == 1 and cin == 4 * c else nn.Sequential(
                nn.Conv2d(cin, 4 * c, 1, stride, bias=False), nn.BatchNorm2d(4 * c))

        def forward(self, x):
            y = self.relu(self.bn1(self.conv1(x)))
            y = self.relu(self.bn2(self.conv2(y)))
            y = self.bn3(self.conv3(y))
            return self.relu(y + (x if self.down is None else self.down(x)))

    block, layers = (Basic, [2, 2, 2, 2]) if kind == "resnet18" else (Bottle, [3, 4, 6, 3])
    mods = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for i, (c, n) in enumerate(zip((64, 128, 256, 512), layers)):
        for j in range(n):
            mods.append(block(cin, c, 2 if i > 0 and j == 0 else 1))
            cin = c * block.expansion
    mods += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, 1000)]
    return nn.Sequential(*mods)


def bench_step(quick=False):
    import pyengine as pe
    from pyengine import distributed as dist
    from pyengine import nn, optim
    from pyengine.train import DigitCNN
    g = dist.init_process_group()
    load0 = _load()
    cases = [("digit-cnn", lambda: DigitCNN(), (32, 1, 28, 28), 10, 30),
             ("resnet18", lambda: _resnet("resnet18"), (2, 3, 224, 224), 1000, 6),
             ("resnet50", lambda: _resnet("resnet50"), (2, 3, 224, 224), 1000, 4)]
    results = []
    for name, make, shape, classes, reps in cases:
        if quick:
            reps = 2
        pe.manual_seed(0)
        model = make()
        nparams = sum(p.numel() for p in model.parameters())
        rng = np.random.default_rng(g.rank)
        x = pe.tensor(rng.random(shape, dtype=np.float32))
        y = pe.tensor(rng.integers(0, classes, shape[0]))
        variants = {"overlap": dist.DistributedDataParallel(model),
                    "no_overlap": dist.DistributedDataParallel(model, delay_allreduce=True)}
        opt = optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
        loss_fn = nn.CrossEntropyLoss()
        times = {"compute": [], "no_overlap": [], "overlap": []}

        def step(kind):
            ddp = variants["overlap" if kind == "compute" else kind]
            g.comm.Barrier()
            t0 = time.perf_counter()
            if kind == "compute":
                with ddp.no_sync():
                    loss = loss_fn(ddp(x), y)
                    opt.zero_grad()
                    loss.backward()
            else:
                loss = loss_fn(ddp(x), y)
                opt.zero_grad()
                loss.backward()
            opt.step()
            return time.perf_counter() - t0

        for kind in times:
            step(kind)                                       # warm-up
        for i in range(reps):
            kinds = list(times)
            kinds = kinds[i % 3:] + kinds[:i % 3]
            for kind in kinds:
                times[kind].append(step(kind))
        if g.rank == 0:
            med = {k: float(np.median(v)) for k, v in times.items()}
            row = {"model": name, "params": int(nparams), "grad_bytes": int(nparams) * 4,
                   "batch_per_rank": shape[0], "input": list(shape[1:]), "reps": reps,
                   "buckets": len(variants["overlap"].bucket_sizes),
                   "median_s": med, "min_s": {k: float(np.min(v)) for k, v in times.items()},
                   "spread_s": {k: [float(np.percentile(v, 25)), float(np.percentile(v, 75))] for k, v in times.items()},
                   "comm_share": {k: max(0.0, (med[k] - med["compute"]) / med[k]) for k in ("no_overlap", "overlap")}}
            results.append(row)
            print(f"{name:10} {nparams / 1e6:6.2f} M params  compute {med['compute'] * 1e3:8.1f} ms  no overlap "
                  f"{med['no_overlap'] * 1e3:8.1f} ms ({100 * row['comm_share']['no_overlap']:.0f}% comm)  overlap "
                  f"{med['overlap'] * 1e3:8.1f} ms ({100 * row['comm_share']['overlap']:.0f}% comm)", flush=True)
        del variants, model, opt
    if g.rank == 0:
        _write("step", {"ranks": g.size, "load_before": load0, "load_after": _load(), "rows": results})


# ---- the cost model ---------------------------------------------------------------------------

def _latest(what):
    files = sorted(f for f in os.listdir(RESULTS) if f.startswith(f"distributed-{what}-") and f.endswith(".json"))
    if not files:
        raise SystemExit(f"no bench/results/distributed-{what}-*.json: run the {what} benchmark first")
    with open(os.path.join(RESULTS, files[-1])) as f:
        return json.load(f), files[-1]


def fit_alpha_beta(rows, ranks=2, stat="median_s", impl="mpi4py"):
    """α, β of the ring model from raw MPI times: at p ranks T = 2(p−1)α + 2(p−1)/p·M·β, a line in M
    fitted by least squares weighted by 1/T (every size counts alike, from 1 KiB to 256 MiB)."""
    m = np.array([r["bytes"] for r in rows], np.float64)
    t = np.array([r[impl][stat] for r in rows], np.float64)
    a = np.stack([np.full_like(m, 2 * (ranks - 1)), 2 * (ranks - 1) / ranks * m], axis=1)
    w = 1 / t
    (alpha, beta), *_ = np.linalg.lstsq(a * w[:, None], t * w, rcond=None)
    return float(alpha), float(beta)


def ring_time(p, nbytes, alpha, beta, buckets=1):
    if p == 1:
        return 0.0
    return buckets * 2 * (p - 1) * alpha + 2 * (p - 1) / p * nbytes * beta


def cost_model(stat="min_s", speedup=1.0):
    """stat: which statistic of the measurements feeds the model (min_s: the least disturbed sample,
    the right one on a shared machine; median_s on a quiet one). speedup: compute that many times
    faster than measured (a what-if for faster processors on the same links)."""
    ar, ar_file = _latest("allreduce")
    st, st_file = _latest("step")
    alpha, beta = fit_alpha_beta(ar["rows"], ar["ranks"], stat)
    print(f"from {ar_file} ({stat}): α = {alpha * 1e6:.2f} µs, β = {beta * 1e9:.3f} ns/byte "
          f"({1 / beta / 1e9:.2f} GB/s per link); steps from {st_file}\n")
    print("| model | params | buckets | compute/step (1 rank of 2) | p=2 | 8 | 64 | 256 |")
    print("|---|---|---|---|---|---|---|---|")
    for r in st["rows"]:
        tc = r[stat]["compute"] / speedup
        cells = []
        for p in (2, 8, 64, 256):
            tcomm = ring_time(p, r["grad_bytes"], alpha, beta, r["buckets"])
            e_no = tc / (tc + tcomm)
            tb = 2 * tc / 3
            e_ov = tc / (tc - tb + max(tb, tcomm))
            cells.append(f"{100 * e_no:.0f}% / {100 * e_ov:.0f}%")
        print(f"| {r['model']} | {r['params'] / 1e6:.2f} M | {r['buckets']} | {_t(tc)} | " + " | ".join(cells) + " |")
    print("\ncells: predicted weak-scaling efficiency without overlap / with perfect overlap"
          + (f"; compute {speedup:g}x faster than measured" if speedup != 1 else ""))


def report():
    """The allreduce and step results as markdown tables (for bench/NOTES.md)."""
    ar, ar_file = _latest("allreduce")
    print(f"{ar_file}: {ar['mpi']}, load {ar['load_before'][0]:.1f} → {ar['load_after'][0]:.1f}\n")
    print("| size | ours median (min) | raw mpi4py median (min) | raw / ours | ours busbw | raw busbw |")
    print("|---|---|---|---|---|---|")
    for r in ar["rows"]:
        o, m = r["ours"], r["mpi4py"]
        print(f"| {_human(r['bytes'])} | {_t(o['median_s'])} ({_t(o['min_s'])}) | {_t(m['median_s'])} ({_t(m['min_s'])}) | "
              f"{m['median_s'] / o['median_s']:.2f} | {o['busbw_GBps']:.2f} GB/s | {m['busbw_GBps']:.2f} GB/s |")
    st, st_file = _latest("step")
    print(f"\n{st_file}: load {st['load_before'][0]:.1f} → {st['load_after'][0]:.1f}\n")
    print("| model (batch/rank) | params | buckets | compute only | DDP, no overlap | DDP, overlap | comm share no overlap / overlap |")
    print("|---|---|---|---|---|---|---|")
    for r in st["rows"]:
        md, mn = r["median_s"], r["min_s"]
        cells = [f"{_t(md[k])} ({_t(mn[k])})" for k in ("compute", "no_overlap", "overlap")]
        share = "{:.0f}% / {:.0f}%".format(100 * r["comm_share"]["no_overlap"], 100 * r["comm_share"]["overlap"])
        print(f"| {r['model']} ({r['batch_per_rank']}) | {r['params'] / 1e6:.2f} M | {r['buckets']} | " +
              " | ".join(cells) + f" | {share} |")


def _t(s):
    return f"{s * 1e6:.1f} µs" if s < 1e-3 else f"{s * 1e3:.1f} ms" if s < 1 else f"{s:.2f} s"


def main(argv):
    what = argv[0] if argv else "allreduce"
    quick = "--quick" in argv
    if what == "allreduce":
        bench_allreduce(quick)
    elif what == "step":
        bench_step(quick)
    elif what == "model":
        speed = [float(a.split("=", 1)[1]) for a in argv if a.startswith("--speedup=")]
        cost_model("median_s" if "--median" in argv else "min_s", speed[0] if speed else 1.0)
    elif what == "report":
        report()
    else:
        raise SystemExit(f"unknown benchmark {what!r}: allreduce, step or model")


if __name__ == "__main__":
    main(sys.argv[1:])
