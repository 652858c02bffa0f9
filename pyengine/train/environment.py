"""MATLAB's ExecutionEnvironment for fit: 'auto', 'cpu', 'gpu', 'multi-gpu', 'parallel'.

'auto' is the GPU when one is usable (the CUDA build of pyengine, CuPy and a driver), else the CPU;
'cpu' and 'gpu' pick that device ('gpu' fails with the reason when no GPU is usable). 'multi-gpu'
(one process per GPU, NCCL) and 'parallel' (one process per CPU worker, MPI) are data-parallel
training, which runs in a process group started by a launcher (``mpirun -n N python script.py``):
fit then wraps the model in pyengine.distributed's DistributedDataParallel and shards the data.
"""
from __future__ import annotations

ENVIRONMENTS = ("auto", "cpu", "gpu", "multi-gpu", "parallel")


def _cuda_usable() -> bool:
    from .. import cuda
    return cuda.is_available()


def _gpu_reason() -> str:
    from .._runtime import info_dict
    return info_dict().get("cuda_unavailable_reason") or "no usable CUDA device"


def resolve(execution_environment, device=None):
    """(device, data_parallel) for fit: device is None (CPU) or "cuda"; data_parallel is True for
    'multi-gpu' and 'parallel'. ``device`` given with an environment must agree with it."""
    if execution_environment is None:
        return device, False
    env = str(execution_environment).lower()
    if env not in ENVIRONMENTS:
        raise ValueError(f"fit: execution_environment must be one of {', '.join(ENVIRONMENTS)}, "
                         f"got {execution_environment!r}")
    want_gpu = env in ("gpu", "multi-gpu") or (env == "auto" and _cuda_usable())
    if env in ("gpu", "multi-gpu") and not _cuda_usable():
        raise ValueError(f"fit: execution_environment={env!r} needs a usable CUDA GPU: {_gpu_reason()}; "
                         "use 'cpu' (or 'auto', which falls back to the CPU)")
    picked = "cuda" if want_gpu else None
    if device is not None and str(device).split(":")[0] != (picked or "cpu"):
        raise ValueError(f"fit: device={device!r} contradicts execution_environment={env!r} "
                         f"(which means {picked or 'cpu'}); give one of them")
    if env in ("multi-gpu", "parallel"):
        _check_process_group(env)
    return (device or picked), env in ("multi-gpu", "parallel")


def _check_process_group(env):
    try:
        from .. import distributed  # noqa: F401
    except ImportError:
        raise ValueError(
            f"fit: execution_environment={env!r} is data-parallel training, which needs pyengine.distributed; "
            "this build of pyengine does not have it yet. Use 'cpu' or 'gpu'") from None
