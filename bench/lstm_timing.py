"""LSTM timing: pyengine.kernels.cpu against torch.nn.LSTM (CPU), forward and forward+backward.

    PYTHONPATH=. python bench/lstm_timing.py [--T 50 --N 64 --I 128 --H 256 --reps 40 --threads 2]
    PYTHONPATH=. python bench/lstm_timing.py --threads 1 --clock cpu

``--clock cpu`` times with the process's CPU time instead of the wall clock: with one thread it
does not count the time the process waits for a core, so it stays meaningful on a loaded machine
(with more threads it would also count threads spinning at barriers, so it is refused there).

Both run the same float32 problem with the same weights on the same number of threads; the
result is checked once against torch before timing. Repetitions of ours and torch's alternate, so
a noisy neighbour slows both alike; the script prints medians (and min, spread) and the ratio
torch / ours of the medians (> 1 means pyengine is faster).
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import pyengine
from pyengine.kernels import cpu


def _stats(ts):
    ts = np.asarray(ts) * 1e3
    q1, med, q3 = np.percentile(ts, [25, 50, 75])
    return med, ts.min(), q3 - q1


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--T", type=int, default=50)
    p.add_argument("--N", type=int, default=64)
    p.add_argument("--I", type=int, default=128)
    p.add_argument("--H", type=int, default=256)
    p.add_argument("--reps", type=int, default=40)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--clock", choices=["wall", "cpu"], default="wall")
    a = p.parse_args(argv)
    if a.clock == "cpu" and a.threads != 1:
        p.error("--clock cpu needs --threads 1")
    clock = time.perf_counter if a.clock == "wall" else time.process_time
    T, N, I, H = a.T, a.N, a.I, a.H
    pyengine.set_num_threads(a.threads)
    rng = np.random.default_rng(0)
    f = np.float32
    s = 1.0 / np.sqrt(H)
    x = rng.standard_normal((T, N, I)).astype(f)
    h0, c0 = rng.standard_normal((N, H)).astype(f), rng.standard_normal((N, H)).astype(f)
    w_ih, w_hh = rng.uniform(-s, s, (4 * H, I)).astype(f), rng.uniform(-s, s, (4 * H, H)).astype(f)
    b_ih, b_hh = rng.uniform(-s, s, 4 * H).astype(f), rng.uniform(-s, s, 4 * H).astype(f)
    gy = rng.standard_normal((T, N, H)).astype(f)

    def ours_fwd():
        return cpu.lstm_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh)

    def ours_fwd_bwd():
        y, _, _, saved = ours_fwd()
        return cpu.lstm_backward(gy, None, None, x, h0, c0, w_ih, w_hh, saved)

    cases = {"forward": [ours_fwd], "forward+backward": [ours_fwd_bwd]}
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        torch.set_num_threads(a.threads)
        lstm = torch.nn.LSTM(I, H)
        with torch.no_grad():
            for name, v in (("weight_ih_l0", w_ih), ("weight_hh_l0", w_hh), ("bias_ih_l0", b_ih), ("bias_hh_l0", b_hh)):
                getattr(lstm, name).copy_(torch.from_numpy(v))
        tx, th0, tc0, tgy = (torch.from_numpy(v) for v in (x, h0[None], c0[None], gy))

        def torch_fwd():
            with torch.no_grad():
                return lstm(tx, (th0, tc0))

        def torch_fwd_bwd():
            lstm.zero_grad(set_to_none=True)
            txg = tx.clone().requires_grad_()
            y, _ = lstm(txg, (th0, tc0))
            y.backward(tgy)
            return txg.grad

        y_t = torch_fwd()[0].numpy()
        y_o = ours_fwd()[0]
        err = float(np.abs(y_t - y_o).max())
        gx_t = torch_fwd_bwd().numpy()
        gx_o = ours_fwd_bwd()[0]
        gerr = float(np.abs(gx_t - gx_o).max() / max(1e-30, np.abs(gx_t).max()))
        print(f"check against torch: max |y - y_torch| = {err:.2e}, max rel |grad_x diff| = {gerr:.2e}")
        assert err < 1e-4 and gerr < 1e-3, "pyengine and torch disagree"
        cases["forward"].append(torch_fwd)
        cases["forward+backward"].append(torch_fwd_bwd)

    print(f"LSTM T={T} N={N} I={I} H={H} float32, {a.threads} threads, isa {pyengine._C.cpu_isa()}, "
          f"{a.reps} alternating repetitions, {a.clock} clock (median / min / IQR in ms)")
    for name, fns in cases.items():
        times = [[] for _ in fns]
        for _ in range(a.warmup):
            for fn in fns:
                fn()
        for _ in range(a.reps):
            for k, fn in enumerate(fns):
                t0 = clock()
                fn()
                times[k].append(clock() - t0)
        med, mn, iqr = _stats(times[0])
        line = f"{name:17s} pyengine {med:7.2f} / {mn:7.2f} / {iqr:6.2f}"
        if len(fns) > 1:
            tmed, tmn, tiqr = _stats(times[1])
            line += f"   torch {tmed:7.2f} / {tmn:7.2f} / {tiqr:6.2f}   torch/pyengine: median {tmed / med:.2f}x, min {tmn / mn:.2f}x"
        print(line)


if __name__ == "__main__":
    main()
