"""kernels.cuda has the reference's contract, and everything imports and reports cleanly without
CuPy or a GPU (these tests run on every machine)."""
import inspect

import pytest

import pyengine
import pyengine.cuda
from pyengine import reference
from pyengine.testing.registry import all_ops
from support import run_python


def _public(module):
    return {n for n in getattr(module, "__all__", dir(module))
            if not n.startswith("_") and inspect.isfunction(getattr(module, n))}


def test_cuda_kernels_have_the_reference_contract():
    import pyengine.kernels.cuda as kc
    missing = _public(reference) - _public(kc)
    assert not missing, f"kernels.cuda lacks {sorted(missing)}"
    for name in _public(reference):
        assert inspect.signature(getattr(kc, name)) == inspect.signature(getattr(reference, name)), name


def test_every_cuda_kernel_has_a_registry_entry():
    import pyengine.kernels.cuda as kc
    registered = {op.name for op in all_ops()}
    assert not (_public(kc) - registered), sorted(_public(kc) - registered)


def test_import_needs_neither_cupy_nor_a_gpu():
    code = ("import sys; sys.modules['cupy'] = None\n"
            "import pyengine, pyengine.kernels.cuda as kc, pyengine.cuda as c, pyengine.backends.cuda as b\n"
            "assert b.allow_tf32 is False\n"
            "print(c.is_available(), c.device_count())\n"
            "try:\n    kc.relu_forward(None)\nexcept ImportError as e:\n    print('ImportError', e)\n")
    r = run_python(code=code)
    assert r.returncode == 0, r.stderr
    assert "ImportError pyengine.kernels.cuda needs CuPy" in r.stdout


def test_import_without_the_cuda_module():
    code = ("import sys; sys.modules['pyengine._cuda'] = None\n"
            "import pyengine, pyengine.cuda as c\n"
            "assert not c.is_available() and c.device_count() == 0\n"
            "d = pyengine.info()\nassert d['cuda_built'] is False\n")
    r = run_python(code=code)
    assert r.returncode == 0, r.stderr


def test_synchronize_without_a_gpu_raises_clearly():
    if pyengine.cuda.is_available():
        pytest.skip("a GPU is usable here")
    with pytest.raises(RuntimeError, match="no usable CUDA GPU"):
        pyengine.cuda.synchronize()


def test_cuda_module_reports_itself():
    mod = pytest.importorskip("pyengine._cuda")
    assert mod.device_count() >= 0
    assert "90" in mod.built_architectures()
    # direct binding calls with non-device objects raise, never crash
    with pytest.raises(TypeError, match="gemm: a must be a CUDA device array"):
        mod.gemm(None, None, None, None, False, False, 1.0, 0.0, None, True, False, 0)
    import numpy as np
    with pytest.raises(TypeError, match="relu|activation_forward: x must be a CUDA device array"):
        mod.activation_forward(0, np.zeros(3, np.float32), np.zeros(3, np.float32), 0.0, 0)


def test_cpu_tensors_have_no_cuda_array_interface():
    t = pyengine.tensor([1.0, 2.0])
    assert not hasattr(t, "__cuda_array_interface__")
