"""Runtime facts and switches: version, CPU instruction set, threads, CUDA availability."""
from __future__ import annotations

import importlib
import os
import platform

from .kernels.cpu._ext import _C

__version__ = _C.__version__


def get_num_threads() -> int:
    """Threads the CPU kernels use (OMP_NUM_THREADS at start-up, else the core count)."""
    return _C.get_num_threads()


def set_num_threads(n: int) -> None:
    """Sets the threads every CPU kernel uses, from any Python thread. n >= 1."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"set_num_threads: n must be an int, got {type(n).__name__}")
    _C.set_num_threads(n)


_deterministic = False


def use_deterministic_algorithms(mode: bool) -> None:
    """With True, every kernel must be deterministic: a GPU kernel whose result depends on the
    order of atomic additions raises RuntimeError instead of running (the CPU kernels are
    deterministic for a given thread count already)."""
    global _deterministic
    if not isinstance(mode, bool):
        raise TypeError(f"use_deterministic_algorithms: mode must be a bool, got {type(mode).__name__}")
    _deterministic = mode


def are_deterministic_algorithms_enabled() -> bool:
    return _deterministic


def cpu_isa() -> str:
    """The instruction set whose kernels run: 'avx512', 'avx2' or 'generic'."""
    return _C.cpu_isa()


def _cuda_module():
    try:
        return importlib.import_module("pyengine._cuda")
    except ImportError:
        return None


def info_dict() -> dict:
    cuda = _cuda_module()
    d = {
        "version": __version__,
        "python": platform.python_version(),
        "cpu_isa": _C.cpu_isa(),
        "cpu_isas_supported": list(_C.supported_cpu_isas()),
        "cpu_isa_override": os.environ.get("PYENGINE_CPU_ISA") or None,
        "openmp": bool(_C.openmp_enabled()),
        "num_threads": _C.get_num_threads(),
        "cuda_built": cuda is not None,
        "cuda_available": False,
        "gpus": [],
    }
    if cuda is not None:
        d["cuda_architectures"] = cuda.built_architectures()
        n = cuda.device_count()
        d["cuda_available"] = n > 0
        d["gpus"] = [{"name": cuda.device_name(i), "compute_capability": cuda.compute_capability(i) / 10,
                      "memory_gib": round(cuda.total_memory(i) / 2**30, 1)} for i in range(n)]
        if n == 0:
            # Without libcuda the CUDA runtime reports "driver version is insufficient", which
            # reads as an old driver; say what is really missing.
            d["cuda_unavailable_reason"] = ("no NVIDIA driver found" if not nvidia_driver_present()
                                            else cuda.last_error() or "no CUDA device")
    else:
        d["cuda_unavailable_reason"] = "this pyengine was built without CUDA"
    return d


def nvidia_driver_present() -> bool:
    """Whether the NVIDIA driver's user-space library (libcuda / nvcuda.dll) can be loaded."""
    import ctypes

    for name in (("nvcuda.dll",) if os.name == "nt" else ("libcuda.so.1", "libcuda.so", "libcuda.dylib")):
        try:
            ctypes.CDLL(name)
            return True
        except OSError:
            continue
    return False


def info(file=None) -> dict:
    """Prints (and returns) the version, the ISA picked, threads, and whether CUDA is built/usable."""
    d = info_dict()
    lines = [
        f"pyengine {d['version']} (Python {d['python']})",
        f"  CPU ISA     : {d['cpu_isa']} (supported: {', '.join(d['cpu_isas_supported'])}"
        + (f"; PYENGINE_CPU_ISA={d['cpu_isa_override']}" if d["cpu_isa_override"] else "") + ")",
        f"  OpenMP      : {'yes' if d['openmp'] else 'no (single-threaded build)'}, {d['num_threads']} thread{'s' if d['num_threads'] != 1 else ''}",
        f"  CUDA built  : {'yes (' + d.get('cuda_architectures', '') + ')' if d['cuda_built'] else 'no'}",
    ]
    if d["cuda_available"]:
        for i, g in enumerate(d["gpus"]):
            lines.append(f"  GPU {i}       : {g['name']} (sm_{int(g['compute_capability'] * 10)}, {g['memory_gib']} GiB)")
    else:
        lines.append(f"  GPU usable  : no" + (f" ({d['cuda_unavailable_reason']})" if d.get("cuda_unavailable_reason") else ""))
    print("\n".join(lines), file=file)
    return d
