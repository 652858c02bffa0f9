"""CPU batch normalisation: csrc/cpu/batch_norm.cpp (see csrc/include/pyengine/batch_norm.h).

Same names, signatures and errors as ``pyengine.reference.batchnorm``. The running statistics are
updated in place; a non-contiguous view is updated through a contiguous copy written back.
"""
from __future__ import annotations

import numpy as np

from .._contract.batch_norm import check_batch_norm_backward, check_batch_norm_forward
from ._ext import _C

__all__ = ["batch_norm_forward", "batch_norm_backward"]


def _contiguous(v):
    return None if v is None else np.ascontiguousarray(v)


def batch_norm_forward(x, weight, bias, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    """x (N, C) or (N, C, H, W); weight, bias, running_mean, running_var (C,) or None.

    Returns (y of x's shape, save_mean (C,), save_invstd (C,)): the statistics used to normalise
    (batch ones in training, with the running ones updated in place; running ones in eval).
    """
    _, _, training, momentum, eps = check_batch_norm_forward(x, weight, bias, running_mean, running_var, training,
                                                             momentum, eps)
    rm, rv = _contiguous(running_mean), _contiguous(running_var)
    out = _C.batch_norm_forward(np.ascontiguousarray(x), _contiguous(weight), _contiguous(bias), rm, rv, training,
                                momentum, eps)
    for view, copy in ((running_mean, rm), (running_var, rv)):
        if copy is not None and copy is not view:
            view[...] = copy
    return out


def batch_norm_backward(grad_output, x, weight, save_mean, save_invstd, training=True,
                        needs_input_grad=(True, True, True)):
    """(grad_input, grad_weight, grad_bias) of batch_norm_forward, None where needs_input_grad is False.

    grad_output, x: (N, C) or (N, C, H, W); weight (C,) or None; save_mean, save_invstd (C,).
    """
    _, _, training, needs = check_batch_norm_backward(grad_output, x, weight, save_mean, save_invstd, training,
                                                      needs_input_grad)
    return _C.batch_norm_backward(np.ascontiguousarray(grad_output), np.ascontiguousarray(x), _contiguous(weight),
                                  np.ascontiguousarray(save_mean), np.ascontiguousarray(save_invstd), training,
                                  needs)
