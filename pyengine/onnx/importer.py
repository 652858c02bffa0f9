"""ONNX import: ``load(path | bytes | ModelProto) -> OnnxModule``, a trainable pyengine Module.

Reading is defensive, because an ONNX file is untrusted input:
1. the bytes are parsed as a ModelProto (a truncated or garbage file is a ValueError, never a
   crash; the file may not exceed protobuf's 2 GiB);
2. every node's domain must be the default ONNX domain and the model's opset within
   ``MIN_OPSET..MAX_OPSET``; every op must have an importer;
3. every tensor (initializers and Constant attributes) is checked before anything is allocated:
   its element type, non-negative dims, and that the data it declares is the data it has — raw
   bytes or typed values of exactly dims·itemsize, or external data whose file lies inside the
   model's folder (no absolute paths, no ``..``, no symlink out) and holds offset + length bytes;
4. the graph must be a DAG whose every input is defined (Kahn's algorithm sorts it; a cycle or a
   dangling name is a ValueError naming the node).

The module: float initializers become Parameters (so an imported network can be fine-tuned),
except those a BatchNormalization reads as running mean/variance, which become buffers updated in
training mode as pyengine's BatchNorm2d does; other initializers and Constant nodes are
buffers. Names follow the initializer names with '.' as nesting (``features.0.weight`` from
torch.onnx.export keeps its state-dict name). ``forward`` runs the nodes in order through
``OP_IMPORTERS`` (import_ops.py), each on pyengine's differentiable ops, so the same graph runs on
CPU and CUDA and backpropagates. Ops whose output size comes from data (ConstantOfShape, Expand,
Tile, Range) refuse outputs over ``MAX_ELEMENTS`` elements.

Adding an op: ``@register_op_importer("OpType")`` on ``fn(node, *inputs) -> Tensor | tuple``, with an
optional ``check(node)`` run at load time to reject attributes it does not handle.
"""
from __future__ import annotations

import os
import re
from collections import OrderedDict

import numpy as np

from .. import nn
from ..nn import Module, Parameter
from ..tensor import Tensor, _wrap
from ._onnx import NUMPY_OF_ONNX, require_onnx

__all__ = ["load", "OnnxModule", "register_op_importer", "OP_IMPORTERS", "MIN_OPSET", "MAX_OPSET",
           "MAX_ELEMENTS"]

MIN_OPSET, MAX_OPSET = 7, 28
MAX_ELEMENTS = 1 << 31
_MAX_FILE = (1 << 31) - 1
OP_IMPORTERS: dict = {}
_DEFAULT_DOMAINS = ("", "ai.onnx")


def register_op_importer(op_type, check=None):
    """Decorator: ``fn(node, *inputs)`` runs ONNX op ``op_type``; ``check(node)`` validates at load."""
    def deco(fn):
        OP_IMPORTERS[op_type] = (fn, check)
        return fn
    return deco


def _bad(msg):
    return ValueError(f"pyengine.onnx.load: {msg}")


# ------------------------------------------------------------------------------ reading
def _read_model(source):
    onnx = require_onnx("pyengine.onnx.load")
    base = None
    if isinstance(source, onnx.ModelProto):
        return source, None
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        what = "the bytes"
    elif isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not os.path.exists(path):
            raise FileNotFoundError(f"pyengine.onnx.load: {path} does not exist")
        if os.path.isdir(path):
            raise _bad(f"{path} is a folder, not an ONNX file")
        size = os.path.getsize(path)
        if size > _MAX_FILE:
            raise _bad(f"{path} is {size} bytes, more than an ONNX protobuf can hold (2 GiB)")
        with open(path, "rb") as f:
            data = f.read()
        base = os.path.dirname(os.path.abspath(path))
        what = path
    else:
        raise TypeError(f"pyengine.onnx.load: expected a path, bytes or an onnx.ModelProto, got "
                        f"{type(source).__name__}")
    if not data:
        raise _bad(f"{what}: empty, not an ONNX model")
    proto = onnx.ModelProto()
    try:
        proto.ParseFromString(data)
    except Exception as e:         # google.protobuf.message.DecodeError and friends
        raise _bad(f"{what} is not an ONNX model (protobuf: {type(e).__name__}: {e})") from None
    if not proto.HasField("graph") or proto.ir_version <= 0:
        raise _bad(f"{what} is not an ONNX model (no graph or IR version)")
    return proto, base


def _opset(proto):
    version = None
    for o in proto.opset_import:
        if o.domain in _DEFAULT_DOMAINS:
            version = int(o.version)
    if version is None:
        if proto.ir_version < 3:
            version = 1
        else:
            raise _bad("the model imports no version of the default ONNX opset")
    if not MIN_OPSET <= version <= MAX_OPSET:
        raise _bad(f"opset {version} is outside the supported range {MIN_OPSET}..{MAX_OPSET}")
    return version


_ELEM_FIELD = {1: "float_data", 2: "int32_data", 3: "int32_data", 4: "int32_data", 5: "int32_data",
               6: "int32_data", 7: "int64_data", 9: "int32_data", 10: "int32_data", 11: "double_data",
               12: "uint64_data", 13: "uint64_data"}


def tensor_to_numpy(t, base, what):
    """A TensorProto as a NumPy array, every size checked against the data before allocating."""
    dtype = NUMPY_OF_ONNX.get(int(t.data_type))
    if dtype is None:
        raise _bad(f"{what}: element type {t.data_type} is not supported (float, double, float16, ints, bool)")
    dims = [int(d) for d in t.dims]
    if any(d < 0 for d in dims):
        raise _bad(f"{what}: negative dimension in {dims}")
    n = 1
    for d in dims:
        n *= d
        if n > MAX_ELEMENTS:
            raise _bad(f"{what}: {dims} declares more than {MAX_ELEMENTS} elements")
    nbytes = n * dtype.itemsize
    if t.segment.begin or t.segment.end:
        raise _bad(f"{what}: segmented tensors are not supported")
    if t.data_location == 1:                                  # EXTERNAL
        raw = _external(t, base, what, nbytes)
        return np.frombuffer(raw, dtype).reshape(dims).copy()
    if t.HasField("raw_data"):
        raw = t.raw_data
        if len(raw) != nbytes:
            raise _bad(f"{what}: dims {dims} of {dtype.name} need {nbytes} bytes, the tensor holds {len(raw)}")
        return np.frombuffer(raw, dtype.newbyteorder("<")).astype(dtype).reshape(dims)
    field = _ELEM_FIELD.get(int(t.data_type))
    values = getattr(t, field)
    if len(values) != n:
        raise _bad(f"{what}: dims {dims} need {n} values, the tensor holds {len(values)}")
    if dtype == np.float16:
        return np.asarray(values, np.uint16).view(np.float16).reshape(dims)
    return np.asarray(values).astype(dtype).reshape(dims)


def _external(t, base, what, nbytes):
    info = {e.key: e.value for e in t.external_data}
    loc = info.get("location")
    if not loc:
        raise _bad(f"{what}: external data without a location")
    if base is None:
        raise _bad(f"{what}: external data ({loc!r}) needs the model loaded from a file in its folder")
    if os.path.isabs(loc) or loc.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", loc):
        raise _bad(f"{what}: external data location {loc!r} must be relative to the model's folder")
    path = os.path.realpath(os.path.join(base, loc))
    root = os.path.realpath(base)
    if os.path.commonpath([path, root]) != root:
        raise _bad(f"{what}: external data location {loc!r} points outside the model's folder")
    if not os.path.isfile(path):
        raise _bad(f"{what}: external data file {loc!r} does not exist")
    try:
        offset = int(info.get("offset", "0"))
        length = int(info["length"]) if "length" in info else nbytes
    except ValueError:
        raise _bad(f"{what}: external data offset/length are not integers") from None
    size = os.path.getsize(path)
    if offset < 0 or length < 0 or offset + length > size:
        raise _bad(f"{what}: external data wants bytes {offset}..{offset + length} of {loc!r}, which has {size}")
    if length != nbytes:
        raise _bad(f"{what}: external data length {length} does not match the {nbytes} bytes its dims need")
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(length)


# ------------------------------------------------------------------------------ nodes
class Node:
    """One ONNX node as the importers see it: op, name, attributes (parsed), the opset."""

    def __init__(self, proto, opset, module, index):
        self.op = proto.op_type
        self.name = proto.name or f"{proto.op_type}_{index}"
        self.inputs = list(proto.input)
        self.outputs = list(proto.output)
        self.opset = opset
        self.module = module
        self.attrs = {}
        declared = _declared_attribute_types(proto.op_type, proto.domain, opset)
        for a in proto.attribute:
            what = f"node '{self.name}' ({self.op}) attribute {a.name!r}"
            want = declared.get(a.name)
            if want is not None and a.type != want:      # e.g. a FLOAT kernel_shape: caught here, once
                raise _bad(f"{what} is of type {_type_name(a.type)}, the operator's schema says {_type_name(want)}")
            self.attrs[a.name] = _attr_value(a, module, what)

    def attr(self, name, default=None):
        return self.attrs.get(name, default)

    @property
    def n_outputs(self):
        return len([o for o in self.outputs if o])

    def wants(self, i):
        return i < len(self.outputs) and self.outputs[i] != ""

    def error(self, msg):
        return ValueError(f"ONNX node '{self.name}' ({self.op}, opset {self.opset}): {msg}")

    # helpers for importers
    def host(self, t, what="input"):
        """The values of a (small, shape-like) tensor input as a NumPy array."""
        if t is None:
            return None
        a = t._data if isinstance(t, Tensor) else t
        if not isinstance(a, np.ndarray):
            a = a.get() if hasattr(a, "get") else np.asarray(a)
        return a

    def ints(self, t):
        return [int(v) for v in np.asarray(self.host(t)).reshape(-1)]

    def const(self, value, like=None, dtype=None):
        arr = np.asarray(value, dtype=dtype if dtype is not None else (like.dtype if like is not None else None))
        t = _wrap(arr)
        if like is not None and like.device != "cpu":
            t = t.to(like.device)
        return t

    def check_size(self, shape):
        n = 1
        for d in shape:
            if d < 0:
                raise self.error(f"negative dimension in the requested shape {list(shape)}")
            n *= int(d)
        if n > MAX_ELEMENTS:
            raise self.error(f"the requested shape {list(shape)} has {n} elements, more than {MAX_ELEMENTS}")


def _declared_attribute_types(op, domain, opset):
    """{attribute name: AttributeProto type} from ONNX's schema of the op at the model's opset
    ({} for an op ONNX does not know: the importer's own check then rejects it)."""
    onnx = require_onnx("pyengine.onnx.load")
    try:
        schema = onnx.defs.get_schema(op, int(opset), domain or "")
    except Exception:      # onnx.defs.SchemaError (unknown op or domain), or a bad opset number
        return {}
    return {name: int(a.type) for name, a in schema.attributes.items()}


def _type_name(t):
    onnx = require_onnx("pyengine.onnx.load")
    try:
        return onnx.AttributeProto.AttributeType.Name(t)
    except ValueError:
        return str(t)


def _attr_value(a, module, what):
    onnx = require_onnx("pyengine.onnx.load")
    T = onnx.AttributeProto
    if a.type == T.FLOAT:
        return float(a.f)
    if a.type == T.INT:
        return int(a.i)
    if a.type == T.STRING:
        return a.s.decode("utf-8", "replace")
    if a.type == T.FLOATS:
        return [float(v) for v in a.floats]
    if a.type == T.INTS:
        return [int(v) for v in a.ints]
    if a.type == T.STRINGS:
        return [s.decode("utf-8", "replace") for s in a.strings]
    if a.type == T.TENSOR:
        return tensor_to_numpy(a.t, module._base, what)
    if a.type in (T.GRAPH, T.GRAPHS):
        raise _bad(f"{what}: subgraphs (If/Loop/Scan) are not supported")
    if a.type == 0 and a.ref_attr_name:
        raise _bad(f"{what}: a function attribute reference outside a function")
    raise _bad(f"{what}: attribute type {a.type} is not supported")


def _toposort(nodes, available, graph_outputs):
    """Kahn's algorithm over value names; ValueError on an undefined input or a cycle."""
    producer = {}
    for i, n in enumerate(nodes):
        for o in n.output:
            if not o:
                continue
            if o in producer or o in available:
                raise _bad(f"value {o!r} is produced twice (node '{n.name or n.op_type}')")
            producer[o] = i
    deps = [set() for _ in nodes]
    users = [[] for _ in nodes]
    for i, n in enumerate(nodes):
        for x in n.input:
            if not x or x in available:
                continue
            j = producer.get(x)
            if j is None:
                raise _bad(f"node '{n.name or n.op_type}' ({n.op_type}) reads {x!r}, which no input, "
                           "initializer or node defines")
            if j not in deps[i]:
                deps[i].add(j)
                users[j].append(i)
    import heapq
    ready = [i for i in range(len(nodes)) if not deps[i]]      # a heap: the file's order where it is valid
    heapq.heapify(ready)
    order = []
    pending = [len(d) for d in deps]
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for u in users[i]:
            pending[u] -= 1
            if pending[u] == 0:
                heapq.heappush(ready, u)
    if len(order) != len(nodes):
        stuck = [nodes[i].name or nodes[i].op_type for i in range(len(nodes)) if pending[i] > 0]
        raise _bad(f"the graph has a cycle (through node '{stuck[0]}')")
    for o in graph_outputs:
        if o not in producer and o not in available:
            raise _bad(f"graph output {o!r} is not produced by any node")
    return order


_SEGMENT = re.compile(r"[^0-9A-Za-z_]")


class _Holder(Module):
    """A plain container that gives imported parameters their nested names."""

    def forward(self, *args):
        raise TypeError("this holds parameters of an imported ONNX model; call the model itself")


def _check_names(g):
    """Every name the graph uses must be text: protobuf hands a string field that is not valid
    UTF-8 back as bytes, which would otherwise fail later as a TypeError."""
    named = [("initializer", t.name) for t in g.initializer]
    named += [("graph input", v.name) for v in g.input] + [("graph output", v.name) for v in g.output]
    for n in g.node:
        named += [("node", n.name), ("op type", n.op_type)]
        named += [("node input", x) for x in n.input] + [("node output", x) for x in n.output]
    for what, name in named:
        if not isinstance(name, str):
            raise _bad(f"{what} name {name!r} is not valid UTF-8 text")


class OnnxModule(Module):
    """A pyengine Module that runs an ONNX graph. ``forward(*inputs)`` takes the graph inputs in order
    (Tensors or arrays; or by name as keywords) and returns its output(s)."""

    def __init__(self, proto, base=None):
        super().__init__()
        self.__dict__["_base"] = base
        g = proto.graph
        self.opset = _opset(proto)
        self.ir_version = int(proto.ir_version)
        self.producer = f"{proto.producer_name} {proto.producer_version}".strip()
        if len(g.sparse_initializer):
            raise _bad("sparse initializers are not supported")
        _check_names(g)
        for n in g.node:
            if n.domain not in _DEFAULT_DOMAINS:
                raise _bad(f"node '{n.name or n.op_type}' uses op {n.op_type!r} of domain {n.domain!r}; only the "
                           "default ONNX domain is supported")
            if n.op_type not in OP_IMPORTERS:
                raise _bad(f"op {n.op_type!r} (node '{n.name or n.op_type}', opset {self.opset}) is not supported "
                           f"by pyengine.onnx.load; supported: {', '.join(sorted(OP_IMPORTERS))}")
        stats = {n.input[i] for n in g.node if n.op_type == "BatchNormalization" for i in (3, 4)
                 if len(n.input) > i}
        inits = OrderedDict()
        for t in g.initializer:
            if not t.name:
                raise _bad("an initializer has no name")
            if t.name in inits:
                raise _bad(f"initializer {t.name!r} is defined twice")
            inits[t.name] = tensor_to_numpy(t, base, f"initializer {t.name!r}")
        self.__dict__["_values"] = {}          # ONNX name -> Parameter / buffer Tensor
        for name, arr in inits.items():
            trainable = arr.dtype.kind == "f" and name not in stats
            self._place(name, Parameter(arr.copy()) if trainable else Tensor(arr.copy()), trainable)
        self.input_names = [i.name for i in g.input if i.name not in inits]
        self.output_names = [o.name for o in g.output]
        if not self.output_names:
            raise _bad("the graph has no outputs")
        dup = [n for n in self.input_names if self.input_names.count(n) > 1]
        if dup:
            raise _bad(f"graph input {dup[0]!r} is declared twice")
        available = set(inits) | set(self.input_names)
        order = _toposort(list(g.node), available, self.output_names)
        nodes = []
        for k, i in enumerate(order):
            node = Node(g.node[i], self.opset, self, i)
            fn, check = OP_IMPORTERS[node.op]
            if check is not None:
                check(node)
            nodes.append(node)
        self.__dict__["_nodes"] = nodes
        for node in nodes:                    # constants once, as buffers (they follow .to(device))
            if node.op == "Constant":
                node.value = _constant_value(node)
                self._place("constants." + node.outputs[0], Tensor(node.value), False)

    def _place(self, name, tensor, trainable):
        parts = [(_SEGMENT.sub("_", p) or "_") for p in name.split(".")]
        owner = self
        ok = True
        for p in parts[:-1]:
            child = owner._modules.get(p)
            if child is None:
                if p in owner._parameters or p in owner._buffers or p in owner.__dict__:
                    ok = False
                    break
                child = _Holder()
                owner.add_module(p, child)
            owner = child
        leaf = parts[-1]
        if not ok or leaf in owner._modules or leaf in owner._parameters or leaf in owner._buffers or \
                (owner is self and (leaf in self.__dict__ or hasattr(type(self), leaf))):
            owner, leaf = self, "_".join(parts)
            base, i = leaf, 1
            while leaf in self._parameters or leaf in self._buffers or leaf in self._modules or \
                    leaf in self.__dict__ or hasattr(type(self), leaf):
                i += 1
                leaf = f"{base}_{i}"
        if trainable:
            owner.register_parameter(leaf, tensor)
        else:
            owner.register_buffer(leaf, tensor)
        self._values[name] = (owner, leaf, trainable)

    def value(self, name):
        owner, leaf, trainable = self._values[name]
        return owner._parameters[leaf] if trainable else owner._buffers[leaf]

    def forward(self, *args, **kwargs):
        if len(args) + len(kwargs) != len(self.input_names):
            raise ValueError(f"OnnxModule: the graph takes {len(self.input_names)} inputs "
                             f"({', '.join(self.input_names)}), got {len(args) + len(kwargs)}")
        env = {}
        for name, a in zip(self.input_names, args):
            env[name] = a if isinstance(a, Tensor) else Tensor(np.asarray(a))
        for k, a in kwargs.items():
            if k not in self.input_names or k in env:
                raise ValueError(f"OnnxModule: unknown or repeated input {k!r}; inputs: {self.input_names}")
            env[k] = a if isinstance(a, Tensor) else Tensor(np.asarray(a))
        for name in self._values:
            if not name.startswith("constants."):
                env[name] = self.value(name)
        for node in self._nodes:
            fn, _ = OP_IMPORTERS[node.op]
            ins = [env[x] if x else None for x in node.inputs]
            try:
                out = fn(node, *ins)
            except (ValueError, TypeError, IndexError) as e:
                if str(e).startswith("ONNX node"):
                    raise
                raise node.error(f"{type(e).__name__}: {e}") from e
            outs = out if isinstance(out, tuple) else (out,)
            for o_name, o in zip(node.outputs, outs):
                if o_name:
                    env[o_name] = o
        res = tuple(env[o] for o in self.output_names)
        return res[0] if len(res) == 1 else res

    def extra_repr(self):
        return f"opset={self.opset}, nodes={len(self._nodes)}, inputs={self.input_names}, outputs={self.output_names}"


def _constant_value(node):
    for key in ("value", "value_float", "value_floats", "value_int", "value_ints"):
        if key in node.attrs:
            v = node.attrs[key]
            if key == "value":
                return v
            if key.startswith("value_float"):
                return np.asarray(v, np.float32)
            return np.asarray(v, np.int64)
    raise node.error("only tensor, float(s) and int(s) constants are supported")


def load(model, device=None):
    """An ONNX model — a file path, its bytes, or an ``onnx.ModelProto`` — as an ``OnnxModule`` (in
    eval mode; call ``.train()`` to fine-tune it; ``device="cuda"`` moves it)."""
    from . import import_ops  # noqa: F401  (fills the registry)
    proto, base = _read_model(model)
    try:
        m = OnnxModule(proto, base)
    except RecursionError:
        raise _bad("the model is nested too deeply") from None
    m.eval()
    if device is not None:
        m.to(device)
    return m
