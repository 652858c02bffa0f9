"""What the machine can do, measured in this run: FMA peak and copy bandwidth per thread count,
plus the facts that make a results file comparable (CPU model, ISA, library versions, load)."""
from __future__ import annotations

import os
import platform
import re
import time

import numpy as np


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_slug() -> str:
    """A file-name-safe machine name: CPU model and core count (hostnames of containers are random)."""
    model = re.sub(r"\(r\)|\(tm\)|cpu|processor|@.*$", "", cpu_model().lower())
    model = re.sub(r"[^a-z0-9]+", "-", model).strip("-") or "cpu"
    return f"{model}-{os.cpu_count()}c"


def loadavg() -> list:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def fma_peak(threads: int, isa: str | None, seconds: float) -> float:
    from pyengine import _C
    return float(_C.fma_peak_gflops(threads, isa, seconds))


def copy_bandwidth(threads: int, seconds: float, mbytes: int = 256) -> float:
    """GB/s of a parallel float32 copy (bytes read + bytes written), best of repeated copies of a
    buffer far larger than the last-level cache."""
    from pyengine import _C
    n = mbytes * (1 << 20) // 8  # two buffers of mbytes/2 each
    src = np.ones(n, np.float32)
    dst = np.empty_like(src)
    _C.bench_copy(dst, src, threads)
    best, spent = float("inf"), 0.0
    while spent < seconds or best == float("inf"):
        t0 = time.perf_counter()
        _C.bench_copy(dst, src, threads)
        dt = time.perf_counter() - t0
        spent += dt
        best = min(best, dt)
    return 2 * src.nbytes / best / 1e9


def l3_bytes() -> int:
    """Size of the last-level cache (sysfs; 32 MiB when it cannot be read)."""
    import glob
    best = 0
    for d in glob.glob("/sys/devices/system/cpu/cpu0/cache/index*"):
        try:
            with open(f"{d}/level") as f:
                level = int(f.read())
            with open(f"{d}/size") as f:
                txt = f.read().strip()
        except (OSError, ValueError):
            continue
        mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(txt[-1:], 1)
        size = int(txt.rstrip("KMG")) * mult if txt.rstrip("KMG").isdigit() else 0
        if level >= 3:
            best = max(best, size)
    return best or 32 << 20


def versions() -> dict:
    out = {"numpy": np.__version__, "python": platform.python_version()}
    try:
        import pyengine
        out["pyengine"] = pyengine.__version__
    except Exception:  # noqa: BLE001 - a broken build is reported, not raised
        out["pyengine"] = None
    try:
        import torch
        out["torch"] = torch.__version__
    except ImportError:
        out["torch"] = None
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg.get("Build Dependencies", {}).get("blas", {})
        out["numpy_blas"] = f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # noqa: BLE001 - numpy < 1.25 has no mode="dicts"
        out["numpy_blas"] = None
    return out
