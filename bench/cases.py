"""The benchmark cases: one builder per case, returning our callable, the NumPy and PyTorch
baselines on the same data, the work per call and a correctness check against the reference.

A builder raises NotAvailable when the kernel, the reference or the nn API it needs is missing, so
the suite runs (and says which cases it skipped) while kernel families are still being written.
Work is counted the usual way: 2 flops per multiply-add of the mathematical operation (not of
what an algorithm happens to compute), bytes = every array read once plus every array written.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from .harness import NotAvailable


@dataclass
class Built:
    work: float                       # flops, bytes or images per call
    unit: str                         # "GFLOP/s", "GB/s" or "img/s"
    ours: Callable
    numpy: Optional[Callable] = None  # NumPy/OpenBLAS (np.matmul), or the NumPy reference kernel
    torch: Optional[Callable] = None
    check: Optional[Callable] = None  # () -> (ok, detail), run once before timing
    extra: dict = field(default_factory=dict)


@dataclass
class Case:
    name: str
    family: str
    build: Callable[[np.random.Generator], Built]
    quick: bool = False               # part of --quick


def _cpu(name):
    from pyengine.kernels import cpu
    fn = getattr(cpu, name, None)
    if fn is None:
        raise NotAvailable(f"pyengine.kernels.cpu.{name} not available")
    return fn


def _ref(name):
    from pyengine import reference
    fn = getattr(reference, name, None)
    if fn is None:
        raise NotAvailable(f"pyengine.reference.{name} not available")
    return fn


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def rel_err(got, want) -> float:
    got = np.asarray(got, np.float64)
    want = np.asarray(want, np.float64)
    if got.shape != want.shape:
        return float("inf")
    scale = max(float(np.max(np.abs(want))) if want.size else 0.0, 1e-12)
    return float(np.max(np.abs(got - want))) / scale if want.size else 0.0


def _compare(pairs, tol=1e-4):
    """pairs: [(label, got, want)] → (ok, detail) with the worst relative error."""
    worst, where = 0.0, ""
    for label, g, w in pairs:
        if g is None and w is None:
            continue
        e = rel_err(g, w)
        if e > worst:
            worst, where = e, label
    return worst <= tol, f"max rel err {worst:.1e}" + (f" ({where})" if where else "")


def randn(rng, shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


# --------------------------------------------------------------------------- GEMM
def gemm_case(M, N, K, ta=False, tb=False):
    def build(rng):
        gemm = _cpu("gemm")
        ref = _ref("gemm")
        a = randn(rng, (K, M) if ta else (M, K))
        b = randn(rng, (N, K) if tb else (K, N))
        an, bn = (a.T if ta else a), (b.T if tb else b)   # views: OpenBLAS takes the transpose flags
        torch = _torch()
        tt = None
        if torch is not None:
            ta_t, tb_t = torch.from_numpy(a), torch.from_numpy(b)
            ta_t, tb_t = (ta_t.T if ta else ta_t), (tb_t.T if tb else tb_t)
            tt = lambda: torch.matmul(ta_t, tb_t)  # noqa: E731
        return Built(
            work=2.0 * M * N * K, unit="GFLOP/s",
            ours=lambda: gemm(a, b, trans_a=ta, trans_b=tb),
            numpy=lambda: np.matmul(an, bn),
            torch=tt,
            check=lambda: _compare([("C", gemm(a, b, trans_a=ta, trans_b=tb),
                                     ref(a.astype(np.float64), b.astype(np.float64), trans_a=ta, trans_b=tb))]))
    t = ("T" if ta else "N") + ("T" if tb else "N")
    return build, f"gemm {M}x{N}x{K} {t}"


# --------------------------------------------------------------------------- convolution
CONV_LAYERS = {
    # name: (N, C, H, W, K) with 3×3 kernels, padding 1, stride 1
    "digit 1->8 28x28": (128, 1, 28, 28, 8),
    "digit 8->16 14x14": (128, 8, 14, 14, 16),
    "digit 16->32 7x7": (128, 16, 7, 7, 32),
    "resnet 64->64 56x56": (32, 64, 56, 56, 64),
    "resnet 128->128 28x28": (32, 128, 28, 28, 128),
    # the 3x3 stride-1 layers of the CIFAR ResNet-18 below (batch 32, 32x32 input)
    "resnet-cifar 64->64 32x32": (32, 64, 32, 32, 64),
    "resnet-cifar 128->128 16x16": (32, 128, 16, 16, 128),
    "resnet-cifar 256->256 8x8": (32, 256, 8, 8, 256),
    "resnet-cifar 512->512 4x4": (32, 512, 4, 4, 512),
}


def conv2d_case(layer, which, batch=None):
    N, C, H, W, K = CONV_LAYERS[layer]
    N = batch or N
    R = S = 3
    flops = 2.0 * N * K * C * R * S * H * W  # output H×W (padding 1, stride 1)

    def build(rng):
        torch = _torch()
        x = randn(rng, (N, C, H, W))
        w = randn(rng, (K, C, R, S)) * np.float32(1.0 / np.sqrt(C * R * S))
        b = randn(rng, (K,))
        gy = randn(rng, (N, K, H, W))
        n_chk = min(N, 4)
        xs, gys = x[:n_chk].copy(), gy[:n_chk].copy()
        tx = tw = tb = tgy = None
        if torch is not None:
            tx, tw, tb, tgy = (torch.from_numpy(v) for v in (x, w, b, gy))
        if which == "fwd":
            f, r = _cpu("conv2d_forward"), _ref("conv2d_forward")
            ours = lambda: f(x, w, b, stride=1, padding=1)  # noqa: E731
            npf = lambda: r(x, w, b, stride=1, padding=1)  # noqa: E731
            tf = None
            if torch is not None:
                def tf():
                    with torch.no_grad():
                        return torch.nn.functional.conv2d(tx, tw, tb, 1, 1)
            check = lambda: _compare([("y", f(xs, w, b, stride=1, padding=1), r(xs, w, b, stride=1, padding=1))])  # noqa: E731
        elif which == "bwd_input":
            f, r = _cpu("conv2d_backward_input"), _ref("conv2d_backward_input")
            ours = lambda: f(gy, w, x.shape, stride=1, padding=1)  # noqa: E731
            npf = lambda: r(gy, w, x.shape, stride=1, padding=1)  # noqa: E731
            tf = None
            if torch is not None:
                tf = lambda: torch.ops.aten.convolution_backward(  # noqa: E731
                    tgy, tx, tw, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1, [True, False, False])
            check = lambda: _compare([("dx", f(gys, w, xs.shape, stride=1, padding=1), r(gys, w, xs.shape, stride=1, padding=1))])  # noqa: E731
        elif which == "fwd+bwd":
            # What one training step runs per layer; PyTorch's backward is the single
            # convolution_backward call autograd makes (input, weight and bias gradients).
            f, fi, fw, fb = (_cpu(n) for n in ("conv2d_forward", "conv2d_backward_input",
                                               "conv2d_backward_weight", "conv2d_backward_bias"))

            def ours():
                return (f(x, w, b, stride=1, padding=1), fi(gy, w, x.shape, stride=1, padding=1),
                        fw(gy, x, w.shape, stride=1, padding=1), fb(gy))
            npf = None
            tf = None
            if torch is not None:
                def tf():
                    with torch.no_grad():
                        torch.nn.functional.conv2d(tx, tw, tb, 1, 1)
                    return torch.ops.aten.convolution_backward(
                        tgy, tx, tw, [K], [1, 1], [1, 1], [1, 1], False, [0, 0], 1, [True, True, True])
            r, ri, rw = _ref("conv2d_forward"), _ref("conv2d_backward_input"), _ref("conv2d_backward_weight")
            check = lambda: _compare([  # noqa: E731
                ("y", f(xs, w, b, stride=1, padding=1), r(xs, w, b, stride=1, padding=1)),
                ("dx", fi(gys, w, xs.shape, stride=1, padding=1), ri(gys, w, xs.shape, stride=1, padding=1)),
                ("dw", fw(gys, xs, w.shape, stride=1, padding=1), rw(gys, xs, w.shape, stride=1, padding=1)),
                ("db", fb(gys), gys.astype(np.float64).sum(axis=(0, 2, 3)))])
        else:
            f, r = _cpu("conv2d_backward_weight"), _ref("conv2d_backward_weight")
            ours = lambda: f(gy, x, w.shape, stride=1, padding=1)  # noqa: E731
            npf = lambda: r(gy, x, w.shape, stride=1, padding=1)  # noqa: E731
            tf = None
            if torch is not None:
                tf = lambda: torch.ops.aten.convolution_backward(  # noqa: E731
                    tgy, tx, tw, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1, [False, True, False])
            check = lambda: _compare([("dw", f(gys, xs, w.shape, stride=1, padding=1), r(gys, xs, w.shape, stride=1, padding=1))])  # noqa: E731
        return Built(work=flops * (3 if which == "fwd+bwd" else 1), unit="GFLOP/s", ours=ours, numpy=npf,
                     torch=tf, check=check)
    return build, f"conv {layer} b{N} {which}"


# --------------------------------------------------------------------------- pooling
POOL_SETS = 4  # input sets used in turn: 4 × 12.8 MB > L3, so each call streams from memory


def _rotating(calls):
    """One callable that runs the given callables in turn (a different input set per call)."""
    it = itertools.cycle(calls)
    return lambda: next(it)()


def pool2d_case(kind, which, shape=(128, 32, 28, 28)):
    def build(rng):
        torch = _torch()
        N, C, H, W = shape
        y_shape = (N, C, H // 2, W // 2)
        xs = [randn(rng, shape) for _ in range(POOL_SETS)]
        gys = [randn(rng, y_shape) for _ in range(POOL_SETS)]
        x, gy = xs[0], gys[0]
        out_bytes = gy.nbytes
        txs = [torch.from_numpy(v) for v in xs] if torch else None
        tgys = [torch.from_numpy(v) for v in gys] if torch else None
        sets = range(POOL_SETS)
        tf = None
        if kind == "max":
            # "fwd"/"bwd": int64 flat indices on both sides (the public contract, return_indices);
            # "... uint8 taps": ours with the window taps its autograd saves on the CPU, against
            # PyTorch's training path (which saves int64 indices); bytes counted are ours.
            taps = which.endswith("uint8 taps")
            win = dict(window_indices=True) if taps else {}
            fwd, rfwd = _cpu("max_pool2d_forward"), _ref("max_pool2d_forward")
            idx_bytes = out_bytes // 4 if taps else out_bytes * 2
            if which.startswith("fwd"):
                ours = _rotating([lambda i=i: fwd(xs[i], 2, 2, **win) for i in sets])
                npf = lambda: rfwd(x, 2, 2, **win)  # noqa: E731
                if torch:
                    tf = _rotating([lambda i=i: torch.nn.functional.max_pool2d(txs[i], 2, 2, return_indices=True) for i in sets])
                work = x.nbytes + out_bytes + idx_bytes  # x, y, indices
                check = lambda: _compare([("y", fwd(x, 2, 2, **win)[0], rfwd(x, 2, 2, **win)[0]),  # noqa: E731
                                          ("indices", fwd(x, 2, 2, **win)[1], rfwd(x, 2, 2, **win)[1])], tol=0.0)
            else:
                bwd, rbwd = _cpu("max_pool2d_backward_input"), _ref("max_pool2d_backward_input")
                idxs = [fwd(v, 2, 2, **win)[1] for v in xs]
                flats = [fwd(v, 2, 2)[1] for v in xs]
                window = (2, 2) if taps else ()
                ours = _rotating([lambda i=i: bwd(gys[i], idxs[i], shape, *window) for i in sets])
                npf = lambda: rbwd(gy, idxs[0], shape, *window)  # noqa: E731
                if torch:
                    tidxs = [torch.from_numpy(v) for v in flats]
                    tf = _rotating([lambda i=i: torch.ops.aten.max_pool2d_with_indices_backward(
                        tgys[i], txs[i], [2, 2], [2, 2], [0, 0], [1, 1], False, tidxs[i]) for i in sets])
                work = out_bytes + idx_bytes + x.nbytes
                check = lambda: _compare([("dx", bwd(gy, idxs[0], shape, *window),  # noqa: E731
                                           rbwd(gy, flats[0], shape))])
        else:
            if which == "fwd":
                fwd, rfwd = _cpu("avg_pool2d_forward"), _ref("avg_pool2d_forward")
                ours = _rotating([lambda i=i: fwd(xs[i], 2, 2) for i in sets])
                npf = lambda: rfwd(x, 2, 2)  # noqa: E731
                if torch:
                    tf = _rotating([lambda i=i: torch.nn.functional.avg_pool2d(txs[i], 2, 2) for i in sets])
                work = x.nbytes + out_bytes
                check = lambda: _compare([("y", fwd(x, 2, 2), rfwd(x, 2, 2))])  # noqa: E731
            else:
                bwd, rbwd = _cpu("avg_pool2d_backward_input"), _ref("avg_pool2d_backward_input")
                ours = _rotating([lambda i=i: bwd(gys[i], shape, 2, 2) for i in sets])
                npf = lambda: rbwd(gy, shape, 2, 2)  # noqa: E731
                if torch:
                    tf = _rotating([lambda i=i: torch.ops.aten.avg_pool2d_backward(
                        tgys[i], txs[i], [2, 2], [2, 2], [0, 0], False, True, None) for i in sets])
                work = out_bytes + x.nbytes
                check = lambda: _compare([("dx", bwd(gy, shape, 2, 2), rbwd(gy, shape, 2, 2))])  # noqa: E731
        return Built(work=work, unit="GB/s", ours=ours, numpy=npf, torch=tf, check=check)
    return build, f"{kind}pool 2x2/2 {'x'.join(map(str, shape))} {which}"


# --------------------------------------------------------------------------- LSTM
def lstm_case(which, T=50, N=64, I=128, H=256):
    """which: "fwd" (the training forward: ours keeps the gates for a backward, PyTorch in grad
    mode keeps its activations too), "inference" (ours keeps nothing, PyTorch under no_grad),
    "fwd+bwd"."""
    fwd_flops = T * (2.0 * N * I * 4 * H + 2.0 * N * H * 4 * H)

    def build(rng):
        torch = _torch()
        f, r = _cpu("lstm_inference_forward" if which == "inference" else "lstm_forward"), _ref("lstm_forward")
        fb = rb = None
        if which == "fwd+bwd":
            fb, rb = _cpu("lstm_backward"), _ref("lstm_backward")
        k = np.float32(1.0 / np.sqrt(H))
        x, h0, c0 = randn(rng, (T, N, I)), randn(rng, (N, H)), randn(rng, (N, H))
        w_ih, w_hh = randn(rng, (4 * H, I)) * k, randn(rng, (4 * H, H)) * k
        b_ih, b_hh = randn(rng, (4 * H,)) * k, randn(rng, (4 * H,)) * k
        gy = randn(rng, (T, N, H))

        def run(fw, bw):
            y, hT, cT, *saved = fw(x, h0, c0, w_ih, w_hh, b_ih, b_hh)
            if bw is None:
                return (y, hT, cT)
            return (y, hT, cT) + tuple(bw(gy, None, None, x, h0, c0, w_ih, w_hh, saved[0]))

        tf = None
        if torch is not None:
            lstm = torch.nn.LSTM(I, H)
            with torch.no_grad():
                for name, v in (("weight_ih_l0", w_ih), ("weight_hh_l0", w_hh), ("bias_ih_l0", b_ih), ("bias_hh_l0", b_hh)):
                    getattr(lstm, name).copy_(torch.from_numpy(v))
            tx, th0, tc0, tgy = (torch.from_numpy(v) for v in (x, h0[None], c0[None], gy))
            if which == "fwd":
                tf = lambda: lstm(tx, (th0, tc0))  # noqa: E731  (grad mode on: a training forward)
            elif which == "inference":
                def tf():
                    with torch.no_grad():
                        return lstm(tx, (th0, tc0))
            else:
                txg = tx.clone().requires_grad_(True)

                def tf():
                    for p in lstm.parameters():
                        p.grad = None
                    txg.grad = None
                    y, _ = lstm(txg, (th0, tc0))
                    y.backward(tgy)
        labels = ["y", "h_T", "c_T", "grad_x", "grad_h0", "grad_c0", "grad_w_ih", "grad_w_hh", "grad_b_ih", "grad_b_hh"]

        def check():
            got, want = run(f, fb), run(r, rb)
            return _compare(list(zip(labels, got, want)), tol=2e-4)
        return Built(work=fwd_flops * (3 if which == "fwd+bwd" else 1), unit="GFLOP/s",
                     ours=lambda: run(f, fb), numpy=lambda: run(r, rb), torch=tf, check=check)
    return build, f"lstm T{T} N{N} I{I} H{H} {which}"


# --------------------------------------------------------------------------- GRU
def gru_case(which, T=50, N=64, I=128, H=256):
    """inference: our inference forward (keeps nothing) against torch under no_grad; fwd+bwd: the
    training forward and the backward against torch's autograd, gradients of x and every parameter."""
    fwd_flops = T * (2.0 * N * I * 3 * H + 2.0 * N * H * 3 * H)

    def build(rng):
        torch = _torch()
        if which == "inference":
            f, r = _cpu("gru_inference_forward"), _ref("gru_inference_forward")
            fb = rb = None
        else:
            f, r = _cpu("gru_forward"), _ref("gru_forward")
            fb, rb = _cpu("gru_backward"), _ref("gru_backward")
        k = np.float32(1.0 / np.sqrt(H))
        x, h0 = randn(rng, (T, N, I)), randn(rng, (N, H))
        w_ih, w_hh = randn(rng, (3 * H, I)) * k, randn(rng, (3 * H, H)) * k
        b_ih, b_hh = randn(rng, (3 * H,)) * k, randn(rng, (3 * H,)) * k
        gy = randn(rng, (T, N, H))

        def run(fw, bw):
            out = fw(x, h0, w_ih, w_hh, b_ih, b_hh)
            if bw is None:
                return tuple(out)
            y, hT, saved = out
            return (y, hT) + tuple(bw(gy, None, x, h0, w_ih, w_hh, saved))

        tf = None
        if torch is not None:
            gru = torch.nn.GRU(I, H)
            with torch.no_grad():
                for name, v in (("weight_ih_l0", w_ih), ("weight_hh_l0", w_hh), ("bias_ih_l0", b_ih), ("bias_hh_l0", b_hh)):
                    getattr(gru, name).copy_(torch.from_numpy(v))
            tx, th0, tgy = (torch.from_numpy(v) for v in (x, h0[None], gy))
            if which == "inference":
                def tf():
                    with torch.no_grad():
                        return gru(tx, th0)
            else:
                txg = tx.clone().requires_grad_(True)

                def tf():
                    for p in gru.parameters():
                        p.grad = None
                    txg.grad = None
                    y, _ = gru(txg, th0)
                    y.backward(tgy)
        labels = ["y", "h_T", "grad_x", "grad_h0", "grad_w_ih", "grad_w_hh", "grad_b_ih", "grad_b_hh"]

        def check():
            got, want = run(f, fb), run(r, rb)
            return _compare(list(zip(labels, got, want)), tol=2e-4)
        return Built(work=fwd_flops * (1 if which == "inference" else 3), unit="GFLOP/s",
                     ours=lambda: run(f, fb), numpy=lambda: run(r, rb), torch=tf, check=check)
    return build, f"gru T{T} N{N} I{I} H{H} {which}"


# --------------------------------------------------------------------------- the char-LSTM
# examples/char_lstm.py at its defaults: 64-character windows, batch 32, hidden 256, one-hot input over
# its vocabulary of 96 characters (printable ASCII and newline in its standard-library text).
CHAR_LSTM = dict(T=64, N=32, I=96, H=256)


def char_lstm_train_case():
    """One training step of examples/char_lstm.py: one-hot characters (T, N, V) → LSTM → Linear →
    cross-entropy, backward, gradient clipping at norm 5, Adam (lr 3e-3); torch runs the same model
    from the same weights. The input is built once, outside the step."""
    T, N, V, H = CHAR_LSTM["T"], CHAR_LSTM["N"], CHAR_LSTM["I"], CHAR_LSTM["H"]

    def build(rng):
        try:
            import pyengine as pe
            from pyengine import nn, optim
            from pyengine.nn.utils import clip_grad_norm_
        except ImportError as e:
            raise NotAvailable(f"pyengine.nn / optim not available ({e})") from None

        class CharLSTM(nn.Module):
            def __init__(self):
                super().__init__()
                self.lstm, self.fc = nn.LSTM(V, H), nn.Linear(H, V)

            def forward(self, x):
                out, _ = self.lstm(x)
                return self.fc(out.reshape(T * N, H))

        ours = CharLSTM()
        opt, loss_fn = optim.Adam(ours.parameters(), lr=3e-3), nn.CrossEntropyLoss()
        ids = rng.integers(0, V, (T + 1, N))
        x = np.zeros((T, N, V), np.float32)
        np.put_along_axis(x, ids[:-1, :, None], 1.0, axis=-1)
        y = ids[1:].reshape(-1).astype(np.int64)
        X, Y = pe.tensor(x), pe.tensor(y)

        def step():
            opt.zero_grad()
            loss = loss_fn(ours(X), Y)
            loss.backward()
            clip_grad_norm_(ours.parameters(), 5.0)
            opt.step()
            return loss

        torch = _torch()
        tstep = theirs = None
        if torch is not None:
            class TorchCharLSTM(torch.nn.Module):
                def __init__(self):
                    super().__init__()
                    self.lstm, self.fc = torch.nn.LSTM(V, H), torch.nn.Linear(H, V)

                def forward(self, x):
                    out, _ = self.lstm(x)
                    return self.fc(out.reshape(T * N, H))

            theirs = TorchCharLSTM()
            theirs.load_state_dict({k: torch.from_numpy(np.array(v.numpy(), np.float32))
                                    for k, v in ours.state_dict().items()}, strict=True)
            topt, tloss_fn = torch.optim.Adam(theirs.parameters(), lr=3e-3), torch.nn.CrossEntropyLoss()
            tx, ty = torch.from_numpy(x), torch.from_numpy(y)

            def tstep():
                topt.zero_grad()
                loss = tloss_fn(theirs(tx), ty)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(theirs.parameters(), 5.0)
                topt.step()
                return loss

        def check():
            # two steps each from the same weights: the second loss sees the first Adam update
            got = [float(np.asarray(step().numpy())) for _ in range(2)]
            if tstep is None:
                return bool(np.isfinite(got).all()), f"losses {got[0]:.5f}, {got[1]:.5f} (no torch)"
            want = [float(tstep().item()) for _ in range(2)]
            err = max(abs(g - w) / max(abs(w), 1e-12) for g, w in zip(got, want))
            return err < 1e-3, f"losses {got[0]:.5f}, {got[1]:.5f} vs torch {want[0]:.5f}, {want[1]:.5f}"
        return Built(work=T * N, unit="char/s", ours=step, torch=tstep, check=check)
    return build, f"train step char-LSTM T{T} N{N} V{V} H{H} Adam"


# --------------------------------------------------------------------------- small families
def linear_case(which, N=256, I=1024, O=1024):
    def build(rng):
        torch = _torch()
        x, w, b, gy = randn(rng, (N, I)), randn(rng, (O, I)), randn(rng, (O,)), randn(rng, (N, O))
        tx, tw, tb, tgy = (torch.from_numpy(v) for v in (x, w, b, gy)) if torch else (None,) * 4
        if which == "fwd":
            f, r = _cpu("linear_forward"), _ref("linear_forward")
            ours, npf = (lambda: f(x, w, b)), (lambda: x @ w.T + b)
            tf = (lambda: torch.nn.functional.linear(tx, tw, tb)) if torch else None
            check = lambda: _compare([("y", f(x, w, b), r(x, w, b))])  # noqa: E731
            work = 2.0 * N * I * O
        else:
            f, r = _cpu("linear_backward"), _ref("linear_backward")
            ours = lambda: f(gy, x, w)  # noqa: E731
            npf = lambda: (gy @ w, gy.T @ x, gy.sum(0))  # noqa: E731
            tf = (lambda: (tgy @ tw, tgy.T @ tx, tgy.sum(0))) if torch else None
            check = lambda: _compare(list(zip(["dx", "dw", "db"], f(gy, x, w), r(gy, x, w))))  # noqa: E731
            work = 4.0 * N * I * O
        return Built(work=work, unit="GFLOP/s", ours=ours, numpy=npf, torch=tf, check=check)
    return build, f"linear {N}x{I}->{O} {which}"


def relu_case(which, shape=(128, 32, 28, 28)):
    def build(rng):
        torch = _torch()
        x, gy = randn(rng, shape), randn(rng, shape)
        tx, tgy = (torch.from_numpy(x), torch.from_numpy(gy)) if torch else (None, None)
        if which == "fwd":
            f, r = _cpu("relu_forward"), _ref("relu_forward")
            ours, npf = (lambda: f(x)), (lambda: np.maximum(x, 0))
            tf = (lambda: torch.relu(tx)) if torch else None
            check = lambda: _compare([("y", f(x), r(x))], tol=0.0)  # noqa: E731
            work = 2 * x.nbytes
        else:
            f, r = _cpu("relu_backward"), _ref("relu_backward")
            ours, npf = (lambda: f(gy, x)), (lambda: gy * (x > 0))
            tf = (lambda: torch.ops.aten.threshold_backward(tgy, tx, 0.0)) if torch else None
            check = lambda: _compare([("dx", f(gy, x), r(gy, x))], tol=0.0)  # noqa: E731
            work = 3 * x.nbytes
        return Built(work=work, unit="GB/s", ours=ours, numpy=npf, torch=tf, check=check)
    return build, f"relu {'x'.join(map(str, shape))} {which}"


def embedding_case(which, V=30000, D=256, lookups=(64, 128)):
    """nn.Embedding's kernels against torch's embedding / embedding_dense_backward (repeated indices)."""
    def build(rng):
        torch = _torch()
        w = randn(rng, (V, D))
        idx = rng.integers(0, V // 10, size=lookups).astype(np.int64)   # a tenth of the rows: repeats
        gy = randn(rng, lookups + (D,))
        tw, ti, tgy = (torch.from_numpy(w), torch.from_numpy(idx), torch.from_numpy(gy)) if torch else (None,) * 3
        if which == "fwd":
            f, r = _cpu("embedding_forward"), _ref("embedding_forward")
            ours, npf = (lambda: f(w, idx)), (lambda: w[idx])
            tf = (lambda: torch.nn.functional.embedding(ti, tw)) if torch else None
            check = lambda: _compare([("y", f(w, idx), r(w, idx))], tol=0.0)  # noqa: E731
            work = 2 * gy.nbytes
        else:
            f, r = _cpu("embedding_backward"), _ref("embedding_backward")
            ours = lambda: f(gy, idx, V)  # noqa: E731

            def npf():
                gw = np.zeros((V, D), np.float32)
                np.add.at(gw, idx.reshape(-1), gy.reshape(-1, D))
                return gw
            tf = (lambda: torch.ops.aten.embedding_dense_backward(tgy, ti, V, -1, False)) if torch else None
            check = lambda: _compare([("grad_weight", f(gy, idx, V), r(gy, idx, V))])  # noqa: E731
            work = gy.nbytes + 4.0 * V * D
        return Built(work=work, unit="GB/s", ours=ours, numpy=npf, torch=tf, check=check)
    return build, f"embedding {V}x{D} {lookups[0]}x{lookups[1]} lookups {which}"


def batch_norm_case(which, shape=(128, 32, 28, 28)):
    def build(rng):
        torch = _torch()
        C = shape[1]
        x, gy = randn(rng, shape), randn(rng, shape)
        w, b = randn(rng, (C,)), randn(rng, (C,))
        rm, rv = np.zeros(C, np.float32), np.ones(C, np.float32)
        f, r = _cpu("batch_norm_forward"), _ref("batch_norm_forward")
        tf = None
        if torch is not None:
            tx, tgy, tw, tb, trm, trv = (torch.from_numpy(v.copy()) for v in (x, gy, w, b, rm, rv))
        if which == "fwd":
            ours = lambda: f(x, w, b, rm, rv, True)  # noqa: E731
            npf = lambda: r(x, w, b, rm.copy(), rv.copy(), True)  # noqa: E731
            if torch is not None:
                tf = lambda: torch.native_batch_norm(tx, tw, tb, trm, trv, True, 0.1, 1e-5)  # noqa: E731
            check = lambda: _compare(list(zip(["y", "mean", "invstd"], f(x, w, b, rm.copy(), rv.copy(), True),  # noqa: E731
                                               r(x, w, b, rm.copy(), rv.copy(), True))))
            work = 2 * x.nbytes
        else:
            fb, rb = _cpu("batch_norm_backward"), _ref("batch_norm_backward")
            _, sm, si = f(x, w, b, rm.copy(), rv.copy(), True)
            ours = lambda: fb(gy, x, w, sm, si, True)  # noqa: E731
            npf = lambda: rb(gy, x, w, sm, si, True)  # noqa: E731
            if torch is not None:
                _, tsm, tsi = torch.native_batch_norm(tx, tw, tb, trm, trv, True, 0.1, 1e-5)
                tf = lambda: torch.ops.aten.native_batch_norm_backward(  # noqa: E731
                    tgy, tx, tw, trm, trv, tsm, tsi, True, 1e-5, [True, True, True])
            check = lambda: _compare(list(zip(["dx", "dw", "db"], fb(gy, x, w, sm, si, True), rb(gy, x, w, sm, si, True))))  # noqa: E731
            work = 3 * x.nbytes
        return Built(work=work, unit="GB/s", ours=ours, numpy=npf, torch=tf, check=check)
    return build, f"batchnorm {'x'.join(map(str, shape))} {which}"


def layer_norm_case(which, shape=(2048, 1024)):
    def build(rng):
        torch = _torch()
        D = shape[-1]
        x, gy = randn(rng, shape), randn(rng, shape)
        w, b = randn(rng, (D,)), randn(rng, (D,))
        f, r = _cpu("layer_norm_forward"), _ref("layer_norm_forward")
        tf = None
        if torch is not None:
            tx, tgy, tw, tb = (torch.from_numpy(v) for v in (x, gy, w, b))
        if which == "fwd":
            ours, npf = (lambda: f(x, (D,), w, b)), (lambda: r(x, (D,), w, b))
            if torch is not None:
                tf = lambda: torch.native_layer_norm(tx, [D], tw, tb, 1e-5)  # noqa: E731
            check = lambda: _compare(list(zip(["y", "mean", "rstd"], f(x, (D,), w, b), r(x, (D,), w, b))))  # noqa: E731
            work = 2 * x.nbytes
        else:
            fb, rb = _cpu("layer_norm_backward"), _ref("layer_norm_backward")
            _, mean, rstd = f(x, (D,), w, b)
            ours, npf = (lambda: fb(gy, x, mean, rstd, w)), (lambda: rb(gy, x, mean, rstd, w))
            if torch is not None:
                _, tm, ts = torch.native_layer_norm(tx, [D], tw, tb, 1e-5)
                tf = lambda: torch.ops.aten.native_layer_norm_backward(  # noqa: E731
                    tgy, tx, [D], tm, ts, tw, tb, [True, True, True])
            check = lambda: _compare(list(zip(["dx", "dw", "db"], fb(gy, x, mean, rstd, w),  # noqa: E731
                                              rb(gy, x, mean, rstd, w))))
            work = 3 * x.nbytes
        return Built(work=work, unit="GB/s", ours=ours, numpy=npf, torch=tf, check=check)
    return build, f"layer_norm {'x'.join(map(str, shape))} {which}"


def softmax_case(shape=(4096, 1000)):
    def build(rng):
        torch = _torch()
        x = randn(rng, shape)
        f, r = _cpu("log_softmax_forward"), _ref("log_softmax_forward")
        tx = torch.from_numpy(x) if torch else None
        tf = (lambda: torch.log_softmax(tx, -1)) if torch else None
        return Built(work=2 * x.nbytes, unit="GB/s", ours=lambda: f(x), numpy=lambda: r(x), torch=tf,
                     check=lambda: _compare([("y", f(x), r(x))]))
    return build, f"log_softmax {'x'.join(map(str, shape))} fwd"


# --------------------------------------------------------------------------- training step
DIGIT_BATCH = 128


class _SGDMomentum:
    """PyTorch's SGD with momentum (dampening 0, no weight decay) on p._data / p.grad._data, used
    only while pyengine.optim is not there: buf = momentum·buf + g; p -= lr·buf."""

    def __init__(self, params, lr, momentum):
        self.params, self.lr, self.momentum = list(params), lr, momentum
        self.bufs = [None] * len(self.params)

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self):
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            g = p.grad._data
            if self.bufs[i] is None:
                self.bufs[i] = g.copy()
            else:
                self.bufs[i] *= self.momentum
                self.bufs[i] += g
            p._data -= self.lr * self.bufs[i]


def _digit_cnn_ours():
    try:
        import pyengine
        from pyengine import nn
    except ImportError as e:
        raise NotAvailable(f"pyengine.nn not available ({e})") from None
    try:
        from pyengine import optim
    except ImportError:
        optim = None
    try:
        model = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2, 2),
            nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2, 2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.Flatten(), nn.Linear(32 * 7 * 7, 10))
        loss_fn = nn.CrossEntropyLoss()
        if optim is not None:
            opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        else:
            opt = _SGDMomentum(model.parameters(), lr=0.01, momentum=0.9)
        tensor = getattr(pyengine, "tensor", None) or pyengine.Tensor
    except (AttributeError, TypeError) as e:
        raise NotAvailable(f"digit CNN cannot be built with pyengine.nn ({type(e).__name__}: {e})") from None
    return model, loss_fn, opt, tensor


def _digit_cnn_torch(torch):
    nn = torch.nn
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 10))
    return model, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)


def train_case():
    def build(rng):
        model, loss_fn, opt, tensor = _digit_cnn_ours()
        x = rng.random((DIGIT_BATCH, 1, 28, 28), dtype=np.float32)
        y = rng.integers(0, 10, DIGIT_BATCH).astype(np.int64)
        X, Y = tensor(x), tensor(y)

        def step():
            opt.zero_grad()
            loss = loss_fn(model(X), Y)
            loss.backward()
            opt.step()
            return loss

        torch = _torch()
        tstep = None
        tmodel = None
        if torch is not None:
            tmodel, tloss_fn, topt = _digit_cnn_torch(torch)
            tx, ty = torch.from_numpy(x), torch.from_numpy(y)

            def tstep():
                topt.zero_grad()
                loss = tloss_fn(tmodel(tx), ty)
                loss.backward()
                topt.step()
                return loss

        def check():
            # Same weights in both frameworks (PyTorch names), one step each: the losses agree.
            if tmodel is None:
                first = float(np.asarray(step().numpy()))
                later = [float(np.asarray(step().numpy())) for _ in range(5)][-1]
                return bool(np.isfinite(first) and later < first), f"loss {first:.4f} -> {later:.4f} (no torch)"
            sd = {k: torch.from_numpy(np.array(v.numpy() if hasattr(v, "numpy") else v, np.float32))
                  for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
            tmodel.load_state_dict(sd, strict=False)
            ours_loss = float(np.asarray(step().numpy()))
            theirs = float(tstep().item())
            err = abs(ours_loss - theirs) / max(abs(theirs), 1e-12)
            return err < 1e-3, f"first-step loss {ours_loss:.5f} vs torch {theirs:.5f}"

        def peak_memory():
            import tracemalloc
            tracemalloc.start()
            step()
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            return peak
        return Built(work=DIGIT_BATCH, unit="img/s", ours=step, numpy=None, torch=tstep, check=check,
                     extra={"peak_memory": peak_memory,
                            "note": "" if not isinstance(opt, _SGDMomentum) else
                            "SGD momentum written in bench/cases.py (pyengine.optim not available)"})
    return build, f"train step digit CNN b{DIGIT_BATCH} SGD momentum"


# --------------------------------------------------------------------------- networks from the zoo
# pyengine.models against the same architecture in plain torch (tests/models/torch_zoo.py:
# torchvision's modules and names; torchvision itself is not installed beside torch 2.13), on the same
# weights: the torch model's (random, batch norm statistics made non-trivial) loaded into ours.
RESNET_CIFAR_BATCH = 32


def _torch_zoo():
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parent.parent / "tests" / "models" / "torch_zoo.py"
    if _torch() is None or not path.exists():
        raise NotAvailable("the torch reference models (tests/models/torch_zoo.py, torch) are not available")
    spec = importlib.util.spec_from_file_location("_bench_torch_zoo", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _zoo_pair(name, cifar=False):
    """(ours, theirs) with the same weights; cifar: ResNet's 32x32 form (a 3x3 stride-1 stem and no
    max-pool, as CIFAR ResNets have), 10 classes."""
    try:
        import pyengine
        from pyengine import models, nn
    except ImportError as e:
        raise NotAvailable(f"pyengine.models not available ({e})") from None
    torch, zoo = _torch(), _torch_zoo()
    torch.manual_seed(0)
    theirs = zoo.BUILDERS[name](num_classes=10)
    ours = models.get_model(name, num_classes=10)
    if cifar:
        theirs.conv1, theirs.maxpool = torch.nn.Conv2d(3, 64, 3, 1, 1, bias=False), torch.nn.Identity()
        ours.conv1, ours.maxpool = nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.Identity()
    zoo.randomize_batch_norm(theirs)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()}, strict=True)
    return pyengine, ours, torch, theirs


def resnet_cifar_train_case():
    """One SGD-momentum training step (forward in train mode, cross-entropy, backward, update)."""
    def build(rng):
        pe, ours, torch, theirs = _zoo_pair("resnet18", cifar=True)
        from pyengine import nn
        try:
            from pyengine import optim
            opt = optim.SGD(ours.parameters(), lr=0.01, momentum=0.9)
        except ImportError:
            opt = _SGDMomentum(ours.parameters(), lr=0.01, momentum=0.9)
        topt = torch.optim.SGD(theirs.parameters(), lr=0.01, momentum=0.9)
        loss_fn, tloss_fn = nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
        x = rng.standard_normal((RESNET_CIFAR_BATCH, 3, 32, 32)).astype(np.float32)
        y = rng.integers(0, 10, RESNET_CIFAR_BATCH).astype(np.int64)
        X, Y = pe.tensor(x), pe.tensor(y)
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)
        ours.train()
        theirs.train()

        def step():
            opt.zero_grad()
            loss = loss_fn(ours(X), Y)
            loss.backward()
            opt.step()
            return loss

        def tstep():
            topt.zero_grad()
            loss = tloss_fn(theirs(tx), ty)
            loss.backward()
            topt.step()
            return loss

        def check():
            # two steps each from the same weights: the second loss sees the first step's gradients
            got = [float(np.asarray(step().numpy())) for _ in range(2)]
            want = [float(tstep().item()) for _ in range(2)]
            err = max(abs(g - w) / max(abs(w), 1e-12) for g, w in zip(got, want))
            return err < 1e-3, f"losses {got[0]:.5f}, {got[1]:.5f} vs torch {want[0]:.5f}, {want[1]:.5f}"
        return Built(work=RESNET_CIFAR_BATCH, unit="img/s", ours=step, torch=tstep, check=check)
    return build, f"train step resnet18 cifar 32x32 b{RESNET_CIFAR_BATCH} SGD momentum"


def mobilenet_inference_case(batch):
    """Inference in eval mode: ours under no_grad, torch under torch.no_grad()."""
    def build(rng):
        pe, ours, torch, theirs = _zoo_pair("mobilenet_v2")
        ours.eval()
        theirs.eval()
        x = rng.standard_normal((batch, 3, 224, 224)).astype(np.float32)
        X, tx = pe.tensor(x), torch.from_numpy(x)

        def run():
            with pe.no_grad():
                return ours(X)

        def trun():
            with torch.no_grad():
                return theirs(tx)
        return Built(work=batch, unit="img/s", ours=run, torch=trun,
                     check=lambda: _compare([("logits", run().numpy(), trun().numpy())]))
    return build, f"inference mobilenet_v2 224x224 b{batch}"


# --------------------------------------------------------------------------- layers with no kernel of their own
# Conv1d (the 2-D kernels on (N, C, 1, L)), ConvTranspose2d (conv2d's backward-input kernel run
# forwards), interpolate and the padding modes, timed through pyengine.nn against torch.nn with the
# same weights: "fwd" under no_grad, "fwd+bwd" a training forward and backward with a fixed upstream
# gradient (input and parameter gradients, as autograd computes them).
def _layer_pair(kind):
    import pyengine as pe
    from pyengine import nn
    torch = _torch()
    if kind == "conv1d speech":
        N, C, K, L, k = 32, 40, 64, 1000, 5
        shape, ours = (N, C, L), nn.Conv1d(C, K, k, padding=2)
        theirs = torch.nn.Conv1d(C, K, k, padding=2) if torch else None
        return shape, ours, theirs, 2.0 * N * K * C * k * L, "GFLOP/s"
    if kind == "conv1d stride 2 reflect":
        N, C, K, L, k = 32, 64, 64, 1000, 3
        shape, ours = (N, C, L), nn.Conv1d(C, K, k, stride=2, padding=1, padding_mode="reflect")
        theirs = torch.nn.Conv1d(C, K, k, stride=2, padding=1, padding_mode="reflect") if torch else None
        return shape, ours, theirs, 2.0 * N * K * C * k * (L // 2), "GFLOP/s"
    if kind == "conv_transpose2d 64->32 k4 s2 16x16":
        N, C, K, H = 32, 64, 32, 16
        shape, ours = (N, C, H, H), nn.ConvTranspose2d(C, K, 4, stride=2, padding=1)
        theirs = torch.nn.ConvTranspose2d(C, K, 4, stride=2, padding=1) if torch else None
        return shape, ours, theirs, 2.0 * N * K * C * 16 * H * H, "GFLOP/s"
    if kind == "upsample bilinear x2 32x64x28x28":
        shape = (32, 64, 28, 28)
        ours = nn.Upsample(scale_factor=2, mode="bilinear")
        theirs = torch.nn.Upsample(scale_factor=2, mode="bilinear") if torch else None
        return shape, ours, theirs, 4.0 * np.prod(shape) * 5, "GB/s"
    if kind == "upsample nearest x2 32x64x28x28":
        shape = (32, 64, 28, 28)
        ours, theirs = nn.Upsample(scale_factor=2), torch.nn.Upsample(scale_factor=2) if torch else None
        return shape, ours, theirs, 4.0 * np.prod(shape) * 5, "GB/s"
    if kind == "adaptive max pool 7x7 of 32x64x30x30":
        shape = (32, 64, 30, 30)
        ours, theirs = nn.AdaptiveMaxPool2d(7), torch.nn.AdaptiveMaxPool2d(7) if torch else None
        return shape, ours, theirs, 4.0 * (np.prod(shape) + 32 * 64 * 49 * 3), "GB/s"
    if kind.startswith(("gelu ", "silu ", "mish ", "hardswish ")):   # activations on 32x64x28x28
        shape, name = (32, 64, 28, 28), kind.split()[0]
        layer = {"gelu": "GELU", "silu": "SiLU", "mish": "Mish", "hardswish": "Hardswish"}[name]
        ours, theirs = getattr(nn, layer)(), getattr(torch.nn, layer)() if torch else None
        return shape, ours, theirs, 4.0 * np.prod(shape) * 2, "GB/s"
    if kind.startswith(("reflection_pad2d ", "replication_pad2d ", "circular_pad2d ")):   # 3 on each side
        shape, name = (32, 64, 28, 28), kind.split()[0]
        if name == "circular_pad2d":
            ours, theirs = nn.CircularPad2d(3), torch.nn.CircularPad2d(3) if torch else None
        else:
            layer = {"reflection_pad2d": "ReflectionPad2d", "replication_pad2d": "ReplicationPad2d"}[name]
            ours, theirs = getattr(nn, layer)(3), getattr(torch.nn, layer)(3) if torch else None
        return shape, ours, theirs, 4.0 * (np.prod(shape) + 32 * 64 * 34 * 34), "GB/s"
    if kind == "dropout2d p=0.5 32x64x28x28":   # training mode: a fresh mask per call on both sides
        shape = (32, 64, 28, 28)
        ours, theirs = nn.Dropout2d(0.5), torch.nn.Dropout2d(0.5) if torch else None
        return shape, ours, theirs, 4.0 * np.prod(shape) * 2, "GB/s"
    if kind == "group_norm 8 groups 32x64x28x28":
        shape = (32, 64, 28, 28)
        ours, theirs = nn.GroupNorm(8, 64), torch.nn.GroupNorm(8, 64) if torch else None
        return shape, ours, theirs, 4.0 * np.prod(shape) * 2, "GB/s"
    raise KeyError(kind)


def layer_case(kind, which):
    def build(rng):
        import pyengine as pe
        torch = _torch()
        shape, ours, theirs, work, unit = _layer_pair(kind)
        if theirs is not None:
            theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in ours.state_dict().items()})
        x = randn(rng, shape)
        with pe.no_grad():
            y = ours(pe.tensor(x)).numpy()
        gy = randn(rng, y.shape)
        px, pgy = pe.tensor(x), pe.tensor(gy)
        tx = torch.from_numpy(x) if torch else None
        if which == "fwd":
            def run():
                with pe.no_grad():
                    return ours(px)
            tf = None
            if torch:
                def tf():
                    with torch.no_grad():
                        return theirs(tx)
        else:
            pxg = pe.tensor(x, requires_grad=True)

            def run():
                ours.zero_grad()
                pxg.grad = None
                ours(pxg).backward(pgy)
            tf = None
            if torch:
                txg, tgy = tx.clone().requires_grad_(True), torch.from_numpy(gy)

                def tf():
                    theirs.zero_grad()
                    txg.grad = None
                    theirs(txg).backward(tgy)

        def check():
            if not torch:
                return True, "no torch to compare with"
            if kind.startswith("dropout"):    # the masks are random on both sides: compare the kept scale
                kept = y[y != 0] / x[y != 0]
                return bool(np.allclose(kept, 2.0, rtol=1e-6)), "kept channels scaled by 1/(1 - p)"
            with torch.no_grad():
                return _compare([("y", y, theirs(tx).numpy())])
        return Built(work=work * (3 if which == "fwd+bwd" and unit == "GFLOP/s" else 1), unit=unit, ours=run,
                     torch=tf, check=check)
    return build, f"{kind} {which}"


def ctc_case(which, T=200, N=32, C=40, L=40):
    """The CTC kernels against torch's ctc_loss (CPU) at a speech-like shape: T frames, N utterances, C
    classes (blank 0), targets of L labels (concatenated). Work: the α (and β) recursion steps, 3 lse
    terms each — reported as the torch-relative time, the unit is frames·samples per second."""
    def build(rng):
        torch = _torch()
        x = randn(rng, (T, N, C))
        lp = (x - np.log(np.exp(x).sum(2, keepdims=True))).astype(np.float32)
        tl = np.full(N, L, np.int64)
        il = np.full(N, T, np.int64)
        tg = rng.integers(1, C, size=N * L).astype(np.int64)
        fwd, bwd = _cpu("ctc_loss_forward"), _cpu("ctc_loss_backward")
        rf, rb = _ref("ctc_loss_forward"), _ref("ctc_loss_backward")
        g = np.ones(N, np.float32)

        def ours():
            nll, alpha = fwd(lp, tg, il, tl)
            return nll if which == "fwd" else bwd(g, lp, tg, il, tl, alpha)

        tf = None
        if torch is not None:
            tlp, ttg, til, ttl = torch.from_numpy(lp), torch.from_numpy(tg), torch.from_numpy(il), torch.from_numpy(tl)
            if which == "fwd":
                def tf():
                    with torch.no_grad():
                        return torch.nn.functional.ctc_loss(tlp, ttg, til, ttl, reduction="none")
            else:
                tlpg = tlp.clone().requires_grad_(True)

                def tf():
                    tlpg.grad = None
                    torch.nn.functional.ctc_loss(tlpg, ttg, til, ttl, reduction="sum").backward()

        def check():
            small = (slice(0, 60), slice(0, 3))
            lp_s = np.ascontiguousarray(lp[small])
            tl_s = np.full(3, 10, np.int64)
            tg_s = tg[:30]
            il_s = np.full(3, 60, np.int64)
            got, want = fwd(lp_s, tg_s, il_s, tl_s), rf(lp_s.astype(np.float64), tg_s, il_s, tl_s)
            pairs = [("nll", got[0], want[0])]
            if which != "fwd":
                pairs.append(("grad", bwd(g[:3], lp_s, tg_s, il_s, tl_s, got[1]),
                              rb(g[:3].astype(np.float64), lp_s.astype(np.float64), tg_s, il_s, tl_s, want[1])))
            return _compare(pairs, tol=1e-4)
        return Built(work=float(T * N), unit="frames/s", ours=ours, torch=tf, check=check)
    return build, f"ctc_loss T={T} N={N} C={C} L={L} {which}"


def attention_case(which, N=8, H=8, L=256, E=64, causal=False):
    """The attention kernels against torch's F.scaled_dot_product_attention (CPU). Work: the two GEMMs of
    the forward, 4·N·H·L²·E flops (half with a causal mask), and twice that more for the backward."""
    flops = 4.0 * N * H * L * L * E * (0.5 if causal else 1.0) * (3 if which == "fwd+bwd" else 1)

    def build(rng):
        torch = _torch()
        q, k, v, g = (randn(rng, (N, H, L, E)) for _ in range(4))
        fwd, bwd = _cpu("attention_forward"), _cpu("attention_backward")
        rf, rb = _ref("attention_forward"), _ref("attention_backward")

        def ours():
            o, lse = fwd(q, k, v, None, causal)
            return o if which == "fwd" else bwd(g, q, k, v, o, lse, None, causal)

        tf = None
        if torch is not None:
            sdpa = torch.nn.functional.scaled_dot_product_attention
            if which == "fwd":
                tq, tk, tv = (torch.from_numpy(a) for a in (q, k, v))

                def tf():
                    with torch.no_grad():
                        return sdpa(tq, tk, tv, is_causal=causal)
            else:
                tq, tk, tv = (torch.from_numpy(a.copy()).requires_grad_(True) for a in (q, k, v))
                tg = torch.from_numpy(g)

                def tf():
                    for t in (tq, tk, tv):
                        t.grad = None
                    sdpa(tq, tk, tv, is_causal=causal).backward(tg)

        def check():
            s = (slice(0, 1), slice(0, 2))
            qs, ks, vs, gs = (np.ascontiguousarray(a[s]) for a in (q, k, v, g))
            o, lse = fwd(qs, ks, vs, None, causal)
            ro, rl = rf(*(a.astype(np.float64) for a in (qs, ks, vs)), None, causal)
            pairs = [("out", o, ro)]
            if which != "fwd":
                got = bwd(gs, qs, ks, vs, o, lse, None, causal)
                want = rb(*(a.astype(np.float64) for a in (gs, qs, ks, vs)), ro, rl, None, causal)
                pairs += list(zip(("dq", "dk", "dv"), got, want))
            return _compare(pairs, tol=1e-4)
        return Built(work=flops, unit="GFLOP/s", ours=ours, torch=tf, check=check)
    return build, f"attention N={N} H={H} L={L} E={E}{' causal' if causal else ''} {which}"


# --------------------------------------------------------------------------- the list
def all_cases(quick: bool) -> list:
    out = []

    def add(family, pair, in_quick):
        build, name = pair
        if in_quick or not quick:
            out.append(Case(name, family, build, in_quick))

    for n in (128, 256, 512, 1024, 2048, 4096):
        add("gemm", gemm_case(n, n, n), n in (128, 256, 1024))
    for ta, tb in ((False, True), (True, False), (True, True)):
        add("gemm", gemm_case(1024, 1024, 1024, ta, tb), False)
    add("gemm", gemm_case(64, 1024, 384), True)
    add("gemm", gemm_case(6272, 16, 72), True)
    for layer, (N, *_rest) in CONV_LAYERS.items():
        for which in ("fwd", "bwd_input", "bwd_weight", "fwd+bwd"):
            big = layer.startswith("resnet")
            if quick:
                add("conv2d", conv2d_case(layer, which, batch=4 if big else None), True)
            else:
                add("conv2d", conv2d_case(layer, which), False)
    for kind, which in (("max", "fwd"), ("max", "bwd"), ("max", "fwd uint8 taps"), ("max", "bwd uint8 taps"),
                        ("avg", "fwd"), ("avg", "bwd")):
        add("pool2d", pool2d_case(kind, which), True)
    add("lstm", lstm_case("fwd", T=10) if quick else lstm_case("fwd"), True)
    add("lstm", lstm_case("inference", T=10) if quick else lstm_case("inference"), True)
    add("lstm", lstm_case("fwd+bwd", T=10) if quick else lstm_case("fwd+bwd"), True)
    add("gru", gru_case("inference", T=10) if quick else gru_case("inference"), True)
    add("gru", gru_case("fwd+bwd", T=10) if quick else gru_case("fwd+bwd"), True)
    for which in ("inference", "fwd+bwd"):   # at the char-LSTM's shape
        add("lstm", lstm_case(which, **CHAR_LSTM), False)
        add("gru", gru_case(which, **CHAR_LSTM), False)
    add("linear", linear_case("fwd"), True)
    add("linear", linear_case("bwd"), False)
    add("activation", relu_case("fwd"), True)
    add("activation", relu_case("bwd"), False)
    add("embedding", embedding_case("fwd"), False)
    add("embedding", embedding_case("bwd"), False)
    add("batch_norm", batch_norm_case("fwd"), True)
    add("batch_norm", batch_norm_case("bwd"), False)
    add("layer_norm", layer_norm_case("fwd"), True)
    add("layer_norm", layer_norm_case("bwd"), False)
    add("softmax", softmax_case(), False)
    for which in ("fwd", "fwd+bwd"):
        add("ctc_loss", ctc_case(which), False)
        add("attention", attention_case(which), which == "fwd")
        add("attention", attention_case(which, causal=True), False)
    for kind in ("conv1d speech", "conv1d stride 2 reflect", "conv_transpose2d 64->32 k4 s2 16x16",
                 "upsample bilinear x2 32x64x28x28", "upsample nearest x2 32x64x28x28",
                 "adaptive max pool 7x7 of 32x64x30x30", "group_norm 8 groups 32x64x28x28", "gelu 32x64x28x28",
                 "silu 32x64x28x28", "mish 32x64x28x28", "hardswish 32x64x28x28", "reflection_pad2d 3 32x64x28x28",
                 "replication_pad2d 3 32x64x28x28", "circular_pad2d 3 32x64x28x28", "dropout2d p=0.5 32x64x28x28"):
        for which in ("fwd", "fwd+bwd"):
            family = {"conv1d": "conv1d", "conv_transpose2d": "conv_transpose2d", "upsample": "interpolate",
                      "adaptive": "adaptive_pool2d", "group_norm": "group_norm", "gelu": "activation",
                      "silu": "activation", "mish": "activation", "hardswish": "activation",
                      "reflection_pad2d": "pad", "replication_pad2d": "pad", "circular_pad2d": "pad",
                      "dropout2d": "dropout"}[kind.split()[0]]
            add(family, layer_case(kind, which), kind == "conv1d speech")
    add("train", train_case(), True)
    add("train", resnet_cifar_train_case(), False)
    add("train", char_lstm_train_case(), False)
    for batch in (1, 8):
        add("inference", mobilenet_inference_case(batch), batch == 1)
    return out
