"""Contract of the element-wise activations: relu, leaky_relu, elu, sigmoid, tanh.

Forward ops take a float array of any shape; backward ops take grad_output and the forward's
input x (relu, leaky_relu, elu) or output (sigmoid, tanh), which must share its dtype and shape.
"""
from __future__ import annotations

import numbers

from .common import check_float_array, check_same_dtype


def check_unary(fn: str, x) -> None:
    check_float_array(fn, "x", x)


def check_unary_backward(fn: str, grad_output, ref, ref_name: str) -> None:
    """grad_output must match ref (x or output) in dtype and shape."""
    check_float_array(fn, ref_name, ref)
    check_float_array(fn, "grad_output", grad_output)
    check_same_dtype(fn, ref_name, ref, grad_output=grad_output)
    if tuple(grad_output.shape) != tuple(ref.shape):
        raise ValueError(f"{fn}: grad_output must have the shape of {ref_name} {tuple(ref.shape)}, "
                         f"got {tuple(grad_output.shape)}")


def as_real(fn: str, name: str, value) -> float:
    """A real scalar parameter (Python or NumPy number, not bool) as a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{fn}: {name} must be a real number, got {type(value).__name__} {value!r}")
    return float(value)
