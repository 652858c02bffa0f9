"""CUDA softmax / log-softmax over an axis and cross-entropy (csrc/cuda/softmax.cu).

Softmax family: x of any rank, ``axis`` in [-ndim, ndim-1]; outputs of x's shape and dtype.
Cross-entropy: logits (N, C), int64 target (N,) in [0, C) (checked on the host, which waits for
the device once); loss (N,) for 'none', 0-d for 'mean'/'sum'; backward → grad_logits (N, C).
"""
from __future__ import annotations

from .._contract.softmax import check_cross_entropy, check_softmax, check_softmax_backward
from . import _ext

__all__ = ["softmax_forward", "softmax_backward", "log_softmax_forward", "log_softmax_backward",
           "cross_entropy_forward", "cross_entropy_backward"]


def _forward(fn, log, x, axis):
    x = _ext.to_device(fn, "x", x)
    axis = check_softmax(fn, x, axis)
    with _ext.on_device(_ext.device_of(fn, x=x)):
        xc = _ext.contiguous(x).reshape(x.shape if x.ndim else (1,))
        y = _ext.empty(xc.shape, x.dtype)
        _ext.lib().softmax_forward(log, xc, y, axis, _ext.stream())
    return y.reshape(x.shape)


def _backward(fn, log, grad_output, output, axis):
    grad_output = _ext.to_device(fn, "grad_output", grad_output)
    output = _ext.to_device(fn, "output", output)
    axis = check_softmax_backward(fn, grad_output, output, axis)
    with _ext.on_device(_ext.device_of(fn, grad_output=grad_output, output=output)):
        shape = output.shape if output.ndim else (1,)
        g = _ext.contiguous(grad_output).reshape(shape)
        y = _ext.contiguous(output).reshape(shape)
        dx = _ext.empty(shape, output.dtype)
        _ext.lib().softmax_backward(log, g, y, dx, axis, _ext.stream())
    return dx.reshape(output.shape)


def softmax_forward(x, axis=-1):
    """exp(x − m) / Σ exp(x − m) along axis, m the maximum. x: any shape."""
    return _forward("softmax_forward", False, x, axis)


def softmax_backward(grad_output, output, axis=-1):
    """y·(g − Σ g·y) along axis, from the forward's output y."""
    return _backward("softmax_backward", False, grad_output, output, axis)


def log_softmax_forward(x, axis=-1):
    """(x − m) − log Σ exp(x − m) along axis. x: any shape."""
    return _forward("log_softmax_forward", True, x, axis)


def log_softmax_backward(grad_output, output, axis=-1):
    """g − exp(y)·Σ g along axis, from the forward's output y."""
    return _backward("log_softmax_backward", True, grad_output, output, axis)


def cross_entropy_forward(logits, target, reduction="mean"):
    """Cross-entropy of logits (N, C) against int64 class indices (N,): (N,) or 0-d (mean: NaN at N = 0)."""
    fn = "cross_entropy_forward"
    logits = _ext.to_device(fn, "logits", logits)
    target = _ext.to_device(fn, "target", target) if not isinstance(target, (list, tuple)) else target
    n, _ = check_cross_entropy(fn, logits, target, reduction)
    cp = _ext.cupy()
    with _ext.on_device(_ext.device_of(fn, logits=logits, target=target)):
        x, t = _ext.contiguous(logits), _ext.contiguous(target)
        losses = _ext.empty((n,), x.dtype)
        lib, s = _ext.lib(), _ext.stream()
        lib.cross_entropy_forward(x, t, losses, s)
        if reduction == "none":
            return losses
        if reduction == "mean" and n == 0:
            return cp.full((), cp.nan, dtype=x.dtype)
        out = _ext.empty((), x.dtype)
        lib.channel_sum(losses, out, 1, 1, n, 1.0 / n if reduction == "mean" else 1.0, s)
    return out


def cross_entropy_backward(grad_output, logits, target, reduction="mean"):
    """grad_logits (N, C) = w_n·(softmax(logits)_n − onehot(target_n)); grad_output (N,) or 0-d."""
    fn = "cross_entropy_backward"
    grad_output = _ext.to_device(fn, "grad_output", grad_output)
    logits = _ext.to_device(fn, "logits", logits)
    target = _ext.to_device(fn, "target", target) if not isinstance(target, (list, tuple)) else target
    n, _ = check_cross_entropy(fn, logits, target, reduction, grad_output, check_grad=True)
    with _ext.on_device(_ext.device_of(fn, grad_output=grad_output, logits=logits, target=target)):
        x, t, g = _ext.contiguous(logits), _ext.contiguous(target), _ext.contiguous(grad_output)
        dx = _ext.empty(x.shape, x.dtype)
        scale = 1.0 / n if (reduction == "mean" and n) else 1.0
        _ext.lib().cross_entropy_backward(g.reshape(-1), reduction == "none", scale, x, t, dx, _ext.stream())
    return dx
