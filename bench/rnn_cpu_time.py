"""1-thread CPU time (time.thread_time) of the LSTM/GRU kernels beside PyTorch's, in one process.

    PYTHONPATH=. python bench/rnn_cpu_time.py [--reps 15] [--rounds 3] [--pieces]

Each figure is the minimum (and median) over rounds × reps calls of the calling thread's CPU time, which
a loaded machine hardly touches at one thread (the whole work runs on the calling thread). GFLOP/s count
2·T·N·G·(I + H) for a forward (G = 4H for the LSTM, 3H for the GRU) and three times that for fwd+bwd,
against the FMA peak given by --peak (GFLOP/s per thread). --pieces also times the GEMMs the training
kernels run (the input projection and the weight gradients) at the same shapes through kernels.cpu.gemm.
"""
import argparse
import statistics
import time

import numpy as np
import torch

import pyengine
from pyengine.kernels import cpu as K

SHAPES = [dict(T=50, N=64, I=128, H=256), dict(T=64, N=32, I=96, H=256)]


def timeit(f, reps, rounds):
    f()
    ts = []
    for _ in range(rounds):
        for _ in range(reps):
            t0 = time.thread_time()
            f()
            ts.append(time.thread_time() - t0)
    return min(ts) * 1e3, statistics.median(ts) * 1e3


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--reps", type=int, default=15)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--peak", type=float, default=257.0)
    p.add_argument("--pieces", action="store_true")
    p.add_argument("--only", default="")
    a = p.parse_args()
    torch.set_num_threads(1)
    pyengine.set_num_threads(1)
    rng = np.random.default_rng(0)
    rows = []
    for s in SHAPES:
        T, N, I, H = s["T"], s["N"], s["I"], s["H"]
        for fam, g in (("lstm", 4), ("gru", 3)):
            if a.only and a.only not in fam:
                continue
            G = g * H
            k = np.float32(1 / np.sqrt(H))
            x = rng.standard_normal((T, N, I), np.float32)
            h0 = rng.standard_normal((N, H), np.float32)
            c0 = rng.standard_normal((N, H), np.float32)
            wi = rng.standard_normal((G, I), np.float32) * k
            wh = rng.standard_normal((G, H), np.float32) * k
            bi = rng.standard_normal((G,), np.float32) * k
            bh = rng.standard_normal((G,), np.float32) * k
            gy = rng.standard_normal((T, N, H), np.float32)
            mod = (torch.nn.LSTM if fam == "lstm" else torch.nn.GRU)(I, H)
            with torch.no_grad():
                for n, v in (("weight_ih_l0", wi), ("weight_hh_l0", wh), ("bias_ih_l0", bi), ("bias_hh_l0", bh)):
                    getattr(mod, n).copy_(torch.from_numpy(v))
            tx, th0, tc0, tgy = (torch.from_numpy(v) for v in (x, h0[None], c0[None], gy))
            txg = tx.clone().requires_grad_(True)
            st = (th0, tc0) if fam == "lstm" else th0
            if fam == "lstm":
                inf = lambda: K.lstm_inference_forward(x, h0, c0, wi, wh, bi, bh)  # noqa: E731
                fwd = lambda: K.lstm_forward(x, h0, c0, wi, wh, bi, bh)  # noqa: E731
                out = fwd()
                bwd = lambda: K.lstm_backward(gy, None, None, x, h0, c0, wi, wh, out[3])  # noqa: E731
                def fb():
                    o = K.lstm_forward(x, h0, c0, wi, wh, bi, bh)
                    K.lstm_backward(gy, None, None, x, h0, c0, wi, wh, o[3])
            else:
                inf = lambda: K.gru_inference_forward(x, h0, wi, wh, bi, bh)  # noqa: E731
                fwd = lambda: K.gru_forward(x, h0, wi, wh, bi, bh)  # noqa: E731
                out = fwd()
                bwd = lambda: K.gru_backward(gy, None, x, h0, wi, wh, out[2])  # noqa: E731
                def fb():
                    o = K.gru_forward(x, h0, wi, wh, bi, bh)
                    K.gru_backward(gy, None, x, h0, wi, wh, o[2])

            def t_inf():
                with torch.no_grad():
                    mod(tx, st)

            def t_fb():
                for q in mod.parameters():
                    q.grad = None
                txg.grad = None
                y, _ = mod(txg, st)
                y.backward(tgy)
            flops = 2.0 * T * N * G * (I + H)
            name = f"{fam} T{T} N{N} I{I} H{H}"
            for which, ours, theirs, w in (("inference", inf, t_inf, flops), ("fwd (train)", fwd, None, flops),
                                           ("bwd", bwd, None, 2 * flops), ("fwd+bwd", fb, t_fb, 3 * flops)):
                om, omed = timeit(ours, a.reps, a.rounds)
                line = f"{name} {which:12s} ours {om:7.2f} ({omed:7.2f}) ms {w / om / 1e6:6.1f} GF/s {w / om / 1e6 / a.peak:4.0%}"
                if theirs is not None:
                    tm, tmed = timeit(theirs, a.reps, a.rounds)
                    line += (f" | torch {tm:7.2f} ({tmed:7.2f}) ms {w / tm / 1e6:6.1f} GF/s {w / tm / 1e6 / a.peak:4.0%}"
                             f" | x{tm / om:5.2f} (med x{tmed / omed:5.2f})")
                print(line, flush=True)
            if a.pieces:
                TN = T * N
                X = x.reshape(TN, I)
                dA = rng.standard_normal((TN, G), np.float32)
                hs = rng.standard_normal((TN, H), np.float32)
                xh = np.concatenate([X, hs], 1)
                for lab, f, fl in (
                        ("proj  X·w_ihᵀ", lambda: K.gemm(X, wi, trans_b=True), 2.0 * TN * G * I),
                        ("grad_x dA·w_ih", lambda: K.gemm(dA, wi), 2.0 * TN * G * I),
                        ("g_w_ih dAᵀ·X", lambda: K.gemm(dA, X, trans_a=True), 2.0 * TN * G * I),
                        ("g_w_hh dAᵀ·H", lambda: K.gemm(dA, hs, trans_a=True), 2.0 * TN * G * H),
                        ("g_w dAᵀ·[X|H]", lambda: K.gemm(dA, xh, trans_a=True), 2.0 * TN * G * (I + H))):
                    om, omed = timeit(f, a.reps, a.rounds)
                    print(f"   piece {lab:16s} {om:7.2f} ({omed:7.2f}) ms {fl / om / 1e6:6.1f} GF/s {fl / om / 1e6 / a.peak:4.0%}",
                          flush=True)


if __name__ == "__main__":
    main()
