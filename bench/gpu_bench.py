"""GPU benchmarks of pyengine.kernels.cuda against the vendor libraries, side by side in one run.

    python bench/gpu_bench.py --out DIR [--name h200-DATE] [--case-seconds 5] [--time-limit 120] [--only GROUP]
    python bench/gpu_bench.py --list          # the cases with their FLOPs, bytes and H200 floors (no GPU needed)
    python bench/gpu_bench.py --report --out DIR --name NAME [--summary TSV] [--env FILE]

Cases (the issue's targets in brackets), every pyengine result checked against the library's first:
  * device-to-device copy (the bandwidth ceiling); SGEMM 1024³-4096³ fp32 against cuBLAS through CuPy
    (TF32 off) [4096³ ≥ 0.8×], and our TF32 path against cuBLAS TF32 through PyTorch [≥ 0.6×]
  * convolution forward + backward (input, weight, bias) on ResNet layers at batch 32 and 128
    [≥ 0.7× cuDNN through PyTorch, TF32 off] and on the digit-CNN layers [≥ 1.0×]
  * max / average / global-average pooling as a fraction of the measured copy bandwidth [≥ 60%]
  * LSTM T=50 N=64 I=128 H=256 forward and forward + backward against torch.nn.LSTM (cuDNN) [≥ 0.5×]
  * the digit-CNN training step at batch 128 on the kernels against the same network in PyTorch [≥ 1.0×]

Timing: median of repeated timed batches after a warm-up, the device synchronised around each
batch; one timing lasts about --timing-seconds, one case at most about --case-seconds (a case
whose single call is slower still stops after three calls), and no case starts once --time-limit
has passed. Each case's FLOPs and bytes (each input read once, each output written once) give its
floor on the GPU: max(FLOPs / rate, bytes / bandwidth), with the datasheet rates of the H200 and,
once measured in the same run, cuBLAS's rates and the copy bandwidth. DIR/NAME.json and DIR/NAME.md
are rewritten after every case, so a run cut short keeps what it measured.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass, field

import numpy as np

# H200 SXM: datasheet fp32 (no tensor cores) and dense TF32 tensor-core rates; copy bandwidth as
# measured device-to-device on the lent H200 (bytes read + written; vendor figure 4.8 TB/s).
DATASHEET = {"fp32": 67e12, "tf32": 495e12, "bw": 4.3e12}
F32 = 4


@dataclass
class Case:
    group: str
    name: str
    flops: float
    nbytes: float
    unit: str            # of the throughput column: TFLOP/s, GB/s or k img/s
    rate: str            # which rate bounds it: fp32, tf32 or bw
    run: object = None   # run(ctx) -> dict(ours_s=..., ref_s=..., ref=..., note=...)
    target: str | None = None
    work: float = 0.0    # throughput numerator (FLOPs, bytes or images)
    note: str = ""
    tags: tuple = field(default_factory=tuple)

    def floor_s(self, rates) -> float:
        compute = self.flops / rates["tf32" if self.rate == "tf32" else "fp32"] if self.flops else 0.0
        return max(compute, self.nbytes / rates["bw"])


# ---- the cases: sizes, FLOPs and bytes are known without a GPU --------------------------------------

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
POOL_SHAPES = [(128, 32, 28, 28), (128, 64, 112, 112)]
LSTM_SIZE = (50, 64, 128, 256)  # T, N, I, H


def conv_counts(n, c, h, k, r, st, pad):
    """FLOPs and fewest bytes of forward + backward input + backward weight + backward bias."""
    oh = (h + 2 * pad - r) // st + 1
    x, y, w = n * c * h * h, n * k * oh * oh, k * c * r * r
    flops = 3 * 2.0 * n * k * c * r * r * oh * oh
    # fwd reads x, w writes y; bwd-input reads gy, w writes gx; bwd-weight reads gy, x writes gw;
    # bias reads gy writes gb
    nbytes = F32 * (3 * x + 4 * y + 3 * w + k)
    return flops, nbytes, oh


def lstm_counts(fb: bool):
    """FLOPs of the gate GEMMs and the fewest bytes: forward reads x and the weights and writes y and
    the saved gates and cells; backward reads grad_y, the saved tensors, x and the weights, and
    writes grad_x and the weight and bias gradients."""
    t, n, i, h = LSTM_SIZE
    flops = 2.0 * t * n * 4 * h * (i + h) * (3 if fb else 1)
    weights = 4 * h * (i + h) + 8 * h
    fwd = F32 * (t * n * i + weights + t * n * h + t * n * 4 * h + t * n * h)
    bwd = F32 * (t * n * h + t * n * 6 * h + t * n * i + weights + t * n * i + weights)
    return flops, fwd + (bwd if fb else 0)


def digit_step_counts(n=128):
    flops = 0.0
    act = 0
    for c, k, hw in ((1, 8, 28), (8, 16, 14), (16, 32, 7)):
        flops += 3 * 2.0 * n * k * c * 9 * hw * hw
        act += n * k * hw * hw
    flops += 3 * 2.0 * n * 10 * 32 * 49
    # each activation is written and read a few times (conv, BN, ReLU, pool, and back): about 8 passes
    nbytes = F32 * (n * 28 * 28 + 8 * act)
    return flops, nbytes


def build_cases(quick=False) -> list[Case]:
    cases = [Case("memory", "device copy 1024 MiB", 0.0, 2 * F32 * (1 << 28), "GB/s", "bw", run_copy,
                  work=2 * F32 * (1 << 28))]
    for n in ([1024, 4096] if quick else [1024, 2048, 4096]):
        flops, nb = 2.0 * n ** 3, 3 * F32 * n * n
        cases.append(Case("gemm", f"SGEMM {n}^3 fp32", flops, nb, "TFLOP/s", "fp32", run_gemm, "0.8x" if n == 4096 else None,
                          work=flops, tags=(n, "fp32")))
        cases.append(Case("gemm", f"SGEMM {n}^3 TF32", flops, nb, "TFLOP/s", "tf32", run_gemm, "0.6x" if n == 4096 else None,
                          work=flops, tags=(n, "tf32")))
    for ta, tb in ((True, False), (False, True)):
        n = 4096
        flops, nb = 2.0 * n ** 3, 3 * F32 * n * n
        cases.append(Case("gemm", f"SGEMM {n}^3 fp32 {'A^T B' if ta else 'A B^T'}", flops, nb, "TFLOP/s", "fp32",
                          run_gemm, work=flops, tags=(n, "fp32", ta, tb)))
    layers = [CONV_LAYERS[i] for i in (0, 3, 6, 7, 8, 9)] if quick else CONV_LAYERS
    for name, n, c, h, k, r, st, pad, target in layers:
        flops, nb, _ = conv_counts(n, c, h, k, r, st, pad)
        cases.append(Case("conv", f"{name} N={n} fwd+bwd", flops, nb, "TFLOP/s", "fp32", run_conv, target,
                          work=flops, tags=(n, c, h, k, r, st, pad)))
    for shape in POOL_SHAPES[1:] if quick else POOL_SHAPES:
        n, c, h, w = shape
        x, y = n * c * h * w, n * c * (h // 2) * (w // 2)
        cases.append(Case("pool", f"max 2x2/2 fwd {shape}", 0.0, F32 * (x + y) + 8 * y, "GB/s", "bw", run_pool,
                          "60% copy", work=F32 * (x + y) + 8 * y, tags=("max_f", shape)))
        cases.append(Case("pool", f"max 2x2/2 bwd {shape}", 0.0, F32 * (y + x) + 8 * y, "GB/s", "bw", run_pool,
                          "60% copy", work=F32 * (y + x) + 8 * y, tags=("max_b", shape)))
        cases.append(Case("pool", f"avg 2x2/2 fwd {shape}", 0.0, F32 * (x + y), "GB/s", "bw", run_pool, "60% copy",
                          work=F32 * (x + y), tags=("avg_f", shape)))
        cases.append(Case("pool", f"global avg fwd {shape}", 0.0, F32 * (x + n * c), "GB/s", "bw", run_pool, None,
                          work=F32 * (x + n * c), tags=("gavg_f", shape)))
    t, n, i, h = LSTM_SIZE
    for fb in (False, True):
        flops, nb = lstm_counts(fb)
        cases.append(Case("lstm", f"T={t} N={n} I={i} H={h} {'fwd+bwd' if fb else 'fwd'}", flops, nb, "TFLOP/s", "fp32",
                          run_lstm, "0.5x" if fb else None, work=flops, tags=(fb,),
                          note="a chain of 2·T dependent steps: launch- and host-bound, not FLOP-bound"))
    flops, nb = digit_step_counts()
    cases.append(Case("train", "digit CNN step, batch 128, SGD momentum", flops, nb, "k img/s", "fp32", run_train, "1.0x",
                      work=128 / 1e3, note="about 70 small launches and 3 host waits per step: host-bound"))
    return cases


# ---- timing ---------------------------------------------------------------------------------------------

class CaseCut(Exception):
    """The case used up its time (--case-seconds) before all of its timings ran."""


class Ctx:
    def __init__(self, args):
        self.args = args
        self.case_t0 = time.perf_counter()
        self.rates = dict(DATASHEET)     # replaced by the measured ones as they come in
        self.measured = {}
        import cupy as cp
        self.cp = cp
        try:
            import torch
            self.torch = torch if torch.cuda.is_available() else None
        except ImportError:
            self.torch = None

    def sync(self):
        self.cp.cuda.Device().synchronize()
        if self.torch is not None:
            self.torch.cuda.synchronize()

    def timeit(self, fn) -> float:
        """Median seconds per call of fn: one warm-up call, then up to 7 timed batches whose size is
        chosen from the warm-up so that all of them take about --timing-seconds."""
        if time.perf_counter() - self.case_t0 > self.args.case_seconds:
            raise CaseCut(f"case over its {self.args.case_seconds:g} s")
        budget = self.args.timing_seconds
        self.sync()
        t0 = time.perf_counter()
        fn()
        self.sync()
        one = max(time.perf_counter() - t0, 1e-7)
        if one > budget / 3:
            inner, repeats = 1, 2
        else:
            repeats = 7
            inner = max(1, int(budget / repeats / one))
        times = []
        for _ in range(repeats):
            self.sync()
            t0 = time.perf_counter()
            for _ in range(inner):
                fn()
            self.sync()
            times.append((time.perf_counter() - t0) / inner)
        return statistics.median(times)

    def rel_err(self, got, want) -> float:
        """‖got − want‖ / ‖want‖ in float64 on the device (want a CuPy array or a torch tensor)."""
        cp = self.cp
        if self.torch is not None and isinstance(want, self.torch.Tensor):
            want = cp.from_dlpack(want.detach().contiguous())
        g, w = cp.asarray(got, dtype=cp.float64), cp.asarray(want, dtype=cp.float64)
        return float(cp.linalg.norm(g - w) / max(float(cp.linalg.norm(w)), 1e-30))

    def tt(self, x):
        return self.torch.from_dlpack(x)


def _kc():
    import pyengine.kernels.cuda as kc
    return kc


def _backend():
    import pyengine.backends.cuda as backend
    return backend


def run_copy(ctx, case):
    cp = ctx.cp
    a = cp.random.standard_normal(1 << 28, dtype=cp.float32)
    b = cp.empty_like(a)
    s = ctx.timeit(lambda: cp.copyto(b, a))
    ctx.rates["bw"] = ctx.measured["bw"] = case.nbytes / s
    return {"ours_s": s, "note": "CuPy copyto; bytes read + written"}


def run_gemm(ctx, case):
    cp, kc, backend = ctx.cp, _kc(), _backend()
    n, mode = case.tags[0], case.tags[1]
    ta, tb = (case.tags[2], case.tags[3]) if len(case.tags) > 2 else (False, False)
    a = cp.random.standard_normal((n, n), dtype=cp.float32)
    b = cp.random.standard_normal((n, n), dtype=cp.float32)
    a_op, b_op = (a.T if ta else a), (b.T if tb else b)
    want = cp.matmul(a_op, b_op)  # cuBLAS, TF32 off (CUPY_TF32=0)
    tf32 = mode == "tf32"
    backend.allow_tf32 = tf32
    try:
        got = kc.gemm(a, b, trans_a=ta, trans_b=tb)
        err = ctx.rel_err(got, want)
        limit = 3e-3 if tf32 else 1e-5
        if not err < limit:
            raise AssertionError(f"rel error {err:.2e} over {limit:g}")
        ours = ctx.timeit(lambda: kc.gemm(a, b, trans_a=ta, trans_b=tb))
    finally:
        backend.allow_tf32 = False
    out = {"ours_s": ours, "err": err}
    if not tf32:
        out.update(ref="cuBLAS fp32 (CuPy)", ref_s=ctx.timeit(lambda: cp.matmul(a_op, b_op)))
        if n == 4096 and not (ta or tb):
            ctx.rates["fp32"] = ctx.measured["cublas_fp32"] = case.flops / out["ref_s"]
    elif ctx.torch is not None:
        torch = ctx.torch
        at, bt = ctx.tt(a), ctx.tt(b)
        before = torch.backends.cuda.matmul.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = True
        try:
            out.update(ref="cuBLAS TF32 (PyTorch)", ref_s=ctx.timeit(lambda: torch.matmul(at, bt)))
        finally:
            torch.backends.cuda.matmul.allow_tf32 = before
        if n == 4096:
            ctx.rates["tf32"] = ctx.measured["cublas_tf32"] = case.flops / out["ref_s"]
    return out


def run_conv(ctx, case):
    cp, kc = ctx.cp, _kc()
    n, c, h, k, r, st, pad = case.tags
    rs = cp.random
    x = rs.standard_normal((n, c, h, h), dtype=cp.float32)
    w = rs.standard_normal((k, c, r, r), dtype=cp.float32) * np.float32(1.0 / np.sqrt(c * r * r))
    b = rs.standard_normal((k,), dtype=cp.float32)
    y = kc.conv2d_forward(x, w, b, stride=st, padding=pad)
    g = rs.standard_normal(y.shape, dtype=cp.float32)

    def ours():
        kc.conv2d_forward(x, w, b, stride=st, padding=pad)
        kc.conv2d_backward_input(g, w, x.shape, stride=st, padding=pad)
        kc.conv2d_backward_weight(g, x, w.shape, stride=st, padding=pad)
        kc.conv2d_backward_bias(g)

    out = {}
    if ctx.torch is not None:
        torch, F = ctx.torch, ctx.torch.nn.functional
        xt, wt, bt = (ctx.tt(v).clone().requires_grad_() for v in (x, w, b))
        gt = ctx.tt(g)
        yt = F.conv2d(xt, wt, bt, stride=st, padding=pad)
        gx = kc.conv2d_backward_input(g, w, x.shape, stride=st, padding=pad)
        gw = kc.conv2d_backward_weight(g, x, w.shape, stride=st, padding=pad)
        rgx, rgw = torch.autograd.grad(yt, (xt, wt), gt)
        errs = [ctx.rel_err(y, yt), ctx.rel_err(gx, rgx), ctx.rel_err(gw, rgw)]
        if not max(errs) < 1e-4:
            raise AssertionError(f"rel errors (y, grad_x, grad_w) {errs}")
        out["err"] = max(errs)

        def theirs():
            yy = F.conv2d(xt, wt, bt, stride=st, padding=pad)
            torch.autograd.grad(yy, (xt, wt, bt), gt)

        out.update(ref="cuDNN (PyTorch, TF32 off)", ref_s=ctx.timeit(theirs))
    out["ours_s"] = ctx.timeit(ours)
    return out


def run_pool(ctx, case):
    cp, kc = ctx.cp, _kc()
    kind, shape = case.tags
    x = cp.random.standard_normal(shape, dtype=cp.float32)
    y, ind = kc.max_pool2d_forward(x, 2, 2)
    g = cp.random.standard_normal(y.shape, dtype=cp.float32)
    torch = ctx.torch
    F = torch.nn.functional if torch is not None else None
    out = {}
    if kind == "max_f":
        if torch is not None:
            yt, it = F.max_pool2d(ctx.tt(x), 2, 2, return_indices=True)
            if ctx.rel_err(y, yt) != 0.0 or not bool(cp.all(ind == cp.from_dlpack(it))):
                raise AssertionError("max pool output or indices differ from PyTorch")
            xt = ctx.tt(x)
            out.update(ref="PyTorch (cuDNN)", ref_s=ctx.timeit(lambda: F.max_pool2d(xt, 2, 2, return_indices=True)))
        out["ours_s"] = ctx.timeit(lambda: kc.max_pool2d_forward(x, 2, 2))
    elif kind == "max_b":
        gx = kc.max_pool2d_backward_input(g, ind, x.shape)
        if torch is not None:
            xg = ctx.tt(x).clone().requires_grad_()
            yg = F.max_pool2d(xg, 2, 2)
            gt = ctx.tt(g)
            (want,) = torch.autograd.grad(yg, xg, gt, retain_graph=True)
            err = ctx.rel_err(gx, want)
            if not err < 1e-6:
                raise AssertionError(f"max pool backward rel error {err:.2e}")
            out.update(ref="PyTorch", ref_s=ctx.timeit(lambda: torch.autograd.grad(yg, xg, gt, retain_graph=True)))
        out["ours_s"] = ctx.timeit(lambda: kc.max_pool2d_backward_input(g, ind, x.shape))
        out["note"] = "includes the index-range check (one wait for the device)"
    elif kind == "avg_f":
        ya = kc.avg_pool2d_forward(x, 2, 2)
        if torch is not None:
            xt = ctx.tt(x)
            err = ctx.rel_err(ya, F.avg_pool2d(xt, 2, 2))
            if not err < 1e-6:
                raise AssertionError(f"avg pool rel error {err:.2e}")
            out.update(ref="PyTorch (cuDNN)", ref_s=ctx.timeit(lambda: F.avg_pool2d(xt, 2, 2)))
        out["ours_s"] = ctx.timeit(lambda: kc.avg_pool2d_forward(x, 2, 2))
    else:
        yg = kc.global_avg_pool2d_forward(x)
        err = ctx.rel_err(yg, x.mean(axis=(2, 3), keepdims=True))
        if not err < 1e-5:
            raise AssertionError(f"global avg pool rel error {err:.2e}")
        if torch is not None:
            xt = ctx.tt(x)
            out.update(ref="PyTorch", ref_s=ctx.timeit(lambda: F.adaptive_avg_pool2d(xt, 1)))
        out["ours_s"] = ctx.timeit(lambda: kc.global_avg_pool2d_forward(x))
    return out


def run_lstm(ctx, case):
    cp, kc = ctx.cp, _kc()
    (fb,) = case.tags
    t, n, i, h = LSTM_SIZE
    rs = np.random.default_rng(0)
    host = [rs.standard_normal(s).astype(np.float32) * 0.1 for s in
            [(t, n, i), (n, h), (n, h), (4 * h, i), (4 * h, h), (4 * h,), (4 * h,)]]
    dev = [cp.asarray(a) for a in host]
    gy = cp.asarray(rs.standard_normal((t, n, h)).astype(np.float32))
    y, _, _, saved = kc.lstm_forward(*dev)

    def ours_f():
        kc.lstm_forward(*dev)

    def ours_fb():
        _, _, _, sv = kc.lstm_forward(*dev)
        kc.lstm_backward(gy, None, None, *dev[:5], sv)

    out = {}
    if ctx.torch is not None:
        torch = ctx.torch
        lstm = torch.nn.LSTM(i, h).cuda()
        with torch.no_grad():
            for p, a in zip((lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, lstm.bias_hh_l0), host[3:]):
                p.copy_(torch.from_numpy(a))
        xt = torch.from_numpy(host[0]).cuda().requires_grad_()
        h0, c0 = torch.from_numpy(host[1]).cuda(), torch.from_numpy(host[2]).cuda()
        yt, _ = lstm(xt, (h0, c0))
        err = ctx.rel_err(y, yt)
        grads = kc.lstm_backward(gy, None, None, *dev[:5], saved)
        want = torch.autograd.grad(yt, [xt, lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0], ctx.tt(gy))
        err = max([err] + [ctx.rel_err(g, w) for g, w in zip((grads[0], grads[3], grads[4], grads[5]), want)])
        if not err < 1e-4:
            raise AssertionError(f"lstm rel error {err:.2e}")
        out["err"] = err
        gyt = ctx.tt(gy)
        if fb:
            def theirs():
                yy, _ = lstm(xt, (h0, c0))
                torch.autograd.grad(yy, [xt] + list(lstm.parameters()), gyt)
        else:
            def theirs():
                with torch.no_grad():
                    lstm(xt, (h0, c0))
        out.update(ref="cuDNN (torch.nn.LSTM)", ref_s=ctx.timeit(theirs))
    out["ours_s"] = ctx.timeit(ours_fb if fb else ours_f)
    return out


class DigitCNN:
    """The digit CNN of DESIGN.md written directly on kernels.cuda: one training step = forward,
    backward and SGD momentum over every parameter, with no autograd layer in between."""

    def __init__(self, cp, rs):
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
        self.cp = cp
        self.first = True

    def step(self, x, target, lr=0.01):
        kc = _kc()
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
        g = kc.cross_entropy_backward(self.cp.ones((), self.cp.float32), logits, target)
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


def run_train(ctx, case):
    cp = ctx.cp
    rs = np.random.default_rng(0)
    n = 128
    x = cp.asarray(rs.standard_normal((n, 1, 28, 28)).astype(np.float32))
    target = cp.asarray(rs.integers(0, 10, n).astype(np.int64))
    net = DigitCNN(cp, rs)
    first = float(net.step(x, target))
    for _ in range(20):
        last = float(net.step(x, target))
    if not (np.isfinite(last) and last < first):
        raise AssertionError(f"the loss did not fall on a fixed batch: {first:.4f} -> {last:.4f}")
    out = {"ours_s": ctx.timeit(lambda: net.step(x, target)), "note": f"loss {first:.3f} -> {last:.3f} in 20 steps"}
    if ctx.torch is not None:
        torch = ctx.torch
        nn, F = torch.nn, torch.nn.functional
        model = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.Flatten(),
            nn.Linear(32 * 49, 10)).cuda()
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        xt, tt_ = ctx.tt(x), ctx.tt(target)

        def theirs():
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(xt), tt_)
            loss.backward()
            opt.step()

        out.update(ref="PyTorch (cuDNN, eager)", ref_s=ctx.timeit(theirs))
    return out


# ---- results --------------------------------------------------------------------------------------------

def _target_met(row):
    t = row.get("target")
    if not t or row.get("status") != "ok":
        return None
    if t.endswith("x") and row.get("ratio") is not None:
        return row["ratio"] >= float(t[:-1])
    if t.endswith("% copy") and row.get("frac_of_copy") is not None:
        return row["frac_of_copy"] >= float(t.split("%")[0]) / 100
    return None


def row_of(case: Case, res: dict, rates: dict) -> dict:
    row = {"group": case.group, "name": case.name, "status": "ok", "flops": case.flops, "bytes": case.nbytes,
           "unit": case.unit, "target": case.target,
           "floor_datasheet_ms": case.floor_s(DATASHEET) * 1e3, "floor_measured_ms": case.floor_s(rates) * 1e3}
    ours = res["ours_s"]
    row["ours_ms"] = ours * 1e3
    scale = {"TFLOP/s": 1e12, "GB/s": 1e9}.get(case.unit, 1.0)
    row["throughput"] = case.work / ours / scale
    row["frac_of_floor"] = row["floor_measured_ms"] / row["ours_ms"]
    if case.unit == "GB/s" and "bw" in rates:
        row["frac_of_copy"] = case.nbytes / ours / rates["bw"]
    if res.get("ref_s") is not None:
        row.update(ref=res["ref"], ref_ms=res["ref_s"] * 1e3, ratio=res["ref_s"] / ours)
    if res.get("err") is not None:
        row["rel_err"] = res["err"]
    note = "; ".join(v for v in (case.note, res.get("note", "")) if v)
    if note:
        row["note"] = note
    row["met"] = _target_met(row)
    return row


def _f(v, fmt):
    return "" if v is None else format(v, fmt)


def markdown(doc: dict) -> str:
    lines = [f"# pyengine CUDA on {doc.get('device') or 'no GPU'} — {doc.get('date', '')}", ""]
    env = doc.get("env") or {}
    if env:
        lines += ["; ".join(f"{k} {v}" for k, v in env.items()), ""]
    m = doc.get("measured") or {}
    if m:
        parts = []
        if "bw" in m:
            parts.append(f"copy {m['bw'] / 1e12:.2f} TB/s (read + written)")
        if "cublas_fp32" in m:
            parts.append(f"cuBLAS SGEMM 4096³ {m['cublas_fp32'] / 1e12:.1f} TFLOP/s fp32")
        if "cublas_tf32" in m:
            parts.append(f"{m['cublas_tf32'] / 1e12:.0f} TFLOP/s TF32")
        lines += ["Measured ceilings: " + ", ".join(parts) + ". Datasheet: fp32 67 TFLOP/s, TF32 495 (dense), "
                  "copy 4.3 TB/s measured before (vendor 4.8).", ""]
    check = doc.get("check") or []
    if check:
        lines += ["## Check (bench/gpu_check.sh)", "", "| step | status | s | note |", "|---|---|---|---|"]
        for s in check:
            lines.append(f"| {s['step']} | {s['status']} | {s['seconds']} | {s.get('note', '')} |")
        lines.append("")
    rows = doc.get("rows") or []
    if rows:
        lines += ["## Benchmarks (bench/gpu_bench.py)", "",
                  "ratio = reference time / ours (> 1: ours faster). floor = max(FLOPs / rate, bytes / bandwidth) "
                  "with the rates measured in this run; % floor = floor / ours.", "",
                  "| group | case | ours ms | throughput | reference | ref ms | ratio | floor ms | % floor | target | met |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in rows:
            if r["status"] != "ok":
                lines.append(f"| {r['group']} | {r['name']} | {r['status']} | | | | | | | {r.get('target') or ''} "
                             f"| |")
                continue
            met = {True: "yes", False: "**no**", None: ""}[r.get("met")]
            tp = f"{r['throughput']:.3g} {r['unit']}"
            if "frac_of_copy" in r:
                tp += f" ({r['frac_of_copy']:.0%} of copy)"
            lines.append(f"| {r['group']} | {r['name']} | {r['ours_ms']:.3f} | {tp} | {r.get('ref', '')} | "
                         f"{_f(r.get('ref_ms'), '.3f')} | {_f(r.get('ratio'), '.2f')} | {r['floor_measured_ms']:.3f} | "
                         f"{r['frac_of_floor']:.0%} | {r.get('target') or ''} | {met} |")
        notes = [f"- {r['name']}: {r['note']}" for r in rows if r.get("note")]
        notes += [f"- {r['name']}: {r['status']}: {r.get('error', '')}" for r in rows if r["status"] != "ok"]
        if notes:
            lines += [""] + notes
    for f in doc.get("failures") or []:
        lines.append(f"- FAILED {f}")
    return "\n".join(lines) + "\n"


def ceilings_markdown(cases: list[Case]) -> str:
    """The FLOPs, bytes and predicted floors of every case on the H200 (datasheet rates)."""
    lines = ["| case | GFLOP | MB moved | FLOP floor ms | byte floor ms | floor ms | bound by | target |",
             "|---|---|---|---|---|---|---|---|"]
    for c in cases:
        rate = DATASHEET["tf32" if c.rate == "tf32" else "fp32"]
        fl = c.flops / rate * 1e3
        by = c.nbytes / DATASHEET["bw"] * 1e3
        bound = ("TF32 tensor cores" if c.rate == "tf32" else "fp32 FMA") if fl >= by else "bandwidth"
        if c.note:
            bound += f" (in practice: {c.note.split(':')[-1].strip()})"
        lines.append(f"| {c.group}: {c.name} | {c.flops / 1e9:.3g} | {c.nbytes / 1e6:.4g} | {fl:.4f} | {by:.4f} | "
                     f"{max(fl, by):.4f} | {bound} | {c.target or ''} |")
    return "\n".join(lines) + "\n"


def write_doc(out_dir, name, doc):
    os.makedirs(out_dir, exist_ok=True)
    for ext, text in (("json", json.dumps(doc, indent=1, default=str)), ("md", markdown(doc))):
        path = os.path.join(out_dir, f"{name}.{ext}")
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)


def read_summary(path):
    """The step table gpu_check.sh keeps: step, status, rc, seconds, budget, note (tab-separated)."""
    steps = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 5 and parts[0] != "step":
                steps.append({"step": parts[0], "status": parts[1], "rc": parts[2], "seconds": parts[3],
                              "budget": parts[4], "note": parts[5] if len(parts) > 5 else ""})
    return steps


def report(args) -> int:
    path = os.path.join(args.out, f"{args.name}.json")
    doc = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    doc.setdefault("date", _dt.date.today().isoformat())
    doc.setdefault("device", args.device or None)
    if args.summary:
        doc["check"] = read_summary(args.summary)
    if args.env:
        env = {}
        with open(args.env, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("@ "):  # "@ key: value" lines of the env step
                    k, _, v = line[2:].partition(":")
                    env[k.strip()] = v.strip()
        doc["env"] = env
    write_doc(args.out, args.name, doc)
    print(f"wrote {args.out}/{args.name}.json and .md")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=".")
    ap.add_argument("--name", default=None, help="results file stem (default gpu-bench-DATE)")
    ap.add_argument("--quick", action="store_true", help="fewer sizes (a smoke run)")
    ap.add_argument("--only", action="append", help="run only these groups (memory, gemm, conv, pool, lstm, train)")
    ap.add_argument("--timing-seconds", type=float, default=0.4, help="about how long one timing lasts")
    ap.add_argument("--case-seconds", type=float, default=5.0, help="no new timing starts in a case after this")
    ap.add_argument("--time-limit", type=float, default=None, help="no case starts after this many seconds")
    ap.add_argument("--list", action="store_true", help="print the cases, FLOPs, bytes and H200 floors; no GPU")
    ap.add_argument("--report", action="store_true", help="merge --summary and --env into NAME.json/.md")
    ap.add_argument("--summary", help="gpu_check.sh's summary.tsv (with --report)")
    ap.add_argument("--env", help="gpu_check.sh's env log (with --report)")
    ap.add_argument("--device", help="device name for --report when no bench ran")
    args = ap.parse_args(argv)
    args.name = args.name or f"gpu-bench-{_dt.date.today().isoformat()}"
    cases = build_cases(args.quick)
    if args.only:
        cases = [c for c in cases if c.group in args.only or c.group == "memory"]
    if args.list:
        sys.stdout.write(ceilings_markdown(cases))
        return 0
    if args.report:
        return report(args)

    os.environ.setdefault("CUPY_TF32", "0")  # cuBLAS in plain fp32; read when CuPy is imported
    t_start = time.perf_counter()
    ctx = Ctx(args)
    cp = ctx.cp
    if ctx.torch is not None:
        ctx.torch.backends.cuda.matmul.allow_tf32 = False
        ctx.torch.backends.cudnn.allow_tf32 = False
        ctx.torch.backends.cudnn.benchmark = True
    props = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)
    name = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
    doc = {"device": name, "sms": props["multiProcessorCount"], "date": _dt.date.today().isoformat(),
           "versions": {"cupy": cp.__version__, "torch": getattr(ctx.torch, "__version__", None),
                        "numpy": np.__version__, "python": sys.version.split()[0]},
           "datasheet": DATASHEET, "measured": ctx.measured, "rows": [], "failures": []}
    print(f"device: {name}, {props['multiProcessorCount']} SMs; {len(cases)} cases", flush=True)
    for case in cases:
        elapsed = time.perf_counter() - t_start
        if args.time_limit is not None and elapsed + min(args.case_seconds, 2.0) > args.time_limit:
            doc["rows"].append({"group": case.group, "name": case.name, "status": "skipped",
                                "error": f"time limit {args.time_limit:g} s reached", "target": case.target})
            continue
        ctx.case_t0 = time.perf_counter()
        try:
            row = row_of(case, case.run(ctx, case), ctx.rates)
        except CaseCut as exc:
            row = {"group": case.group, "name": case.name, "status": "cut", "error": str(exc), "target": case.target}
        except Exception as exc:  # noqa: BLE001 - one failing case must not hide the others' figures
            row = {"group": case.group, "name": case.name, "status": "FAILED", "target": case.target,
                   "error": f"{type(exc).__name__}: {exc}"}
            doc["failures"].append(f"{case.group}: {case.name}: {row['error']}")
        finally:
            backend = _backend()
            backend.allow_tf32 = False
            cp.get_default_memory_pool().free_all_blocks()
        row["seconds"] = round(time.perf_counter() - ctx.case_t0, 2)
        doc["rows"].append(row)
        if row["status"] == "ok":
            ratio = f"{row['ratio']:.2f}x {row['ref']}" if "ratio" in row else ""
            print(f"{case.group:6s} {case.name:44s} {row['ours_ms']:9.3f} ms {row['throughput']:9.3g} {case.unit:8s}"
                  f" {ratio}", flush=True)
        else:
            print(f"{case.group:6s} {case.name:44s} {row['status']}: {row.get('error', '')}", flush=True)
        write_doc(args.out, args.name, doc)
    write_doc(args.out, args.name, doc)
    return 1 if doc["failures"] else 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the source tree's pyengine
    sys.exit(main())
