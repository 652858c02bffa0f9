"""The registry covers the whole contract: a kernel without an entry fails here; and kernels.cpu —
the bindings themselves — has the reference's names and signatures."""
import numpy as np

from pyengine import _C, reference
from pyengine.kernels import cpu
from pyengine.testing.registry import all_ops, signature


def test_every_kernel_has_a_registry_entry():
    registered = {op.name for op in all_ops()}
    missing = (set(cpu.__all__) | set(reference.__all__)) - registered
    assert not missing, f"kernels without an op-registry entry: {sorted(missing)}"


def test_cpu_and_reference_expose_the_same_contract():
    assert set(cpu.__all__) == set(reference.__all__)
    for name in cpu.__all__:
        assert signature(getattr(cpu, name)) == signature(getattr(reference, name)), name


def test_kernels_cpu_are_the_bindings_themselves():
    """No Python layer between a caller and the C++ check: each function is pyengine._C's."""
    for name in cpu.__all__:
        assert getattr(cpu, name) is getattr(_C, name), name
        assert type(getattr(cpu, name)).__name__ == "builtin_function_or_method", name


def test_every_entry_has_samples_and_error_inputs():
    for op in all_ops():
        assert op.samples(np.random.default_rng(0), op.dtypes[0]), f"{op.name}: no samples"
        assert op.error_inputs(np.random.default_rng(0)), f"{op.name}: no error inputs"
