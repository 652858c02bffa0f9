"""Winograd against the direct kernels and PyTorch on the 3×3 stride-1 layers, in one process.

    python -m bench.winograd [--threads 1] [--reps 7] [--layers REGEX] [--pass fwd|bwd_input]

For each layer: our forward (or backward input) with PYENGINE_CONV_WINOGRAD=0 (the direct
kernels), 2 (F(2,3)), 4 (F(4,3)) and unset (the per-shape rule), and PyTorch's, interleaved round
by round; CPU time of the calling thread (time.thread_time, so a loaded machine's waits do not
count at 1 thread), min and median; GFLOP/s-equivalent = the direct algorithm's FLOPs / time.
Also the max relative error of each of ours against the float64 reference (first image).
"""
from __future__ import annotations

import argparse
import os
import re
import time

import numpy as np

from pyengine import reference, set_num_threads
from pyengine.kernels import cpu

from .cases import CONV_LAYERS

ENV = "PYENGINE_CONV_WINOGRAD"
MODES = ("0", "2", "4", "auto")


def _timed(fn):
    t0 = time.thread_time() if _THREADS == 1 else time.perf_counter()
    fn()
    return (time.thread_time() if _THREADS == 1 else time.perf_counter()) - t0


def _set_mode(mode):
    if mode == "auto":
        os.environ.pop(ENV, None)
    else:
        os.environ[ENV] = mode


def main(argv=None):
    global _THREADS
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--layers", default="resnet")
    ap.add_argument("--pass", dest="which", default="fwd", choices=("fwd", "bwd_input"))
    a = ap.parse_args(argv)
    _THREADS = a.threads
    set_num_threads(a.threads)
    try:
        import torch
        torch.set_num_threads(a.threads)
    except ImportError:
        torch = None
    print(f"load {os.getloadavg()[0]:.1f}, {a.threads} thread(s), {a.which}, "
          f"{'thread_time' if a.threads == 1 else 'wall'} ms min/median of {a.reps}")
    rng = np.random.default_rng(0)
    for name, (N, C, H, W, K) in CONV_LAYERS.items():
        if not re.search(a.layers, name):
            continue
        x = rng.standard_normal((N, C, H, W)).astype(np.float32)
        w = (rng.standard_normal((K, C, 3, 3)) / np.sqrt(9 * C)).astype(np.float32)
        b = rng.standard_normal(K).astype(np.float32)
        gy = rng.standard_normal((N, K, H, W)).astype(np.float32)
        flops = 2.0 * N * K * C * 9 * H * W
        if a.which == "fwd":
            ours = lambda: cpu.conv2d_forward(x, w, b, 1, 1)  # noqa: E731
            want = reference.conv2d_forward(x[:1].astype(np.float64), w.astype(np.float64), b.astype(np.float64), 1, 1)
            first = lambda: cpu.conv2d_forward(x[:1], w, b, 1, 1)  # noqa: E731
        else:
            ours = lambda: cpu.conv2d_backward_input(gy, w, x.shape, 1, 1)  # noqa: E731
            want = reference.conv2d_backward_input(gy[:1].astype(np.float64), w.astype(np.float64), x[:1].shape, 1, 1)
            first = lambda: cpu.conv2d_backward_input(gy[:1], w, x[:1].shape, 1, 1)  # noqa: E731
        fns = {}
        errs = {}
        for mode in MODES:
            fns[mode] = (lambda m: (lambda: (_set_mode(m), ours())))(mode)
            _set_mode(mode)
            got = first()
            errs[mode] = float(np.max(np.abs(got - want)) / np.max(np.abs(want)))
        if torch is not None:
            tx, tw, tb, tgy = (torch.from_numpy(v) for v in (x, w, b, gy))
            if a.which == "fwd":
                def tf():
                    with torch.no_grad():
                        return torch.nn.functional.conv2d(tx, tw, tb, 1, 1)
            else:
                def tf():
                    return torch.ops.aten.convolution_backward(
                        tgy, tx, tw, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1, [True, False, False])
            fns["torch"] = tf
        times = {k: [] for k in fns}
        for f in fns.values():
            f()  # warm up (workspaces, pools)
        for r in range(a.reps):
            keys = list(fns)
            keys = keys[r % len(keys):] + keys[:r % len(keys)]
            for k in keys:
                times[k].append(_timed(fns[k]))
        _set_mode("auto")
        med = {k: float(np.median(v)) for k, v in times.items()}
        line = [f"{name} b{N}:"]
        for k in fns:
            line.append(f"{k} {1e3 * min(times[k]):.2f}/{1e3 * med[k]:.2f} ms "
                        f"({flops / med[k] / 1e9:.0f} GF/s" + (f", err {errs[k]:.1e})" if k in errs else ")"))
        if "torch" in med:
            line.append("| torch/ours " + " ".join(f"{k}:{med['torch'] / med[k]:.2f}" for k in MODES))
        print("  ".join(line), flush=True)


_THREADS = 1

if __name__ == "__main__":
    main()
