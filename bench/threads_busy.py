"""Threads on a busy machine: the digit-CNN training step with and without one competing busy process.

    python bench/threads_busy.py                       # batch 32 and 128, 1 and 2 threads, ours and torch
    python bench/threads_busy.py --tree /path/to/other/checkout --label openmp   # the same for another build
    python bench/threads_busy.py report bench/results/threads-busy-*.json        # the tables again

Every measurement runs in a fresh child process (so OMP_NUM_THREADS, the thread pools and their
spinning start from scratch) that builds the digit CNN of bench/cases.py, runs warm-up steps and then
times `--steps` training steps one by one (wall clock and the calling thread's CPU time). "busy" starts
one `python -c 'while 1: pass'` before the child and stops it after: on a 2-core machine that is one
core's worth of competition, the situation of a user whose other program is running. The conditions are
interleaved (quiet and busy alternate, `--rounds` times) so that load from elsewhere hits both alike;
the load average is recorded before every child. The target (issue 17): 2 threads busy <= 1.3 x 1 thread
quiet, for batch 32 and 128.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def child(args) -> None:
    """Runs in the child: times the training steps and prints one JSON line."""
    import numpy as np
    sys.path.insert(0, os.environ.get("PYENGINE_TREE", str(ROOT)))   # that tree's pyengine and bench
    from bench import cases

    rng = np.random.default_rng(0)
    x = rng.random((args.batch, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, args.batch).astype(np.int64)
    if args.impl == "torch":
        import torch
        torch.set_num_threads(args.threads)
        model, loss_fn, opt = cases._digit_cnn_torch(torch)
        X, Y = torch.from_numpy(x), torch.from_numpy(y)
    else:
        import pyengine
        pyengine.set_num_threads(args.threads)
        model, loss_fn, opt, tensor = cases._digit_cnn_ours()
        X, Y = tensor(x), tensor(y)

    def step():
        opt.zero_grad()
        loss = loss_fn(model(X), Y)
        loss.backward()
        opt.step()

    for _ in range(args.warmup):
        step()
    wall, cpu = [], []
    for _ in range(args.steps):
        t0, c0 = time.perf_counter(), time.thread_time()
        step()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.thread_time() - c0)
    out = {"wall": wall, "cpu": cpu}
    if args.impl != "torch":
        from pyengine import _C
        if hasattr(_C, "parallel_stats"):
            out["pool"] = _C.parallel_stats()
    print(json.dumps(out))


def run_child(tree: Path, impl: str, threads: int, batch: int, steps: int, warmup: int, busy: bool) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(tree)
    env["PYENGINE_TREE"] = str(tree)
    env["OMP_NUM_THREADS"] = str(threads)
    env.pop("PYTHONSAFEPATH", None)
    hog = None
    if busy:
        hog = subprocess.Popen([sys.executable, "-c", "while 1: pass"])
        time.sleep(0.2)
    load = os.getloadavg()[0]
    try:
        r = subprocess.run([sys.executable, str(Path(__file__).resolve()), "child", "--impl", impl,
                            "--threads", str(threads), "--batch", str(batch), "--steps", str(steps),
                            "--warmup", str(warmup)], env=env, capture_output=True, text=True, timeout=600)
    finally:
        if hog is not None:
            hog.kill()
            hog.wait()
    if r.returncode != 0:
        raise RuntimeError(f"child failed ({impl}, {threads}T, b{batch}, busy={busy}):\n{r.stderr[-2000:]}")
    d = json.loads(r.stdout.strip().splitlines()[-1])
    d["load"] = load
    return d


def summarise(samples: list) -> dict:
    wall = [w for s in samples for w in s["wall"]]
    cpu = [c for s in samples for c in s["cpu"]]
    return {"median_ms": 1e3 * statistics.median(wall), "min_ms": 1e3 * min(wall),
            "q1_ms": 1e3 * statistics.quantiles(wall, n=4)[0], "q3_ms": 1e3 * statistics.quantiles(wall, n=4)[2],
            "cpu_median_ms": 1e3 * statistics.median(cpu),
            "load": [s["load"] for s in samples],
            "pool": [s.get("pool") for s in samples]}


def measure(args) -> None:
    tree = Path(args.tree).resolve() if args.tree else ROOT
    impls = args.impls.split(",")
    batches = [int(b) for b in args.batches.split(",")]
    threads = [int(t) for t in args.threads.split(",")]
    raw: dict = {}
    for rnd in range(args.rounds):
        for batch in batches:
            for impl in impls:
                for t in threads:
                    for busy in (False, True):
                        key = f"{impl}|{batch}|{t}|{'busy' if busy else 'quiet'}"
                        d = run_child(tree, impl, t, batch, args.steps, args.warmup, busy)
                        raw.setdefault(key, []).append(d)
                        print(f"round {rnd} {key}: median {1e3 * statistics.median(d['wall']):.2f} ms, "
                              f"load {d['load']:.2f}", file=sys.stderr, flush=True)
    result = {"label": args.label, "tree": str(tree), "machine": platform.processor() or platform.machine(),
              "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "steps": args.steps,
              "rounds": args.rounds, "env": {k: os.environ[k] for k in ("PYENGINE_SPIN_US",) if k in os.environ},
              "cases": {k: summarise(v) for k, v in raw.items()}}
    out = Path(args.out) if args.out else HERE / "results" / f"threads-busy-{args.label}-{time.strftime('%Y-%m-%d')}.json"
    out.write_text(json.dumps(result, indent=1))
    print(report([out]))


def report(paths) -> str:
    lines = []
    for p in paths:
        r = json.loads(Path(p).read_text())
        c = r["cases"]
        lines.append(f"\n{Path(p).name}: {r['label']} ({r['date']}, {r['rounds']} rounds × {r['steps']} steps"
                     f"{', ' + str(r['env']) if r['env'] else ''})\n")
        lines.append("| impl | batch | 1T quiet | 2T quiet | 1T busy | 2T busy | 2T busy / 1T quiet | load |")
        lines.append("|---|---|---|---|---|---|---|---|")
        keys = sorted({tuple(k.split("|")[:2]) for k in c}, key=lambda kb: (kb[0], int(kb[1])))
        for impl, batch in keys:
            def cell(t, cond):
                v = c.get(f"{impl}|{batch}|{t}|{cond}")
                return v, (f"{v['median_ms']:.2f} ({v['min_ms']:.2f})" if v else "")
            q1, s_q1 = cell(1, "quiet")
            q2, s_q2 = cell(2, "quiet")
            b1, s_b1 = cell(1, "busy")
            b2, s_b2 = cell(2, "busy")
            ratio = f"{b2['median_ms'] / q1['median_ms']:.2f}" if q1 and b2 else ""
            loads = [x for v in c.values() for x in v["load"]]
            lines.append(f"| {impl} | {batch} | {s_q1} | {s_q2} | {s_b1} | {s_b2} | {ratio} | "
                         f"{min(loads):.1f}-{max(loads):.1f} |")
    lines.append("\ncells: median ms per step (minimum); busy = one `python -c 'while 1: pass'` beside it")
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd")
    c = sub.add_parser("child")
    c.add_argument("--impl", default="ours")
    c.add_argument("--threads", type=int, default=1)
    c.add_argument("--batch", type=int, default=32)
    c.add_argument("--steps", type=int, default=40)
    c.add_argument("--warmup", type=int, default=5)
    r = sub.add_parser("report")
    r.add_argument("paths", nargs="+")
    for a in (ap,):
        a.add_argument("--tree", default=None, help="checkout whose pyengine the children import (default: this one)")
        a.add_argument("--label", default="pool")
        a.add_argument("--impls", default="ours,torch")
        a.add_argument("--batches", default="32,128")
        a.add_argument("--threads", default="1,2")
        a.add_argument("--steps", type=int, default=40)
        a.add_argument("--warmup", type=int, default=5)
        a.add_argument("--rounds", type=int, default=2)
        a.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so the busy process started for a measurement is always stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.cmd == "child":
        child(args)
    elif args.cmd == "report":
        print(report(args.paths))
    else:
        measure(args)


if __name__ == "__main__":
    main()
