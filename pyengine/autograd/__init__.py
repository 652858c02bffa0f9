"""pyengine.autograd — Tensor and Function (core), the backward engine, grad mode, anomaly detection,
and the ops: tensor maths (ops) and the kernel-backed Functions, one module per op family with the
kernels' stems (activation, softmax, conv2d, pool2d, linear, batch_norm, dropout, lstm).

``Function`` subclasses define forward/backward on raw arrays; ``run_backward`` walks the graph in
topological order; ``no_grad``/``enable_grad``/``set_grad_enabled`` switch recording off and on;
``detect_anomaly`` makes a NaN/Inf in backward raise an error that names the forward op.
"""
from .core import Function, Tensor, _wrap
from .device import kernels_for, xp_of
from .engine import _store_grad, root_grad, run_backward
from .grad_mode import (detect_anomaly, enable_grad, inference_mode, is_anomaly_enabled, is_grad_enabled,
                        is_inference_mode_enabled, no_grad, set_grad_enabled)
from . import activation, batch_norm, conv2d, dropout, linear, lstm, ops, pool2d, softmax  # noqa: F401


def backward(tensors, grad_tensors=None, retain_graph=False, inputs=None):
    """Like Tensor.backward for several roots at once (``inputs``: accumulate only into these)."""
    if isinstance(tensors, Tensor):
        tensors = [tensors]
    tensors = list(tensors)
    if grad_tensors is None:
        grad_tensors = [None] * len(tensors)
    elif isinstance(grad_tensors, Tensor):
        grad_tensors = [grad_tensors]
    roots = [root_grad(t, g) for t, g in zip(tensors, grad_tensors)]
    if inputs is None:
        run_backward(tensors, roots, retain_graph)
        return
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    got = grad(tensors, inputs, grad_tensors, retain_graph=retain_graph, allow_unused=True)
    stored = set()
    for t, g in zip(inputs, got):
        if g is not None:
            _store_grad(t, g._data, stored)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=None,
         materialize_grads=False):
    """The gradients of outputs w.r.t. inputs (leaf or non-leaf tensors), as a tuple of Tensors, one per
    input; no ``.grad`` is touched. An input the outputs do not depend on raises unless ``allow_unused``
    (then its entry is None, or zeros with ``materialize_grads``)."""
    if create_graph:
        raise NotImplementedError("autograd.grad: create_graph=True (higher-order gradients) is not supported")
    if isinstance(outputs, Tensor):
        outputs = [outputs]
    outputs = list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError(f"autograd.grad: input {i} does not require grad")
    for o in outputs:
        if not o.requires_grad:
            raise RuntimeError("autograd.grad: an output does not require grad and has no grad_fn")
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    roots = [root_grad(o, g) for o, g in zip(outputs, grad_outputs)]
    got = run_backward(outputs, roots, bool(retain_graph), inputs=inputs)
    res = []
    for i, t in enumerate(inputs):
        g = got[id(t) if t._grad_fn is None else (id(t._grad_fn), t._output_nr)]
        if g is None:
            if not (allow_unused or materialize_grads):
                raise RuntimeError(f"autograd.grad: input {i} was not used in the graph of the outputs; pass "
                                   "allow_unused=True if that is intended")
            res.append(_wrap(xp_of(t._data).zeros_like(t._data)) if materialize_grads else None)
        else:
            res.append(_wrap(g.copy() if not g.flags.owndata else g))
    return tuple(res)


__all__ = ["Function", "Tensor", "backward", "grad", "no_grad", "enable_grad", "set_grad_enabled",
           "is_grad_enabled", "detect_anomaly", "is_anomaly_enabled", "kernels_for", "inference_mode",
           "is_inference_mode_enabled"]
