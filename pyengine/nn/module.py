"""Module, Parameter and the containers (Sequential, ModuleList, ModuleDict).

A Module keeps its parameters, buffers and sub-modules in three ordered dicts filled by
``__setattr__``; names, nesting and state-dict keys follow PyTorch (``features.0.weight``,
``bn.running_mean``, ``bn.num_batches_tracked``), so weights move between the two unchanged.
``load_state_dict`` checks every key and shape first and copies only when all agree.

Hooks follow PyTorch's: forward pre-hooks (may replace the inputs), forward hooks (may replace the
output), full backward pre-hooks (may replace the output gradients) and full backward hooks (see the
gradients of inputs and outputs; may replace those of the inputs), each returning a RemovableHandle.
``__call__`` without hooks is one check and ``forward``. Backward hooks work as PyTorch's do: the
tensor inputs and outputs pass through an identity Function whose backward calls the hooks.
"""
from __future__ import annotations

from collections import OrderedDict, namedtuple

import numpy as np

from ..autograd.core import Function
from ..autograd.device import normalize_device, xp_of
from ..autograd.grad_mode import STATE, no_grad
from ..autograd.hooks import RemovableHandle, hook_dict
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
        self._version_counter = data._counter() if isinstance(data, Tensor) else None
        self._base = None
        self._hooks = None
        self._post_hooks = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


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


class _Members(OrderedDict):
    """A Module's parameters, buffers or sub-modules (PyTorch's ``_parameters`` ...), kept in order, with
    every entry mirrored into the module's ``__dict__``: ``self.weight`` in a forward is then a plain
    attribute read, not a call of ``Module.__getattr__`` (a third of a small layer's cost). Every way of
    changing the dict — ``d[k] = v``, ``del d[k]``, pop, update ... — updates the mirror with it."""

    def __init__(self, owner=None):
        super().__init__()
        self._owner = owner

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        if self._owner is not None:
            self._owner.__dict__[key] = value

    def __delitem__(self, key):
        super().__delitem__(key)
        if self._owner is not None:
            self._owner.__dict__.pop(key, None)

    def pop(self, key, *default):
        had = key in self
        v = super().pop(key, *default)
        if had and self._owner is not None:
            self._owner.__dict__.pop(key, None)
        return v

    def popitem(self, last=True):
        k, v = super().popitem(last)
        if self._owner is not None:
            self._owner.__dict__.pop(k, None)
        return k, v

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default
        return self[key]

    def update(self, *args, **kwargs):
        for k, v in OrderedDict(*args, **kwargs).items():
            self[k] = v

    def clear(self):
        for k in list(self):
            del self[k]


class Module:
    """Base class of every layer. Subclasses call ``super().__init__()`` and define ``forward``."""

    def __init__(self):
        d = self.__dict__
        d["_parameters"] = _Members(self)
        d["_buffers"] = _Members(self)
        d["_non_persistent"] = set()
        d["_modules"] = _Members(self)
        d["_forward_pre_hooks"] = hook_dict()
        d["_forward_pre_hooks_with_kwargs"] = hook_dict()
        d["_forward_hooks"] = hook_dict()
        d["_forward_hooks_with_kwargs"] = hook_dict()
        d["_forward_hooks_always_called"] = hook_dict()
        d["_backward_pre_hooks"] = hook_dict()
        d["_backward_hooks"] = hook_dict()
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
        d = self.__dict__
        if d["_forward_pre_hooks"] or d["_forward_hooks"] or d["_backward_hooks"] or d["_backward_pre_hooks"]:
            return self._call_with_hooks(args, kwargs)
        return self.forward(*args, **kwargs)

    def _call_with_hooks(self, args, kwargs):
        d = self.__dict__
        for hid, hook in list(d["_forward_pre_hooks"].items()):
            if hid in d["_forward_pre_hooks_with_kwargs"]:
                r = hook(self, args, kwargs)
                if r is not None:
                    if not (isinstance(r, tuple) and len(r) == 2):
                        raise RuntimeError("a forward pre-hook with kwargs must return None or a tuple "
                                           f"(new_args, new_kwargs), got {type(r).__name__}")
                    args, kwargs = r
            else:
                r = hook(self, args)
                if r is not None:
                    args = r if isinstance(r, tuple) else (r,)
        bw = None
        if (d["_backward_hooks"] or d["_backward_pre_hooks"]) and STATE.grad_enabled:
            bw = _BackwardHooks(self)
            args = bw.wrap_inputs(args)
        try:
            out = self.forward(*args, **kwargs)
        except Exception:
            for hid, hook in list(d["_forward_hooks"].items()):
                if hid in d["_forward_hooks_always_called"]:
                    try:
                        hook(self, args, kwargs, None) if hid in d["_forward_hooks_with_kwargs"] else \
                            hook(self, args, None)
                    except Exception:
                        pass          # the forward's own error is the one to see
            raise
        for hid, hook in list(d["_forward_hooks"].items()):
            r = hook(self, args, kwargs, out) if hid in d["_forward_hooks_with_kwargs"] else hook(self, args, out)
            if r is not None:
                out = r
        if bw is not None:
            out = bw.wrap_outputs(out)
        return out

    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """hook(module, args) -> None or new args (a tuple, or one value); with_kwargs:
        hook(module, args, kwargs) -> None or (new_args, new_kwargs). Runs before forward."""
        d = self.__dict__
        h = RemovableHandle(d["_forward_pre_hooks"], extra_dict=d["_forward_pre_hooks_with_kwargs"])
        _insert(d["_forward_pre_hooks"], h.id, hook, prepend)
        if with_kwargs:
            d["_forward_pre_hooks_with_kwargs"][h.id] = True
        return h

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False, always_call=False):
        """hook(module, args, output) -> None or a new output; with_kwargs: hook(module, args, kwargs,
        output). always_call: also run (with output None) when forward raises."""
        d = self.__dict__
        h = RemovableHandle(d["_forward_hooks"], extra_dict=[d["_forward_hooks_with_kwargs"],
                                                            d["_forward_hooks_always_called"]])
        _insert(d["_forward_hooks"], h.id, hook, prepend)
        if with_kwargs:
            d["_forward_hooks_with_kwargs"][h.id] = True
        if always_call:
            d["_forward_hooks_always_called"][h.id] = True
        return h

    def register_full_backward_pre_hook(self, hook, prepend=False):
        """hook(module, grad_output) -> None or new grad_output, called when the gradients of the
        module's outputs are known, before the gradients of its inputs are computed."""
        h = RemovableHandle(self.__dict__["_backward_pre_hooks"])
        _insert(self.__dict__["_backward_pre_hooks"], h.id, hook, prepend)
        return h

    def register_full_backward_hook(self, hook, prepend=False):
        """hook(module, grad_input, grad_output) -> None or new grad_input, called once the gradients of
        the module's inputs are computed; grad_input has one entry per positional argument (None for
        non-Tensors and tensors that need no gradient), grad_output one per Tensor output."""
        h = RemovableHandle(self.__dict__["_backward_hooks"])
        _insert(self.__dict__["_backward_hooks"], h.id, hook, prepend)
        return h

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


def _insert(hooks, key, hook, prepend):
    if not prepend:
        hooks[key] = hook
        return
    rest = list(hooks.items())
    hooks.clear()
    hooks[key] = hook
    hooks.update(rest)


class _BackwardHookFunction(Function):
    """Identity on its tensor arguments; its backward hands the gradients to ``fn`` (what replaces them)."""
    name = "backward_hook"
    torch_name = "BackwardHookFunctionBackward"

    @staticmethod
    def forward(ctx, *arrays, fn=None):
        ctx.fn = fn
        return arrays

    @staticmethod
    def backward(ctx, *grads):
        return ctx.fn(grads)


class _BackwardHooks:
    """One call's full backward (pre-)hooks: the output identity node sees grad_output first (pre-hooks
    may replace it); the input identity node then sees grad_input and calls the hooks with both."""

    def __init__(self, module):
        self.module = module
        self.n_args = 0
        self.positions = []
        self.grad_outputs = None

    def wrap_inputs(self, args):
        self.n_args = len(args)
        self.positions = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
        if not self.positions:
            return args
        # PyTorch reports zeros for the other tensor arguments (and None for non-tensors)
        self.constants = [(i, a) for i, a in enumerate(args) if isinstance(a, Tensor) and not a.requires_grad]
        outs = _BackwardHookFunction.apply(*[args[i] for i in self.positions], fn=self._on_inputs)
        new = list(args)
        for k, i in enumerate(self.positions):
            _share_counter(args[i], outs[k])
            new[i] = outs[k]
        return tuple(new)

    def wrap_outputs(self, out):
        single = isinstance(out, Tensor)
        items = [out] if single else list(out) if isinstance(out, (tuple, list)) else None
        if items is None:
            return out
        pos = [i for i, o in enumerate(items) if isinstance(o, Tensor) and o.requires_grad]
        if not pos:
            return out
        wrapped = _BackwardHookFunction.apply(*[items[i] for i in pos], fn=self._on_outputs)
        for k, i in enumerate(pos):
            _share_counter(items[i], wrapped[k])
            items[i] = wrapped[k]
        self.n_outputs = len(pos)
        if single:
            return items[0]
        return type(out)(items) if isinstance(out, list) else tuple(items)

    def _on_outputs(self, grads):
        m = self.module.__dict__
        gout = tuple(None if g is None else _wrap(g) for g in grads)
        for hook in list(m["_backward_pre_hooks"].values()):
            r = hook(self.module, gout)
            if r is not None:
                gout = tuple(r) if isinstance(r, (tuple, list)) else (r,)
        self.grad_outputs = gout
        if not self.positions:           # no input needs a gradient: the hooks run now, grad_input all None
            for hook in list(m["_backward_hooks"].values()):
                hook(self.module, (None,) * self.n_args, gout)
        return tuple(None if g is None else g._data for g in gout)

    def _on_inputs(self, grads):
        grad_input = [None] * self.n_args
        for g, i in zip(grads, self.positions):
            grad_input[i] = None if g is None else _wrap(g)
        for i, a in self.constants:
            grad_input[i] = _wrap(xp_of(a._data).zeros_like(a._data))
        for hook in list(self.module.__dict__["_backward_hooks"].values()):
            r = hook(self.module, tuple(grad_input), self.grad_outputs)
            if r is not None:
                r = tuple(r) if isinstance(r, (tuple, list)) else (r,)
                if len(r) != self.n_args:
                    raise RuntimeError(f"a full backward hook of {type(self.module).__name__} returned "
                                       f"{len(r)} gradients for {self.n_args} inputs")
                grad_input = list(r)
        return tuple(None if grad_input[i] is None else grad_input[i]._data for i in self.positions)


def _share_counter(src, out):
    out._version_counter = src._counter()
