"""CUDA optimizer updates (csrc/cuda/optim.cu): one fused grid-stride kernel per step, in place.

Same names, signatures and results as pyengine.reference.optim. param and the state buffers must be
C-contiguous device arrays (they are updated in place); a non-contiguous grad is copied first.
"""
from __future__ import annotations

from .._contract.optim import check_adagrad, check_adam, check_rmsprop, check_sgd
from . import _ext

__all__ = ["sgd_step", "adam_step", "rmsprop_step", "adagrad_step"]


def _devs(fn, **arrays):
    return {n: _ext.to_device(fn, n, a, optional=True) for n, a in arrays.items()}


def sgd_step(param, grad, momentum_buffer=None, *, lr, momentum=0.0, dampening=0.0, weight_decay=0.0,
             nesterov=False, maximize=False, first_step=False):
    """SGD with momentum, in place; see pyengine.reference.sgd_step. Returns (param, momentum_buffer)."""
    fn = "sgd_step"
    d = _devs(fn, param=param, grad=grad, momentum_buffer=momentum_buffer)
    check_sgd(d["param"], d["grad"], d["momentum_buffer"], lr, momentum, dampening, weight_decay, nesterov, maximize,
              first_step)
    with _ext.on_device(_ext.device_of(fn, **d)):
        _ext.lib().sgd_step(d["param"], _ext.contiguous(d["grad"]), d["momentum_buffer"] if momentum != 0 else None,
                            float(lr), float(momentum), float(dampening), float(weight_decay), bool(nesterov),
                            bool(maximize), bool(first_step), _ext.stream())
    return param, momentum_buffer


def adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq=None, *, step, lr=1e-3, beta1=0.9, beta2=0.999,
              eps=1e-8, weight_decay=0.0, decoupled_weight_decay=False, maximize=False):
    """Adam/AdamW/AMSGrad, in place; see pyengine.reference.adam_step.
    Returns (param, exp_avg, exp_avg_sq, max_exp_avg_sq)."""
    fn = "adam_step"
    d = _devs(fn, param=param, grad=grad, exp_avg=exp_avg, exp_avg_sq=exp_avg_sq, max_exp_avg_sq=max_exp_avg_sq)
    step = check_adam(d["param"], d["grad"], d["exp_avg"], d["exp_avg_sq"], d["max_exp_avg_sq"], step, lr, beta1,
                      beta2, eps, weight_decay, decoupled_weight_decay, maximize)
    with _ext.on_device(_ext.device_of(fn, **d)):
        _ext.lib().adam_step(d["param"], _ext.contiguous(d["grad"]), d["exp_avg"], d["exp_avg_sq"],
                             d["max_exp_avg_sq"], int(step), float(lr), float(beta1), float(beta2), float(eps),
                             float(weight_decay), bool(decoupled_weight_decay), bool(maximize), _ext.stream())
    return param, exp_avg, exp_avg_sq, max_exp_avg_sq


def rmsprop_step(param, grad, square_avg, momentum_buffer=None, grad_avg=None, *, lr=1e-2, alpha=0.99, eps=1e-8,
                 weight_decay=0.0, momentum=0.0, maximize=False):
    """RMSprop, in place; see pyengine.reference.rmsprop_step.
    Returns (param, square_avg, momentum_buffer, grad_avg)."""
    fn = "rmsprop_step"
    d = _devs(fn, param=param, grad=grad, square_avg=square_avg, momentum_buffer=momentum_buffer, grad_avg=grad_avg)
    check_rmsprop(d["param"], d["grad"], d["square_avg"], d["momentum_buffer"], d["grad_avg"], lr, alpha, eps,
                  weight_decay, momentum, maximize)
    with _ext.on_device(_ext.device_of(fn, **d)):
        _ext.lib().rmsprop_step(d["param"], _ext.contiguous(d["grad"]), d["square_avg"],
                                d["momentum_buffer"] if momentum > 0 else None, d["grad_avg"], float(lr),
                                float(alpha), float(eps), float(weight_decay), float(momentum), bool(maximize),
                                _ext.stream())
    return param, square_avg, momentum_buffer, grad_avg


def adagrad_step(param, grad, state_sum, *, step, lr=1e-2, lr_decay=0.0, weight_decay=0.0, eps=1e-10,
                 maximize=False):
    """Adagrad, in place; see pyengine.reference.adagrad_step. Returns (param, state_sum)."""
    fn = "adagrad_step"
    d = _devs(fn, param=param, grad=grad, state_sum=state_sum)
    step = check_adagrad(d["param"], d["grad"], d["state_sum"], step, lr, lr_decay, weight_decay, eps, maximize)
    with _ext.on_device(_ext.device_of(fn, **d)):
        _ext.lib().adagrad_step(d["param"], _ext.contiguous(d["grad"]), d["state_sum"], int(step), float(lr),
                                float(lr_decay), float(weight_decay), float(eps), bool(maximize), _ext.stream())
    return param, state_sum
