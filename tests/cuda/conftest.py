"""CUDA test settings: PYENGINE_CUDA_NO_POOL=1 turns CuPy's memory pool off, so compute-sanitizer's
memcheck sees every allocation's true bounds (bench/gpu_check.sh sets it for the sanitizer runs)."""
import os


def pytest_configure(config):
    if os.environ.get("PYENGINE_CUDA_NO_POOL"):
        try:
            import cupy
        except ImportError:
            return
        cupy.cuda.set_allocator(None)
