"""``Function``, the base class of every differentiable op, lives in the autograd core (core.py) next
to Tensor, which its ``apply`` creates; this module keeps its historical import path."""
from .core import Function

__all__ = ["Function"]
