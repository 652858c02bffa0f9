"""QTensor: a uint8 tensor with its scale and zero point, what flows between quantized layers.

real ≈ scale · (data − zero_point). Only the shape operations a quantized network needs between
its layers are defined (flatten, reshape, view); everything else goes through ``dequantize()``.
"""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor, _wrap

__all__ = ["QTensor", "quantize_per_tensor"]


def quantize_per_tensor(x, scale: float, zero_point: int) -> "QTensor":
    """q = clamp(rint(x / scale) + zero_point, 0, 255) as uint8 (x a Tensor or a float array)."""
    from ..kernels.cpu import quantize_per_tensor as kernel
    a = x._data if isinstance(x, Tensor) else np.asarray(x)
    if a.dtype.kind != "f":
        raise TypeError(f"quantize_per_tensor: x must hold floats, got {a.dtype}")
    return QTensor(kernel(np.ascontiguousarray(a, dtype=np.float32), float(scale), int(zero_point)), scale, zero_point)


class QTensor:
    __slots__ = ("data", "scale", "zero_point")

    def __init__(self, data: np.ndarray, scale: float, zero_point: int):
        if not isinstance(data, np.ndarray) or data.dtype != np.uint8:
            raise TypeError(f"QTensor: data must be a uint8 numpy array, got "
                            f"{getattr(data, 'dtype', type(data).__name__)}")
        self.data, self.scale, self.zero_point = data, float(scale), int(zero_point)

    @property
    def shape(self):
        return self.data.shape

    @property
    def ndim(self):
        return self.data.ndim

    def size(self, dim=None):
        return self.data.shape if dim is None else self.data.shape[dim]

    def numel(self):
        return int(self.data.size)

    def dequantize(self) -> Tensor:
        """scale · (data − zero_point) as a float32 Tensor."""
        return _wrap((self.data.astype(np.float32) - np.float32(self.zero_point)) * np.float32(self.scale))

    def int_repr(self) -> np.ndarray:
        return self.data

    def _like(self, data):
        return QTensor(data, self.scale, self.zero_point)

    def flatten(self, start_dim=0, end_dim=-1):
        nd = self.data.ndim
        s, e = start_dim % nd if nd else 0, end_dim % nd if nd else 0
        shape = self.data.shape[:s] + (-1,) + self.data.shape[e + 1:]
        return self._like(self.data.reshape(shape))

    def reshape(self, *shape):
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return self._like(self.data.reshape(shape))

    view = reshape

    def __repr__(self):
        return f"QTensor(shape={tuple(self.data.shape)}, scale={self.scale:.6g}, zero_point={self.zero_point})"
