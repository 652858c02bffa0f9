"""Non-constant padding (PyTorch's F.pad modes 'reflect', 'replicate', 'circular') as an autograd Function.

pad lists (before, after) pairs from the last axis backwards, as torch: (left, right[, top, bottom[,
front, back]]). Every padded axis of length n and widths (a, b) becomes length a + n + b, output
position j reading input position src(j − a):
    reflect    i ↦ the mirror without repeating the edge (…, 2, 1, 0, 1, 2, …, n−2, n−1, n−2, …), a, b < n
    replicate  i ↦ clamp(i, 0, n − 1)
    circular   i ↦ i mod n, a, b ≤ n
F.pad's cases (1 to 3 padded axes of an input with 1 or 2 more, widths within one reflection or
wrap) run on the device's pad kernels (``pad_forward`` / ``pad_backward``, csrc/cpu/pad.cpp and
csrc/cuda/pad.cu). The others (ONNX's Pad: any axes, widths beyond the size) take the NumPy path:
one gather per padded axis (``take``) forward, and its adjoint backward, the sum of every output
position's gradient onto its source (the interior a copy, the borders added row by row).
"""
from __future__ import annotations

import numpy as np

from ..reference.pad import pad_source_index as source_index   # one definition: the oracle's
from .core import Function
from .device import kernels_of, xp_of

__all__ = ["PadMode", "source_index", "MODES"]

MODES = ("reflect", "replicate", "circular")


def _kernel_case(x, pad, mode) -> bool:
    """Whether the pad kernels' contract covers this call (pyengine/pad.h)."""
    k = len(pad) // 2
    if x.dtype.kind != "f" or x.dtype.itemsize not in (4, 8) or not 1 <= k <= 3 or x.ndim not in (k + 1, k + 2):
        return False
    for j in range(k):
        n, a, b = x.shape[x.ndim - 1 - j], pad[2 * j], pad[2 * j + 1]
        if min(a, b) < 0 or (mode == "reflect" and max(a, b) >= n) or (mode == "circular" and max(a, b) > n) or \
                (mode == "replicate" and n == 0 and a + b):
            return False
    return True




class PadMode(Function):
    name = "pad"

    @property
    def torch_name(self):                     # ReflectionPad2dBackward0, ReplicationPad1dBackward0, …
        axes = self.__dict__.get("axes") or ()
        kind = {"reflect": "Reflection", "replicate": "Replication"}.get(self.__dict__.get("mode"))
        return f"{kind}Pad{len(axes)}dBackward0" if kind else "CircularPadBackward"

    @staticmethod
    def forward(ctx, x, pad, mode):
        ctx.mode = mode
        if _kernel_case(x, pad, mode):
            K = kernels_of(x)
            ctx.K, ctx.pad, ctx.shape = K, tuple(pad), x.shape
            ctx.axes = [None] * (len(pad) // 2)
            return K.pad_forward(x, tuple(pad), mode)
        ctx.K = None
        xp = xp_of(x)
        axes = []
        y = x
        for k in range(len(pad) // 2):
            axis = x.ndim - 1 - k
            a, b = pad[2 * k], pad[2 * k + 1]
            idx = source_index(x.shape[axis], a, b, mode)
            axes.append((axis, a, x.shape[axis], idx))
            y = xp.take(y, xp.asarray(idx), axis=axis)
        ctx.axes, ctx.mode = axes, mode
        return xp.ascontiguousarray(y)

    @staticmethod
    def backward(ctx, g):
        if ctx.K is not None:
            return ctx.K.pad_backward(g, ctx.shape, ctx.pad, ctx.mode)
        xp = xp_of(g)
        for axis, a, n, idx in reversed(ctx.axes):
            lead = (slice(None),) * axis
            gx = g[lead + (slice(a, a + n),)].copy()
            for j in [*range(a), *range(a + n, len(idx))]:
                gx[lead + (int(idx[j]),)] += g[lead + (j,)]
            g = gx
        return xp.ascontiguousarray(g)
