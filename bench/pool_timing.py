"""Pooling timing: ours vs PyTorch CPU, forward and backward, max and average (issue 5).

    PYTHONPATH=. python bench/pool_timing.py [--reps 60] [--threads 2] [--shape 128 32 28 28]

Times 2×2 stride-2 pooling (the digit CNN's layer) as the median of many calls, each side measured
in the same run with the same thread count, and reports the effective memory traffic (bytes read
plus bytes written, GB/s) against the machine's copy bandwidth measured here the same way
(np.copyto, one thread, and torch's copy_, which uses the thread pool; the larger counts).
The backward passes call the kernels directly (torch.ops.aten.*_backward), not autograd.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

import pyengine
from pyengine.kernels import cpu as K


def median_time(fn, reps: int, warmup: int = 3) -> tuple[float, float]:
    """(median, interquartile range) in seconds over reps calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    q = statistics.quantiles(times, n=4)
    return statistics.median(times), q[2] - q[0]


def copy_bandwidth(reps: int, torch=None) -> dict:
    """GB/s of a 256 MB copy counted as read + write, by np.copyto and (when present) torch."""
    n = 64 * 2**20
    src = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    dst = np.empty_like(src)
    t, _ = median_time(lambda: np.copyto(dst, src), max(5, reps // 6))
    out = {"np.copyto (1 thread)": 2 * src.nbytes / t / 1e9}
    if torch is not None:
        ts, td = torch.from_numpy(src), torch.from_numpy(dst)
        t, _ = median_time(lambda: td.copy_(ts), max(5, reps // 6))
        out[f"torch copy_ ({torch.get_num_threads()} threads)"] = 2 * src.nbytes / t / 1e9
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=60)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--shape", type=int, nargs=4, default=[128, 32, 28, 28])
    args = ap.parse_args()
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        torch = F = None
    print(f"load average before the run: {' '.join(f'{v:.1f}' for v in os.getloadavg())} "
          f"({os.cpu_count()} CPUs; other processes inflate multi-threaded times)")
    for threads in args.threads:
        pyengine.set_num_threads(threads)
        if torch is not None:
            torch.set_num_threads(threads)
        run(args, threads, torch, F)


def run(args, threads, torch, F) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal(args.shape).astype(np.float32)
    y, idx = K.max_pool2d_forward(x, 2, 2)
    g = rng.standard_normal(y.shape).astype(np.float32)
    f = 4  # bytes per float32
    traffic = {  # bytes read + written per call
        "max forward": x.nbytes + y.nbytes + idx.nbytes,
        "max backward": g.nbytes + idx.nbytes + x.nbytes,
        "avg forward": x.nbytes + y.nbytes,
        "avg backward": g.nbytes + x.size * f,
    }
    ours = {
        "max forward": lambda: K.max_pool2d_forward(x, 2, 2),
        "max backward": lambda: K.max_pool2d_backward_input(g, idx, x.shape),
        "avg forward": lambda: K.avg_pool2d_forward(x, 2, 2),
        "avg backward": lambda: K.avg_pool2d_backward_input(g, x.shape, 2, 2),
    }
    theirs = {}
    if torch is not None:
        tx, tg = torch.from_numpy(x), torch.from_numpy(g)
        _, tidx = F.max_pool2d(tx, 2, 2, return_indices=True)
        assert np.array_equal(tidx.numpy(), idx), "indices differ from torch"
        theirs = {
            "max forward": lambda: F.max_pool2d(tx, 2, 2, return_indices=True),
            "max backward": lambda: torch.ops.aten.max_pool2d_with_indices_backward(
                tg, tx, [2, 2], [2, 2], [0, 0], [1, 1], False, tidx),
            "avg forward": lambda: F.avg_pool2d(tx, 2, 2),
            "avg backward": lambda: torch.ops.aten.avg_pool2d_backward(tg, tx, [2, 2], [2, 2], [0, 0], False, True,
                                                                       None),
        }

    bw = copy_bandwidth(args.reps, torch)
    peak = max(bw.values())
    print(f"\npooling 2x2/2 on {tuple(args.shape)} float32, {threads} thread(s), median of {args.reps} calls, "
          f"ISA {pyengine._C.cpu_isa()}" + (f", torch {torch.__version__}" if torch else ", torch not installed"))
    for name, v in bw.items():
        print(f"copy bandwidth, {name}: {v:.1f} GB/s")
    print(f"{'case':<14}{'ours ms':>9}{'(iqr)':>8}{'GB/s':>7}{'% copy bw':>10}{'torch ms':>10}{'(iqr)':>8}{'speed-up':>10}")
    for name, fn in ours.items():
        t, iqr = median_time(fn, args.reps)
        gbs = traffic[name] / t / 1e9
        line = f"{name:<14}{t * 1e3:9.2f}{iqr * 1e3:8.2f}{gbs:7.1f}{100 * gbs / peak:9.0f}%"
        if name in theirs:
            tt, tiqr = median_time(theirs[name], args.reps)
            line += f"{tt * 1e3:10.2f}{tiqr * 1e3:8.2f}{tt / t:9.1f}x"
        print(line)


if __name__ == "__main__":
    main()
