"""`python -m bench int8`: int8 inference against float32, PyTorch and onnxruntime, in one run.

Models: the digit CNN (trained on the shipped digits, so its accuracy is real) and the zoo's
MobileNetV2 (224×224, 1000 classes; random weights with batch-norm statistics from random data —
the speed does not depend on the weights). For each, at batch 1 and 64, on one thread:

    ours float32      model.eval() under pe.inference_mode()
    ours fused        BatchNorm folded, conv + bias + ReLU in the kernel (digit CNN)
    ours int8         pyengine.quantization.quantize: per-channel int8 weights, uint8 activations
                      (histogram observer, 256 calibration images), VNNI / AVX2 int8 kernels
    torch float32     the same network and weights in PyTorch 2.13 (no_grad, eval)
    torch int8        PyTorch's FX post-training quantization of that network, backend 'x86'
                      (fbgemm/onednn), calibrated on the same images
    onnxruntime fp32  the torch float network exported with torch.onnx.export
    onnxruntime int8  our int8 model exported as QDQ ONNX (pyengine.quantization.export_onnx),
                      which onnxruntime fuses into its own int8 kernels

Times are per call, the median of interleaved rounds (and the 99th percentile of single calls at
batch 1). The int8 accuracy of the digit CNN is measured on the validation split. Results:
bench/results/int8-<machine>-<date>.json and .md. The load average is recorded: figures are only
worth reading when it is below about 1.5.

    python -m bench int8 [--quick] [--threads 1] [--name STEM]
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import statistics
import tempfile
import time

import numpy as np

from . import machine

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


# ------------------------------------------------------------------ the torch twins of the two networks
def _torch_digit_cnn(torch):
    nn = torch.nn

    class DigitCNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2, 2),
                nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2, 2),
                nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU())
            self.flatten = nn.Flatten()
            self.fc = nn.Linear(32 * 7 * 7, 10)

        def forward(self, x):
            return self.fc(self.flatten(self.features(x)))
    return DigitCNN()


def _torch_mobilenet_v2(torch):
    nn = torch.nn
    from pyengine.models.mobilenet import _SETTING, make_divisible

    class ConvBN(nn.Sequential):
        def __init__(self, i, o, k=3, s=1, g=1, act=True):
            layers = [nn.Conv2d(i, o, k, s, (k - 1) // 2, groups=g, bias=False), nn.BatchNorm2d(o)]
            if act:
                layers.append(nn.ReLU6(inplace=True))
            super().__init__(*layers)

    class InvertedResidual(nn.Module):
        def __init__(self, inp, oup, stride, t):
            super().__init__()
            hidden = int(round(inp * t))
            self.use_res_connect = stride == 1 and inp == oup
            layers = [ConvBN(inp, hidden, 1)] if t != 1 else []
            layers += [ConvBN(hidden, hidden, 3, stride, hidden), nn.Conv2d(hidden, oup, 1, 1, 0, bias=False),
                       nn.BatchNorm2d(oup)]
            self.conv = nn.Sequential(*layers)

        def forward(self, x):
            return x + self.conv(x) if self.use_res_connect else self.conv(x)

    class MobileNetV2(nn.Module):
        def __init__(self):
            super().__init__()
            c_in = make_divisible(32)
            feats = [ConvBN(3, c_in, 3, 2)]
            for t, c, n, s in _SETTING:
                for i in range(n):
                    feats.append(InvertedResidual(c_in, make_divisible(c), s if i == 0 else 1, t))
                    c_in = make_divisible(c)
            feats.append(ConvBN(c_in, 1280, 1))
            self.features = nn.Sequential(*feats)
            self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, 1000))

        def forward(self, x):
            x = nn.functional.adaptive_avg_pool2d(self.features(x), (1, 1))
            return self.classifier(torch.flatten(x, 1))
    return MobileNetV2()


def _torch_int8(torch, model, calib, batch):
    """PyTorch's FX post-training static quantization (backend x86) of a float eval model."""
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx
    torch.backends.quantized.engine = "x86"
    example = (torch.from_numpy(calib[:1]),)
    prepared = prepare_fx(model, get_default_qconfig_mapping("x86"), example)
    with torch.no_grad():
        for i in range(0, len(calib), batch):
            prepared(torch.from_numpy(calib[i:i + batch]))
    return convert_fx(prepared)


# ------------------------------------------------------------------ timing
def _time(fns: dict, rounds: int, budget: float, p99: bool) -> dict:
    """name → {'median_ms' (wall clock), 'cpu_ms' (process CPU time, which a busy machine's waits do
    not inflate; at one thread it is the work done), 'spread_ms' (IQR of the wall medians), 'p99_ms'
    (single calls, when asked)}."""
    per = {}
    for k, f in fns.items():
        f()
        t = time.perf_counter()
        f()
        per[k] = max(time.perf_counter() - t, 1e-6)
    samples = {k: [] for k in fns}
    cpu = {k: [] for k in fns}
    singles = {k: [] for k in fns}
    for r in range(rounds):
        names = list(fns)
        names = names[r % len(names):] + names[:r % len(names)]
        for k in names:
            reps = int(max(1, min(500, budget / rounds / per[k])))
            t0, c0 = time.perf_counter(), time.process_time()
            for _ in range(reps):
                t = time.perf_counter()
                fns[k]()
                if p99:
                    singles[k].append(time.perf_counter() - t)
            samples[k].append((time.perf_counter() - t0) / reps)
            cpu[k].append((time.process_time() - c0) / reps)
    out = {}
    for k, s in samples.items():
        q = np.percentile(s, [25, 75])
        out[k] = {"median_ms": 1e3 * statistics.median(s), "cpu_ms": 1e3 * statistics.median(cpu[k]),
                  "spread_ms": 1e3 * float(q[1] - q[0])}
        if p99 and singles[k]:
            out[k]["p99_ms"] = 1e3 * float(np.percentile(singles[k], 99))
    return out


def _digit_setup(pe, torch, quick):
    from pyengine import nn, optim
    from pyengine.data import DataLoader, DigitsDataset, TensorDataset, load_digits, split_each_label
    from pyengine.models import digit_cnn
    from pyengine.train import fit
    images, labels, _ = load_digits()
    digits = DigitsDataset(images, labels)
    tr, va = split_each_label(digits, 0.75, seed=0)
    x, y = digits.arrays()
    xt, yt, xv, yv = x[tr.indices], y[tr.indices], x[va.indices], y[va.indices]
    pe.manual_seed(0)
    model = digit_cnn()
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    fit(model, DataLoader(TensorDataset(xt, yt), batch_size=32, shuffle=True, seed=0), nn.CrossEntropyLoss(), opt,
        epochs=2 if quick else 6, scheduler=optim.lr_scheduler.StepLR(opt, 4, 0.1), progress=False)
    tm = _torch_digit_cnn(torch)
    return model.eval(), tm, xt[:256], (xv, yv)


def _mobilenet_setup(pe, torch, quick):
    from pyengine.models import mobilenet_v2
    rng = np.random.default_rng(0)
    pe.manual_seed(0)
    model = mobilenet_v2()
    model.train()
    with pe.no_grad():
        for _ in range(2):
            model(pe.tensor(rng.uniform(-2, 2, (4, 3, 224, 224)).astype(np.float32)))
    calib = rng.uniform(-2, 2, (16 if quick else 64, 3, 224, 224)).astype(np.float32)
    return model.eval(), _torch_mobilenet_v2(torch), calib, None


def run_model(name, setup, batches, quick, pe, torch, ort):
    from pyengine import quantization as Q
    from pyengine.nn.utils import fuse_conv_bn
    model, tmodel, calib, val = setup(pe, torch, quick)
    tmodel.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v.numpy())) for k, v in model.state_dict().items()})
    tmodel.eval()
    qmodel = Q.quantize(model, calib, Q.get_default_qconfig("histogram"), batch_size=16)
    fused = fuse_conv_bn(model)
    tq = _torch_int8(torch, tmodel, calib, 16)
    result = {"model": name, "rows": {}}
    if val is not None:
        xv, yv = val
        with pe.inference_mode():
            acc_f = float((model(pe.tensor(xv)).numpy().argmax(1) == yv).mean())
            acc_q = float((qmodel(pe.tensor(xv)).numpy().argmax(1) == yv).mean())
        with torch.no_grad():
            acc_tq = float((tq(torch.from_numpy(xv)).numpy().argmax(1) == yv).mean())
        result["accuracy"] = {"float32": acc_f, "int8": acc_q, "torch_int8": acc_tq}
    tmp = tempfile.mkdtemp()
    shape = calib.shape[1:]
    f32_onnx, q_onnx = os.path.join(tmp, "f32.onnx"), os.path.join(tmp, "int8.onnx")
    torch.onnx.export(tmodel, (torch.from_numpy(calib[:1]),), f32_onnx, input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, opset_version=17, dynamo=False)
    Q.export_onnx(qmodel, pe.tensor(calib[:1]), q_onnx)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = pe.get_num_threads()
    opts.inter_op_num_threads = 1
    s32 = ort.InferenceSession(f32_onnx, opts, providers=["CPUExecutionProvider"])
    s8 = ort.InferenceSession(q_onnx, opts, providers=["CPUExecutionProvider"])
    result["file_bytes"] = {"onnx_float32": os.path.getsize(f32_onnx), "onnx_int8": os.path.getsize(q_onnx)}
    rng = np.random.default_rng(1)
    for b in batches:
        x = (calib[:b] if b <= len(calib) else
             np.concatenate([calib] * (b // len(calib) + 1))[:b]).astype(np.float32)
        x = np.ascontiguousarray(x + rng.normal(0, 0.01, x.shape).astype(np.float32))
        xt, xp = torch.from_numpy(x), pe.tensor(x)
        with pe.inference_mode():
            ours = model(xp).numpy()
            agree = float((qmodel(xp).numpy().argmax(1) == ours.argmax(1)).mean())
        fns = {}

        def ours_call(m):
            def f():
                with pe.inference_mode():
                    m(xp)
            return f

        def torch_call(m):
            def f():
                with torch.no_grad():
                    m(xt)
            return f
        fns["ours float32"] = ours_call(model)
        if name == "digit CNN":
            fns["ours fused"] = ours_call(fused)
        fns["ours int8"] = ours_call(qmodel)
        fns["torch float32"] = torch_call(tmodel)
        fns["torch int8 (x86)"] = torch_call(tq)
        fns["onnxruntime float32"] = lambda: s32.run(None, {"input": x})
        fns["onnxruntime int8"] = lambda: s8.run(None, {"input": x})
        heavy = name != "digit CNN" and b > 1
        rounds = 3 if quick else (5 if heavy else 15)
        budget = (0.5 if quick else 2.0) * (4 if heavy else 1)
        t = _time(fns, rounds, budget, p99=(b == 1))
        base, base_cpu = t["ours float32"]["median_ms"], t["ours float32"]["cpu_ms"]
        for k in t:
            t[k]["speedup_vs_ours_float32"] = base / t[k]["median_ms"]
            t[k]["cpu_speedup_vs_ours_float32"] = base_cpu / t[k]["cpu_ms"]
        result["rows"][f"batch {b}"] = {"timings": t, "int8_top1_agrees_with_float": agree}
        print(f"{name}, batch {b}: " + ", ".join(f"{k} {v['median_ms']:.3f} ms" for k, v in t.items()), flush=True)
    return result


def markdown(res):
    lines = [f"# int8 inference — {res['machine']['cpu']}, {res['threads']} thread(s), load {res['load_before']} → "
             f"{res['load_after']}", ""]
    for m in res["models"]:
        lines.append(f"## {m['model']}")
        if "accuracy" in m:
            a = m["accuracy"]
            lines.append(f"validation accuracy: float32 {100 * a['float32']:.2f}%, ours int8 {100 * a['int8']:.2f}%, "
                         f"torch int8 {100 * a['torch_int8']:.2f}%")
        lines += ["", "| batch | " + " | ".join(next(iter(m["rows"].values()))["timings"]) + " |",
                  "|---|" + "---|" * len(next(iter(m["rows"].values()))["timings"])]
        for b, row in m["rows"].items():
            cells = [f"{v['median_ms']:.3f} ms ({v['speedup_vs_ours_float32']:.2f}×)" for v in row["timings"].values()]
            lines.append(f"| {b}, wall | " + " | ".join(cells) + " |")
            cells = [f"{v['cpu_ms']:.3f} ms ({v['cpu_speedup_vs_ours_float32']:.2f}×)" for v in row["timings"].values()]
            lines.append(f"| {b}, CPU time | " + " | ".join(cells) + " |")
        if "batch 1" in m["rows"]:
            lines.append("")
            lines.append("batch-1 latency, median / p99: " + ", ".join(
                f"{k} {v['median_ms']:.3f} / {v.get('p99_ms', float('nan')):.3f} ms"
                for k, v in m["rows"]["batch 1"]["timings"].items()))
        lines.append("")
    lines.append("(×: speed relative to ours float32 in the same run; > 1 is faster. Wall: median per call over "
                 "interleaved rounds; CPU time: the process's CPU seconds per call, median — what a loaded "
                 "machine's waiting does not inflate.)")
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench int8", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--models", default="digit,mobilenet")
    p.add_argument("--name", default=None)
    a = p.parse_args(argv)
    import warnings

    import onnxruntime as ort
    import torch
    warnings.filterwarnings("ignore", category=UserWarning, module="torch")   # deprecation notes of torch.ao

    import pyengine as pe
    pe.set_num_threads(a.threads)
    torch.set_num_threads(a.threads)
    load_before = os.getloadavg()[0]
    models = []
    if "digit" in a.models:
        models.append(run_model("digit CNN", _digit_setup, [1, 64], a.quick, pe, torch, ort))
    if "mobilenet" in a.models:
        models.append(run_model("MobileNetV2 (224×224)", _mobilenet_setup, [1, 64] if not a.quick else [1, 8],
                                a.quick, pe, torch, ort))
    res = {"machine": {"cpu": machine.cpu_model(), "slug": machine.machine_slug(), "versions": machine.versions()},
           "threads": a.threads, "load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2),
           "date": _dt.datetime.now().isoformat(timespec="seconds"), "quick": a.quick,
           "isa": pe.cpu_isa(), "int8_kernel": pe._C.quantized_kernel(), "torch": torch.__version__,
           "onnxruntime": ort.__version__, "models": models}
    os.makedirs(RESULTS_DIR, exist_ok=True)
    stem = a.name or f"int8-{machine.machine_slug()}-{_dt.date.today().isoformat()}" + ("-quick" if a.quick else "")
    with open(os.path.join(RESULTS_DIR, stem + ".json"), "w") as f:
        json.dump(res, f, indent=1)
    with open(os.path.join(RESULTS_DIR, stem + ".md"), "w") as f:
        f.write(markdown(res))
    print(markdown(res))
    return 0
