"""Function: one differentiable op. An instance is both the ctx handed to forward/backward and the
graph node that backward visits.

A subclass defines two static methods on raw arrays (NumPy or CuPy), never on Tensors::

    @staticmethod
    def forward(ctx, *args, **kwargs) -> array | tuple[array, ...]
    @staticmethod
    def backward(ctx, *grad_outputs) -> array | None | tuple[array | None, ...]   # one per positional arg

``apply`` unwraps Tensor arguments, runs forward, wraps the outputs and, when grad mode is on and an
input requires grad, records the node: ``ctx.next_edges[i]`` is (producer node, output index) for a
non-leaf input, (leaf Tensor, 0) for a leaf that requires grad, None otherwise.
``ctx.needs_input_grad[i]`` tells backward which gradients to compute. A multi-output Function gets
None for the grad of an output nothing depended on.
"""
from __future__ import annotations

import traceback

from .grad_mode import STATE

__all__ = ["Function"]


# Bound by pyengine.tensor once Tensor exists (tensor.py imports this module first).
Tensor = None
_wrap = None


class Function:
    name = None  # forward op name shown in anomaly and error messages; defaults to the class name

    @classmethod
    def apply(cls, *args, **kwargs):
        ctx = object.__new__(cls)
        raw = []
        needs = []
        track = False
        T = Tensor
        for a in args:
            if isinstance(a, T):
                raw.append(a._data)
                r = a.requires_grad
                needs.append(r)
                if r:
                    track = True
            else:
                raw.append(a)
                needs.append(False)
        ctx.needs_input_grad = tuple(needs)
        out = cls.forward(ctx, *raw, **kwargs)
        if not (track and STATE.grad_enabled):
            if type(out) is tuple:
                return tuple(_wrap(o) for o in out)
            return _wrap(out)
        edges = []
        for a, r in zip(args, needs):
            if r:
                fn = a._grad_fn
                edges.append((a, 0) if fn is None else (fn, a._output_nr))
            else:
                edges.append(None)
        ctx.next_edges = edges
        if STATE.anomaly:               # remember where the forward ran, for the backward's error
            ctx.forward_stack = traceback.extract_stack()[:-1]
        if type(out) is tuple:
            outs = tuple(_wrap(o) for o in out)
            for i, t in enumerate(outs):
                t.requires_grad = True
                t._grad_fn = ctx
                t._output_nr = i
            return outs
        t = _wrap(out)
        t.requires_grad = True
        t._grad_fn = ctx
        return t

    def save_for_backward(self, *arrays):
        self.saved_tensors = arrays

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError

    @classmethod
    def op_name(cls) -> str:
        return cls.name or cls.__name__
