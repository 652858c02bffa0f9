"""Every backward (reference and C++ in float64) against central finite differences."""
import numpy as np
import pytest

from pyengine import reference
from pyengine.kernels import cpu
from pyengine.testing.gradcheck import compare_grads, numeric_vjp, rel_error
from pyengine.testing.registry import all_ops

GRAD_OPS = [op for op in all_ops() if op.grad is not None]


@pytest.mark.parametrize("impl_name", ["reference", "cpu"])
@pytest.mark.parametrize("op", GRAD_OPS, ids=lambda op: op.name)
def test_backward_matches_finite_differences(op, impl_name):
    impl = reference if impl_name == "reference" else cpu
    rng = np.random.default_rng(11)
    spec = op.grad
    for s in spec.inputs(rng):
        xs = list(s.args)
        float_idx = [i for i, x in enumerate(xs) if isinstance(x, np.ndarray) and x.dtype.kind == "f"]
        for i in float_idx:
            assert xs[i].dtype == np.float64, f"{op.name}: grad samples must be float64"
        y = np.asarray(spec.forward(impl, *xs))
        g = rng.standard_normal(y.shape)
        analytic = spec.vjp(impl, g, *xs)
        numeric = numeric_vjp(lambda *a: spec.forward(reference, *a), xs, g, float_idx)
        assert len(analytic) == len(numeric), f"{op.name}: vjp returned {len(analytic)} grads for {len(numeric)} inputs"
        compare_grads(analytic, numeric, [f"{op.name} [{s.desc}] input {i}" for i in float_idx], *spec.tol)
        if impl_name == "reference":
            # the reference is the oracle: it must agree far more tightly than the gradcheck bar
            for a, n in zip(analytic, numeric):
                assert rel_error(a, n) < 1e-6, f"{op.name} [{s.desc}]: reference rel_error {rel_error(a, n):.2e}"
