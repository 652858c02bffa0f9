"""Shape layers beside layers.py's Flatten: Unflatten (torch.nn's: one dimension split into
unflattened_size, which may hold one −1). No parameters."""
from __future__ import annotations

from ..tensor import Tensor
from .module import Module

__all__ = ["Unflatten"]


class Unflatten(Module):
    def __init__(self, dim, unflattened_size):
        super().__init__()
        if isinstance(dim, bool) or not isinstance(dim, int):
            raise TypeError(f"Unflatten: dim must be an int, got {type(dim).__name__}")
        sizes = tuple(unflattened_size) if isinstance(unflattened_size, (tuple, list)) else None
        if not sizes or not all(isinstance(s, int) and not isinstance(s, bool) for s in sizes):
            raise TypeError(f"Unflatten: unflattened_size must be a tuple of ints, got {unflattened_size!r}")
        self.dim, self.unflattened_size = dim, sizes

    def forward(self, input):
        if not isinstance(input, Tensor):
            raise TypeError(f"Unflatten: input must be a pyengine.Tensor, got {type(input).__name__}")
        return input.unflatten(self.dim, self.unflattened_size)

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
