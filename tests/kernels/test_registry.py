"""The registry covers the whole contract: a kernel without an entry fails here."""
import inspect

from pyengine import reference
from pyengine.kernels import cpu
from pyengine.testing.registry import all_ops


def _public_functions(module):
    return {n for n in getattr(module, "__all__", dir(module))
            if not n.startswith("_") and inspect.isfunction(getattr(module, n))}


def test_every_kernel_has_a_registry_entry():
    registered = {op.name for op in all_ops()}
    missing = (_public_functions(cpu) | _public_functions(reference)) - registered
    assert not missing, f"kernels without an op-registry entry: {sorted(missing)}"


def test_cpu_and_reference_expose_the_same_contract():
    assert _public_functions(cpu) == _public_functions(reference)
    for name in _public_functions(cpu):
        assert inspect.signature(getattr(cpu, name)) == inspect.signature(getattr(reference, name)), name


def test_every_entry_has_samples_and_error_inputs():
    import numpy as np
    for op in all_ops():
        assert op.samples(np.random.default_rng(0), op.dtypes[0]), f"{op.name}: no samples"
        assert op.error_inputs(np.random.default_rng(0)), f"{op.name}: no error inputs"
