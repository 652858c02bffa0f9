"""Every registered error input raises the named error with a useful message, in every implementation."""
import re

import numpy as np
import pytest

from pyengine import reference
from pyengine.kernels import cpu
from pyengine.testing.registry import all_ops

OPS = all_ops()


@pytest.mark.parametrize("impl_name", ["reference", "cpu"])
@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_error_inputs_raise(op, impl_name):
    impl = reference if impl_name == "reference" else cpu
    cases = op.error_inputs(np.random.default_rng(3))
    for case in cases:
        with pytest.raises(case.error) as info:
            getattr(impl, op.name)(*case.args, **case.kwargs)
        assert re.search(case.match, str(info.value)), (
            f"{op.name} [{case.desc}]: message {str(info.value)!r} does not match {case.match!r}")
