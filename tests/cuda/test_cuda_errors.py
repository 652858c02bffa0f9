"""Every registered error input raises the named error through kernels.cuda too (GPU only: the
arrays are moved to the device first, so the shared contract sees CuPy arrays)."""
import re

import numpy as np
import pytest

from pyengine.testing.registry import all_ops

from cuda_support import HostCuda, requires_gpu

pytestmark = [requires_gpu, pytest.mark.cuda]

OPS = all_ops()


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_cuda_error_inputs_raise(op):
    impl = HostCuda()
    for case in op.error_inputs(np.random.default_rng(3)):
        if any(isinstance(a, np.ndarray) and not a.flags.writeable for a in case.args):
            continue  # read-only is a host-memory notion: CuPy arrays are always writeable
        with pytest.raises(case.error) as info:
            getattr(impl, op.name)(*case.args, **case.kwargs)
        assert re.search(case.match, str(info.value)), (
            f"{op.name} [{case.desc}]: message {str(info.value)!r} does not match {case.match!r}")
