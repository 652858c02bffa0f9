"""Convolution timing: pyengine.kernels.cpu against PyTorch CPU on the digit-CNN and ResNet layers.

    PYTHONPATH=. python bench/conv_timing.py [--reps 30] [--threads 2] [--layers 1to8,64to64]

For every layer it times forward, backward (input + weight + bias) and their sum, ours and
PyTorch's (F.conv2d and aten.convolution_backward, which is what autograd runs), interleaving the
two so machine noise hits both alike, and prints medians in ms with the ratio torch/ours (> 1 means
we are faster), and the same ratio of the best (minimum) times, which is steadier when the machine
is shared. Each result is checked against PyTorch once before timing.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import pyengine
from pyengine.kernels import cpu as pe

# name, N, C, H, K, bias   (3×3, stride 1, padding 1, square inputs)
LAYERS = [
    ("1to8", 128, 1, 28, 8, True),
    ("8to16", 128, 8, 14, 16, True),
    ("16to32", 128, 16, 7, 32, True),
    ("64to64", 32, 64, 56, 64, False),
    ("128to128", 32, 128, 28, 128, False),
]


def _ours(x, w, b, go):
    def fwd():
        return pe.conv2d_forward(x, w, b, 1, 1)

    def bwd():
        gi = pe.conv2d_backward_input(go, w, x.shape, 1, 1)
        gw = pe.conv2d_backward_weight(go, x, w.shape, 1, 1)
        gb = pe.conv2d_backward_bias(go) if b is not None else None
        return gi, gw, gb
    return fwd, bwd


def _torch(torch, x, w, b, go):
    tx, tw, tgo = (torch.from_numpy(a) for a in (x, w, go))
    tb = torch.from_numpy(b) if b is not None else None
    F = torch.nn.functional

    def fwd():
        return F.conv2d(tx, tw, tb, 1, 1)

    def bwd():
        return torch.ops.aten.convolution_backward(
            tgo, tx, tw, [w.shape[0]] if b is not None else None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1,
            [True, True, b is not None])
    return fwd, bwd


def _check(ours, theirs, what):
    for o, t in zip(ours, theirs):
        if o is None or t is None:
            continue
        t = t.numpy() if hasattr(t, "numpy") else t
        err = float(np.max(np.abs(o - t)) / max(1e-6, float(np.max(np.abs(t)))))
        if err > 1e-4:
            raise SystemExit(f"{what}: result differs from PyTorch (relative error {err:.2e})")


def _time(fn_pairs, reps):
    """(median, min) seconds of each function, calls interleaved across reps."""
    times = [[] for _ in fn_pairs]
    for f in fn_pairs:  # warm-up (workspaces, thread pools)
        f()
        f()
    for _ in range(reps):
        for i, f in enumerate(fn_pairs):
            t0 = time.perf_counter()
            f()
            times[i].append(time.perf_counter() - t0)
    return [(statistics.median(t), min(t)) for t in times]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--layers", default=",".join(name for name, *_ in LAYERS))
    args = ap.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    pyengine.set_num_threads(args.threads)
    wanted = set(args.layers.split(","))
    rng = np.random.default_rng(0)
    print(f"pyengine {pyengine.__version__} isa={pyengine._C.cpu_isa()} threads={args.threads}; "
          f"torch {torch.__version__}; median of {args.reps} (ms); ratio = torch / ours")
    print(f"{'layer':<10} {'N':>4} {'HxW':>6} | {'fwd':>7} {'bwd':>7} {'f+b':>7} | {'torch fwd':>9} {'bwd':>7} {'f+b':>7}"
          f" | {'fwd x':>5} {'bwd x':>5} {'f+b x':>5} | {'best f+b x':>10} | GFLOP/s (best)")
    for name, n, c, h, k, has_bias in LAYERS:
        if name not in wanted:
            continue
        x = rng.standard_normal((n, c, h, h)).astype(np.float32)
        w = (rng.standard_normal((k, c, 3, 3)) / np.sqrt(9 * c)).astype(np.float32)
        b = rng.standard_normal(k).astype(np.float32) if has_bias else None
        go = rng.standard_normal((n, k, h, h)).astype(np.float32)
        of, ob = _ours(x, w, b, go)
        tf, tb = _torch(torch, x, w, b, go)
        _check([of()], [tf()], f"{name} forward")
        _check(ob(), tb(), f"{name} backward")
        (o_f, o_f1), (t_f, t_f1), (o_b, o_b1), (t_b, t_b1) = _time([of, tf, ob, tb], args.reps)
        flop = 2.0 * n * k * h * h * c * 9 * 3
        print(f"{name:<10} {n:>4} {h:>3}x{h:<2} | {o_f*1e3:7.2f} {o_b*1e3:7.2f} {(o_f+o_b)*1e3:7.2f} | "
              f"{t_f*1e3:9.2f} {t_b*1e3:7.2f} {(t_f+t_b)*1e3:7.2f} | {t_f/o_f:5.2f} {t_b/o_b:5.2f} "
              f"{(t_f+t_b)/(o_f+o_b):5.2f} | {(t_f1+t_b1)/(o_f1+o_b1):10.2f} | {flop/(o_f1+o_b1)/1e9:6.1f}")


if __name__ == "__main__":
    main()
