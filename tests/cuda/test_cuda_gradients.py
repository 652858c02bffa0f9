"""Every backward of kernels.cuda, in float64 on the GPU, against central finite differences of the
reference (the registry's GradSpecs; GPU only)."""
import numpy as np
import pytest

from pyengine import reference
from pyengine.testing.gradcheck import compare_grads, numeric_vjp
from pyengine.testing.registry import all_ops

from cuda_support import HostCuda, requires_gpu

pytestmark = [requires_gpu, pytest.mark.cuda]

GRAD_OPS = [op for op in all_ops() if op.grad is not None]


@pytest.mark.parametrize("op", GRAD_OPS, ids=lambda op: op.name)
def test_cuda_backward_matches_finite_differences(op):
    impl = HostCuda()
    rng = np.random.default_rng(11)
    spec = op.grad
    for s in spec.inputs(rng):
        xs = list(s.args)
        float_idx = [i for i, x in enumerate(xs) if isinstance(x, np.ndarray) and x.dtype.kind == "f"]
        y = np.asarray(spec.forward(impl, *xs))
        g = rng.standard_normal(y.shape)
        analytic = spec.vjp(impl, g, *xs)
        numeric = numeric_vjp(lambda *a: spec.forward(reference, *a), xs, g, float_idx)
        assert len(analytic) == len(numeric)
        compare_grads(analytic, numeric, [f"{op.name} [{s.desc}] input {i}" for i in float_idx], *spec.tol)
