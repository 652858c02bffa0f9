"""CPU dropout: csrc/cpu/dropout.cpp, the counter-based mask of kernels/_contract/dropout.py.

The same seed gives the mask of ``pyengine.reference.dropout`` bit for bit, for any thread count.
"""
from __future__ import annotations

from .._contract.dropout import check_dropout_backward, check_dropout_forward
from ._ext import _C

__all__ = ["dropout_forward", "dropout_backward"]


def _c_order(a):
    """A C-contiguous array of a's shape (np.ascontiguousarray would turn a 0-d array into 1-D)."""
    return a if a.flags.c_contiguous else a.copy(order="C")


def dropout_forward(x, p, seed):
    """x: any shape. Returns (y, mask): mask uint8 of x's shape (1 = kept), y = x·mask/(1 − p)."""
    p, seed = check_dropout_forward(x, p, seed)
    return _C.dropout_forward(_c_order(x), p, seed)


def dropout_backward(grad_output, mask, p):
    """grad_input = grad_output · mask / (1 − p); grad_output and mask (uint8) of one shape."""
    p = check_dropout_backward(grad_output, mask, p)
    return _C.dropout_backward(_c_order(grad_output), _c_order(mask), p)
