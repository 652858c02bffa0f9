"""pyengine.autograd — Function, the backward engine, grad mode and anomaly detection.

``Function`` subclasses define forward/backward on raw arrays; ``run_backward`` walks the graph in
topological order; ``no_grad``/``enable_grad``/``set_grad_enabled`` switch recording off and on;
``detect_anomaly`` makes a NaN/Inf in backward raise an error that names the forward op.
"""
from .device import kernels_for
from .function import Function
from .grad_mode import (detect_anomaly, enable_grad, inference_mode, is_anomaly_enabled, is_grad_enabled,
                        is_inference_mode_enabled, no_grad, set_grad_enabled)


def backward(tensors, grad_tensors=None, retain_graph=False):
    """Like Tensor.backward for several roots at once."""
    from ..tensor import Tensor
    if isinstance(tensors, Tensor):
        tensors = [tensors]
    if grad_tensors is None:
        grad_tensors = [None] * len(tensors)
    elif isinstance(grad_tensors, Tensor):
        grad_tensors = [grad_tensors]
    from ..tensor import _root_grad
    from .engine import run_backward
    run_backward(list(tensors), [_root_grad(t, g) for t, g in zip(tensors, grad_tensors)], retain_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=False):
    """Gradients of outputs w.r.t. inputs, returned (not accumulated into .grad; existing .grad kept)."""
    from ..tensor import Tensor
    if isinstance(outputs, Tensor):
        outputs = [outputs]
    single = isinstance(inputs, Tensor)
    if single:
        inputs = [inputs]
    saved = [t.grad for t in inputs]
    for t in inputs:
        t.grad = None
    # Non-leaf inputs have no .grad slot of their own; only leaves are supported here.
    for t in inputs:
        if t._grad_fn is not None:
            raise ValueError("autograd.grad: inputs must be leaf tensors")
    try:
        backward(outputs, grad_outputs, retain_graph)
        res = [t.grad for t in inputs]
    finally:
        for t, g in zip(inputs, saved):
            t.grad = g
    return res[0] if single else res


__all__ = ["Function", "backward", "grad", "no_grad", "enable_grad", "set_grad_enabled",
           "is_grad_enabled", "detect_anomaly", "is_anomaly_enabled", "kernels_for", "inference_mode",
           "is_inference_mode_enabled"]
