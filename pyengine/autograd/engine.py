"""The backward engine: the only place where gradients are accumulated.

1. Collect the nodes reachable from the roots (iterative DFS over ``next_edges``) and order them
   topologically (reverse post-order), so a node runs after every node that feeds it a gradient.
2. Walk that order: call the node's backward with its output gradients, route each input gradient
   along its edge — summed into the producer's buffer (out of place: a buffer may be aliased by
   another edge) or, for a leaf, into ``leaf.grad`` (copied on first store unless freshly owned,
   ``+=`` afterwards, so ``.grad`` accumulates across backward calls).
3. Unless ``retain_graph``, each node's saved arrays and edges are dropped right after its backward:
   a finished step holds no memory, and a second backward through it raises.
"""
from __future__ import annotations

import os

import numpy as np

from .grad_mode import STATE

_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep

__all__ = ["run_backward"]


def _released_error(node):
    return RuntimeError(
        f"backward through the graph a second time (node {node.op_name()}): its saved values were "
        "freed after the first backward; pass retain_graph=True to the first call")


def _toposort(roots):
    """Reverse post-order of an iterative DFS: a node is marked when it is expanded (not when pushed),
    so it is emitted only after everything reachable from it."""
    order = []
    visited = set()
    stack = [(r, False) for r in reversed(roots)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        edges = node.__dict__.get("next_edges")
        if edges is None:
            raise _released_error(node)
        for e in edges:
            if e is not None:
                nxt = e[0]
                if isinstance(nxt, _FunctionType) and id(nxt) not in visited:
                    stack.append((nxt, False))
    order.reverse()
    return order


def _accumulate_leaf(leaf, g, stored_ids):
    from ..tensor import Tensor
    if g.shape != leaf._data.shape:
        g = np.broadcast_to(g, leaf._data.shape) if g.size == 1 else g.reshape(leaf._data.shape)
    if g.dtype != leaf._data.dtype:
        g = g.astype(leaf._data.dtype)
    cur = leaf.grad
    if cur is None:
        # Store without copying only an array nobody else can see: owned, not yet stored elsewhere.
        writeable = getattr(getattr(g, "flags", None), "writeable", True)  # CuPy flags have no writeable
        if not getattr(g, "flags", None) or not g.flags.owndata or id(g) in stored_ids or not writeable:
            g = g.copy()
        stored_ids.add(id(g))
        leaf.grad = Tensor._make(g)
    else:
        cur._data += g


def _check_anomaly(node, grads):
    for i, g in enumerate(grads):
        if g is not None and g.dtype.kind == "f":
            bad = ~np.isfinite(g)
            n = int(bad.sum())
            if n:
                kind = "nan" if np.isnan(g).any() else "inf"
                where = ""
                stack = node.__dict__.get("forward_stack")
                if stack:
                    # The innermost frame outside pyengine is the user's line that ran the forward op.
                    user = [f for f in stack if not os.path.abspath(f.filename).startswith(_PKG_DIR)]
                    f = (user or stack)[-1]
                    where = f"; the forward ran at {f.filename}:{f.lineno}: {f.line}"
                raise RuntimeError(
                    f"detect_anomaly: the backward of '{node.op_name()}' produced {kind} values in the "
                    f"gradient of its input {i} ({n} of {g.size} elements not finite); the forward op "
                    f"'{node.op_name()}' created this node{where}")


def run_backward(tensors, grad_tensors, retain_graph=False):
    """Accumulates d(sum_i <grad_i, tensor_i>)/d(leaf) into every leaf's .grad."""
    buffers = {}
    roots = []
    stored_ids = set()
    for t, g in zip(tensors, grad_tensors):
        fn = t._grad_fn
        if fn is None:
            _accumulate_leaf(t, g, stored_ids)
            continue
        key = id(fn)
        buf = buffers.get(key)
        if buf is None:
            n_out = fn.__dict__.get("n_outputs", 1)
            buf = buffers[key] = [None] * n_out
            roots.append(fn)
        nr = t._output_nr
        buf[nr] = g if buf[nr] is None else buf[nr] + g
    if not roots:
        return
    order = _toposort(roots)
    anomaly = STATE.anomaly
    prev_mode = STATE.grad_enabled
    STATE.grad_enabled = False
    try:
        for node in order:
            buf = buffers.pop(id(node), None)
            if buf is None:
                continue
            edges = node.next_edges
            retained = node.__dict__.get("retained")
            if retained:                 # non-leaf tensors that asked for .grad (Tensor.retain_grad)
                for nr, t in retained.items():
                    if buf[nr] is not None:
                        _accumulate_leaf(t, buf[nr], stored_ids)
            grads = node.backward(node, *buf)
            if type(grads) is not tuple:
                grads = (grads,)
            if anomaly:
                _check_anomaly(node, grads)
            for e, g in zip(edges, grads):
                if e is None or g is None:
                    continue
                target, nr = e
                if isinstance(target, _FunctionType):
                    key = id(target)
                    b = buffers.get(key)
                    if b is None:
                        b = buffers[key] = [None] * target.__dict__.get("n_outputs", 1)
                    b[nr] = g if b[nr] is None else b[nr] + g
                else:
                    _accumulate_leaf(target, g, stored_ids)
            if not retain_graph:
                d = node.__dict__
                d.pop("next_edges", None)
                d.pop("saved_tensors", None)
                d.pop("retained", None)
    finally:
        STATE.grad_enabled = prev_mode


from .function import Function as _FunctionType  # noqa: E402
