"""The layer graph of a model (MATLAB's ``plot(lgraph)``), traced from one forward pass and drawn
with matplotlib: one box per layer call with its output shape and parameter count, the operations
between layers (a residual addition, a flatten in forward) as small nodes, and branches side by
side.

Tracing: a forward hook on every leaf layer records its inputs and output. The edge into a layer
comes from the tensor it received: the layer (or the model input) that produced it, or — when an
operation outside any layer produced it (``out + identity``) — that operation's autograd node,
followed back through its inputs until layers or the input are reached. So residual connections
appear as they run, without knowing the model's class.

Layout: a node's row is the longest path to it from the input; within a row a node keeps its first
input's column when that is free, else takes the next free column, the node with the longer way
still to go choosing first, so a parallel branch (a downsampling shortcut) stands beside the main
path. An edge that skips rows (an identity shortcut)
is drawn as an arc to the side.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._common import finish, pyplot


@dataclass
class Node:
    id: int
    label: str                    # the layer's name, or the operation's
    kind: str                     # the layer's class name, "input", "output" or "op"
    shape: tuple = ()
    params: int = 0
    inputs: list = field(default_factory=list)
    shared: bool = False          # the same layer called more than once


def trace_graph(model, input_shape, dtype=np.float32):
    """[Node] of the model's forward on zeros of ``input_shape`` (batch included), in execution order."""
    import pyengine

    nodes = [Node(0, "input", "input", tuple(input_shape))]
    by_tensor, by_fn, keep = {}, {}, []
    calls = {}
    x = pyengine.zeros(*input_shape, dtype=dtype)
    x.requires_grad_(True)
    by_tensor[id(x)] = 0
    keep.append(x)

    def source(t):
        """The node that produced tensor t (creating op nodes for work done outside layers)."""
        if id(t) in by_tensor:
            return by_tensor[id(t)]
        fn = getattr(t, "_grad_fn", None)
        return None if fn is None else from_fn(fn)

    def from_fn(fn):
        if id(fn) in by_fn:
            return by_fn[id(fn)]
        ins = []
        for edge in getattr(fn, "next_edges", None) or ():
            if edge is None:
                continue
            obj = edge[0]
            if obj is x:
                ins.append(0)
            elif hasattr(obj, "next_edges") or hasattr(obj, "op_name"):
                src = from_fn(obj)
                if src is not None:
                    ins.append(src)
        if not ins:
            return None
        name = fn.op_name() if hasattr(fn, "op_name") else type(fn).__name__
        node = Node(len(nodes), name, "op", inputs=sorted(set(ins), key=ins.index))
        nodes.append(node)
        by_fn[id(fn)] = node.id
        keep.append(fn)
        return node.id

    def hook(mod, args, out):
        ins = []
        for a in args:
            for t in (a if isinstance(a, (tuple, list)) else [a]):
                if hasattr(t, "_data"):
                    s = source(t)
                    if s is not None:
                        ins.append(s)
        first = out[0] if isinstance(out, (tuple, list)) else out
        name = names[id(mod)]
        calls[name] = calls.get(name, 0) + 1
        node = Node(len(nodes), name, type(mod).__name__, tuple(first.shape) if hasattr(first, "shape") else (),
                    sum(p.numel() for p in mod.parameters(recurse=False)), sorted(set(ins), key=ins.index))
        node.shared = calls[name] > 1
        nodes.append(node)
        for o in (out if isinstance(out, (tuple, list)) else [out]):
            if hasattr(o, "_data"):
                by_tensor[id(o)] = node.id
                keep.append(o)
                fn = getattr(o, "_grad_fn", None)
                if fn is not None:
                    by_fn[id(fn)] = node.id

    names, handles = {}, []
    for name, m in model.named_modules():
        if not m._modules and m is not model:
            names[id(m)] = name
            handles.append(m.register_forward_hook(hook))
    was = model.training
    model.eval()
    try:
        with pyengine.enable_grad():
            y = model(x)
    finally:
        for h in handles:
            h.remove()
        model.train(was)
    first = y[0] if isinstance(y, (tuple, list)) else y
    src = source(first)
    for n in nodes:
        if n.kind == "op":
            n.shape = ()
    nodes.append(Node(len(nodes), "output", "output", tuple(first.shape), 0, [src] if src is not None else []))
    for n in nodes:                       # op nodes: the shape of what they produced is not kept; show none
        n.inputs = [i for i in n.inputs if i is not None]
    return nodes


def _layout(nodes):
    rank = {}
    for n in nodes:                         # execution order is a topological order
        rank[n.id] = 1 + max((rank[i] for i in n.inputs), default=-1)
    height = {n.id: 0 for n in nodes}       # longest path from the node to the output
    for n in reversed(nodes):
        for i in n.inputs:
            height[i] = max(height[i], height[n.id] + 1)
    col, taken = {}, {}
    # the longer of two parallel branches (the main path) keeps the column; the shortcut moves aside
    for n in sorted(nodes, key=lambda n: (rank[n.id], -height[n.id], n.id)):
        want = col[n.inputs[0]] if n.inputs else 0
        row = taken.setdefault(rank[n.id], set())
        c = want
        while c in row:
            c += 1
        row.add(c)
        col[n.id] = c
    return rank, col


def _fmt_shape(s):
    return "×".join(str(d) for d in s[1:]) if len(s) > 1 else str(s)


def plot_graph(model, input_shape, path=None, title=None):
    """Draws the layer graph; writes ``path`` (PNG) when given; returns the Figure (``fig.nodes``
    holds the traced nodes)."""
    from ._common import layer_aliases

    nodes = trace_graph(model, input_shape)
    rank, col = _layout(nodes)
    alias = {}                                   # "features.4" -> "conv2", the short names --layer takes
    for a, (name, _) in layer_aliases(model).items():
        if a != name:
            alias.setdefault(name, a)
    _, plt = pyplot()
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    n_rows = max(rank.values()) + 1
    n_cols = max(col.values()) + 1
    box_w, box_h, dx, dy = 2.6, 0.62, 3.2, 0.95
    fig_w = max(5.5, n_cols * dx + 1.6)
    fig_h = max(3.0, n_rows * dy * 0.62 + 1.2)
    fig, ax = plt.subplots(figsize=(fig_w, fig_h))
    pos = {n.id: (col[n.id] * dx, -rank[n.id] * dy) for n in nodes}
    colors = {"input": "#d5f5e3", "output": "#d5f5e3", "op": "#fdebd0", "Conv2d": "#d6eaf8", "Linear": "#e8daef",
              "BatchNorm2d": "#fcf3cf", "BatchNorm1d": "#fcf3cf"}
    total = 0
    for n in nodes:
        x0, y0 = pos[n.id]
        if n.kind == "op":
            w, h = 1.3, 0.42
            text = n.label
        else:
            w, h = box_w, box_h
            head = n.label if n.kind in ("input", "output") else f"{n.label}  {n.kind}" + (
                f"  [{alias[n.label]}]" if alias.get(n.label, n.label) != n.label else "")
            detail = _fmt_shape(n.shape) if n.shape else ""
            if n.params:
                detail += f"  ·  {n.params:,} params" + (" (shared)" if n.shared else "")
                if not n.shared:
                    total += n.params
            text = head + ("\n" + detail if detail else "")
        ax.add_patch(FancyBboxPatch((x0 - w / 2, y0 - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.08",
                                    fc=colors.get(n.kind, "#eaeded"), ec="#566573", lw=0.8, zorder=2))
        ax.text(x0, y0, text, ha="center", va="center", fontsize=6.5, zorder=3, linespacing=1.25)
    def half(node_id):
        return (0.65, 0.21) if nodes[node_id].kind == "op" else (box_w / 2, box_h / 2)

    for n in nodes:
        for i in n.inputs:
            (x1, y1), (x2, y2) = pos[i], pos[n.id]
            (w1, h1), (w2, h2) = half(i), half(n.id)
            color = "#2c3e50"
            if col[i] == col[n.id] and rank[n.id] - rank[i] > 1:
                # an identity shortcut: an arc beside the column, in red
                start, end, style, color = (x1 + w1, y1), (x2 + w2, y2), "arc3,rad=-0.3", "#c0392b"
            elif col[i] == col[n.id]:
                start, end, style = (x1, y1 - h1), (x2, y2 + h2), "arc3"
            elif col[n.id] > col[i]:
                # into a side branch: out of the source's side, down into the branch's top
                start, end, style = (x1 + w1, y1), (x2, y2 + h2), "angle,angleA=0,angleB=90,rad=4"
            else:
                # back from a side branch: down its column, then into the target's side
                start, end, style = (x1, y1 - h1), (x2 + w2, y2), "angle,angleA=-90,angleB=180,rad=4"
            ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=7, lw=0.8, color=color,
                                         connectionstyle=style, zorder=1))
    ax.set_xlim(-box_w / 2 - 0.6, (n_cols - 1) * dx + box_w / 2 + 1.0)
    ax.set_ylim(-(n_rows - 1) * dy - box_h, box_h)
    ax.axis("off")
    n_layers = len({n.label for n in nodes if n.kind not in ("input", "output", "op")})   # a shared layer once
    ax.set_title(title or f"{type(model).__name__}: {n_layers} layers, {total:,} parameters, input "
                          f"{_fmt_shape(tuple(input_shape))}", fontsize=9)
    fig.tight_layout()
    fig.nodes = nodes
    return finish(fig, path)
