"""The backward engine: the only place where gradients are accumulated.

1. Order: collect the nodes reachable from the roots (iterative DFS over ``next_edges``) in reverse
   post-order, so a node runs after every node that feeds it a gradient; count, for every leaf, the
   edges that lead to it.
2. Walk the order. For each node: its output gradients (summed out of place in a buffer: an array may
   be aliased by another edge) go through the tensor hooks registered on those outputs and into
   ``.grad`` of outputs that ``retain_grad``; the version snapshot is compared (an in-place change to
   a saved tensor raises, naming the op, the input and both versions); backward runs; every gradient it
   returns is checked against the input's shape (a mismatch raises, naming the Function and the input
   index), made an array of the input's dtype (never a NumPy scalar), and routed along its edge.
3. A leaf's gradient is final when its last edge has delivered: its hooks run, it is accumulated into
   ``.grad`` (stored without a copy only when nobody else can see the array, ``+=`` onto an existing
   ``.grad``), then its post-accumulate hooks run — once per backward, as soon as it is ready.
4. Unless ``retain_graph``, a node's saved values and edges are dropped right after its backward: a
   finished step holds no memory, and a second backward through it raises.

With ``inputs`` (``autograd.grad``) the gradients of those tensors are returned instead: nothing is
accumulated into any ``.grad``, and only nodes on a path to an input run.
"""
from __future__ import annotations

import os

import numpy as np

from .core import Tensor, _wrap
from .grad_mode import STATE

__all__ = ["run_backward", "root_grad"]

_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_ndarray = np.ndarray


def root_grad(t, g):
    """The gradient backward starts from at root t: ones for a one-element t, else g as an array of t's
    shape and dtype."""
    if g is None:
        if t._data.size != 1:
            raise RuntimeError(f"backward: grad can be implied only for a single-element output, "
                               f"got shape {tuple(t.shape)}; pass a gradient of that shape")
        return np.ones_like(t._data)
    a = g._data if isinstance(g, Tensor) else np.asarray(g, dtype=t._data.dtype)
    if a.shape != t._data.shape:
        raise ValueError(f"backward: gradient has shape {tuple(a.shape)} but the tensor has shape "
                         f"{tuple(t.shape)}")
    return a if a.dtype == t._data.dtype else a.astype(t._data.dtype)


def _released_error(node):
    return RuntimeError(
        f"backward through the graph a second time (node {node.op_name()}): its saved values were "
        "freed after the first backward; pass retain_graph=True to the first call")


def _toposort(roots):
    """Reverse post-order of an iterative DFS (a node is marked when expanded, not when pushed, so it is
    emitted only after everything reachable from it), and the number of edges into each leaf."""
    order = []
    visited = set()
    leaf_edges = {}
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
        edges = getattr(node, "next_edges", None)
        if edges is None:
            raise _released_error(node)
        for e in edges:
            if e is not None:
                nxt = e[0]
                if isinstance(nxt, Tensor):
                    leaf_edges[id(nxt)] = leaf_edges.get(id(nxt), 0) + 1
                elif id(nxt) not in visited:
                    stack.append((nxt, False))
    order.reverse()
    return order, leaf_edges


def _needed(order, inputs):
    """ids of the nodes from which some input (a leaf, or the node that produced a non-leaf) is reachable."""
    targets = {id(t) if t._grad_fn is None else id(t._grad_fn) for t in inputs}
    needed = set()
    for node in reversed(order):          # producers before the nodes they feed
        for e in node.next_edges:
            if e is not None and (id(e[0]) in targets or id(e[0]) in needed):
                needed.add(id(node))
                break
    return needed


def _sum(a, b):
    s = a + b
    return s if type(s) is _ndarray or not isinstance(s, np.generic) else np.asarray(s)


def _as_grad(node, i, g, shape, dtype):
    """g as an array of the input's shape and dtype, or an error naming node and input i."""
    if type(g) is not _ndarray:
        if isinstance(g, Tensor):
            g = g._data
        elif isinstance(g, (np.generic, int, float)):
            g = np.asarray(g)
        elif not hasattr(g, "shape"):
            raise TypeError(f"{node.op_name()}.backward returned a {type(g).__name__} for input {i}; expected an "
                            "array or None")
    if g.shape != shape:
        raise RuntimeError(f"{node.op_name()}.backward returned a gradient of shape {tuple(g.shape)} for input {i} "
                           f"of shape {tuple(shape)}")
    return g if g.dtype == dtype else g.astype(dtype)


def _hooked(hooks, g):
    """g after each hook (a hook returning a Tensor replaces it; None keeps it)."""
    for h in list(hooks.values()):
        r = h(_wrap(g))
        if r is not None:
            r = r._data if isinstance(r, Tensor) else r
            if r.shape != g.shape:
                raise RuntimeError(f"a tensor hook returned a gradient of shape {tuple(r.shape)} for a tensor of "
                                   f"shape {tuple(g.shape)}")
            g = r if r.dtype == g.dtype else r.astype(g.dtype)
    return g


def _store_grad(t, g, stored):
    """.grad += g, or .grad = g the first time (copied unless g is an array nobody else can see)."""
    cur = t.grad
    if cur is None:
        flags = getattr(g, "flags", None)
        if flags is None or not flags.owndata or id(g) in stored or not getattr(flags, "writeable", True):
            g = g.copy()          # CuPy's flags have no writeable: its arrays are always writeable
        stored.add(id(g))
        t.grad = _wrap(g)
    else:
        cur._data += g


def _finish_leaf(leaf, g, capture, stored):
    if capture is not None:
        if id(leaf) in capture:
            capture[id(leaf)] = _hooked(leaf._hooks, g) if leaf._hooks else g
        return
    if leaf._hooks:
        g = _hooked(leaf._hooks, g)
    _store_grad(leaf, g, stored)
    if leaf._post_hooks:
        for h in list(leaf._post_hooks.values()):
            h(leaf)


def _check_versions(node):
    for vc, version, kind, i, shape in node._saved:
        if vc.version != version:
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by an inplace "
                f"operation: {node.op_name()}'s {kind} {i} (shape {tuple(shape)}) is at version {vc.version}, "
                f"expected {version}. An in-place op changed it after {node.op_name()} saved it for backward; "
                "use an out-of-place op, or .clone() it first")


def _check_anomaly(node, grads):
    for i, g in enumerate(grads):
        if g is not None and hasattr(g, "dtype") and g.dtype.kind == "f":
            bad = ~np.isfinite(g)
            n = int(bad.sum())
            if n:
                kind = "nan" if np.isnan(g).any() else "inf"
                where = ""
                stack = getattr(node, "forward_stack", None)
                if stack:
                    # The innermost frame outside pyengine is the user's line that ran the forward op.
                    user = [f for f in stack if not os.path.abspath(f.filename).startswith(_PKG_DIR)]
                    f = (user or stack)[-1]
                    where = f"; the forward ran at {f.filename}:{f.lineno}: {f.line}"
                raise RuntimeError(
                    f"detect_anomaly: the backward of '{node.op_name()}' produced {kind} values in the "
                    f"gradient of its input {i} ({n} of {g.size} elements not finite); the forward op "
                    f"'{node.op_name()}' created this node{where}")


def _release(node):
    node.next_edges = None
    node._saved = ()
    if node._retained:             # keep which outputs retain their grad (retains_grad), not the tensors
        node._retained = dict.fromkeys(node._retained)
    node._tensor_hooks = None
    node.__dict__.clear()


def run_backward(tensors, grad_tensors, retain_graph=False, inputs=None):
    """Accumulates d(sum_i <grad_i, tensor_i>)/d(leaf) into every leaf's .grad; with ``inputs``, returns
    {key: gradient or None} for them instead (key: id of a leaf, (id(node), output) for a non-leaf)."""
    capture = None
    if inputs is not None:
        capture = {(id(t) if t._grad_fn is None else (id(t._grad_fn), t._output_nr)): None for t in inputs}
    buffers = {}
    roots = []
    leaf_grads = {}
    for t, g in zip(tensors, grad_tensors):
        fn = t._grad_fn
        if fn is None:
            _add_leaf(leaf_grads, t, g)
            continue
        buf = buffers.get(id(fn))
        if buf is None:
            buf = buffers[id(fn)] = [None] * fn.n_outputs
            roots.append(fn)
        nr = t._output_nr
        buf[nr] = g if buf[nr] is None else _sum(buf[nr], g)
    order, leaf_edges = _toposort(roots)
    needed = _needed(order, inputs) if inputs is not None else None
    stored = set()
    anomaly = STATE.anomaly
    prev_mode = STATE.grad_enabled
    STATE.grad_enabled = False
    try:
        for node in order:
            buf = buffers.pop(id(node), None)
            edges = node.next_edges
            grads = ()
            if buf is not None:
                _output_grads(node, buf, capture, stored)
                if needed is None or id(node) in needed:
                    _check_versions(node)
                    grads = node.backward(node, *buf)
                    if type(grads) is not tuple:
                        grads = (grads,)
                    if len(grads) > len(edges):
                        raise RuntimeError(f"{node.op_name()}.backward returned {len(grads)} gradients for "
                                           f"{len(edges)} inputs")
                    if anomaly:
                        _check_anomaly(node, grads)
            n = len(grads)
            for i, e in enumerate(edges):
                if e is None:
                    continue
                target = e[0]
                g = grads[i] if i < n else None
                if g is not None:
                    g = _as_grad(node, i, g, e[2], e[3])
                elif i >= n and buf is not None and (needed is None or id(node) in needed):
                    raise RuntimeError(f"{node.op_name()}.backward returned {n} gradients, but input {i} "
                                       "requires one (return None for an input that gets no gradient)")
                if isinstance(target, Tensor):
                    if g is not None:
                        _add_leaf(leaf_grads, target, g)
                    left = leaf_edges[id(target)] - 1
                    leaf_edges[id(target)] = left
                    if left == 0:
                        entry = leaf_grads.pop(id(target), None)
                        if entry is not None:
                            _finish_leaf(target, entry[1], capture, stored)
                elif g is not None:
                    b = buffers.get(id(target))
                    if b is None:
                        b = buffers[id(target)] = [None] * target.n_outputs
                    nr = e[1]
                    b[nr] = g if b[nr] is None else _sum(b[nr], g)
            if not retain_graph:
                _release(node)
        for leaf, g in list(leaf_grads.values()):     # leaves that were roots themselves
            _finish_leaf(leaf, g, capture, stored)
    finally:
        STATE.grad_enabled = prev_mode
    return capture


def _add_leaf(leaf_grads, t, g):
    entry = leaf_grads.get(id(t))
    if entry is None:
        leaf_grads[id(t)] = [t, g]
    else:
        entry[1] = _sum(entry[1], g)


def _output_grads(node, buf, capture, stored):
    """What happens to a node's output gradients before its backward: hooks, retain_grad, capture."""
    hooks = node._tensor_hooks
    if hooks:
        for nr, h in hooks.items():
            if buf[nr] is not None and h:
                buf[nr] = _hooked(h, buf[nr])
    if capture is None:
        retained = node._retained
        if retained:
            for nr, t in retained.items():
                if buf[nr] is not None:
                    _store_grad(t, buf[nr], stored)
    else:
        for nr in range(len(buf)):
            key = (id(node), nr)
            if key in capture:
                capture[key] = buf[nr]
