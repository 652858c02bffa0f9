"""CPU optimizer updates: the fused in-place C++ loops of csrc/cpu/optim.cpp (pyengine/optim.h).

Same names, signatures and results as pyengine.reference.optim. param and the state buffers are
updated in place (they must be C-contiguous); a non-contiguous grad is copied first.
"""
from __future__ import annotations

import numpy as np

from .._contract.optim import check_adagrad, check_adam, check_rmsprop, check_sgd
from ._ext import _C

__all__ = ["sgd_step", "adam_step", "rmsprop_step", "adagrad_step"]


def sgd_step(param, grad, momentum_buffer=None, *, lr, momentum=0.0, dampening=0.0, weight_decay=0.0,
             nesterov=False, maximize=False, first_step=False):
    """SGD with momentum, in place; see pyengine.reference.sgd_step. Returns (param, momentum_buffer)."""
    check_sgd(param, grad, momentum_buffer, lr, momentum, dampening, weight_decay, nesterov, maximize, first_step)
    _C.sgd_step(param, np.ascontiguousarray(grad), momentum_buffer if momentum != 0 else None, float(lr),
                float(momentum), float(dampening), float(weight_decay), nesterov, maximize, first_step)
    return param, momentum_buffer


def adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq=None, *, step, lr=1e-3, beta1=0.9, beta2=0.999,
              eps=1e-8, weight_decay=0.0, decoupled_weight_decay=False, maximize=False):
    """Adam/AdamW/AMSGrad, in place; see pyengine.reference.adam_step.
    Returns (param, exp_avg, exp_avg_sq, max_exp_avg_sq)."""
    step = check_adam(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2, eps, weight_decay,
                      decoupled_weight_decay, maximize)
    _C.adam_step(param, np.ascontiguousarray(grad), exp_avg, exp_avg_sq, max_exp_avg_sq, step, float(lr),
                 float(beta1), float(beta2), float(eps), float(weight_decay), decoupled_weight_decay, maximize)
    return param, exp_avg, exp_avg_sq, max_exp_avg_sq


def rmsprop_step(param, grad, square_avg, momentum_buffer=None, grad_avg=None, *, lr=1e-2, alpha=0.99, eps=1e-8,
                 weight_decay=0.0, momentum=0.0, maximize=False):
    """RMSprop, in place; see pyengine.reference.rmsprop_step.
    Returns (param, square_avg, momentum_buffer, grad_avg)."""
    check_rmsprop(param, grad, square_avg, momentum_buffer, grad_avg, lr, alpha, eps, weight_decay, momentum,
                  maximize)
    _C.rmsprop_step(param, np.ascontiguousarray(grad), square_avg, momentum_buffer if momentum > 0 else None,
                    grad_avg, float(lr), float(alpha), float(eps), float(weight_decay), float(momentum), maximize)
    return param, square_avg, momentum_buffer, grad_avg


def adagrad_step(param, grad, state_sum, *, step, lr=1e-2, lr_decay=0.0, weight_decay=0.0, eps=1e-10,
                 maximize=False):
    """Adagrad, in place; see pyengine.reference.adagrad_step. Returns (param, state_sum)."""
    step = check_adagrad(param, grad, state_sum, step, lr, lr_decay, weight_decay, eps, maximize)
    _C.adagrad_step(param, np.ascontiguousarray(grad), state_sum, step, float(lr), float(lr_decay),
                    float(weight_decay), float(eps), maximize)
    return param, state_sum
