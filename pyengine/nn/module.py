"""Module, Parameter and the containers (Sequential, ModuleList, ModuleDict).

A Module keeps its parameters, buffers and sub-modules in three ordered dicts filled by
``__setattr__``; names, nesting and state-dict keys follow PyTorch (``features.0.weight``,
``bn.running_mean``, ``bn.num_batches_tracked``), so weights move between the two unchanged.
``load_state_dict`` checks every key and shape first and copies only when all agree.
"""
from __future__ import annotations

import itertools
from collections import OrderedDict, namedtuple

import numpy as np

from ..autograd.device import normalize_device
from ..autograd.grad_mode import no_grad
from ..tensor import Tensor, _as_dtype, _move, _wrap

__all__ = ["Parameter", "Module", "Sequential", "ModuleList", "ModuleDict"]


class Parameter(Tensor):
    """A Tensor that a Module registers as a parameter; requires_grad=True by default; shares storage."""
    __slots__ = ()

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = np.empty((0,), np.float32)
        self._data = data._data if isinstance(data, Tensor) else np.asarray(data)
        self.grad = None
        self._grad_fn = None
        self._output_nr = 0
        self._device = data._device if isinstance(data, Tensor) else "cpu"
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


_hook_ids = itertools.count()

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


def _as_array(key, v):
    if isinstance(v, Tensor):
        return v._data
    if isinstance(v, np.ndarray):
        return v
    if hasattr(v, "detach") and hasattr(v, "cpu"):      # a torch tensor
        return np.asarray(v.detach().cpu())
    try:
        return np.asarray(v)
    except Exception as e:
        raise TypeError(f"load_state_dict: {key}: expected a Tensor or numpy array, got {type(v).__name__}") from e


class Module:
    """Base class of every layer. Subclasses call ``super().__init__()`` and define ``forward``."""

    def __init__(self):
        d = self.__dict__
        d["_parameters"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["_non_persistent"] = set()
        d["_modules"] = OrderedDict()
        d["_forward_hooks"] = OrderedDict()
        d["_forward_pre_hooks"] = OrderedDict()
        d["training"] = True

    # ---- attribute registration ---------------------------------------------------------------
    def __setattr__(self, name, value):
        d = self.__dict__
        params = d.get("_parameters")
        if params is None:
            raise AttributeError("cannot assign before Module.__init__() call")
        if isinstance(value, Parameter):
            d["_buffers"].pop(name, None)
            d["_modules"].pop(name, None)
            d.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            params.pop(name, None)
            d["_buffers"].pop(name, None)
            d.pop(name, None)
            d["_modules"][name] = value
        elif name in params:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as parameter {name!r} "
                                "(nn.Parameter or None expected)")
            params[name] = None
        elif name in d["_buffers"]:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} as buffer {name!r} (Tensor or None expected)")
            d["_buffers"][name] = value
        elif name in d["_modules"]:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as child module {name!r}")
            d["_modules"][name] = None
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            s = d.get(store)
            if s is not None and name in s:
                return s[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for store in ("_parameters", "_buffers", "_modules"):
            if name in self.__dict__[store]:
                del self.__dict__[store][name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name, param):
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: {name!r} must be a Parameter or None, got {type(param).__name__}")
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: {name!r} must be a Tensor or None, got {type(tensor).__name__}")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def add_module(self, name, module):
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be a Module, got {type(module).__name__}")
        self._modules[name] = module

    register_module = add_module

    # ---- calling ------------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args, **kwargs):
        if self._forward_pre_hooks:
            for hook in list(self._forward_pre_hooks.values()):
                r = hook(self, args)
                if r is not None:
                    args = r if isinstance(r, tuple) else (r,)
        out = self.forward(*args, **kwargs)
        if self._forward_hooks:
            for hook in list(self._forward_hooks.values()):
                r = hook(self, args, out)
                if r is not None:
                    out = r
        return out

    def register_forward_hook(self, hook):
        key = id(hook)
        self._forward_hooks[key] = hook
        hooks = self._forward_hooks

        class _Handle:
            def remove(self_inner):
                hooks.pop(key, None)
        return _Handle()

    def register_forward_pre_hook(self, hook):
        """hook(module, args) runs before forward; a non-None result replaces args (a tuple, or a
        single value). Returns a handle whose remove() unregisters it. Hooks run in order of
        registration; ``_forward_pre_hooks`` maps each handle's id to its hook, as in PyTorch."""
        key = next(_hook_ids)
        self._forward_pre_hooks[key] = hook
        hooks = self._forward_pre_hooks

        class _Handle:
            id = key

            def remove(self_inner):
                hooks.pop(key, None)
        return _Handle()

    # ---- traversal ----------------------------------------------------------------------------
    def named_modules(self, memo=None, prefix=""):
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is not None:
                yield from m.named_modules(memo, prefix + ("." if prefix else "") + name)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def _named_members(self, store, prefix, recurse):
        seen = set()
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mp, m in mods:
            for name, v in m.__dict__[store].items():
                if v is None or id(v) in seen:
                    continue
                seen.add(id(v))
                yield mp + ("." if mp else "") + name, v

    def named_parameters(self, prefix="", recurse=True):
        return self._named_members("_parameters", prefix, recurse)

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True):
        return self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # ---- modes --------------------------------------------------------------------------------
    def train(self, mode=True):
        if not isinstance(mode, bool):
            raise TypeError(f"train: mode must be a bool, got {type(mode).__name__}")
        for m in self.modules():
            m.__dict__["training"] = mode
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            if p.grad is not None:
                if set_to_none:
                    p.grad = None
                else:
                    p.grad._data[...] = 0

    def apply(self, fn):
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def _convert(self, fn):
        """Replaces the storage of every parameter, gradient and float buffer in place (objects kept, so an
        optimizer built before still holds the same Parameters)."""
        for m in self.modules():
            for p in m._parameters.values():
                if p is not None:
                    p._data = fn(p._data)
                    p._device = "cpu" if isinstance(p._data, np.ndarray) else "cuda"
                    if p.grad is not None:
                        p.grad._data = fn(p.grad._data)
                        p.grad._device = p._device
            for b in m._buffers.values():
                if b is not None:
                    b._data = fn(b._data)
                    b._device = "cpu" if isinstance(b._data, np.ndarray) else "cuda"
        return self

    def to(self, *args, device=None, dtype=None):
        for a in args:
            if isinstance(a, str) and a.split(":")[0] in ("cpu", "cuda"):
                device = a
            else:
                dtype = a
        if device is not None:
            dev = normalize_device(device)
            self._convert(lambda a: _move(a, dev))
        if dtype is not None:
            d = _as_dtype(dtype)
            if d.kind != "f":
                raise TypeError(f"Module.to: only floating dtypes, got {d}")
            self._convert(lambda a: a.astype(d) if a.dtype.kind == "f" and a.dtype != d else a)
        return self

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        return self.to("cuda")

    def float(self):
        return self.to(np.float32)

    def double(self):
        return self.to(np.float64)

    # ---- state dict ---------------------------------------------------------------------------
    def state_dict(self, destination=None, prefix="", keep_vars=False):
        """name -> Tensor (detached, sharing storage) for every parameter and persistent buffer."""
        out = OrderedDict() if destination is None else destination
        for mp, m in self.named_modules(prefix=prefix.rstrip(".")):
            pre = mp + ("." if mp else "")
            for name, p in m._parameters.items():
                if p is not None:
                    out[pre + name] = p if keep_vars else _wrap(p._data)
            for name, b in m._buffers.items():
                if b is not None and name not in m._non_persistent:
                    out[pre + name] = b if keep_vars else _wrap(b._data)
        return out

    def load_state_dict(self, state_dict, strict=True):
        """Copies values (Tensors, NumPy arrays or torch tensors) into the parameters and buffers in place.
        Every key and shape is checked before anything is written; a mismatch raises and changes nothing.
        Returns (missing_keys, unexpected_keys)."""
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append("missing keys: " + ", ".join(missing))
            if unexpected:
                parts.append("unexpected keys: " + ", ".join(unexpected))
            raise KeyError(f"load_state_dict for {type(self).__name__}: " + "; ".join(parts))
        staged = []
        for k, target in own.items():
            if k not in state_dict:
                continue
            arr = _as_array(k, state_dict[k])
            if tuple(arr.shape) != tuple(target.shape):
                raise ValueError(f"load_state_dict: {k}: checkpoint has shape {tuple(arr.shape)} but the model's "
                                 f"is {tuple(target.shape)}")
            if arr.dtype.kind not in "fiub":
                raise TypeError(f"load_state_dict: {k}: unsupported dtype {arr.dtype}")
            staged.append((target, arr))
        with no_grad():
            for target, arr in staged:
                if target._device == "cpu":
                    np.copyto(target._data, arr, casting="unsafe")
                else:
                    target._data[...] = _move(np.ascontiguousarray(arr), target._device).astype(target._data.dtype)
        return IncompatibleKeys(missing, unexpected)

    # ---- printing -----------------------------------------------------------------------------
    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = []
        for name, m in self._modules.items():
            r = repr(m).replace("\n", "\n  ")
            lines.append(f"({name}): {r}")
        extra = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({extra})"
        head = f"{type(self).__name__}(" + (extra + "\n" if extra else "\n")
        return head + "".join("  " + ln + "\n" for ln in lines) + ")"

    def summary(self, input_shape, dtype=np.float32):
        """A table of every leaf layer's output shape and parameter count for an input of ``input_shape``
        (batch included), plus the totals. Runs one forward in eval mode without grad; returns the text."""
        rows = []
        handles = []

        def hook(mod, args, out):
            shape = out.shape if isinstance(out, Tensor) else tuple(o.shape for o in out if isinstance(o, Tensor)) \
                if isinstance(out, (tuple, list)) else "?"
            n = sum(p.numel() for p in mod.parameters(recurse=False))
            rows.append((names[id(mod)], type(mod).__name__, shape, n))

        names = {}
        for name, m in self.named_modules():
            if not m._modules or m is self and not self._modules:
                names[id(m)] = name or type(m).__name__
                handles.append(m.register_forward_hook(hook))
        was_training = self.training
        self.eval()
        try:
            from ..tensor import zeros
            with no_grad():
                self(zeros(*input_shape, dtype=dtype))
        finally:
            for h in handles:
                h.remove()
            self.train(was_training)
        total = sum(p.numel() for p in self.parameters())
        trainable = sum(p.numel() for p in self.parameters() if p.requires_grad)
        w = max([len(r[0]) + len(r[1]) + 3 for r in rows] + [20])
        out = [f"{'Layer (type)':<{w}}  {'Output shape':<22}  {'Params':>10}", "-" * (w + 36)]
        for name, typ, shape, n in rows:
            out.append(f"{name + ' (' + typ + ')':<{w}}  {str(tuple(shape)) if not isinstance(shape, str) else shape:<22}"
                       f"  {n:>10,}")
        out += ["-" * (w + 36), f"Total params: {total:,}", f"Trainable params: {trainable:,}",
                f"Non-trainable params: {total - trainable:,}"]
        return "\n".join(out)


class Sequential(Module):
    """Runs its modules in order; built from modules or an OrderedDict of name -> module."""

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], (OrderedDict, dict)):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(modules):
                self.add_module(str(i), m)

    def forward(self, x):
        for name, m in self._modules.items():
            try:
                x = m(x)
            except (ValueError, TypeError) as e:
                if type(e) not in (ValueError, TypeError):
                    raise
                # Say where in the stack the bad shape arrived: "Sequential layer 4 (Conv2d): Conv2d(8, 16): ..."
                raise type(e)(f"Sequential layer {name} ({type(m).__name__}): {e}") from e
        return x

    def __getitem__(self, idx):
        mods = list(self._modules.values())
        if isinstance(idx, slice):
            return Sequential(OrderedDict(list(self._modules.items())[idx]))
        return mods[idx]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module):
        self.add_module(str(len(self._modules)), module)
        return self


class ModuleList(Module):
    def __init__(self, modules=()):
        super().__init__()
        for m in modules:
            self.append(m)

    def append(self, module):
        self.add_module(str(len(self._modules)), module)
        return self

    def extend(self, modules):
        for m in modules:
            self.append(m)
        return self

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return ModuleList(list(self._modules.values())[idx])
        return list(self._modules.values())[idx]

    def __setitem__(self, idx, module):
        key = list(self._modules.keys())[idx]
        self.add_module(key, module)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class ModuleDict(Module):
    def __init__(self, modules=None):
        super().__init__()
        if modules:
            for k, m in dict(modules).items():
                self.add_module(k, m)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __contains__(self, key):
        return key in self._modules

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()
