"""pyengine's zoo against torchvision itself: torchvision's randomly initialised models (no weights
can be downloaded here) with randomised batch-norm statistics, saved by safetensors.torch.save_file
and loaded into pyengine.models.<name>(weights=FILE) with strict names, then both run on the same
input. Also a .pth through `pyengine convert`. Needs torch and torchvision (a venv of their own).

    PYTHONPATH=. /work/venvs/tv/bin/python tests/models/torchvision_compare.py [--side 224] [--batch 2]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--side", type=int, default=224)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--models", nargs="*", default=["alexnet", "vgg11", "vgg16", "vgg16_bn", "resnet18", "resnet34",
                                                   "resnet50", "mobilenet_v2", "squeezenet1_1"])
    args = ap.parse_args()
    import torch
    import torchvision
    from safetensors.torch import save_file

    import pyengine
    from pyengine import models
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, pyengine {pyengine.__version__}; "
          f"input ({args.batch}, 3, {args.side}, {args.side})")
    print(f"{'model':14s} {'params':>12s} {'max|Δ|':>10s} {'max|ref|':>10s} {'rel':>9s} {'argmax':>7s} {'.pth→convert':>13s}")
    worst = 0.0
    with tempfile.TemporaryDirectory() as d:
        for name in args.models:
            torch.manual_seed(0)
            ref = getattr(torchvision.models, name)(weights=None).eval()
            g = torch.Generator().manual_seed(1)
            with torch.no_grad():
                for m in ref.modules():
                    if isinstance(m, torch.nn.BatchNorm2d):
                        m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                        m.running_var.copy_(torch.rand(m.num_features, generator=g) * 0.5 + 0.75)
            path = os.path.join(d, f"{name}.safetensors")
            save_file({k: v.contiguous() for k, v in ref.state_dict().items()}, path)
            ours = models.get_model(name, weights=path).eval()
            x = torch.randn(args.batch, 3, args.side, args.side, generator=g)
            with torch.no_grad():
                want = ref(x).numpy()
            with pyengine.no_grad():
                got = ours(pyengine.from_numpy(x.numpy())).numpy()
            err = float(np.abs(got - want).max())
            scale = float(np.abs(want).max())
            worst = max(worst, err / scale)
            same_top = bool((got.argmax(1) == want.argmax(1)).all())
            pth = os.path.join(d, f"{name}.pth")
            torch.save(ref.state_dict(), pth)
            conv = os.path.join(d, f"{name}-converted.safetensors")
            t0 = time.perf_counter()
            r = subprocess.run([sys.executable, "-m", "pyengine", "convert", pth, conv], capture_output=True, text=True)
            ok = r.returncode == 0
            if ok:
                a = models.get_model(name, weights=conv).state_dict()
                ok = all(np.array_equal(a[k].numpy(), v.numpy()) for k, v in ref.state_dict().items())
            n = sum(p.numel() for p in ref.parameters())
            print(f"{name:14s} {n:12,d} {err:10.2e} {scale:10.2e} {err / scale:9.1e} {str(same_top):>7s} "
                  f"{'identical' if ok else 'FAILED ' + r.stderr.strip()[-60:]:>13s}")
            del ref, ours
    print(f"worst relative difference {worst:.1e} (tolerance 1e-4)")
    return 0 if worst <= 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
