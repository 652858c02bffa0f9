"""`python -m bench overhead`: the per-call cost of the Python layer, side by side with PyTorch eager.

Everything runs on one thread (ours, OpenBLAS and PyTorch), so what is measured is the framework's
own work per call — Tensor creation, Function.apply, graph recording, the backward loop,
Module.__call__ — not the kernels, which are tiny here. Each case is a callable; it is timed in
interleaved rounds (ours, torch, ours, ...), each round a loop of `reps` calls divided by reps, so
that the clock's own cost does not enter a microsecond figure. Reported: the median over rounds in
µs per call, the interquartile spread, and the ratio torch / ours (> 1: ours is faster).

Floors, to read the figures against: an empty pybind11 call (`_C._noop`, the least a kernel call can
cost) and the raw NumPy op on the same arrays (what a Tensor adds its bookkeeping to).

    python -m bench overhead                 # full run (about a minute and a half)
    python -m bench overhead --quick         # smoke run
    python -m bench overhead --name before   # results file stem (default overhead-<machine>-<date>)
"""
from __future__ import annotations

import argparse
import datetime as _dt
import gc
import json
import os
import statistics
import sys
import time

import numpy as np

from . import machine

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def _parse(argv):
    p = argparse.ArgumentParser(prog="python -m bench overhead", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a smoke run: few rounds")
    p.add_argument("--rounds", type=int, default=None, help="interleaved rounds per case (default 15; quick 3)")
    p.add_argument("--seconds", type=float, default=None,
                   help="target seconds per round and implementation (default 0.05; quick 0.01)")
    p.add_argument("--filter", default=None, help="only cases whose name contains this string")
    p.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    p.add_argument("--out", default=None, help="folder for the results (default bench/results)")
    p.add_argument("--name", default=None, help="file name stem (default overhead-<machine>-<date>)")
    return p.parse_args(argv)


# --------------------------------------------------------------------------- the cases
def _mlp_pe(pe):
    from pyengine import nn
    return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))


def _mlp_torch(torch):
    nn = torch.nn
    return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))


def _cnn(nn):
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2, stride=2),
        nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2, stride=2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 10))


def _copy_weights(src_pe, dst_torch, torch):
    """Same weights on both sides (PyTorch names), so both compute the same thing."""
    sd = {k: torch.from_numpy(np.array(np.asarray(v), copy=True))
          for k, v in src_pe.state_dict().items()}
    dst_torch.load_state_dict(sd)


def build_cases(pe, torch, rng):
    """name -> (ours, theirs or None, description)."""
    from pyengine import _C, nn, optim
    cases = {}

    a_np = rng.standard_normal((1,)).astype(np.float32)
    b_np = rng.standard_normal((1,)).astype(np.float32)
    noop = getattr(_C, "_noop", None)
    if noop is not None:
        cases["floor: empty pybind11 call"] = (noop, None, "_C._noop(): a pybind11 call that does nothing")
    cases["floor: numpy a + b, 1 element"] = (lambda: a_np + b_np, None, "np.add on two 1-element arrays")
    a8_np = rng.standard_normal((8, 8)).astype(np.float32)
    b8_np = rng.standard_normal((8, 8)).astype(np.float32)
    cases["floor: numpy a + b, 8x8"] = (lambda: a8_np + b8_np, None, "np.add on two 8x8 arrays")

    for shape, label in (((1,), "1 element"), ((8, 8), "8x8")):
        x = rng.standard_normal(shape).astype(np.float32)
        y = rng.standard_normal(shape).astype(np.float32)
        for grad in (False, True):
            pa, pb = pe.tensor(x, requires_grad=grad), pe.tensor(y)
            ta = tb = None
            if torch is not None:
                ta, tb = torch.tensor(x, requires_grad=grad), torch.tensor(y)
            name = f"a + b, {label}, requires_grad={grad}"
            cases[name] = (lambda pa=pa, pb=pb: pa + pb,
                           (lambda ta=ta, tb=tb: ta + tb) if torch is not None else None,
                           "one binary op on tiny tensors" + (" (records a graph node)" if grad else ""))

    # MLP 64-64-10, batch 1
    mlp = _mlp_pe(pe)
    mlp.eval()
    xm = rng.standard_normal((1, 64)).astype(np.float32)
    ym = rng.integers(0, 10, 1).astype(np.int64)
    X, Y = pe.tensor(xm), pe.tensor(ym)
    tmlp = tX = tY = None
    if torch is not None:
        tmlp = _mlp_torch(torch)
        _copy_weights(mlp, tmlp, torch)
        tmlp.eval()
        tX, tY = torch.from_numpy(xm), torch.from_numpy(ym)

    def mlp_infer():
        with pe.no_grad():
            return mlp(X)

    def tmlp_infer():
        with torch.no_grad():
            return tmlp(tX)
    cases["MLP 64-64-10 inference, batch 1"] = (mlp_infer, tmlp_infer if torch else None,
                                                "eval, no_grad, Linear-ReLU-Linear-ReLU-Linear")

    mlp_t = _mlp_pe(pe)
    loss_fn = nn.CrossEntropyLoss()
    opt = optim.SGD(mlp_t.parameters(), lr=0.01, momentum=0.9)
    tmlp_t = tloss = topt = None
    if torch is not None:
        tmlp_t = _mlp_torch(torch)
        _copy_weights(mlp_t, tmlp_t, torch)
        tloss = torch.nn.CrossEntropyLoss()
        topt = torch.optim.SGD(tmlp_t.parameters(), lr=0.01, momentum=0.9)

    def mlp_step():
        opt.zero_grad()
        loss = loss_fn(mlp_t(X), Y)
        loss.backward()
        opt.step()

    def tmlp_step():
        topt.zero_grad()
        loss = tloss(tmlp_t(tX), tY)
        loss.backward()
        topt.step()
    cases["MLP 64-64-10 train step, batch 1"] = (mlp_step, tmlp_step if torch else None,
                                                 "forward, cross-entropy, backward, SGD momentum")

    # digit CNN, eval, batch 1
    cnn = _cnn(nn)
    cnn.eval()
    xc = rng.random((1, 1, 28, 28), dtype=np.float32)
    XC = pe.tensor(xc)
    tcnn = tXC = None
    if torch is not None:
        tcnn = _cnn(torch.nn)
        _copy_weights(cnn, tcnn, torch)
        tcnn.eval()
        tXC = torch.from_numpy(xc)

    def cnn_infer():
        with pe.no_grad():
            return cnn(XC)

    def tcnn_infer():
        with torch.no_grad():
            return tcnn(tXC)
    cases["digit CNN inference, batch 1"] = (cnn_infer, tcnn_infer if torch else None,
                                             "eval, no_grad, the 13-layer digit CNN of DESIGN.md")

    # LSTMCell(32, 32), 100 steps at batch 1, forward then backward through time
    cell = nn.LSTMCell(32, 32)
    xs = rng.standard_normal((100, 1, 32)).astype(np.float32)
    XS = [pe.tensor(xs[t]) for t in range(100)]
    tcell = tXS = None
    if torch is not None:
        tcell = torch.nn.LSTMCell(32, 32)
        _copy_weights(cell, tcell, torch)
        tXS = [torch.from_numpy(xs[t]) for t in range(100)]

    def cell_loop():
        h = c = None
        total = None
        for x in XS:
            h, c = cell(x) if h is None else cell(x, (h, c))
            total = h.sum() if total is None else total + h.sum()
        total.backward()
        cell.zero_grad()

    def tcell_loop():
        h = c = None
        total = None
        for x in tXS:
            h, c = tcell(x) if h is None else tcell(x, (h, c))
            total = h.sum() if total is None else total + h.sum()
        total.backward()
        tcell.zero_grad()
    cases["LSTMCell(32, 32) x100 steps, fwd+bwd, batch 1"] = (
        cell_loop, tcell_loop if torch else None, "100 cell calls, a sum per step, backward through time")
    return cases


# --------------------------------------------------------------------------- timing
def _per_call(fn, reps):
    perf = time.perf_counter
    t0 = perf()
    for _ in range(reps):
        fn()
    return (perf() - t0) / reps


def _time(fns, rounds, seconds):
    """name -> list of per-call seconds, one per round; rounds interleave the implementations."""
    reps = {}
    for k, f in fns.items():
        f()
        f()
        one = _per_call(f, 3)
        reps[k] = max(1, int(seconds / max(one, 1e-8)))
    out = {k: [] for k in fns}
    names = list(fns)
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for k in order:
            gc.collect()
            gc.disable()
            try:
                out[k].append(_per_call(fns[k], reps[k]))
            finally:
                gc.enable()
    return out


def _stats(xs):
    med = statistics.median(xs)
    if len(xs) >= 4:
        q = statistics.quantiles(xs, n=4)
        spread = (q[2] - q[0]) / med
    else:
        spread = (max(xs) - min(xs)) / med
    return {"median_us": med * 1e6, "min_us": min(xs) * 1e6, "spread": spread, "rounds": len(xs)}


def markdown(doc):
    lines = [f"# Per-call overhead — {doc['cpu']}, 1 thread, {doc['date']}", "",
             f"pyengine {doc['versions'].get('pyengine', '?')}, PyTorch {doc['versions'].get('torch', '-')}, "
             f"NumPy {doc['versions'].get('numpy', '?')}; load average at the end {doc['loadavg_end']}. "
             "Median over interleaved rounds, µs per call; × = PyTorch's time / ours (> 1: pyengine is faster).",
             "", "| case | pyengine µs | ± | PyTorch µs | × PyTorch |", "|---|---|---|---|---|"]
    for row in doc["cases"]:
        o, t = row["ours"], row.get("torch")
        lines.append(f"| {row['name']} | {o['median_us']:.2f} | {o['spread']*100:.0f}% | "
                     + (f"{t['median_us']:.2f} | {row['vs_torch']:.2f} |" if t else "— | — |"))
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import pyengine as pe
    pe.set_num_threads(1)
    torch = None
    if not args.no_torch:
        try:
            import torch
            torch.set_num_threads(1)
        except ImportError:
            print("bench overhead: PyTorch is not installed; its column stays empty", file=sys.stderr)
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(limits=1, user_api="blas")
    except ImportError:
        pass
    rounds = args.rounds or (3 if args.quick else 15)
    seconds = args.seconds or (0.01 if args.quick else 0.05)
    rng = np.random.default_rng(0)
    cases = build_cases(pe, torch, rng)
    if args.filter:
        cases = {k: v for k, v in cases.items() if args.filter in k}
    print(f"bench overhead: {machine.cpu_model()}, 1 thread, load {machine.loadavg()}")
    rows = []
    for name, (ours, theirs, desc) in cases.items():
        fns = {"ours": ours}
        if theirs is not None:
            fns["torch"] = theirs
        times = _time(fns, rounds, seconds)
        row = {"name": name, "description": desc, "ours": _stats(times["ours"])}
        if "torch" in times:
            row["torch"] = _stats(times["torch"])
            row["vs_torch"] = row["torch"]["median_us"] / row["ours"]["median_us"]
        rows.append(row)
        o = row["ours"]
        print(f"  {name:50s} {o['median_us']:10.2f} µs ±{o['spread']*100:4.1f}%"
              + (f"   torch {row['torch']['median_us']:10.2f} µs   x{row['vs_torch']:.2f}" if "torch" in row else ""),
              flush=True)
    doc = {"kind": "overhead", "machine": machine.machine_slug(), "cpu": machine.cpu_model(),
           "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), "threads": 1,
           "rounds": rounds, "seconds_per_round": seconds, "loadavg_end": machine.loadavg(),
           "versions": machine.versions(),
           "ratio_definition": "vs_torch = PyTorch median / pyengine median (> 1: pyengine is faster)",
           "cases": rows}
    out_dir = args.out or RESULTS_DIR
    os.makedirs(out_dir, exist_ok=True)
    stem = args.name or f"overhead-{doc['machine']}-{_dt.date.today().isoformat()}" + ("-quick" if args.quick else "")
    path = os.path.join(out_dir, stem)
    with open(path + ".json", "w") as f:
        json.dump(doc, f, indent=1)
    with open(path + ".md", "w") as f:
        f.write(markdown(doc))
    print(f"bench overhead: wrote {path}.json and .md")
    return 0
