"""ONNX export by tracing: ``export(model, args, path, opset_version=17, ...)``.

The model runs once, in eval mode and without grad, on the sample inputs while two things are
watched:

* every call of a module whose type has a *layer exporter* (Conv2d, BatchNorm2d, LSTM…): the layer
  runs as usual with op recording switched off inside it, then its exporter writes the ONNX nodes
  for the whole layer from the module's attributes and parameters;
* every autograd ``Function`` applied outside such a layer (the tensor ops of a model's own
  ``forward``: ``out + identity``, ``cat``, ``flatten``, ``F.relu``…): an *op exporter*, looked up by
  the Function's ``name``, writes its nodes.

Tensors are matched to ONNX value names by identity: the sample inputs are the graph inputs, the
model's parameters and buffers become initializers under their state-dict names, any other
tensor a forward makes from nothing (a constant) is baked in as an initializer. Shapes that a
reshape or expand bakes in are written relative to the input (0 = keep that dimension, -1 = the
rest) where possible, so ``dynamic_axes`` (typically the batch) stays symbolic.

The result is checked with ``onnx.checker.check_model(full_check=True)`` and written atomically.
An op or layer with no exporter, or one the chosen opset cannot express, raises
``UnsupportedOperatorError`` naming the op, the layer's path and type, and the opset.

Adding a layer: ``@register_layer_exporter(MyLayer)`` on ``fn(ctx, module, inputs, args, output)``
returning the output value name(s) in the structure of ``output``; adding an op (a Function's
``name``): ``@register_op_exporter("my_op")`` on ``fn(ctx, args, kwargs, names, output)``. ``ctx``
(``ExportContext``) makes nodes (``ctx.op``), constants (``ctx.const``), initializers for
parameters (``ctx.param``) and errors (``ctx.unsupported``); see export_ops.py for every entry.
"""
from __future__ import annotations

import os

import numpy as np

from ._onnx import ONNX_OF_NUMPY, require_onnx

__all__ = ["export", "UnsupportedOperatorError", "register_layer_exporter", "register_op_exporter",
           "ExportContext", "LAYER_EXPORTERS", "OP_EXPORTERS", "MIN_OPSET", "MAX_OPSET"]

MIN_OPSET, MAX_OPSET = 11, 21
LAYER_EXPORTERS: dict = {}
OP_EXPORTERS: dict = {}


class UnsupportedOperatorError(ValueError):
    """An op or layer that has no ONNX form at the requested opset (or no exporter at all)."""


def register_layer_exporter(*layer_types):
    """Decorator: ``fn(ctx, module, inputs, args, output)`` exports every module of these types."""
    def deco(fn):
        for t in layer_types:
            LAYER_EXPORTERS[t] = fn
        return fn
    return deco


def register_op_exporter(*op_names):
    """Decorator: ``fn(ctx, args, kwargs, names, output)`` exports the autograd Functions so named."""
    def deco(fn):
        for n in op_names:
            OP_EXPORTERS[n] = fn
        return fn
    return deco


def _layer_exporter(cls):
    for c in cls.__mro__:
        fn = LAYER_EXPORTERS.get(c)
        if fn is not None:
            return fn
    return None


class ExportContext:
    """The graph being built and the names of the values in it."""

    def __init__(self, opset, model_names):
        self.opset = opset
        self.nodes, self.initializers = [], {}
        self._names = set()
        self._by_tensor = {}         # id(Tensor) -> value name
        self._by_array = {}          # id(ndarray) -> value name (parameters passed as raw arrays)
        self._keep = []              # keeps traced tensors alive so ids stay unique
        self._params = {}            # id(Parameter or buffer) / id(its array) -> state-dict name
        self._param_obj = {}
        self._consts = {}
        self.layer = None            # (path, type name) of the layer being exported, for errors
        self.op_name = None
        self.module_names = model_names
        self.baked = []              # constants a forward made from nothing (reported in the docstring)

    # ---- names -------------------------------------------------------------------------
    def fresh(self, hint="v"):
        hint = hint.replace(" ", "_") or "v"
        name, i = hint, 1
        while name in self._names:
            i += 1
            name = f"{hint}_{i}"
        self._names.add(name)
        return name

    def bind(self, tensor, name):
        self._by_tensor[id(tensor)] = name
        self._keep.append(tensor)

    def add_param(self, tensor, name):
        self._params[id(tensor)] = name
        self._params[id(tensor._data)] = name
        self._param_obj[name] = tensor
        self._keep.append(tensor)

    def name_of(self, x, hint="const", dtype=None):
        """The value name of a traced Tensor, a parameter (Tensor or raw array) or a constant."""
        from ..tensor import Tensor
        if isinstance(x, Tensor):
            n = self._by_tensor.get(id(x))
            if n is not None:
                return n
            p = self._params.get(id(x)) or self._params.get(id(x._data))
            if p is not None:
                return self.param_name(p)
            self.baked.append(tuple(x.shape))
            return self.const(np.asarray(x._data), hint)
        if isinstance(x, np.ndarray):
            p = self._params.get(id(x))
            if p is not None:
                return self.param_name(p)
            return self.const(x, hint)
        if hasattr(x, "get") and hasattr(x, "shape"):          # a CuPy array
            return self.const(x.get(), hint)
        return self.const(np.asarray(x, dtype=dtype), hint)

    def param_name(self, name):
        if name not in self.initializers:
            t = self._param_obj[name]
            arr = t._data if isinstance(t._data, np.ndarray) else t._data.get()
            self._names.add(name)
            self.initializers[name] = np.ascontiguousarray(arr)
        return name

    def param(self, tensor, transform=None, hint=None):
        """The initializer of a parameter/buffer (its state-dict name), or of transform(its value)
        under a derived name (e.g. gate blocks reordered for ONNX's LSTM)."""
        if tensor is None:
            return ""
        base = self._params.get(id(tensor)) or self._params.get(id(tensor._data))
        if transform is None:
            if base is None:
                return self.const(np.asarray(tensor._data), hint or "const")
            return self.param_name(base)
        arr = tensor._data if isinstance(tensor._data, np.ndarray) else tensor._data.get()
        return self.const(np.ascontiguousarray(transform(arr)), hint or (base or "const") + "_onnx", dedupe=False)

    def const(self, value, hint="const", dedupe=True):
        arr = np.asarray(value)
        key = None
        if dedupe and arr.size <= 16:
            key = (arr.dtype.str, arr.shape, arr.tobytes())
            if key in self._consts:
                return self._consts[key]
        name = self.fresh(hint)
        self.initializers[name] = np.ascontiguousarray(arr)
        if key is not None:
            self._consts[key] = name
        return name

    def ints(self, values, hint="shape"):
        return self.const(np.asarray(list(values), dtype=np.int64), hint)

    # ---- nodes -------------------------------------------------------------------------
    def op(self, op_type, inputs, n_outputs=1, name_hint=None, domain="", **attrs):
        """Appends a node; returns its output name (or the list of names when n_outputs != 1)."""
        onnx = require_onnx("pyengine.onnx.export")
        hint = name_hint or (self.layer[0] if self.layer and self.layer[0] else op_type.lower())
        outs = [self.fresh(f"{hint}/{op_type}" if n_outputs == 1 else f"{hint}/{op_type}_{i}")
                for i in range(n_outputs)]
        attrs = {k: v for k, v in attrs.items() if v is not None}
        node = onnx.helper.make_node(op_type, list(inputs), outs, name=self.fresh(f"node/{hint}/{op_type}"),
                                     domain=domain or None, **attrs)
        self.nodes.append(node)
        return outs[0] if n_outputs == 1 else outs

    def unsupported(self, why):
        where = ""
        if self.layer is not None:
            where = f" in layer '{self.layer[0] or '(model)'}' ({self.layer[1]})"
        op = f"op '{self.op_name}'" if self.op_name else "this op"
        return UnsupportedOperatorError(f"pyengine.onnx.export: {op}{where} cannot be exported at opset "
                                        f"{self.opset}: {why}")

    # ---- opset-dependent spellings -----------------------------------------------------
    def unsqueeze(self, x, axes):
        axes = [int(a) for a in axes]
        if self.opset >= 13:
            return self.op("Unsqueeze", [x, self.ints(axes, "axes")])
        return self.op("Unsqueeze", [x], axes=axes)

    def squeeze(self, x, axes):
        axes = [int(a) for a in axes]
        if self.opset >= 13:
            return self.op("Squeeze", [x, self.ints(axes, "axes")])
        return self.op("Squeeze", [x], axes=axes)

    def reduce(self, op_type, x, axes, keepdims):
        axes = None if axes is None else [int(a) for a in axes]
        new_style = self.opset >= (13 if op_type == "ReduceSum" else 18)
        if new_style:
            ins = [x] if axes is None else [x, self.ints(axes, "axes")]
            return self.op(op_type, ins, keepdims=int(keepdims))
        return self.op(op_type, [x], axes=axes, keepdims=int(keepdims))

    def slice(self, x, starts, ends, axes, steps=None):
        ins = [x, self.ints(starts, "starts"), self.ints(ends, "ends"), self.ints(axes, "axes")]
        if steps is not None:
            ins.append(self.ints(steps, "steps"))
        return self.op("Slice", ins)

    def clip(self, x, lo, hi, dtype):
        ins = [x, "" if lo is None else self.const(np.asarray(lo, dtype), "min"),
               "" if hi is None else self.const(np.asarray(hi, dtype), "max")]
        while ins and ins[-1] == "":
            ins.pop()
        return self.op("Clip", ins)


# ------------------------------------------------------------------------------ tracing
class _Tracer:
    def __init__(self, ctx):
        self.ctx = ctx
        self.quiet = 0               # > 0 inside a layer that a layer exporter writes
        self.stack = []              # module paths, for error messages
        self.error = None

    def where(self):
        for path, typ in reversed(self.stack):
            return path, typ
        return None


def _flatten(out):
    from ..tensor import Tensor
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        r = []
        for o in out:
            r.extend(_flatten(o))
        return r
    return []


def _function_classes():
    from ..autograd.function import Function
    seen, todo = [], [Function]
    while todo:
        c = todo.pop()
        for s in c.__subclasses__():
            if s not in seen:
                seen.append(s)
                todo.append(s)
    return seen


class _Patches:
    """Swaps in the tracing versions of Module.__call__ (per class in the model) and Function.apply
    (per subclass), and puts the originals back however the trace ends."""

    def __init__(self):
        self.saved = []

    def set(self, cls, name, value):
        self.saved.append((cls, name, cls.__dict__.get(name, _MISSING)))
        setattr(cls, name, value)

    def restore(self):
        for cls, name, old in reversed(self.saved):
            if old is _MISSING:
                try:
                    delattr(cls, name)
                except AttributeError:
                    pass
            else:
                setattr(cls, name, old)
        self.saved.clear()


_MISSING = object()


def _install(tracer, model, patches):
    from ..nn import Module
    ctx = tracer.ctx
    paths = {id(m): name for name, m in model.named_modules()}
    classes = {type(m) for m in model.modules()}

    for cls in classes:
        orig_call = cls.__call__

        def traced_call(self, *args, _orig=orig_call, **kwargs):
            path = paths.get(id(self), "?")
            exporter = _layer_exporter(type(self)) if tracer.quiet == 0 else None
            tracer.stack.append((path, type(self).__name__))
            try:
                if exporter is None:
                    return _orig(self, *args, **kwargs)
                tracer.quiet += 1
                try:
                    out = _orig(self, *args, **kwargs)
                finally:
                    tracer.quiet -= 1
                from ..tensor import Tensor
                inputs = [ctx.name_of(a, "input") if isinstance(a, Tensor) else None for a in args]
                prev = ctx.layer, ctx.op_name
                ctx.layer, ctx.op_name = (path, type(self).__name__), type(self).__name__
                try:
                    names = exporter(ctx, self, inputs, list(args), out, **kwargs)
                finally:
                    ctx.layer, ctx.op_name = prev
                _bind_outputs(ctx, out, names)
                return out
            finally:
                tracer.stack.pop()
        patches.set(cls, "__call__", traced_call)

    originals = {}
    for fcls in _function_classes():            # resolve every original before patching any
        originals[fcls] = _original_apply(fcls)
    for fcls, orig_apply in originals.items():

        def traced_apply(*args, _orig=orig_apply, _cls=fcls, **kwargs):
            out = _orig(*args, **kwargs)
            if tracer.quiet:
                return out
            op = _cls.name or _cls.__name__
            exporter = OP_EXPORTERS.get(op)
            prev = ctx.layer, ctx.op_name
            ctx.layer, ctx.op_name = tracer.where(), op
            try:
                if exporter is None:
                    raise ctx.unsupported("pyengine has no ONNX exporter for it (add one with "
                                          "pyengine.onnx.register_op_exporter)")
                names_in = [ctx.name_of(a) if _is_array_like(a) else None for a in args]
                names = exporter(ctx, list(args), kwargs, names_in, out)
            finally:
                ctx.layer, ctx.op_name = prev
            _bind_outputs(ctx, out, names)
            return out
        patches.set(fcls, "apply", staticmethod(traced_apply))
    del Module


def _original_apply(fcls):
    """fcls.apply as a plain callable bound to fcls, from the class that defines it."""
    for c in fcls.__mro__:
        d = c.__dict__.get("apply")
        if d is None:
            continue
        if isinstance(d, classmethod):
            f = d.__func__
            return lambda *a, _f=f, _c=fcls, **k: _f(_c, *a, **k)
        if isinstance(d, staticmethod):
            return d.__func__
        return getattr(fcls, "apply")        # a Cython/extension method: bound by lookup
    raise AttributeError(f"{fcls.__name__} has no apply")


def _is_array_like(a):
    from ..tensor import Tensor
    return isinstance(a, (Tensor, np.ndarray)) or (hasattr(a, "shape") and hasattr(a, "dtype") and hasattr(a, "get"))


def _bind_outputs(ctx, out, names):
    from ..tensor import Tensor
    if isinstance(out, Tensor):
        if isinstance(names, (list, tuple)):
            names = names[0]
        ctx.bind(out, names)
        return
    if isinstance(out, (tuple, list)):
        if not isinstance(names, (tuple, list)) or len(names) != len(out):
            raise ctx.unsupported(f"its exporter returned {names!r} for {len(out)} outputs")
        for o, n in zip(out, names):
            if o is not None and n is not None:
                _bind_outputs(ctx, o, n)


def _as_tensor(a, i):
    from ..tensor import Tensor, from_numpy
    if isinstance(a, Tensor):
        return a.detach()
    if isinstance(a, np.ndarray):
        return from_numpy(a)
    raise TypeError(f"pyengine.onnx.export: args[{i}] must be a Tensor or a NumPy array, got {type(a).__name__}")


def _dims(shape, dyn):
    return [dyn[i] if i in dyn else int(s) for i, s in enumerate(shape)]


def _dynamic(dynamic_axes, name, ndim, what):
    spec = (dynamic_axes or {}).get(name)
    if spec is None:
        return {}
    if isinstance(spec, dict):
        items = {int(k): str(v) for k, v in spec.items()}
    elif isinstance(spec, (list, tuple)):
        items = {int(k): f"{name}_dim{int(k)}" for k in spec}
    else:
        raise TypeError(f"pyengine.onnx.export: dynamic_axes[{name!r}] must be a list of axes or a dict "
                        f"axis -> name, got {type(spec).__name__}")
    for k in items:
        if not -ndim <= k < ndim:
            raise ValueError(f"pyengine.onnx.export: dynamic_axes[{name!r}] names axis {k}, but {what} {name!r} "
                             f"has {ndim} dimensions")
    return {k % ndim: v for k, v in items.items()}


def _drop_unused(ctx):
    used = {i for n in ctx.nodes for i in n.input}
    for k in [k for k in ctx.initializers if k not in used and k not in ctx.graph_outputs]:
        del ctx.initializers[k]


def export(model, args, path=None, *, opset_version: int = 17, input_names=None, output_names=None,
           dynamic_axes=None, fold_batchnorm: bool = False, check: bool = True, doc_string: str | None = None):
    """Traces ``model`` on ``args`` (a Tensor/array or a tuple of them) and returns the ONNX
    ModelProto, also written to ``path`` (atomically) when given.

    opset_version: 11..21 (default 17). input_names / output_names: one per flattened input/output
    (default input, input_1… / output, output_1…). dynamic_axes: {name: [axes] or {axis: "dim name"}}
    makes those dimensions symbolic, e.g. {"input": [0], "output": [0]} for the batch.
    fold_batchnorm: fold every BatchNormalization that follows a Conv into the Conv's weights.
    The model is traced in eval mode (its mode is restored afterwards)."""
    onnx = require_onnx("pyengine.onnx.export")
    from .. import nn
    from ..autograd.grad_mode import no_grad
    from . import export_breadth, export_ops  # noqa: F401  (fill the registries)

    if not isinstance(model, nn.Module):
        raise TypeError(f"pyengine.onnx.export: model must be a pyengine nn.Module, got {type(model).__name__}")
    if isinstance(opset_version, bool) or not isinstance(opset_version, int) or \
            not MIN_OPSET <= opset_version <= MAX_OPSET:
        raise ValueError(f"pyengine.onnx.export: opset_version must be an int in {MIN_OPSET}..{MAX_OPSET}, "
                         f"got {opset_version!r}")
    if not isinstance(args, (tuple, list)):
        args = (args,)
    inputs = [_as_tensor(a, i) for i, a in enumerate(args)]
    in_names = list(input_names) if input_names is not None else \
        ["input" if i == 0 else f"input_{i}" for i in range(len(inputs))]
    if len(in_names) != len(inputs) or len(set(in_names)) != len(in_names):
        raise ValueError(f"pyengine.onnx.export: input_names {in_names} must name each of the {len(inputs)} "
                         "inputs once")

    ctx = ExportContext(opset_version, None)
    ctx.graph_outputs = set()
    for name, t in list(model.state_dict(keep_vars=True).items()):
        ctx.add_param(t, name)
    for n in in_names:
        ctx._names.add(n)
    for t, n in zip(inputs, in_names):
        ctx.bind(t, n)

    was_training = {m: m.training for m in model.modules()}
    tracer = _Tracer(ctx)
    patches = _Patches()
    model.eval()
    from ..autograd import core as _core
    try:
        _install(tracer, model, patches)
        _core._plain_ops = False          # every op through a Function, where the tracer sees it
        try:
            with no_grad():
                out = model(*inputs)
        finally:
            _core._plain_ops = True
            patches.restore()
    finally:
        for m, mode in was_training.items():
            m.__dict__["training"] = mode

    outs = _flatten(out)
    if not outs:
        raise ValueError(f"pyengine.onnx.export: the model returned {type(out).__name__}, not Tensors")
    out_names = list(output_names) if output_names is not None else \
        ["output" if i == 0 else f"output_{i}" for i in range(len(outs))]
    if len(out_names) != len(outs) or len(set(out_names)) != len(out_names) or set(out_names) & set(in_names):
        raise ValueError(f"pyengine.onnx.export: output_names {out_names} must name each of the {len(outs)} "
                         "outputs once, apart from the input names")
    ctx.layer, ctx.op_name = None, None
    for t, n in zip(outs, out_names):
        src = ctx._by_tensor.get(id(t))
        if src is None:
            if ctx._params.get(id(t)) or ctx._params.get(id(t._data)):
                src = ctx.name_of(t)
            else:
                raise ValueError("pyengine.onnx.export: an output was not produced by an op the tracer saw "
                                 "(computed on raw arrays outside autograd?)")
        ctx._names.add(n)
        ctx.nodes.append(onnx.helper.make_node("Identity", [src], [n], name=ctx.fresh(f"node/output/{n}")))
        ctx.graph_outputs.add(n)

    if fold_batchnorm:
        _fold(ctx)
    _drop_unused(ctx)

    graph_inputs = []
    for t, n in zip(inputs, in_names):
        dyn = _dynamic(dynamic_axes, n, t.ndim, "input")
        graph_inputs.append(onnx.helper.make_tensor_value_info(n, _elem(t.dtype), _dims(t.shape, dyn)))
    graph_outputs = []
    for t, n in zip(outs, out_names):
        dyn = _dynamic(dynamic_axes, n, t.ndim, "output")
        graph_outputs.append(onnx.helper.make_tensor_value_info(n, _elem(t.dtype), _dims(t.shape, dyn)))
    extra = set((dynamic_axes or {})) - set(in_names) - set(out_names)
    if extra:
        raise ValueError(f"pyengine.onnx.export: dynamic_axes names {sorted(extra)}, which are neither inputs "
                         f"{in_names} nor outputs {out_names}")
    inits = [onnx.numpy_helper.from_array(np.ascontiguousarray(v), k) for k, v in ctx.initializers.items()]
    graph = onnx.helper.make_graph(ctx.nodes, type(model).__name__, graph_inputs, graph_outputs, inits)
    from .. import __version__
    proto = onnx.helper.make_model(graph, producer_name="pyengine", producer_version=__version__,
                                   opset_imports=[onnx.helper.make_opsetid("", opset_version)])
    proto.ir_version = min(proto.ir_version, _IR_FOR_OPSET.get(opset_version, proto.ir_version))
    if doc_string is not None:
        proto.doc_string = doc_string
    if check:
        onnx.checker.check_model(proto, full_check=True)
    if path is not None:
        data = proto.SerializeToString()
        from ..io.safetensors_io import _write_atomic
        _write_atomic(os.fspath(path), data)
    return proto


# the IR version each opset was released with, so older runtimes accept the file
_IR_FOR_OPSET = {11: 6, 12: 7, 13: 7, 14: 7, 15: 8, 16: 8, 17: 8, 18: 8, 19: 9, 20: 9, 21: 10}


def _elem(dtype):
    try:
        return ONNX_OF_NUMPY[np.dtype(dtype)]
    except KeyError:
        raise ValueError(f"pyengine.onnx.export: no ONNX element type for dtype {dtype}") from None


def _fold(ctx):
    """Folds each BatchNormalization whose input is a Conv's output used by nothing else (and whose
    weight no other node reads) into that Conv: W' = W·s, b' = (b − mean)·s + beta, with
    s = gamma / sqrt(var + eps) per output channel, computed in float64."""
    users = {}
    for n in ctx.nodes:
        for i in n.input:
            users[i] = users.get(i, 0) + 1
    producer = {o: n for n in ctx.nodes for o in n.output}
    keep = []
    for n in ctx.nodes:
        conv = producer.get(n.input[0]) if n.op_type == "BatchNormalization" and len(n.output) == 1 else None
        names = list(n.input[1:5]) if conv is not None else []
        if (conv is None or conv.op_type != "Conv" or users.get(n.input[0], 0) != 1
                or any(x not in ctx.initializers for x in names) or conv.input[1] not in ctx.initializers
                or users.get(conv.input[1], 0) != 1):
            keep.append(n)
            continue
        eps = next((a.f for a in n.attribute if a.name == "epsilon"), 1e-5)
        gamma, beta, mean, var = (ctx.initializers[x].astype(np.float64) for x in names)
        w = ctx.initializers[conv.input[1]]
        s = gamma / np.sqrt(var + eps)
        has_b = len(conv.input) > 2 and conv.input[2] != ""
        b = ctx.initializers[conv.input[2]].astype(np.float64) if has_b else 0.0
        wn = ctx.const((w.astype(np.float64) * s.reshape((-1,) + (1,) * (w.ndim - 1))).astype(w.dtype),
                       conv.input[1] + "_folded", dedupe=False)
        bn = ctx.const(((b - mean) * s + beta).astype(w.dtype), names[1] + "_folded", dedupe=False)
        x = conv.input[0]
        del conv.input[:]
        conv.input.extend([x, wn, bn])
        conv.output[0] = n.output[0]
    ctx.nodes = keep
