"""parameters_to_vector / vector_to_parameters, as in torch.nn.utils."""
from __future__ import annotations

import numpy as np

from ...tensor import Tensor, _wrap

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters):
    """One 1-D Tensor holding every parameter's values, flattened, in order (a copy)."""
    arrays = [p._data.reshape(-1) for p in parameters]
    if not arrays:
        raise ValueError("parameters_to_vector: got no parameters")
    return _wrap(np.concatenate(arrays))


def vector_to_parameters(vec, parameters):
    """Copies consecutive slices of the 1-D vec into the parameters, in place (shapes kept)."""
    v = vec._data if isinstance(vec, Tensor) else np.asarray(vec)
    if v.ndim != 1:
        raise ValueError(f"vector_to_parameters: vec must be 1-D, got shape {tuple(v.shape)}")
    params = list(parameters)
    total = sum(p.numel() for p in params)
    if v.size != total:
        raise ValueError(f"vector_to_parameters: vec has {v.size} elements but the parameters hold {total}")
    pointer = 0
    for p in params:
        n = p.numel()
        p._data[...] = v[pointer:pointer + n].reshape(p.shape)
        pointer += n
