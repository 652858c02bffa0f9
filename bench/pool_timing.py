"""Pooling timing: ours vs PyTorch CPU, forward and backward, max and average (issue 5).

    PYTHONPATH=. python bench/pool_timing.py [--reps 60] [--threads 2] [--shape 128 32 28 28]

Times 2×2 stride-2 pooling (the digit CNN's layer) as the median of many calls, each side measured
in the same run with the same thread count, and reports the effective memory traffic (bytes read
plus bytes written, GB/s) against the machine's copy bandwidth measured here the same way
(np.copyto, one thread, and torch's copy_, which uses the thread pool; the larger counts). By default
four input sets are used in turn so that each call streams from DRAM rather than the L3 cache.
The backward passes call the kernels directly (torch.ops.aten.*_backward), not autograd.
"""
from __future__ import annotations

import argparse
import itertools
import os
import statistics
import time

import numpy as np

import pyengine
from pyengine.kernels import cpu as K


def median_time(fn, reps: int, warmup: int = 3) -> tuple[float, float]:
    """(median, minimum) in seconds over reps calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times)


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
    ap.add_argument("--sets", type=int, default=4, help="distinct inputs used in turn (1: warm caches)")
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
    # `sets` distinct inputs used in turn: with 4 sets (about 90 MB) every call streams from DRAM
    # instead of finding the previous call's data in the 32 MB L3 ("warm" is sets=1).
    xs = [rng.standard_normal(args.shape).astype(np.float32) for _ in range(args.sets)]
    fwd = [K.max_pool2d_forward(x, 2, 2) for x in xs]
    gs = [rng.standard_normal(fwd[0][0].shape).astype(np.float32) for _ in xs]
    x, (y, idx), g = xs[0], fwd[0], gs[0]
    counter = itertools.count()

    def pick():
        k = next(counter) % args.sets
        return xs[k], fwd[k][1], gs[k]

    traffic = {  # bytes read + written per call
        "max forward": x.nbytes + y.nbytes + idx.nbytes,
        "max backward": g.nbytes + idx.nbytes + x.nbytes,
        "avg forward": x.nbytes + y.nbytes,
        "avg backward": g.nbytes + x.nbytes,
    }

    def ours_max_b():
        x, i, g = pick()
        return K.max_pool2d_backward_input(g, i, x.shape)

    def ours_avg_b():
        x, _, g = pick()
        return K.avg_pool2d_backward_input(g, x.shape, 2, 2)

    ours = {
        "max forward": lambda: K.max_pool2d_forward(pick()[0], 2, 2),
        "max backward": ours_max_b,
        "avg forward": lambda: K.avg_pool2d_forward(pick()[0], 2, 2),
        "avg backward": ours_avg_b,
    }
    theirs = {}
    if torch is not None:
        txs, tgs = [torch.from_numpy(v) for v in xs], [torch.from_numpy(v) for v in gs]
        tidx = [F.max_pool2d(t, 2, 2, return_indices=True)[1] for t in txs]
        assert all(np.array_equal(t.numpy(), f[1]) for t, f in zip(tidx, fwd)), "indices differ from torch"

        def tpick():
            k = next(counter) % args.sets
            return txs[k], tidx[k], tgs[k]

        def torch_max_b():
            tx, ti, tg = tpick()
            return torch.ops.aten.max_pool2d_with_indices_backward(tg, tx, [2, 2], [2, 2], [0, 0], [1, 1], False, ti)

        def torch_avg_b():
            tx, _, tg = tpick()
            return torch.ops.aten.avg_pool2d_backward(tg, tx, [2, 2], [2, 2], [0, 0], False, True, None)

        theirs = {
            "max forward": lambda: F.max_pool2d(tpick()[0], 2, 2, return_indices=True),
            "max backward": torch_max_b,
            "avg forward": lambda: F.avg_pool2d(tpick()[0], 2, 2),
            "avg backward": torch_avg_b,
        }

    bw = copy_bandwidth(args.reps, torch)
    peak = max(bw.values())
    print(f"\npooling 2x2/2 on {tuple(args.shape)} float32, {threads} thread(s), {args.sets} input set(s), "
          f"median (and min) of {args.reps} calls, ISA {pyengine._C.cpu_isa()}"
          + (f", torch {torch.__version__}" if torch else ", torch not installed"))
    for name, v in bw.items():
        print(f"copy bandwidth, {name}: {v:.1f} GB/s")
    print(f"{'case':<14}{'ours ms':>9}{'(min)':>7}{'GB/s':>7}{'% copy bw':>10}{'torch ms':>10}{'(min)':>7}"
          f"{'speed-up':>10}{'(min)':>7}")
    for name, fn in ours.items():
        t, tmin = median_time(fn, args.reps)
        gbs = traffic[name] / t / 1e9
        line = f"{name:<14}{t * 1e3:9.2f}{tmin * 1e3:7.2f}{gbs:7.1f}{100 * gbs / peak:9.0f}%"
        if name in theirs:
            tt, ttmin = median_time(theirs[name], args.reps)
            line += f"{tt * 1e3:10.2f}{ttmin * 1e3:7.2f}{tt / t:9.1f}x{ttmin / tmin:6.1f}x"
        print(line)


if __name__ == "__main__":
    main()
