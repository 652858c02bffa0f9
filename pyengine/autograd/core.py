"""The autograd core: Tensor, Function, and the version counters that keep saved values honest.

Tensor — an n-d array (NumPy on "cpu", CuPy on "cuda") in ``_data`` (never copied on wrap), with
``requires_grad``, ``grad``, and for a result of a recorded op the producing node ``_grad_fn`` and
which of its outputs it is (``_output_nr``). Leaves have ``_grad_fn`` None.

Function — one differentiable op. ``forward``/``backward`` are static methods on raw arrays; an
instance is both the ``ctx`` they receive and the graph node the engine visits. ``apply``:

1. unwraps Tensor arguments and sets ``ctx.needs_input_grad`` (False everywhere under no_grad);
2. runs ``forward`` and wraps its array(s) as Tensors (no ``__init__``: ``_wrap``);
3. when grad mode is on and an input requires grad, records the node: ``next_edges[i]`` is
   (producer node or leaf Tensor, output index, shape, dtype) for an input that requires grad, None
   otherwise — the shape and dtype let the engine check every gradient backward returns;
4. takes the version snapshot: every array the ctx holds (as an attribute, or in a tuple/list
   attribute, or via ``save_for_backward``) that is, or is a view of, an input's or an output's
   storage is recorded with that tensor's version. The engine compares before calling backward.

The arithmetic operators (``+ - * /``) on float NumPy tensors of one dtype, or with a Python number,
skip apply: ``_binary`` runs the ufunc and records the same node apply would, which halves the
per-call cost of ``a + b`` in a graph (``python -m bench overhead``).

Version counters follow PyTorch: every in-place op bumps the counter of the tensor it writes
(``add_``, ``mul_``, ``__setitem__``, ``copy_``, ``zero_`` ... and ``+=``); a view shares its base's
counter, and so does ``detach()``; ``.data`` and ``from_numpy`` start fresh counters. A counter is
created lazily, the first time anything watches or writes the tensor, so inference allocates none.

In-place ops on tensors in a graph are recorded as PyTorch records them: the op runs out of place
on a copy of the old values, the result is written into the storage, and the tensor's history is
rebased onto the new node (``s.mul_(2)`` then differentiates through the multiplication). An
in-place op on a leaf that requires grad, or on a view that takes part in a graph, raises.
"""
from __future__ import annotations

import traceback
from collections import namedtuple

import numpy as np

from . import dtype as _dtype
from .device import array_module, device_of_array, normalize_device, xp_of
from .generator import default_generator
from .grad_mode import STATE
from .hooks import RemovableHandle, hook_dict

__all__ = ["Tensor", "Function", "VersionCounter"]

_ndarray = np.ndarray


class VersionCounter:
    """How many times a storage has been modified in place; shared by a tensor and its views."""
    __slots__ = ("version",)

    def __init__(self, version=0):
        self.version = version


def _owner(a):
    """The array that owns a's memory: a itself, or the base of a view (NumPy and CuPy collapse a view
    of a view onto the owner)."""
    b = a.base
    return a if b is None else b


def _wrap(a):
    """A new graph-less Tensor around array a (no copy, no __init__)."""
    t: Tensor = Tensor.__new__(Tensor)
    if type(a) is not _ndarray:
        if isinstance(a, np.generic):
            a = np.asarray(a)        # NumPy gives scalars for ops on 0-d arrays; a Tensor holds arrays
        t._device = device_of_array(a)
    else:
        t._device = "cpu"
    t._data = a
    t.grad = None
    t.requires_grad = False
    t._grad_fn = None
    t._output_nr = 0
    t._version_counter = None
    t._base = None
    t._hooks = None
    t._post_hooks = None
    return t


def _as_array(data, dtype):
    """A new array from data (copied), with torch's dtype inference for Python numbers and lists."""
    if isinstance(data, Tensor):
        a = data._data
        return a.astype(dtype) if dtype is not None and a.dtype != dtype else a.copy()
    if hasattr(data, "__cuda_array_interface__") and hasattr(data, "astype"):
        return data.astype(dtype) if dtype is not None else data.copy()
    if dtype is None:
        a = np.array(data)
        if a.dtype == np.float64 and not isinstance(data, (np.ndarray, np.generic)):
            a = a.astype(_dtype.get_default_dtype())   # Python floats become the default dtype, as in torch
        elif a.dtype.kind in "iu" and not isinstance(data, (np.ndarray, np.generic)):
            a = a.astype(np.int64)
        elif a.dtype.kind not in "fiub":
            raise TypeError(f"tensor: cannot make a tensor from data of dtype {a.dtype}")
        return a
    return np.array(data, dtype=dtype)


def _move(a, device):
    """Array a on device ('cpu' or 'cuda'); a itself when it is there already."""
    if device == "cpu":
        return a.get() if hasattr(a, "get") and not isinstance(a, np.ndarray) else a
    return array_module(device).asarray(a)


_max_result = namedtuple("max", ["values", "indices"])
_min_result = namedtuple("min", ["values", "indices"])


class Tensor:
    __slots__ = ("_data", "grad", "requires_grad", "_grad_fn", "_output_nr", "_device", "_version_counter",
                 "_base", "_hooks", "_post_hooks", "__weakref__")
    __array_ufunc__ = None        # NumPy scalars on the left defer to our reflected operators
    __array_priority__ = 1000

    def __init__(self, data, dtype=None, device=None, requires_grad=False):
        a = _as_array(data, _dtype.as_dtype(dtype))
        self._data = a
        self.grad = None
        self._grad_fn = None
        self._output_nr = 0
        self._device = device_of_array(a)
        self._version_counter = None
        self._base = None
        self._hooks = None
        self._post_hooks = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)
        if device is not None and normalize_device(device) != self._device:
            self._data = _move(self._data, normalize_device(device))
            self._device = normalize_device(device)

    @classmethod
    def _make(cls, a):
        return _wrap(a)

    # ---- properties -------------------------------------------------------------------------
    @property
    def shape(self):
        return self._data.shape

    @property
    def ndim(self):
        return self._data.ndim

    @property
    def dtype(self):
        return self._data.dtype

    @property
    def device(self):
        return self._device

    @property
    def is_leaf(self):
        return self._grad_fn is None

    @property
    def grad_fn(self):
        return self._grad_fn

    @property
    def _version(self):
        vc = self._version_counter
        return 0 if vc is None else vc.version

    @property
    def data(self):
        """The same storage as a tensor outside autograd, with its own version counter (PyTorch's
        ``.data``: changes through it are invisible to the version checks)."""
        return _wrap(self._data)

    @data.setter
    def data(self, value):
        self._data = value._data if isinstance(value, Tensor) else value

    @property
    def T(self):
        return self.permute(*reversed(range(self.ndim)))

    @property
    def mT(self):
        return self.transpose(-2, -1)

    def size(self, dim=None):
        return self._data.shape if dim is None else self._data.shape[dim]

    def dim(self):
        return self._data.ndim

    def numel(self):
        return int(self._data.size)

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def is_floating_point(self):
        return self._data.dtype.kind == "f"

    # ---- conversion -------------------------------------------------------------------------
    def numpy(self):
        """The storage as a NumPy array, shared (as torch's ``.detach().numpy()``)."""
        if self._device != "cpu":
            raise TypeError("numpy: tensor is on 'cuda'; call .cpu() first")
        return self._data

    def item(self):
        if self._data.size != 1:
            raise ValueError(f"item: only one-element tensors can be converted, got shape {tuple(self.shape)}")
        return self._data.reshape(()).item() if self._device == "cpu" else self._data.item()

    def tolist(self):
        return self._data.tolist()

    def __array__(self, dtype=None, copy=None):
        a = self._data if self._device == "cpu" else self._data.get()
        if dtype is not None and a.dtype != dtype:
            return a.astype(dtype)
        return a.copy() if copy else a

    def __dlpack__(self, *args, **kwargs):
        return self._data.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self._data.__dlpack_device__()

    @property
    def __cuda_array_interface__(self):
        # only CUDA tensors have one: for a CPU tensor hasattr() is False, as for a NumPy array
        if self._device != "cuda":
            raise AttributeError("__cuda_array_interface__: the tensor is on cpu")
        return self._data.__cuda_array_interface__

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iu":
            raise TypeError("only integer tensors can be used as an index")
        return int(self.item())

    def __bool__(self):
        if self._data.size != 1:
            raise ValueError(f"the truth value of a tensor of shape {tuple(self.shape)} is ambiguous")
        return bool(self._data.reshape(()))

    def __repr__(self):
        body = np.array2string(np.asarray(self.__array__()), separator=", ", precision=4, prefix="tensor(")
        extra = []
        if self._data.dtype not in (np.float32, np.int64, np.bool_):
            extra.append(f"dtype={self._data.dtype}")
        if self._device != "cpu":
            extra.append(f"device='{self._device}'")
        if self._grad_fn is not None:
            extra.append(f"grad_fn=<{self._grad_fn.backward_name}>")
        elif self.requires_grad:
            extra.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extra) + ")"

    def __hash__(self):          # by identity: == is element-wise
        return id(self)

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    # ---- autograd ---------------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph=False, grad=None):
        """Accumulates d(self)/d(leaf) (times ``gradient``, alias ``grad``) into the .grad of every leaf that
        requires grad. Without retain_graph the graph's saved values are freed as backward passes them."""
        if gradient is None:
            gradient = grad
        if not self.requires_grad:
            raise RuntimeError("backward: tensor does not require grad and has no grad_fn")
        _engine.run_backward([self], [_engine.root_grad(self, gradient)], retain_graph)

    def detach(self):
        """The same storage outside the graph; shares the version counter (in-place changes through
        either are seen by the version checks)."""
        t = _wrap(self._data)
        t._version_counter = self._counter()
        return t

    def detach_(self):
        self._grad_fn = None
        self.requires_grad = False
        return self

    def requires_grad_(self, requires_grad=True):
        if requires_grad and self._data.dtype.kind not in "fc":
            raise TypeError(f"requires_grad: only floating-point tensors can require grad, got {self._data.dtype}")
        if not requires_grad and self._grad_fn is not None:
            raise RuntimeError("requires_grad_(False) on a non-leaf tensor; use detach()")
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self):
        """Makes backward fill .grad of this non-leaf tensor too (leaves always get it)."""
        if self._grad_fn is None:
            if not self.requires_grad:
                raise RuntimeError("retain_grad: tensor does not require grad")
            return
        node = self._grad_fn
        if node._retained is None:
            node._retained = {}
        node._retained[self._output_nr] = self

    @property
    def retains_grad(self):
        node = self._grad_fn
        return node is not None and node._retained is not None and self._output_nr in node._retained

    def register_hook(self, hook):
        """hook(grad) -> Tensor or None, called with this tensor's gradient each time backward computes it
        (for a leaf: before it is accumulated into .grad); a returned Tensor replaces the gradient.
        Returns a handle whose ``remove()`` unregisters the hook."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        node = self._grad_fn
        if node is None:
            if self._hooks is None:
                self._hooks = hook_dict()
            hooks = self._hooks
        else:
            if node._tensor_hooks is None:
                node._tensor_hooks = {}
            hooks = node._tensor_hooks.get(self._output_nr)
            if hooks is None:
                hooks = node._tensor_hooks[self._output_nr] = hook_dict()
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        return handle

    def register_post_accumulate_grad_hook(self, hook):
        """hook(tensor) -> None, called on a leaf right after backward has accumulated its .grad (once per
        backward, when every gradient contribution to it has arrived). Returns a removable handle."""
        if self._grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self._post_hooks is None:
            self._post_hooks = hook_dict()
        handle = RemovableHandle(self._post_hooks)
        self._post_hooks[handle.id] = hook
        return handle

    # ---- version counter --------------------------------------------------------------------
    def _counter(self):
        vc = self._version_counter
        if vc is None:
            vc = self._version_counter = VersionCounter()
        return vc

    def _bump_version(self):
        vc = self._version_counter
        if vc is None:
            self._version_counter = VersionCounter(1)
        else:
            vc.version += 1

    # ---- dtype / device ---------------------------------------------------------------------
    def to(self, *args, dtype=None, device=None, copy=False):
        for a in args:
            if isinstance(a, str) and a.split(":")[0] in ("cpu", "cuda"):
                device = a
            elif isinstance(a, Tensor):
                dtype, device = a.dtype, a.device
            else:
                dtype = a
        out = self
        if device is not None:
            dev = normalize_device(device)
            if dev != self._device:
                out = _ops.ToDevice.apply(out, dev)
        if dtype is not None:
            d = _dtype.as_dtype(dtype)
            if d != out._data.dtype:
                out = _ops.Cast.apply(out, d)
        if copy and out is self:
            out = self.clone()
        return out

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        return self.to("cuda")

    def type(self, dtype=None):
        return str(self.dtype) if dtype is None else self.to(dtype)

    def astype(self, dtype):
        return self.to(dtype)

    def float(self):
        return self.to(np.float32)

    def double(self):
        return self.to(np.float64)

    def half(self):
        return self.to(np.float16)

    def long(self):
        return self.to(np.int64)

    def int(self):
        return self.to(np.int32)

    def bool(self):
        return self.to(np.bool_)

    def clone(self):
        return _ops.Clone.apply(self)

    def contiguous(self):
        if self._data.flags.c_contiguous:
            return self
        return _ops.Clone.apply(self)

    def is_contiguous(self):
        return bool(self._data.flags.c_contiguous)

    # ---- in-place ---------------------------------------------------------------------------
    def _inplace(self, what, fn, args, write):
        """The one road of every in-place op. Outside a graph (grad mode off, or nothing involved
        requires grad) ``write()`` changes the storage directly. Inside one, ``fn.apply(old, *args)``
        runs out of place on a copy of the old values, its result is written into the storage and
        this tensor's history moves onto the new node. Either way the version goes up by one."""
        if STATE.grad_enabled and (self.requires_grad or any(isinstance(a, Tensor) and a.requires_grad
                                                             for a in args)):
            if self._grad_fn is None and self.requires_grad:
                raise RuntimeError(f"{what}: a leaf Variable that requires grad is being used in an in-place "
                                   "operation; do it under pyengine.no_grad() (or on .data)")
            if self._base is not None:
                base = self._base
                if base._grad_fn is None and base.requires_grad:
                    raise RuntimeError(f"{what}: a view of a leaf Variable that requires grad is being used in an "
                                       "in-place operation")
                raise RuntimeError(f"{what}: in-place operation on a view of another tensor inside an autograd "
                                   "graph is not supported (the base's history would miss it); apply it "
                                   "out of place, or to a .clone()")
            old = _wrap(self._data.copy())
            old.requires_grad, old._grad_fn, old._output_nr = self.requires_grad, self._grad_fn, self._output_nr
            r = fn.apply(old, *args)
            res = r._data
            if res.shape != self._data.shape:
                raise RuntimeError(f"{what}: output with shape {tuple(self.shape)} doesn't match the broadcast "
                                   f"shape {tuple(res.shape)}")
            _check_cast(what, res.dtype, self._data.dtype)
            self._data[...] = res
            self._grad_fn, self._output_nr, self.requires_grad = r._grad_fn, r._output_nr, r.requires_grad
        else:
            write()
        self._bump_version()
        return self

    def _binary_(self, what, fn, ufunc, other):
        def write():
            o = other._data if isinstance(other, Tensor) else other
            d = self._data
            if d.dtype.kind != "f" or getattr(o, "dtype", d.dtype) != d.dtype:
                _check_cast(what, _dtype.result_type(d, o) if ufunc is not np.divide else
                            _dtype.get_default_dtype(), d.dtype)
            ufunc(d, o, out=d, casting="unsafe")
        return self._inplace(what, fn, (other,), write)

    def add_(self, other, alpha=1):
        if alpha != 1:
            other = other * alpha
        return self._binary_("add_", _ops.Add, np.add, other)

    def sub_(self, other, alpha=1):
        if alpha != 1:
            other = other * alpha
        return self._binary_("sub_", _ops.Sub, np.subtract, other)

    def mul_(self, other):
        return self._binary_("mul_", _ops.Mul, np.multiply, other)

    def div_(self, other):
        return self._binary_("div_", _ops.Div, np.divide, other)

    def __iadd__(self, o):
        return self._binary_("__iadd__", _ops.Add, np.add, o)

    def __isub__(self, o):
        return self._binary_("__isub__", _ops.Sub, np.subtract, o)

    def __imul__(self, o):
        return self._binary_("__imul__", _ops.Mul, np.multiply, o)

    def __itruediv__(self, o):
        return self._binary_("__itruediv__", _ops.Div, np.divide, o)

    def clamp_(self, min=None, max=None):
        if isinstance(min, Tensor) or isinstance(max, Tensor) or self._data.dtype.kind != "f":
            return _m.clamp_(self, min, max)

        def write():
            np.clip(self._data, min, max, out=self._data)
        return self._inplace("clamp_", _ops.Clamp, (min, max), write)

    def _overwrite(self, what, value):
        """Sets every element from value (an array, a Tensor or a number, broadcast to this shape)."""
        def write():
            v = value._data if isinstance(value, Tensor) else value
            self._data[...] = v
        return self._inplace(what, _ops.Overwrite, (value,), write)

    def zero_(self):
        return self._overwrite("zero_", 0)

    def fill_(self, value):
        return self._overwrite("fill_", value)

    def uniform_(self, a=0.0, b=1.0):
        return self._overwrite("uniform_", default_generator.rng.uniform(a, b, self._data.shape))

    def normal_(self, mean=0.0, std=1.0):
        return self._overwrite("normal_", default_generator.rng.normal(mean, std, self._data.shape))

    def copy_(self, src):
        s = src._data if isinstance(src, Tensor) else np.asarray(src)
        try:
            ok = np.broadcast_shapes(s.shape, self._data.shape) == self._data.shape
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(f"copy_: source of shape {tuple(s.shape)} does not broadcast to "
                             f"{tuple(self.shape)}")

        def write():
            np.copyto(self._data, np.broadcast_to(_move(s, self._device), self._data.shape), casting="unsafe")
        return self._inplace("copy_", _ops.Overwrite, (src if isinstance(src, Tensor) else s,), write)

    def __setitem__(self, idx, value):
        idx = _ops.index_arrays(idx)

        def write():
            self._data[idx] = value._data if isinstance(value, Tensor) else value
        self._inplace("__setitem__", _ops.IndexPut, (value, idx), write)

    # ---- arithmetic -------------------------------------------------------------------------
    def __add__(self, o):
        r = _binary(self, o, _ops.Add, False)
        return r if r is not None else _ops.Add.apply(self, o)

    def __radd__(self, o):
        r = _binary(self, o, _ops.Add, True)
        return r if r is not None else _ops.Add.apply(o, self)

    def __sub__(self, o):
        r = _binary(self, o, _ops.Sub, False)
        return r if r is not None else _ops.Sub.apply(self, o)

    def __rsub__(self, o):
        r = _binary(self, o, _ops.Sub, True)
        return r if r is not None else _ops.Sub.apply(o, self)

    def __mul__(self, o):
        r = _binary(self, o, _ops.Mul, False)
        return r if r is not None else _ops.Mul.apply(self, o)

    def __rmul__(self, o):
        r = _binary(self, o, _ops.Mul, True)
        return r if r is not None else _ops.Mul.apply(o, self)

    def __truediv__(self, o):
        r = _binary(self, o, _ops.Div, False)
        return r if r is not None else _ops.Div.apply(self, o)

    def __rtruediv__(self, o):
        r = _binary(self, o, _ops.Div, True)
        return r if r is not None else _ops.Div.apply(o, self)

    def __pow__(self, o):
        return _ops.Pow.apply(self, o)

    def __rpow__(self, o):
        return _ops.Pow.apply(o, self)

    def __matmul__(self, o):
        if not isinstance(o, Tensor):
            o = Tensor(o, dtype=self.dtype)
        return _ops.MatMul.apply(self, o)

    def __rmatmul__(self, o):
        return _ops.MatMul.apply(Tensor(o, dtype=self.dtype), self)

    def __neg__(self):
        return _ops.Neg.apply(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _ops.Abs.apply(self)

    def add(self, o, alpha=1):
        return _ops.Add.apply(self, o if alpha == 1 else o * alpha)

    def sub(self, o, alpha=1):
        return _ops.Sub.apply(self, o if alpha == 1 else o * alpha)

    def mul(self, o):
        return _ops.Mul.apply(self, o)

    def div(self, o, rounding_mode=None):
        return _ops.Div.apply(self, o) if rounding_mode is None else _m.div(self, o, rounding_mode)

    def pow(self, o):
        return _ops.Pow.apply(self, o)

    def neg(self):
        return _ops.Neg.apply(self)

    def matmul(self, o):
        return self.__matmul__(o)

    # comparisons: no gradient
    def _cmp(self, o, f):
        return _wrap(f(self._data, o._data if isinstance(o, Tensor) else o))

    def __eq__(self, o):
        return self._cmp(o, np.equal)

    def __ne__(self, o):
        return self._cmp(o, np.not_equal)

    def __lt__(self, o):
        return self._cmp(o, np.less)

    def __le__(self, o):
        return self._cmp(o, np.less_equal)

    def __gt__(self, o):
        return self._cmp(o, np.greater)

    def __ge__(self, o):
        return self._cmp(o, np.greater_equal)

    def eq(self, o):
        return self._cmp(o, np.equal)

    def ne(self, o):
        return self._cmp(o, np.not_equal)

    def lt(self, o):
        return self._cmp(o, np.less)

    def le(self, o):
        return self._cmp(o, np.less_equal)

    def gt(self, o):
        return self._cmp(o, np.greater)

    def ge(self, o):
        return self._cmp(o, np.greater_equal)

    def __invert__(self):
        return _wrap(~self._data)

    def __and__(self, o):
        return self._cmp(o, np.logical_and if self.dtype == np.bool_ else np.bitwise_and)

    def __or__(self, o):
        return self._cmp(o, np.logical_or if self.dtype == np.bool_ else np.bitwise_or)

    # ---- unary maths ------------------------------------------------------------------------
    def exp(self):
        return _ops.Exp.apply(self)

    def log(self):
        return _ops.Log.apply(self)

    def sqrt(self):
        return _ops.Sqrt.apply(self)

    def abs(self):
        return _ops.Abs.apply(self)

    def clamp(self, min=None, max=None):
        return _m.clamp(self, min, max)

    def clip(self, min=None, max=None):
        return _m.clamp(self, min, max)

    def relu(self):
        return _activation.relu(self)

    def sigmoid(self):
        return _activation.sigmoid(self)

    def tanh(self):
        return _activation.tanh(self)

    def softmax(self, dim=-1):
        return _softmax.softmax(self, dim)

    def log_softmax(self, dim=-1):
        return _softmax.log_softmax(self, dim)

    # ---- reductions -------------------------------------------------------------------------
    def sum(self, dim=None, keepdim=False, dtype=None, axis=None):
        x = self if dtype is None else self.to(dtype)
        if dtype is None and x._data.dtype.kind in "bu" and x._data.dtype.itemsize < 8:
            x = x.to(np.int64)                       # torch sums bool and uint8 in int64
        return _ops.Sum.apply(x, dim if axis is None else axis, keepdim)

    def mean(self, dim=None, keepdim=False, dtype=None, axis=None):
        x = self if dtype is None else self.to(dtype)
        return _ops.Mean.apply(x, dim if axis is None else axis, keepdim)

    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None):
        return _r.var(self, dim if axis is None else axis, unbiased, keepdim, correction=correction)

    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None):
        return _r.std(self, dim if axis is None else axis, unbiased, keepdim, correction=correction)

    def max(self, dim=None, keepdim=False, axis=None):
        """max() -> the largest value; max(dim) -> (values, indices) along dim (PyTorch's named tuple);
        max(other_tensor) -> the element-wise maximum."""
        return self._extreme(_ops.Max, _ops.MaxAlong, _max_result, dim if axis is None else axis, keepdim)

    def min(self, dim=None, keepdim=False, axis=None):
        """min() -> the smallest value; min(dim) -> (values, indices); min(other_tensor) -> element-wise."""
        return self._extreme(_ops.Min, _ops.MinAlong, _min_result, dim if axis is None else axis, keepdim)

    def _extreme(self, full, along, result, dim, keepdim):
        if isinstance(dim, Tensor):          # max(other) is maximum(self, other)
            return (_m.Maximum if full is _ops.Max else _m.Minimum).apply(self, dim)
        if dim is None or isinstance(dim, (tuple, list)):
            return full.apply(self, dim, keepdim)
        return result(*along.apply(self, dim, keepdim))

    def argmax(self, dim=None, keepdim=False, axis=None):
        ax = dim if axis is None else axis
        return _wrap(np.asarray(self._data.argmax(axis=ax, keepdims=keepdim)).astype(np.int64))

    def argmin(self, dim=None, keepdim=False, axis=None):
        ax = dim if axis is None else axis
        return _wrap(np.asarray(self._data.argmin(axis=ax, keepdims=keepdim)).astype(np.int64))

    def norm(self, p="fro", dim=None, keepdim=False, dtype=None):
        return _r.norm(self, p, dim, keepdim, dtype)

    def all(self, dim=None, keepdim=False):
        return _r.reduce_all(self, dim, keepdim)

    def any(self, dim=None, keepdim=False):
        return _r.reduce_any(self, dim, keepdim)

    # ---- shape ------------------------------------------------------------------------------
    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _ops.Reshape.apply(self, shape)

    def view(self, *shape):
        return self.reshape(*shape)

    def view_as(self, other):
        return self.reshape(other.shape)

    def flatten(self, start_dim=0, end_dim=-1):
        s = self._data.shape
        if not s:
            return self.reshape(1)
        a, b = start_dim % len(s), end_dim % len(s)
        n = 1
        for d in s[a:b + 1]:
            n *= d
        return self.reshape(s[:a] + (n,) + s[b + 1:])

    def squeeze(self, dim=None):
        s = self._data.shape
        if dim is None:
            return self.reshape(tuple(d for d in s if d != 1))
        dim = dim % len(s) if s else 0
        if s and s[dim] == 1:
            return self.reshape(s[:dim] + s[dim + 1:])
        return self

    def unsqueeze(self, dim):
        s = self._data.shape
        dim = dim % (len(s) + 1)
        return self.reshape(s[:dim] + (1,) + s[dim:])

    def transpose(self, dim0, dim1):
        p = list(range(self._data.ndim))
        p[dim0], p[dim1] = p[dim1], p[dim0]
        return _ops.Permute.apply(self, tuple(p))

    def t(self):
        if self.ndim > 2:
            raise ValueError(f"t: expects a tensor with <= 2 dimensions, got shape {tuple(self.shape)}")
        return self.T

    def permute(self, *dims):
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = tuple(dims[0])
        return _ops.Permute.apply(self, tuple(dims))

    def expand(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _ops.Expand.apply(self, shape)

    def expand_as(self, other):
        return self.expand(other.shape)

    def __getitem__(self, idx):
        return _ops.Index.apply(self, _ops.index_arrays(idx))

    # ---- the tensor-op breadth: thin bindings to ops_math (_m), ops_reduce (_r), ops_index (_ix) and
    # ops_linalg (_la), which hold the argument checks, the Functions and the docs ----------------------
    def sin(self):
        return _m.unary('sin', self)

    def sin_(self):
        return _m.unary_(self, 'sin')

    def cos(self):
        return _m.unary('cos', self)

    def cos_(self):
        return _m.unary_(self, 'cos')

    def tan(self):
        return _m.unary('tan', self)

    def tan_(self):
        return _m.unary_(self, 'tan')

    def asin(self):
        return _m.unary('asin', self)

    def asin_(self):
        return _m.unary_(self, 'asin')

    def acos(self):
        return _m.unary('acos', self)

    def acos_(self):
        return _m.unary_(self, 'acos')

    def atan(self):
        return _m.unary('atan', self)

    def atan_(self):
        return _m.unary_(self, 'atan')

    def sinh(self):
        return _m.unary('sinh', self)

    def sinh_(self):
        return _m.unary_(self, 'sinh')

    def cosh(self):
        return _m.unary('cosh', self)

    def cosh_(self):
        return _m.unary_(self, 'cosh')

    def asinh(self):
        return _m.unary('asinh', self)

    def asinh_(self):
        return _m.unary_(self, 'asinh')

    def acosh(self):
        return _m.unary('acosh', self)

    def acosh_(self):
        return _m.unary_(self, 'acosh')

    def atanh(self):
        return _m.unary('atanh', self)

    def atanh_(self):
        return _m.unary_(self, 'atanh')

    def log1p(self):
        return _m.unary('log1p', self)

    def log1p_(self):
        return _m.unary_(self, 'log1p')

    def expm1(self):
        return _m.unary('expm1', self)

    def expm1_(self):
        return _m.unary_(self, 'expm1')

    def log2(self):
        return _m.unary('log2', self)

    def log2_(self):
        return _m.unary_(self, 'log2')

    def log10(self):
        return _m.unary('log10', self)

    def log10_(self):
        return _m.unary_(self, 'log10')

    def exp2(self):
        return _m.unary('exp2', self)

    def exp2_(self):
        return _m.unary_(self, 'exp2')

    def rsqrt(self):
        return _m.unary('rsqrt', self)

    def rsqrt_(self):
        return _m.unary_(self, 'rsqrt')

    def reciprocal(self):
        return _m.unary('reciprocal', self)

    def reciprocal_(self):
        return _m.unary_(self, 'reciprocal')

    def square(self):
        return _m.unary('square', self)

    def square_(self):
        return _m.unary_(self, 'square')

    def erf(self):
        return _m.unary('erf', self)

    def erf_(self):
        return _m.unary_(self, 'erf')

    def erfc(self):
        return _m.unary('erfc', self)

    def erfc_(self):
        return _m.unary_(self, 'erfc')

    def erfinv(self):
        return _m.unary('erfinv', self)

    def erfinv_(self):
        return _m.unary_(self, 'erfinv')

    def sinc(self):
        return _m.unary('sinc', self)

    def sinc_(self):
        return _m.unary_(self, 'sinc')

    def deg2rad(self):
        return _m.unary('deg2rad', self)

    def deg2rad_(self):
        return _m.unary_(self, 'deg2rad')

    def rad2deg(self):
        return _m.unary('rad2deg', self)

    def rad2deg_(self):
        return _m.unary_(self, 'rad2deg')

    def sign(self):
        return _m.unary('sign', self)

    def sign_(self):
        return _m.unary_(self, 'sign')

    def sgn(self):
        return _m.unary('sgn', self)

    def sgn_(self):
        return _m.unary_(self, 'sgn')

    def floor(self):
        return _m.unary('floor', self)

    def floor_(self):
        return _m.unary_(self, 'floor')

    def ceil(self):
        return _m.unary('ceil', self)

    def ceil_(self):
        return _m.unary_(self, 'ceil')

    def trunc(self):
        return _m.unary('trunc', self)

    def trunc_(self):
        return _m.unary_(self, 'trunc')

    def frac(self):
        return _m.unary('frac', self)

    def frac_(self):
        return _m.unary_(self, 'frac')

    def positive(self):
        return self

    def arcsin(self):
        return _m.unary('arcsin', self)

    def arcsin_(self):
        return _m.unary_(self, 'arcsin')

    def arccos(self):
        return _m.unary('arccos', self)

    def arccos_(self):
        return _m.unary_(self, 'arccos')

    def arctan(self):
        return _m.unary('arctan', self)

    def arctan_(self):
        return _m.unary_(self, 'arctan')

    def arcsinh(self):
        return _m.unary('arcsinh', self)

    def arcsinh_(self):
        return _m.unary_(self, 'arcsinh')

    def arccosh(self):
        return _m.unary('arccosh', self)

    def arccosh_(self):
        return _m.unary_(self, 'arccosh')

    def arctanh(self):
        return _m.unary('arctanh', self)

    def arctanh_(self):
        return _m.unary_(self, 'arctanh')

    def fix(self):
        return _m.unary('fix', self)

    def fix_(self):
        return _m.unary_(self, 'fix')

    def exp_(self):
        return _m.fn_(self, 'exp')

    def log_(self):
        return _m.fn_(self, 'log')

    def sqrt_(self):
        return _m.fn_(self, 'sqrt')

    def abs_(self):
        return _m.fn_(self, 'abs')

    def neg_(self):
        return _m.fn_(self, 'neg')

    def sigmoid_(self):
        return _m.fn_(self, 'sigmoid')

    def tanh_(self):
        return _m.fn_(self, 'tanh')

    def relu_(self):
        return _m.fn_(self, 'relu')



    def absolute(self):
        return self.abs()

    def negative(self):
        return self.neg()

    def round(self, decimals=0):
        return _m.Round.apply(self, decimals)

    def round_(self, decimals=0):
        return _m.round_(self, decimals)

    def logit(self, eps=None):
        return _m.logit(self, eps)

    def nan_to_num(self, nan=0.0, posinf=None, neginf=None):
        return _m.nan_to_num(self, nan, posinf, neginf)

    def atan2(self, other):
        return _m.binary("atan2", self, other)

    arctan2 = atan2

    def maximum(self, other):
        return _m.binary("maximum", self, other)

    def minimum(self, other):
        return _m.binary("minimum", self, other)

    def fmax(self, other):
        return _m.binary("fmax", self, other)

    def fmin(self, other):
        return _m.binary("fmin", self, other)

    def fmod(self, other):
        return _m.binary("fmod", self, other)

    def remainder(self, other):
        return _m.binary("remainder", self, other)

    def hypot(self, other):
        return _m.binary("hypot", self, other)

    def copysign(self, other):
        return _m.binary("copysign", self, other)

    def xlogy(self, other):
        return _m.binary("xlogy", self, other)

    def logaddexp(self, other):
        return _m.binary("logaddexp", self, other)

    def logaddexp2(self, other):
        return _m.binary("logaddexp2", self, other)

    def floor_divide(self, other):
        return _m.binary("floor_divide", self, other)

    def true_divide(self, other):
        return _ops.Div.apply(self, other)

    def multiply(self, other):
        return _ops.Mul.apply(self, other)

    def divide(self, other, rounding_mode=None):
        return self.div(other, rounding_mode)

    def subtract(self, other, alpha=1):
        return self.sub(other, alpha)

    def atan2_(self, other):
        return _m.binary_(self, "atan2", other)

    def fmod_(self, other):
        return _m.binary_(self, "fmod", other)

    def remainder_(self, other):
        return _m.binary_(self, "remainder", other)

    def hypot_(self, other):
        return _m.binary_(self, "hypot", other)

    def copysign_(self, other):
        return _m.binary_(self, "copysign", other)

    def xlogy_(self, other):
        return _m.binary_(self, "xlogy", other)

    def floor_divide_(self, other):
        return _m.binary_(self, "floor_divide", other)

    def pow_(self, exponent):
        return self._binary_("pow_", _ops.Pow, np.power, exponent)

    def lerp(self, end, weight):
        return _m.lerp(self, end, weight)

    def lerp_(self, end, weight):
        return _m.via_(self, "lerp_", _m.lerp, end, weight)

    def addcmul(self, tensor1, tensor2, value=1):
        return _m.addcmul(self, tensor1, tensor2, value)

    def addcmul_(self, tensor1, tensor2, value=1):
        return _m.via_(self, "addcmul_", _m.addcmul, tensor1, tensor2, value)

    def addcdiv(self, tensor1, tensor2, value=1):
        return _m.addcdiv(self, tensor1, tensor2, value)

    def addcdiv_(self, tensor1, tensor2, value=1):
        return _m.via_(self, "addcdiv_", _m.addcdiv, tensor1, tensor2, value)

    def where(self, condition, other):
        return _m.where(condition, self, other)

    def clamp_min(self, min):
        return _m.clamp(self, min, None)

    def clamp_max(self, max):
        return _m.clamp(self, None, max)

    def __mod__(self, o):
        return _m.binary("remainder", self, o)

    def __rmod__(self, o):
        return _m.BINARY["remainder"].apply(_wrap(np.asarray(o)), self)

    def __floordiv__(self, o):
        return _m.binary("floor_divide", self, o)

    def __rfloordiv__(self, o):
        return _m.BINARY["floor_divide"].apply(_wrap(np.asarray(o)), self)

    def __imod__(self, o):
        return _m.binary_(self, "remainder", o)

    def __ifloordiv__(self, o):
        return _m.binary_(self, "floor_divide", o)

    def __xor__(self, o):
        return self._cmp(o, np.logical_xor if self.dtype == np.bool_ else np.bitwise_xor)

    def __rand__(self, o):
        return self.__and__(o)

    def __ror__(self, o):
        return self.__or__(o)

    def __rxor__(self, o):
        return self.__xor__(o)

    def logical_not(self):
        return _wrap(np.logical_not(self._data))

    def logical_and(self, other):
        return self._cmp(other, np.logical_and)

    def logical_or(self, other):
        return self._cmp(other, np.logical_or)

    def logical_xor(self, other):
        return self._cmp(other, np.logical_xor)

    def bitwise_not(self):
        return _wrap(~self._data)

    def isnan(self):
        return _wrap(xp_of(self._data).isnan(self._data))

    def isinf(self):
        return _wrap(xp_of(self._data).isinf(self._data))

    def isfinite(self):
        return _wrap(xp_of(self._data).isfinite(self._data))

    def isposinf(self):
        return _wrap(xp_of(self._data).isposinf(self._data))

    def isneginf(self):
        return _wrap(xp_of(self._data).isneginf(self._data))

    def signbit(self):
        return _wrap(xp_of(self._data).signbit(self._data))

    def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return _m.isclose(self, other, rtol, atol, equal_nan)

    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return bool(_m.isclose(self, other, rtol, atol, equal_nan)._data.all())

    def equal(self, other):
        return self.shape == other.shape and bool((self._data == other._data).all())

    # reductions, scans, order statistics (ops_reduce)
    def prod(self, dim=None, keepdim=False, dtype=None):
        return _r.prod(self, dim, keepdim, dtype)

    def cumsum(self, dim, dtype=None):
        return _r.cumsum(self, dim, dtype)

    def cumprod(self, dim, dtype=None):
        return _r.cumprod(self, dim, dtype)

    def cumsum_(self, dim, dtype=None):
        return _m.via_(self, "cumsum_", _r.cumsum, dim, dtype)

    def cumprod_(self, dim, dtype=None):
        return _m.via_(self, "cumprod_", _r.cumprod, dim, dtype)

    def cummax(self, dim):
        return _r.cummax(self, dim)

    def cummin(self, dim):
        return _r.cummin(self, dim)

    def logsumexp(self, dim, keepdim=False):
        return _r.logsumexp(self, dim, keepdim)

    def amax(self, dim=(), keepdim=False):
        return _r.amax(self, dim, keepdim)

    def amin(self, dim=(), keepdim=False):
        return _r.amin(self, dim, keepdim)

    def aminmax(self, *, dim=None, keepdim=False):
        return _r.aminmax(self, dim=dim, keepdim=keepdim)

    def count_nonzero(self, dim=None):
        return _r.count_nonzero(self, dim)

    def nonzero(self, *, as_tuple=False):
        return _r.nonzero(self, as_tuple=as_tuple)

    def argwhere(self):
        return _r.argwhere(self)

    def sort(self, dim=-1, descending=False, *, stable=False):
        return _r.sort(self, dim, descending, stable)

    def argsort(self, dim=-1, descending=False, *, stable=False):
        return _r.argsort(self, dim, descending, stable)

    def msort(self):
        return _r.msort(self)

    def topk(self, k, dim=-1, largest=True, sorted=True):
        return _r.topk(self, k, dim, largest, sorted)

    def kthvalue(self, k, dim=-1, keepdim=False):
        return _r.kthvalue(self, k, dim, keepdim)

    def median(self, dim=None, keepdim=False):
        return _r.median(self, dim, keepdim)

    def nanmedian(self, dim=None, keepdim=False):
        return _r.nanmedian(self, dim, keepdim)

    def mode(self, dim=-1, keepdim=False):
        return _r.mode(self, dim, keepdim)

    def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None):
        return _r.unique(self, sorted, return_inverse, return_counts, dim)

    def unique_consecutive(self, return_inverse=False, return_counts=False, dim=None):
        return _r.unique_consecutive(self, return_inverse, return_counts, dim)

    def nansum(self, dim=None, keepdim=False, dtype=None):
        return _r.nansum(self, dim, keepdim, dtype)

    def nanmean(self, dim=None, keepdim=False, dtype=None):
        return _r.nanmean(self, dim, keepdim, dtype)

    def diff(self, n=1, dim=-1, prepend=None, append=None):
        return _r.diff(self, n, dim, prepend, append)

    def trace(self):
        return _r.trace(self)

    # shape, copy and index ops (ops_index)
    def repeat(self, *sizes):
        return _ix.repeat(self, *sizes)

    def tile(self, *dims):
        return _ix.tile(self, dims[0] if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims)

    def repeat_interleave(self, repeats, dim=None, *, output_size=None):
        return _ix.repeat_interleave(self, repeats, dim, output_size=output_size)

    def split(self, split_size, dim=0):
        return _ix.split(self, split_size, dim)

    def chunk(self, chunks, dim=0):
        return _ix.chunk(self, chunks, dim)

    def tensor_split(self, indices_or_sections, dim=0):
        return _ix.tensor_split(self, indices_or_sections, dim)

    def unbind(self, dim=0):
        return _ix.unbind(self, dim)

    def narrow(self, dim, start, length):
        return _ix.narrow(self, dim, start, length)

    def gather(self, dim, index):
        return _ix.gather(self, dim, index)

    def scatter(self, dim, index, src=None, value=None, *, reduce=None):
        return _ix.scatter(self, dim, index, src, value, reduce=reduce)

    def scatter_(self, dim, index, src=None, value=None, *, reduce=None):
        return _m.via_(self, "scatter_", lambda x, s: _ix.scatter(x, dim, index, s, reduce=reduce),
                       value if src is None else src)

    def scatter_add(self, dim, index, src):
        return _ix.scatter_add(self, dim, index, src)

    def scatter_add_(self, dim, index, src):
        return _m.via_(self, "scatter_add_", lambda x, s: _ix.scatter_add(x, dim, index, s), src)

    def index_select(self, dim, index):
        return _ix.index_select(self, dim, index)

    def index_add(self, dim, index, source, *, alpha=1):
        return _ix.index_add(self, dim, index, source, alpha=alpha)

    def index_add_(self, dim, index, source, *, alpha=1):
        return _m.via_(self, "index_add_", lambda x, s: _ix.index_add(x, dim, index, s, alpha=alpha), source)

    def index_copy(self, dim, index, source):
        return _ix.index_copy(self, dim, index, source)

    def index_copy_(self, dim, index, source):
        return _m.via_(self, "index_copy_", lambda x, s: _ix.index_copy(x, dim, index, s), source)

    def index_fill(self, dim, index, value):
        return _ix.index_fill(self, dim, index, value)

    def index_fill_(self, dim, index, value):
        return _m.via_(self, "index_fill_", lambda x, v: _ix.index_fill(x, dim, index, v), value)

    def masked_fill(self, mask, value):
        return _ix.masked_fill(self, mask, value)

    def masked_fill_(self, mask, value):
        return _m.via_(self, "masked_fill_", lambda x, v: _ix.masked_fill(x, mask, v), value)

    def masked_select(self, mask):
        return _ix.masked_select(self, mask)

    def masked_scatter(self, mask, source):
        return _ix.masked_scatter(self, mask, source)

    def masked_scatter_(self, mask, source):
        return _m.via_(self, "masked_scatter_", lambda x, s: _ix.masked_scatter(x, mask, s), source)

    def take(self, index):
        return _ix.take(self, index)

    def take_along_dim(self, indices, dim=None):
        return _ix.take_along_dim(self, indices, dim)

    def flip(self, *dims):
        return _ix.flip(self, *dims)

    def fliplr(self):
        return _ix.fliplr(self)

    def flipud(self):
        return _ix.flipud(self)

    def roll(self, shifts, dims=None):
        return _ix.roll(self, shifts, dims)

    def rot90(self, k=1, dims=(0, 1)):
        return _ix.rot90(self, k, dims)

    def tril(self, diagonal=0):
        return _ix.tril(self, diagonal)

    def triu(self, diagonal=0):
        return _ix.triu(self, diagonal)

    def tril_(self, diagonal=0):
        return _m.via_(self, "tril_", _ix.tril, diagonal)

    def triu_(self, diagonal=0):
        return _m.via_(self, "triu_", _ix.triu, diagonal)

    def diag(self, diagonal=0):
        return _ix.diag(self, diagonal)

    def diagonal(self, offset=0, dim1=0, dim2=1):
        return _ix.diagonal(self, offset, dim1, dim2)

    def diag_embed(self, offset=0, dim1=-2, dim2=-1):
        return _ix.diag_embed(self, offset, dim1, dim2)

    def movedim(self, source, destination):
        return _ix.movedim(self, source, destination)

    moveaxis = movedim

    def swapaxes(self, axis0, axis1):
        return _ix.swapaxes(self, axis0, axis1)

    swapdims = swapaxes

    def unflatten(self, dim, sizes):
        return _ix.unflatten(self, dim, sizes)

    def broadcast_to(self, size):
        return _ix.broadcast_to(self, size)

    # matrix products (ops_linalg)
    def mm(self, mat2):
        return _la.mm(self, mat2)

    def bmm(self, mat2):
        return _la.bmm(self, mat2)

    def mv(self, vec):
        return _la.mv(self, vec)

    def dot(self, other):
        return _la.dot(self, other)

    def vdot(self, other):
        return _la.dot(self, other)

    def inner(self, other):
        return _la.inner(self, other)

    def outer(self, vec2):
        return _la.outer(self, vec2)

    ger = outer

    def addmm(self, mat1, mat2, *, beta=1, alpha=1):
        return _la.addmm(self, mat1, mat2, beta=beta, alpha=alpha)

    def addmv(self, mat, vec, *, beta=1, alpha=1):
        return _la.addmv(self, mat, vec, beta=beta, alpha=alpha)

    def addr(self, vec1, vec2, *, beta=1, alpha=1):
        return _la.addr(self, vec1, vec2, beta=beta, alpha=alpha)

    def baddbmm(self, batch1, batch2, *, beta=1, alpha=1):
        return _la.baddbmm(self, batch1, batch2, beta=beta, alpha=alpha)

    def addbmm(self, batch1, batch2, *, beta=1, alpha=1):
        return _la.addbmm(self, batch1, batch2, beta=beta, alpha=alpha)


# The ONNX export tracer turns the bare-ufunc path off while it traces: it must see every op as a Function.
_plain_ops = True


_GRAD_PAIRS = ((( False, False), (False, True)), ((True, False), (True, True)))   # needs_input_grad[ra][rb]


def _binary(a: Tensor, o, cls, reflected):
    """``a op o`` (``o op a`` when reflected), op the ufunc ``cls._f`` of a binary Function, in the
    common case where NumPy's result is PyTorch's: a float tensor with a tensor of the same dtype, or
    with a Python number. With no operand requiring grad (or under no_grad) it is the bare ufunc.
    Otherwise the node is recorded right here, exactly as ``Function.apply`` and ``_record`` record
    it (needs_input_grad, edges, the saved values through ``cls._save``, the version snapshot), but
    without apply's general argument handling: this is the per-call cost of ``a + b`` in a graph.
    None in every other case (promotion, CuPy, a broadcast error, anomaly mode, the ONNX tracer,
    which must see each op as a Function): the caller then goes through ``cls.apply``."""
    if not _plain_ops:
        return None
    x = a._data
    if type(x) is not _ndarray or x.dtype.kind != "f":
        return None
    ra = a.requires_grad
    if isinstance(o, Tensor):
        b: Tensor = o
        y = b._data
        if type(y) is not _ndarray or y.dtype != x.dtype:
            return None
        rb = b.requires_grad
    elif type(o) is float or type(o) is int:
        y = o
        rb = False
    else:
        return None
    grad = (ra or rb) and STATE.grad_enabled
    if grad and STATE.anomaly:
        return None                  # apply records the forward's stack for the backward's error
    f = cls._f
    try:
        out: Tensor = _wrap(f(y, x) if reflected else f(x, y))
    except ValueError:
        return None                  # apply raises the message that names the shapes
    if not grad:
        return out
    ctx: Function = Function.__new__(cls)
    if reflected:
        args = (o, a)
        ctx.needs_input_grad = _GRAD_PAIRS[rb][ra]
        ctx.next_edges = [_edge(o) if rb else None, _edge(a) if ra else None]
    else:
        args = (a, o)
        ctx.needs_input_grad = _GRAD_PAIRS[ra][rb]
        ctx.next_edges = [_edge(a) if ra else None, _edge(o) if rb else None]
    ctx.n_outputs = 1
    ctx._retained = None
    ctx._tensor_hooks = None
    out.requires_grad = True
    out._grad_fn = ctx
    save = cls._save
    if save is None:                 # Add, Sub: backward needs only the input shapes, which the edges hold
        ctx._saved = ()
    else:
        if reflected:
            save(ctx, y, x)
        else:
            save(ctx, x, y)
        ctx._saved = _snapshot(ctx, args, (out,))
    return out


def _check_cast(what, src, dst):
    """An in-place op may not lower a tensor's category (PyTorch: a float result into an int tensor raises)."""
    if _dtype.category(src) > _dtype.category(dst):
        raise RuntimeError(f"{what}: result type {src} can't be cast to the desired output type {dst}")


_NO_GRAD = tuple((False,) * n for n in range(16))     # needs_input_grad when nothing needs a gradient


def _camel(name):
    return "".join(p[:1].upper() + p[1:] for p in name.split("_"))


class Function:
    """Base class of every differentiable op (see the module docstring); users subclass it too."""
    __slots__ = ("needs_input_grad", "next_edges", "n_outputs", "_saved", "_retained", "_tensor_hooks",
                 "forward_stack", "__dict__", "__weakref__")
    name = None           # forward op name in error messages; defaults to the class name
    is_view = False       # output 0 may share input 0's storage (reshape, permute, slicing, expand)

    @classmethod
    def apply(cls, *args, **kwargs):
        ctx: Function = Function.__new__(cls)
        enabled = STATE.grad_enabled
        n = len(args)
        call = [ctx]                     # forward's arguments: ctx, then the inputs with Tensors unwrapped
        needs = None
        tensors = False
        for i in range(n):
            a = args[i]
            if isinstance(a, Tensor):
                t: Tensor = a
                call.append(t._data)
                tensors = True
                if enabled and t.requires_grad:
                    if needs is None:
                        needs = [False] * n
                    needs[i] = True
            else:
                call.append(a)
        if not tensors:
            raise TypeError(f"{cls.op_name()}: input must be a pyengine.Tensor, got "
                            f"{type(args[0]).__name__ if args else 'no arguments'}")
        ctx.needs_input_grad = _NO_GRAD[n] if needs is None and n < 16 else tuple(needs or [False] * n)
        out = cls.forward(*call, **kwargs)
        if type(out) is tuple:
            outs = tuple([_wrap(o) for o in out])
            if cls.is_view:
                _share_storage(args[0], outs[0])
            if needs is not None:
                _record(ctx, args, needs, outs)
            return outs
        y: Tensor = _wrap(out)
        if cls.is_view:
            _share_storage(args[0], y)
        if needs is not None:
            _record(ctx, args, needs, (y,))
        return y

    def save_for_backward(self, *arrays):
        """Keeps arrays for backward (read back as ``ctx.saved_tensors``); checked by the version counters
        like any array the ctx holds."""
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

    @property
    def backward_name(self):
        """The grad_fn's name as PyTorch prints it: <MulBackward0>, <SoftClipBackward> for a user op."""
        n = getattr(self, "torch_name", None)
        if n:
            return n
        if type(self).name is None:
            return type(self).__name__ + "Backward"
        return _camel(type(self).name) + "Backward0"

    @property
    def next_functions(self):
        """((node or AccumulateGrad or None, output index), ...) per input, as PyTorch's grad_fn has."""
        edges = getattr(self, "next_edges", None) or ()
        return tuple((None, 0) if e is None else
                     ((_AccumulateGrad(e[0]), 0) if isinstance(e[0], Tensor) else (e[0], e[1])) for e in edges)

    def __repr__(self):
        return f"<{self.backward_name} object at {hex(id(self))}>"


class _AccumulateGrad:
    """What ``next_functions`` shows for a leaf: the node that would accumulate its gradient."""
    __slots__ = ("variable",)
    next_functions = ()

    def __init__(self, variable):
        self.variable = variable

    def __repr__(self):
        return f"<AccumulateGrad object at {hex(id(self))}>"


def _share_storage(src, out):
    """out (a result of a view op) shares src's version counter and base when it shares src's memory."""
    if isinstance(src, Tensor) and _owner(out._data) is _owner(src._data):
        out._version_counter = src._counter()
        out._base = src._base if src._base is not None else src


def _edge(a: Tensor):
    """The graph edge to input a: (its producer node and output index, or a itself for a leaf, 0),
    then its shape and dtype, against which the engine checks the gradient backward returns."""
    d = a._data
    fn = a._grad_fn
    return (a, 0, d.shape, d.dtype) if fn is None else (fn, a._output_nr, d.shape, d.dtype)


def _record(ctx: Function, args, needs, outs):
    """Makes ctx the graph node of outs: edges, outputs' grad_fn, and the version snapshot."""
    ctx.next_edges = [_edge(args[i]) if needs[i] else None for i in range(len(args))]
    ctx.n_outputs = len(outs)
    ctx._retained = None
    ctx._tensor_hooks = None
    for i in range(len(outs)):
        t: Tensor = outs[i]
        if t._data.dtype.kind in "fc":
            t.requires_grad = True
            t._grad_fn = ctx
            t._output_nr = i
    ctx._saved = _snapshot(ctx, args, outs)
    if STATE.anomaly:               # remember where the forward ran, for the backward's error
        ctx.forward_stack = traceback.extract_stack()   # the engine reports the innermost frame outside pyengine


_ARRAY_TYPES = {_ndarray}      # types known to be arrays (NumPy, CuPy, subclasses) ...
_OTHER_TYPES = set()           # ... and known not to be: one set lookup per attribute


def _is_array(v):
    tp = type(v)
    if tp in _ARRAY_TYPES:
        return True
    if tp in _OTHER_TYPES:
        return False
    if isinstance(v, _ndarray) or hasattr(tp, "__cuda_array_interface__"):
        _ARRAY_TYPES.add(tp)
        return True
    _OTHER_TYPES.add(tp)
    return False


def _held_arrays(ctx):
    """The arrays an attribute of ctx holds (itself, or inside a tuple/list attribute)."""
    held = []
    for v in vars(ctx).values():
        if type(v) is tuple or type(v) is list:
            for s in v:
                if _is_array(s):
                    held.append(s)
        elif _is_array(v):
            held.append(v)
    return held


def _snapshot(ctx, args, outs):
    """(counter, version, 'input'/'output', index, shape) for each input or output whose storage an
    array held by ctx is, or is a view of."""
    held = _held_arrays(ctx)
    if not held:
        return ()
    owners = {}
    for i in range(len(args)):
        a = args[i]
        if isinstance(a, Tensor):
            owners.setdefault(id(_owner(a._data)), ("input", i, a))
    for i in range(len(outs)):
        owners.setdefault(id(_owner(outs[i]._data)), ("output", i, outs[i]))
    saved = []
    for s in held:
        hit = owners.pop(id(_owner(s)), None)
        if hit is not None:
            kind, i, t = hit
            vc = t._counter()
            saved.append((vc, vc.version, kind, i, t._data.shape))
    return tuple(saved)


# The ops Tensor's methods call are Functions, defined after (and on top of) this module; bound here,
# at the end, so that either module may be imported first.
from . import engine as _engine  # noqa: E402
from . import ops as _ops  # noqa: E402
from . import activation as _activation  # noqa: E402
from . import softmax as _softmax  # noqa: E402
from . import ops_math as _m  # noqa: E402
from . import ops_reduce as _r  # noqa: E402
from . import ops_index as _ix  # noqa: E402
from . import ops_linalg as _la  # noqa: E402
