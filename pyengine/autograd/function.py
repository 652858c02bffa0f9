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

from .grad_mode import STATE

__all__ = ["Function"]


class Function:
    name = None  # forward op name shown in anomaly and error messages; defaults to the class name

    @classmethod
    def apply(cls, *args, **kwargs):
        from ..tensor import Tensor, _wrap
        ctx = cls.__new__(cls)
        raw = []
        needs = []
        track = False
        for a in args:
            if isinstance(a, Tensor):
                raw.append(a._data)
                r = a.requires_grad
                needs.append(r)
                track = track or r
            else:
                raw.append(a)
                needs.append(False)
        track = track and STATE.grad_enabled
        ctx.needs_input_grad = tuple(needs)
        out = cls.forward(ctx, *raw, **kwargs)
        if type(out) is tuple:
            outs = tuple(_wrap(o) for o in out)
            if track:
                cls._record(ctx, args)
                for i, t in enumerate(outs):
                    t.requires_grad = True
                    t._grad_fn = ctx
                    t._output_nr = i
            return outs
        t = _wrap(out)
        if track:
            cls._record(ctx, args)
            t.requires_grad = True
            t._grad_fn = ctx
        return t

    @staticmethod
    def _record(ctx, args):
        from ..tensor import Tensor
        edges = []
        for a in args:
            if isinstance(a, Tensor) and a.requires_grad:
                fn = a._grad_fn
                edges.append((a, 0) if fn is None else (fn, a._output_nr))
            else:
                edges.append(None)
        ctx.next_edges = edges

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
