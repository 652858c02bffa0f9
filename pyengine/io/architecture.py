"""Architectures as JSON, so a saved model reloads without its code: ``pyengine.save(model, path)``
writes the module tree into the safetensors header, ``pyengine.load(path)`` rebuilds it.

A node describes one module::

    {"type": "nn.Conv2d", "config": {"in_channels": 1, "out_channels": 8, "kernel_size": 3},
     "children": {}}
    {"type": "nn.Sequential", "children": {"0": {...}, "1": {...}}}
    {"type": "zoo", "model": "resnet18", "config": {"num_classes": 10}, "children": {...}}

``type`` is looked up in a registry of known classes — every layer of ``pyengine.nn`` (``nn.*``), the
zoo's classes (``models.*``), and what users add with ``@register_architecture`` — never imported by
name, and ``config`` is plain JSON, so loading runs no code from the file. ``config`` holds the
constructor arguments, recorded when the module was built (the registry wraps each class's
``__init__``; a class may instead define ``get_config()``). Values JSON lacks are tagged:
``{"__tuple__": [...]}``, ``{"__dtype__": "float32"}``, ``{"__float__": "inf"}``, ``{"__class__": name}``
(a registered class passed as an argument, e.g. ResNet's block) and ``{"__child__": name}`` (a child
module passed to the constructor, e.g. a residual block's downsample).

Rebuilding: construct the node's class from its config, then compare each child the constructor
made with the saved child's description and rebuild only those that differ — so a zoo model whose
head was replaced (``model.fc = nn.Linear(512, 5)``) comes back with the new head, without building
every layer twice. Containers (Sequential, ModuleList, ModuleDict) are rebuilt child by child.

A file from an untrusted source can ask for any architecture its registry allows: every integer in
a config is bounded by the largest tensor dimension in the file (or 4096), the tree's depth and
size are bounded, and the build stops (ValueError) as soon as the modules made so far hold more
than twice the elements the file stores (plus 2^20). One constructor can still allocate its own
size before that check sees it; the integer bound keeps that to a few layers of the file's size.
"""
from __future__ import annotations

import functools
import inspect
import json
import math

import numpy as np

__all__ = ["register_architecture", "describe", "build", "ArchitectureError", "registered_architectures",
           "META_KEY"]

META_KEY = "pyengine.architecture"
_FORMAT = 1
_MAX_DEPTH = 64
_MAX_NODES = 200_000

_BY_NAME: dict = {}
_NAME_OF: dict = {}
_CONTAINERS = ("nn.Sequential", "nn.ModuleList", "nn.ModuleDict")


class ArchitectureError(ValueError):
    """A model that cannot be described as JSON, or a description that cannot be rebuilt."""


# ------------------------------------------------------------------------------- registration
def _default_name(cls) -> str:
    mod = cls.__module__ or ""
    if mod.startswith("pyengine."):
        return mod.split(".")[1] + "." + cls.__name__
    return cls.__name__


def _wrap_init(cls) -> None:
    """Makes cls's constructor record its arguments in ``_init_args`` (the outermost call wins, so a
    subclass's arguments are kept, not the ones it passes to its parent)."""
    current = cls.__init__
    if getattr(current, "_pyengine_records", None) is cls:
        return
    sig = inspect.signature(current)
    params = list(sig.parameters.values())[1:]

    @functools.wraps(current)
    def __init__(self, *args, **kwargs):
        d = self.__dict__
        if "_init_args" not in d:
            try:
                bound = sig.bind(self, *args, **kwargs)
            except TypeError:
                bound = None             # the constructor itself reports the bad call
            if bound is not None:
                rec = {}
                for p in params:
                    if p.name not in bound.arguments:
                        continue
                    v = bound.arguments[p.name]
                    if p.kind is p.VAR_KEYWORD:
                        rec.update(v)
                    elif p.kind is p.VAR_POSITIONAL:
                        rec["*args"] = list(v)
                    else:
                        rec[p.name] = v
                d["_init_args"] = (cls, rec)
        current(self, *args, **kwargs)

    __init__._pyengine_records = cls
    cls.__init__ = __init__


def register_architecture(cls=None, *, name: str | None = None):
    """Class decorator: lets ``pyengine.save``/``pyengine.load`` store and rebuild instances of cls.

    The constructor's arguments are recorded on every instance and saved as JSON; they must be
    JSON values (numbers, strings, lists, dicts, None), tuples, dtypes, registered classes, or
    child modules of the instance. Define ``get_config()`` returning the constructor's keyword
    arguments to save something else. Every class in a saved tree must be registered (built-in
    layers and the zoo are). ``name`` defaults to the class name."""
    def deco(c):
        from ..nn import Module
        if not (isinstance(c, type) and issubclass(c, Module)):
            raise TypeError(f"register_architecture: expected an nn.Module subclass, got {c!r}")
        n = name or _default_name(c)
        old = _BY_NAME.get(n)
        if old is not None and old is not c and (old.__module__, old.__qualname__) != (c.__module__, c.__qualname__):
            raise ValueError(f"register_architecture: the name {n!r} is already taken by {old.__module__}."
                             f"{old.__qualname__}; pass name= to register {c.__qualname__} under another")
        _BY_NAME[n] = c
        _NAME_OF[c] = n
        if n not in _CONTAINERS:
            _wrap_init(c)
        return c
    return deco(cls) if cls is not None else deco


def registered_architectures() -> dict:
    """name → class of everything ``pyengine.load`` can rebuild."""
    _register_builtins()
    return dict(_BY_NAME)


_builtins_done = False


def register_builtin_layers() -> None:
    """Registers every Module class ``pyengine.nn`` exports as ``nn.<Name>`` (run when pyengine.io is
    imported, so layers built afterwards record their arguments; a new layer needs no entry)."""
    from .. import nn
    for n in nn.__all__:
        obj = getattr(nn, n, None)
        if isinstance(obj, type) and issubclass(obj, nn.Module) and obj is not nn.Module:
            if obj not in _NAME_OF:
                register_architecture(obj, name="nn." + obj.__name__)


def _register_builtins() -> None:
    global _builtins_done
    if _builtins_done:
        return
    register_builtin_layers()
    from .. import models  # noqa: F401  (importing the zoo registers its classes)
    _builtins_done = True


# ------------------------------------------------------------------------------- describe
def _encode(v, owner, path, key):
    from ..nn import Module
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        v = float(v)
        return v if math.isfinite(v) else {"__float__": repr(v)}
    if isinstance(v, tuple):
        return {"__tuple__": [_encode(x, owner, path, key) for x in v]}
    if isinstance(v, list):
        return [_encode(x, owner, path, key) for x in v]
    if isinstance(v, dict):
        if not all(isinstance(k, str) for k in v):
            raise ArchitectureError(f"{path}: argument {key!r} is a dict with non-string keys")
        if any(k.startswith("__") and k.endswith("__") for k in v):
            raise ArchitectureError(f"{path}: argument {key!r} has a key of the reserved form __name__")
        return {k: _encode(x, owner, path, key) for k, x in v.items()}
    if isinstance(v, Module):
        for cname, child in owner._modules.items():
            if child is v:
                return {"__child__": cname}
        raise ArchitectureError(f"{path}: argument {key!r} is a module that is not one of "
                                f"{type(owner).__name__}'s children; it cannot be saved as JSON")
    if isinstance(v, type) and v in _NAME_OF:
        return {"__class__": _NAME_OF[v]}
    if isinstance(v, np.dtype) or (isinstance(v, type) and issubclass(v, np.generic)):
        return {"__dtype__": np.dtype(v).name}
    raise ArchitectureError(f"{path} ({type(owner).__name__}): constructor argument {key}={v!r} "
                            f"({type(v).__name__}) cannot be saved as JSON; define get_config() on the class")


def _config_of(m, path):
    if hasattr(type(m), "get_config"):
        cfg = m.get_config()
        if not isinstance(cfg, dict):
            raise ArchitectureError(f"{path}: {type(m).__name__}.get_config() must return a dict, "
                                    f"got {type(cfg).__name__}")
        return cfg
    rec = m.__dict__.get("_init_args")
    if rec is None or not issubclass(type(m), rec[0]) or type(m).__init__ is not rec[0].__init__:
        raise ArchitectureError(f"{path} ({type(m).__name__}) was built before its class was registered, or "
                                "by a subclass that is not registered")
    return rec[1]


def describe(module, path: str = "model") -> dict:
    """The JSON description of a module tree (raises ArchitectureError naming the first module that
    cannot be described)."""
    _register_builtins()
    return _describe(module, path, 0)


def _describe(m, path, depth):
    if depth > _MAX_DEPTH:
        raise ArchitectureError(f"{path}: the module tree is deeper than {_MAX_DEPTH} levels")
    children = {}
    for cname, child in m._modules.items():
        children[cname] = None if child is None else _describe(child, f"{path}.{cname}", depth + 1)
    zoo = m.__dict__.get("_zoo")
    if zoo is not None:
        return {"type": "zoo", "model": zoo[0], "config": _encode(zoo[1], m, path, "config"),
                "children": children}
    name = _NAME_OF.get(type(m))
    if name is None:
        raise ArchitectureError(f"{path} is a {type(m).__module__}.{type(m).__qualname__}, which is neither a "
                                "built-in layer nor a registered architecture; decorate its class with "
                                "@pyengine.io.register_architecture (or reload with pyengine.load(path, model))")
    node = {"type": name}
    if name not in _CONTAINERS:
        cfg = _config_of(m, path)
        node["config"] = {k: _encode(v, m, path, k) for k, v in cfg.items()}
    node["children"] = children
    return node


# ------------------------------------------------------------------------------- build
class _Budget:
    def __init__(self, int_limit, elements, nodes=_MAX_NODES):
        self.int_limit, self.elements, self.nodes = int_limit, elements, nodes
        self.used = 0
        self.count = 0
        self.seen = set()


def _bad(path, msg):
    return ArchitectureError(f"architecture {path}: {msg}")


def _decode(v, path, budget, children_built, depth=0):
    if depth > _MAX_DEPTH:
        raise _bad(path, "config nested too deeply")
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        if abs(v) > budget.int_limit:
            raise _bad(path, f"config value {v} is larger than any tensor dimension in the file "
                             f"(limit {budget.int_limit})")
        return v
    if isinstance(v, float):
        return v
    if isinstance(v, list):
        return [_decode(x, path, budget, children_built, depth + 1) for x in v]
    if isinstance(v, dict):
        if len(v) == 1:
            (k, x), = v.items()
            if k == "__tuple__" and isinstance(x, list):
                return tuple(_decode(e, path, budget, children_built, depth + 1) for e in x)
            if k == "__float__" and x in ("inf", "-inf", "nan"):
                return float(x)
            if k == "__dtype__" and x in ("float16", "float32", "float64", "int32", "int64", "uint8", "bool"):
                return np.dtype(x)
            if k == "__class__" and isinstance(x, str):
                if x not in _BY_NAME:
                    raise _bad(path, f"refers to the unknown class {x!r}")
                return _BY_NAME[x]
            if k == "__child__" and isinstance(x, str):
                if x not in children_built:
                    raise _bad(path, f"refers to a child {x!r} that the description does not have")
                return children_built[x]
        return {str(k): _decode(x, path, budget, children_built, depth + 1) for k, x in v.items()}
    raise _bad(path, f"config value of type {type(v).__name__} is not allowed")


def _own_elements(m):
    return sum(int(t._data.size) for t in list(m._parameters.values()) + list(m._buffers.values()) if t is not None)


def _count_new(m, budget, path):
    """Adds the elements of the modules of m's tree not counted before; stops an oversized build."""
    for s in m.modules():
        if id(s) not in budget.seen:
            budget.seen.add(id(s))
            budget.used += _own_elements(s)
    if budget.used > budget.elements:
        raise _bad(path, f"building it allocates {budget.used:,} elements, more than the file's tensors "
                         f"justify ({budget.elements:,})")


def _check_node(node, path):
    if not isinstance(node, dict) or not isinstance(node.get("type"), str):
        raise _bad(path, "each module must be a JSON object with a string 'type'")
    ch = node.get("children", {})
    if not isinstance(ch, dict):
        raise _bad(path, "'children' must be a JSON object")
    cfg = node.get("config", {})
    if not isinstance(cfg, dict):
        raise _bad(path, "'config' must be a JSON object")
    return ch, cfg


def _construct(node, path, budget, depth):
    """The module a node's type and config make, before its children are reconciled."""
    from ..nn import ModuleDict, ModuleList, Sequential
    budget.count += 1
    if budget.count > budget.nodes:
        raise _bad(path, f"more than {budget.nodes} modules")
    if depth > _MAX_DEPTH:
        raise _bad(path, f"deeper than {_MAX_DEPTH} levels")
    ch, cfg = _check_node(node, path)
    t = node["type"]
    if t in _CONTAINERS:
        obj = {"nn.Sequential": Sequential, "nn.ModuleList": ModuleList, "nn.ModuleDict": ModuleDict}[t]()
        for cname, cnode in ch.items():
            obj.add_module(str(cname), None if cnode is None else _build(cnode, f"{path}.{cname}", budget, depth + 1))
        _count_new(obj, budget, path)
        return obj, True
    built_children = {}

    def wants_child(v):
        return isinstance(v, dict) and set(v) == {"__child__"}
    for k, v in cfg.items():
        if wants_child(v) and v["__child__"] in ch and ch[v["__child__"]] is not None:
            cname = v["__child__"]
            built_children[cname] = _build(ch[cname], f"{path}.{cname}", budget, depth + 1)
    kwargs = _decode(cfg, path, budget, built_children)
    args = kwargs.pop("*args", [])
    if not isinstance(args, list):
        raise _bad(path, "'*args' must be a list")
    if t == "zoo":
        from ..models import get_model_builder
        name = node.get("model")
        if not isinstance(name, str):
            raise _bad(path, "a zoo node needs a string 'model'")
        try:
            builder = get_model_builder(name)
        except ValueError as e:
            raise _bad(path, str(e)) from None
        ctor, what = builder, f"zoo model {name}"
    else:
        cls = _BY_NAME.get(t)
        if cls is None:
            raise _bad(path, f"unknown module type {t!r}; registered: built-in layers (nn.*), the zoo "
                             "(models.*) and classes decorated with @pyengine.io.register_architecture")
        ctor, what = cls, t
    try:
        obj = ctor(*args, **kwargs)
    except MemoryError:
        raise _bad(path, f"{what} with this config does not fit in memory") from None
    except (TypeError, ValueError, KeyError, IndexError, NotImplementedError) as e:
        raise _bad(path, f"cannot build {what} from its config ({type(e).__name__}: {e})") from None
    _count_new(obj, budget, path)
    return obj, False


def _same(m, node):
    try:
        return _describe(m, "", 0) == node
    except ArchitectureError:
        return False


def _build(node, path, budget, depth=0):
    obj, is_container = _construct(node, path, budget, depth)
    if not is_container and "children" in node:
        ch = node["children"]
        for cname, cnode in ch.items():
            cur = obj._modules.get(cname)
            if cnode is None:
                if cname in obj._modules:
                    obj._modules[cname] = None
                continue
            if cur is not None and _same(cur, cnode):
                continue
            setattr(obj, cname, _build(cnode, f"{path}.{cname}", budget, depth + 1))
        for cname in [c for c in obj._modules if c not in ch]:
            del obj._modules[cname]
    return obj


def build(node, tensor_shapes=None) -> "Module":  # noqa: F821
    """The module tree a description (from ``describe``) stands for. ``tensor_shapes`` (the shapes of
    the file's tensors) sets the bounds that keep a hostile description from allocating much."""
    _register_builtins()
    shapes = list(tensor_shapes or [])
    int_limit = max([4096] + [int(d) for s in shapes for d in s])
    elements = 2 * sum(int(np.prod(s, dtype=np.float64)) for s in shapes) + (1 << 20)
    budget = _Budget(int_limit, elements)
    if not isinstance(node, dict) or node.get("format", _FORMAT) != _FORMAT:
        raise _bad("model", f"unsupported description (expected format {_FORMAT})")
    model = _build(node.get("root", node), "model", budget)
    if isinstance(node.get("training"), bool):
        model.train(node["training"])
    return model


def to_json(module) -> str:
    return json.dumps({"format": _FORMAT, "root": describe(module), "training": bool(module.training)},
                      separators=(",", ":"))


def from_json(text: str, tensor_shapes=None):
    try:
        node = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise ArchitectureError("architecture: the description is not valid JSON") from None
    return build(node, tensor_shapes)
