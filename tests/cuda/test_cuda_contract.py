"""kernels.cuda has the reference's contract, and everything imports and reports cleanly without
CuPy or a GPU (these tests run on every machine).

The CUDA bindings check their arguments with the same C++ contract as the CPU ones, before they touch
the device. So on a machine without a GPU the whole op registry drives them through stand-in device
arrays (host memory described by __cuda_array_interface__; the binding reads the description and
never the memory): every error input must raise the reference's error with its message, and every
valid sample must pass the contract and stop only at "no usable CUDA GPU".
"""
import re

import numpy as np
import pytest

import pyengine
import pyengine.cuda
from pyengine import reference
from pyengine.testing.registry import all_ops, signature
from support import run_python

OPS = all_ops()


def test_cuda_kernels_have_the_reference_contract():
    import pyengine.kernels.cuda as kc
    assert set(kc.__all__) == set(reference.__all__)
    for name in reference.__all__:
        assert signature(getattr(kc, name)) == signature(getattr(reference, name)), name


def test_every_cuda_kernel_has_a_registry_entry():
    import pyengine.kernels.cuda as kc
    registered = {op.name for op in OPS}
    assert not (set(kc.__all__) - registered), sorted(set(kc.__all__) - registered)


def test_cuda_module_binds_exactly_the_contract():
    """Every kernel of kernels.cuda is the _cuda binding, except the int8 ones, which have no CUDA
    kernel and run on the host through the CPU binding (kernels/cuda/quantized.py)."""
    mod = pytest.importorskip("pyengine._cuda")
    import pyengine.kernels.cuda as kc
    import pyengine.kernels.cuda.quantized as on_host
    assert sorted(mod.__kernels__) == sorted(set(reference.__all__) - set(on_host.__all__))
    for name in mod.__kernels__:
        assert getattr(kc, name) is getattr(mod, name), name
    for name in on_host.__all__:
        assert getattr(kc, name) is getattr(on_host, name), name


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
            "import pyengine, pyengine.cuda as c, pyengine.kernels.cuda as kc\n"
            "assert not c.is_available() and c.device_count() == 0\n"
            "d = pyengine.info()\nassert d['cuda_built'] is False\n"
            "kc._ext.RUNTIME.require = lambda: None\n"
            "try:\n    kc.gemm(None, None)\nexcept ImportError as e:\n    print('ImportError', e)\n")
    r = run_python(code=code)
    assert r.returncode == 0, r.stderr
    assert "ImportError pyengine._cuda (the CUDA kernels) is not built" in r.stdout


def test_synchronize_without_a_gpu_raises_clearly():
    if pyengine.cuda.is_available():
        pytest.skip("a GPU is usable here")
    with pytest.raises(RuntimeError, match="no usable CUDA GPU"):
        pyengine.cuda.synchronize()


def test_cpu_tensors_have_no_cuda_array_interface():
    t = pyengine.tensor([1.0, 2.0])
    assert not hasattr(t, "__cuda_array_interface__")


# ---- the CUDA bindings' contract, on stand-in device arrays ---------------------------------------

class StandIn:
    """A NumPy array seen through __cuda_array_interface__ (version 3): dtype, shape, strides,
    pointer and read-only flag, exactly what a CuPy array would say."""

    def __init__(self, a):
        self._a = a
        strides = None if a.flags.c_contiguous else a.strides
        self.__cuda_array_interface__ = {"shape": a.shape, "typestr": a.dtype.str, "strides": strides,
                                         "data": (a.ctypes.data if a.size else 0, not a.flags.writeable),
                                         "version": 3}


def _stand_in(v):
    if isinstance(v, np.ndarray):
        return StandIn(v)
    if isinstance(v, tuple):
        return tuple(_stand_in(x) for x in v)
    return v


class StandInCuda:
    """pyengine._cuda with every NumPy argument handed over as a stand-in device array."""

    def __init__(self, mod):
        self._mod = mod

    def __getattr__(self, name):
        fn = getattr(self._mod, name)
        return lambda *args, **kwargs: fn(*_stand_in(args), **{k: _stand_in(v) for k, v in kwargs.items()})


# the int8 ops have no CUDA binding (they run through the CPU one, whose tests are tests/kernels)
DEVICE_OPS = [op for op in OPS if op.family != "quantized"]


@pytest.fixture
def stand_in_cuda(monkeypatch):
    mod = pytest.importorskip("pyengine._cuda")
    if mod.device_count() > 0:
        pytest.skip("a GPU is usable here: the GPU tests run the real thing")
    from pyengine.kernels.cuda import _ext
    monkeypatch.setattr(_ext.RUNTIME, "require", lambda: None)   # no CuPy needed to read a description
    return StandInCuda(mod)


def _device_wording(pattern):
    """The CPU says numpy.ndarray where the CUDA binding says CUDA device array."""
    return pattern.replace("numpy.ndarray", "(numpy.ndarray|CUDA device array)")


# The checks that read values (class indices, pooling indices, window taps) need the device itself.
VALUE_CHECKS = ("is out of range", "indices must lie", "window indices must be taps",
                # CTC's lengths and labels
                "input_lengths must be in", "target_lengths must be >=", "exceed the padded targets",
                "concatenated targets must have", "other than blank")


def _reads_values(case) -> bool:
    return any(s in case.match for s in VALUE_CHECKS)


@pytest.mark.parametrize("op", DEVICE_OPS, ids=lambda op: op.name)
def test_cuda_binding_rejects_every_error_input_with_the_reference_message(op, stand_in_cuda):
    for case in op.error_inputs(np.random.default_rng(3)):
        try:
            getattr(stand_in_cuda, op.name)(*case.args, **case.kwargs)
        except case.error as exc:
            if _reads_values(case) and "implemented on the CPU only" in str(exc):
                continue   # a CPU-only feature (uint8 pooling taps) is refused before any value is read
            assert re.search(_device_wording(case.match), str(exc)), (
                f"{op.name} [{case.desc}]: message {str(exc)!r} does not match {case.match!r}")
        except RuntimeError as exc:
            assert "no usable CUDA GPU" in str(exc) and _reads_values(case), (
                f"{op.name} [{case.desc}]: {exc}")
        else:
            raise AssertionError(f"{op.name} [{case.desc}]: accepted")


@pytest.mark.parametrize("op", DEVICE_OPS, ids=lambda op: op.name)
def test_cuda_binding_accepts_every_valid_sample(op, stand_in_cuda):
    """No false rejection: every sample the reference accepts passes the contract and stops only
    where the device is needed."""
    for dtype in op.dtypes:
        for s in op.samples(np.random.default_rng(7), dtype):
            with pytest.raises(RuntimeError, match="no usable CUDA GPU"):
                op.run(stand_in_cuda, s)
