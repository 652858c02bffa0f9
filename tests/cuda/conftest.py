"""CUDA test settings, all from the environment (bench/gpu_check.sh sets them):

PYENGINE_CUDA_NO_POOL=1   CuPy's memory pool off, so compute-sanitizer's memcheck sees every
                          allocation's true bounds.
PYENGINE_REQUIRE_GPU=1    no usable GPU is an error, not a skip: on the GPU machine a build or
                          driver problem must not turn every GPU test into a skip and a green run.
PYENGINE_TEST_TIMEOUT=S   a per-test limit of S seconds when pytest-timeout is absent (cuda_watchdog.py).
PYENGINE_CUDA_SAMPLES=N   the registry-driven tests take N samples per op, spread over its list
                          (the sanitizer runs).
"""
import os

import pytest

from cuda_watchdog import pytest_runtest_protocol  # noqa: F401 - the per-test watchdog hook


def pytest_configure(config):
    if os.environ.get("PYENGINE_REQUIRE_GPU"):
        from cuda_support import gpu_usable
        ok, why = gpu_usable()
        if not ok:
            raise pytest.UsageError(f"PYENGINE_REQUIRE_GPU is set but the CUDA tests cannot run: {why}")
    if os.environ.get("PYENGINE_CUDA_NO_POOL"):
        try:
            import cupy
        except ImportError:
            return
        cupy.cuda.set_allocator(None)
