"""The training tests need the Tensor/nn layer; they skip while it is absent."""
import pytest

import pyengine

if not hasattr(pyengine, "Tensor"):
    pytest.skip("pyengine.Tensor (the autograd layer) is not available", allow_module_level=True)
