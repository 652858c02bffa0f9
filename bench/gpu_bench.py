"""GPU benchmarks of pyengine.kernels.cuda against the vendor libraries, as ratios in one run.

    python bench/gpu_bench.py --out DIR [--quick]

Measures, on the current GPU (issue 6's targets in brackets):
  * device-to-device copy bandwidth (the ceiling for pooling) and SGEMM 4096³: ours fp32, ours TF32,
    cuBLAS through CuPy with TF32 off [ours ≥ 0.8× cuBLAS; TF32 ≥ 2× our fp32]
  * convolution forward + backward (input, weight, bias) on ResNet-style layers at batch 32 and 128
    and on the digit-CNN layers, against cuDNN through PyTorch (TF32 off) [≥ 0.7×; digit ≥ 1.0×]
  * max / average pooling forward and backward as a fraction of the copy bandwidth [≥ 60%]
  * LSTM T=50 N=64 I=128 H=256 forward + backward against torch.nn.LSTM (cuDNN) [≥ 0.5×]
  * the digit-CNN training step at batch 128 written directly on the kernels, against the same
    network as torch.nn modules with SGD momentum [≥ 1.0× images/s]
Each figure is the median of repeated timed batches after warm-up, the device synchronised around
each batch. Results go to DIR/gpu_bench.json and a table to DIR/gpu_bench.txt (and stdout).
Every pyengine result is checked against the library's before it is timed.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("CUPY_TF32", "0")  # cuBLAS in plain fp32, read when CuPy is imported

import cupy as cp  # noqa: E402

import pyengine.backends.cuda as backend  # noqa: E402
import pyengine.kernels.cuda as kc  # noqa: E402

try:
    import torch
    import torch.nn.functional as F
    HAVE_TORCH = torch.cuda.is_available()
except ImportError:  # pragma: no cover - the GPU image has torch
    HAVE_TORCH = False

ROWS: list[dict] = []


def sync():
    cp.cuda.Device().synchronize()
    if HAVE_TORCH:
        torch.cuda.synchronize()


def timeit(fn, repeats=7, min_time=0.05):
    """Median seconds per call: warm-up, then `repeats` batches sized to last about min_time each."""
    fn()
    sync()
    t0 = time.perf_counter()
    fn()
    sync()
    one = max(time.perf_counter() - t0, 1e-6)
    inner = max(1, int(min_time / one))
    times = []
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        sync()
        times.append((time.perf_counter() - t0) / inner)
    return statistics.median(times)


def record(group, name, ours_s, ref_s=None, ref_name="", work=None, unit="", target=None, note=""):
    row = {"group": group, "name": name, "ours_ms": ours_s * 1e3}
    if ref_s is not None:
        row.update(ref=ref_name, ref_ms=ref_s * 1e3, ratio=ref_s / ours_s)
    if work is not None:
        row.update(rate=work / ours_s, unit=unit)
        if ref_s is not None:
            row["ref_rate"] = work / ref_s
    if target is not None:
        row["target"] = target
    if note:
        row["note"] = note
    ROWS.append(row)
    ratio = f"{row['ratio']:.2f}x {ref_name}" if ref_s is not None else ""
    rate = f"{row['rate']:.3g} {unit}" if work is not None else ""
    print(f"{group:8s} {name:44s} ours {row['ours_ms']:9.3f} ms  {rate:>18s}  {ratio:>16s}"
          + (f"  (target {target})" if target else ""), flush=True)


def rel_err(a, b):
    a, b = cp.asnumpy(a).astype(np.float64), np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def tt(x):
    """A CuPy array as a torch tensor sharing memory."""
    return torch.from_dlpack(x)


def bench_copy(quick):
    n = (1 << 26) if quick else (1 << 28)  # float32 elements: 256 MiB or 1 GiB
    a = cp.random.standard_normal(n, dtype=cp.float32)
    b = cp.empty_like(a)
    s = timeit(lambda: cp.copyto(b, a))
    record("memory", f"device copy {n * 4 >> 20} MiB", s, work=2 * 4 * n / 1e9, unit="GB/s")
    return 2 * 4 * n / s


def bench_gemm(quick):
    for n in ([1024, 2048] if quick else [1024, 2048, 4096]):
        a = cp.random.standard_normal((n, n), dtype=cp.float32)
        b = cp.random.standard_normal((n, n), dtype=cp.float32)
        want = cp.matmul(a, b)
        backend.allow_tf32 = False
        err = rel_err(kc.gemm(a, b), cp.asnumpy(want))
        assert err < 1e-5, f"gemm {n}: rel error {err}"
        flops = 2.0 * n ** 3 / 1e12
        ref = timeit(lambda: cp.matmul(a, b))
        ours = timeit(lambda: kc.gemm(a, b))
        record("gemm", f"SGEMM {n}^3 fp32", ours, ref, "cuBLAS", flops, "TFLOP/s",
               "0.8x" if n == 4096 else None, note=f"rel err {err:.1e}")
        backend.allow_tf32 = True
        err32 = rel_err(kc.gemm(a, b), cp.asnumpy(want))
        tf = timeit(lambda: kc.gemm(a, b))
        backend.allow_tf32 = False
        record("gemm", f"SGEMM {n}^3 TF32 (ratio vs our fp32)", tf, ours, "ours fp32", flops, "TFLOP/s",
               "2x" if n == 4096 else None, note=f"rel err {err32:.1e}")
        for ta, tb in ((True, False), (False, True)):
            ours_t = timeit(lambda: kc.gemm(a, b, trans_a=ta, trans_b=tb))
            record("gemm", f"SGEMM {n}^3 fp32 trans_a={ta} trans_b={tb}", ours_t, ref, "cuBLAS NN", flops,
                   "TFLOP/s")


CONV_LAYERS = [  # (name, N, C, H, K, R, stride, padding, target)
    ("resnet 64->64 3x3 56x56", 32, 64, 56, 64, 3, 1, 1, "0.7x"),
    ("resnet 64->64 3x3 56x56", 128, 64, 56, 64, 3, 1, 1, "0.7x"),
    ("resnet 128->128 3x3 28x28", 32, 128, 28, 128, 3, 1, 1, "0.7x"),
    ("resnet 128->128 3x3 28x28", 128, 128, 28, 128, 3, 1, 1, "0.7x"),
    ("resnet 256->256 3x3 14x14", 128, 256, 14, 256, 3, 1, 1, "0.7x"),
    ("resnet 64->128 3x3/2 56x56", 128, 64, 56, 128, 3, 2, 1, "0.7x"),
    ("resnet 256->64 1x1 56x56", 32, 256, 56, 64, 1, 1, 0, "0.7x"),
    ("digit 1->8 3x3 28x28", 128, 1, 28, 8, 3, 1, 1, "1.0x"),
    ("digit 8->16 3x3 14x14", 128, 8, 14, 16, 3, 1, 1, "1.0x"),
    ("digit 16->32 3x3 7x7", 128, 16, 7, 32, 3, 1, 1, "1.0x"),
]


def bench_conv(quick):
    layers = CONV_LAYERS[::3] + CONV_LAYERS[7:] if quick else CONV_LAYERS
    for name, n, c, h, k, r, st, pad, target in layers:
        x = cp.random.standard_normal((n, c, h, h), dtype=cp.float32)
        w = cp.random.standard_normal((k, c, r, r), dtype=cp.float32) * (1.0 / np.sqrt(c * r * r))
        b = cp.random.standard_normal((k,), dtype=cp.float32)
        y = kc.conv2d_forward(x, w, b, stride=st, padding=pad)
        g = cp.random.standard_normal(y.shape, dtype=cp.float32)

        def ours():
            kc.conv2d_forward(x, w, b, stride=st, padding=pad)
            kc.conv2d_backward_input(g, w, x.shape, stride=st, padding=pad)
            kc.conv2d_backward_weight(g, x, w.shape, stride=st, padding=pad)
            kc.conv2d_backward_bias(g)

        oh = y.shape[2]
        flops = 3 * 2.0 * n * k * c * r * r * oh * oh / 1e12
        ref = None
        if HAVE_TORCH:
            xt, wt, bt, gt = tt(x).clone().requires_grad_(), tt(w).clone().requires_grad_(), \
                tt(b).clone().requires_grad_(), tt(g)
            yt = F.conv2d(xt, wt, bt, stride=st, padding=pad)
            err = rel_err(y, yt.detach().cpu().numpy())
            assert err < 1e-4, f"conv {name}: rel error {err}"
            gx = kc.conv2d_backward_input(g, w, x.shape, stride=st, padding=pad)
            gw = kc.conv2d_backward_weight(g, x, w.shape, stride=st, padding=pad)
            rgx, rgw = torch.autograd.grad(yt, (xt, wt), gt)
            assert rel_err(gx, rgx.cpu().numpy()) < 1e-4 and rel_err(gw, rgw.cpu().numpy()) < 1e-4, name

            def theirs():
                yy = F.conv2d(xt, wt, bt, stride=st, padding=pad)
                torch.autograd.grad(yy, (xt, wt, bt), gt)

            ref = timeit(theirs)
        record("conv", f"{name} N={n} fwd+bwd", timeit(ours), ref, "cuDNN", flops, "TFLOP/s", target)


def bench_pool(copy_bw, quick):
    shapes = [(128, 32, 28, 28), (128, 64, 112, 112)] if not quick else [(128, 64, 112, 112)]
    for shape in shapes:
        x = cp.random.standard_normal(shape, dtype=cp.float32)
        y, ind = kc.max_pool2d_forward(x, 2, 2)
        g = cp.random.standard_normal(y.shape, dtype=cp.float32)
        nbytes_f = x.nbytes + y.nbytes + ind.nbytes
        nbytes_b = g.nbytes + ind.nbytes + x.nbytes
        ref_f = ref_b = None
        if HAVE_TORCH:
            xt = tt(x)
            yt, it = F.max_pool2d(xt, 2, 2, return_indices=True)
            assert rel_err(y, yt.cpu().numpy()) == 0.0
            ref_f = timeit(lambda: F.max_pool2d(xt, 2, 2, return_indices=True))
            xg = tt(x).clone().requires_grad_()
            yg = F.max_pool2d(xg, 2, 2)
            ref_b = timeit(lambda: torch.autograd.grad(yg, xg, tt(g), retain_graph=True))
        s_f = timeit(lambda: kc.max_pool2d_forward(x, 2, 2))
        record("pool", f"max 2x2/2 fwd {shape}", s_f, ref_f, "cuDNN", nbytes_f / 1e9, "GB/s", "60% copy",
               note=f"{nbytes_f / s_f / copy_bw:.0%} of copy bandwidth")
        s_b = timeit(lambda: kc.max_pool2d_backward_input(g, ind, x.shape))
        record("pool", f"max 2x2/2 bwd {shape}", s_b, ref_b, "PyTorch", nbytes_b / 1e9, "GB/s", "60% copy",
               note=f"{nbytes_b / s_b / copy_bw:.0%} of copy bandwidth")
        s_a = timeit(lambda: kc.avg_pool2d_forward(x, 2, 2))
        ref_a = timeit(lambda: F.avg_pool2d(tt(x), 2, 2)) if HAVE_TORCH else None
        nb = x.nbytes + y.nbytes
        record("pool", f"avg 2x2/2 fwd {shape}", s_a, ref_a, "cuDNN", nb / 1e9, "GB/s", "60% copy",
               note=f"{nb / s_a / copy_bw:.0%} of copy bandwidth")
        s_g = timeit(lambda: kc.global_avg_pool2d_forward(x))
        record("pool", f"global avg fwd {shape}", s_g, None, "", x.nbytes / 1e9, "GB/s", None,
               note=f"{x.nbytes / s_g / copy_bw:.0%} of copy bandwidth")


def bench_lstm(quick):
    t, n, i, h = 50, 64, 128, 256
    rs = np.random.default_rng(0)
    host = [rs.standard_normal(s).astype(np.float32) * 0.1 for s in
            [(t, n, i), (n, h), (n, h), (4 * h, i), (4 * h, h), (4 * h,), (4 * h,)]]
    dev = [cp.asarray(a) for a in host]
    gy = cp.asarray(rs.standard_normal((t, n, h)).astype(np.float32))
    y, h_t, c_t, saved = kc.lstm_forward(*dev)

    def ours_f():
        kc.lstm_forward(*dev)

    def ours_fb():
        yy, _, _, sv = kc.lstm_forward(*dev)
        kc.lstm_backward(gy, None, None, *dev[:5], sv)

    flops = 2.0 * t * n * 4 * h * (i + h) / 1e12
    ref_f = ref_fb = None
    if HAVE_TORCH:
        lstm = torch.nn.LSTM(i, h).cuda()
        with torch.no_grad():
            lstm.weight_ih_l0.copy_(torch.from_numpy(host[3]))
            lstm.weight_hh_l0.copy_(torch.from_numpy(host[4]))
            lstm.bias_ih_l0.copy_(torch.from_numpy(host[5]))
            lstm.bias_hh_l0.copy_(torch.from_numpy(host[6]))
        xt = torch.from_numpy(host[0]).cuda().requires_grad_()
        h0, c0 = torch.from_numpy(host[1]).cuda(), torch.from_numpy(host[2]).cuda()
        yt, _ = lstm(xt, (h0, c0))
        err = rel_err(y, yt.detach().cpu().numpy())
        assert err < 1e-4, f"lstm rel error {err}"
        gyt = tt(gy)
        ref_f = timeit(lambda: lstm(xt, (h0, c0)))

        def theirs_fb():
            yy, _ = lstm(xt, (h0, c0))
            torch.autograd.grad(yy, [xt] + list(lstm.parameters()), gyt)

        ref_fb = timeit(theirs_fb)
    record("lstm", "T=50 N=64 I=128 H=256 fwd", timeit(ours_f), ref_f, "cuDNN", flops, "TFLOP/s")
    record("lstm", "T=50 N=64 I=128 H=256 fwd+bwd", timeit(ours_fb), ref_fb, "cuDNN", 3 * flops, "TFLOP/s", "0.5x")


class DigitCNN:
    """The digit CNN of DESIGN.md written directly on kernels.cuda: one training step = forward,
    backward and SGD momentum over every parameter, with no autograd layer in between."""

    def __init__(self, rs):
        def p(*shape, fan):
            return cp.asarray(rs.standard_normal(shape).astype(np.float32) / np.sqrt(fan))
        self.params = {
            "c1": p(8, 1, 3, 3, fan=9), "b1": cp.zeros(8, cp.float32),
            "c2": p(16, 8, 3, 3, fan=72), "b2": cp.zeros(16, cp.float32),
            "c3": p(32, 16, 3, 3, fan=144), "b3": cp.zeros(32, cp.float32),
            "fc": p(10, 32 * 7 * 7, fan=32 * 49), "fcb": cp.zeros(10, cp.float32),
        }
        for i, c in ((1, 8), (2, 16), (3, 32)):
            self.params[f"g{i}"] = cp.ones(c, cp.float32)
            self.params[f"be{i}"] = cp.zeros(c, cp.float32)
        self.running = {i: (cp.zeros(c, cp.float32), cp.ones(c, cp.float32)) for i, c in ((1, 8), (2, 16), (3, 32))}
        self.momentum = {k: cp.zeros_like(v) for k, v in self.params.items()}
        self.first = True

    def step(self, x, target, lr=0.01):
        P, grads = self.params, {}
        acts = []
        h = x
        for i in (1, 2, 3):
            z = kc.conv2d_forward(h, P[f"c{i}"], P[f"b{i}"], padding=1)
            rm, rv = self.running[i]
            bn, mean, invstd = kc.batch_norm_forward(z, P[f"g{i}"], P[f"be{i}"], rm, rv, True)
            a = kc.relu_forward(bn)
            if i < 3:
                pooled, ind = kc.max_pool2d_forward(a, 2, 2)
            else:
                pooled, ind = a, None
            acts.append((h, z, bn, mean, invstd, a, ind))
            h = pooled
        flat = h.reshape(h.shape[0], -1)
        logits = kc.linear_forward(flat, P["fc"], P["fcb"])
        loss = kc.cross_entropy_forward(logits, target)
        g = kc.cross_entropy_backward(cp.ones((), cp.float32), logits, target)
        gflat, grads["fc"], grads["fcb"] = kc.linear_backward(g, flat, P["fc"])
        gh = gflat.reshape(h.shape)
        for i in (3, 2, 1):
            hin, z, bn, mean, invstd, a, ind = acts[i - 1]
            if ind is not None:
                gh = kc.max_pool2d_backward_input(gh, ind, a.shape)
            gbn = kc.relu_backward(gh, bn)
            gz, grads[f"g{i}"], grads[f"be{i}"] = kc.batch_norm_backward(gbn, z, P[f"g{i}"], mean, invstd, True)
            grads[f"c{i}"] = kc.conv2d_backward_weight(gz, hin, P[f"c{i}"].shape, padding=1)
            grads[f"b{i}"] = kc.conv2d_backward_bias(gz)
            if i > 1:
                gh = kc.conv2d_backward_input(gz, P[f"c{i}"], hin.shape, padding=1)
        for k, v in P.items():
            kc.sgd_step(v, grads[k], self.momentum[k], lr=lr, momentum=0.9, first_step=self.first)
        self.first = False
        return loss


def bench_train_step(quick):
    rs = np.random.default_rng(0)
    n = 128
    x = cp.asarray(rs.standard_normal((n, 1, 28, 28)).astype(np.float32))
    target = cp.asarray(rs.integers(0, 10, n).astype(np.int64))
    net = DigitCNN(rs)
    ours = timeit(lambda: net.step(x, target))
    ref = None
    if HAVE_TORCH:
        nn = torch.nn
        model = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.Flatten(),
            nn.Linear(32 * 49, 10)).cuda()
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        xt, tt_ = tt(x), tt(target)

        def theirs():
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(xt), tt_)
            loss.backward()
            opt.step()

        ref = timeit(theirs)
    record("train", "digit CNN step, batch 128, SGD momentum", ours, ref, "PyTorch", n / 1e3, "k img/s", "1.0x")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=".")
    ap.add_argument("--quick", action="store_true", help="fewer sizes (a smoke run)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    if HAVE_TORCH:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.benchmark = True
    dev = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)
    print(f"device: {dev['name'].decode()}  SMs {dev['multiProcessorCount']}", flush=True)
    copy_bw = bench_copy(args.quick)
    failures = []
    for name, fn in (("gemm", lambda: bench_gemm(args.quick)), ("conv", lambda: bench_conv(args.quick)),
                     ("pool", lambda: bench_pool(copy_bw, args.quick)), ("lstm", lambda: bench_lstm(args.quick)),
                     ("train", lambda: bench_train_step(args.quick))):
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - one failing group must not hide the others' figures
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
            print(f"{name} FAILED: {type(exc).__name__}: {exc}", flush=True)
    result = {"device": dev["name"].decode(), "copy_GBps": copy_bw / 1e9, "rows": ROWS, "failures": failures,
              "torch": torch.__version__ if HAVE_TORCH else None, "cupy": cp.__version__}
    with open(os.path.join(args.out, "gpu_bench.json"), "w") as f:
        json.dump(result, f, indent=1)
    with open(os.path.join(args.out, "gpu_bench.txt"), "w") as f:
        for r in ROWS:
            f.write(json.dumps(r) + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
