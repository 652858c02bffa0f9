"""Tensor: an n-d array (NumPy on "cpu", CuPy on "cuda") with autograd, and the creation functions.

Storage is the attribute ``_data`` (no copy on wrap). A tensor produced by a recorded op carries the
producing node in ``_grad_fn`` (and which of its outputs it is in ``_output_nr``); leaves have
``_grad_fn`` None. ``backward`` hands the roots to ``autograd.engine.run_backward``, the only code
that writes ``.grad``. Ops are the Functions of ``autograd.ops`` (NumPy expressions, matmul through
gemm) and of ``nn.functional`` (the device's kernels).
"""
from __future__ import annotations

import numbers

import numpy as np

from .autograd import ops as _ops
from .autograd.device import array_module, device_of_array, normalize_device
from .autograd.grad_mode import STATE, no_grad

__all__ = ["Tensor", "tensor", "as_tensor", "from_numpy", "from_dlpack", "zeros", "ones", "full", "empty",
           "arange", "linspace", "eye", "rand", "randn", "randint", "zeros_like", "ones_like", "full_like",
           "empty_like", "rand_like", "randn_like", "cat", "concatenate", "stack", "where", "manual_seed",
           "default_generator", "float32", "float64", "float16", "int64", "int32", "uint8", "bool_",
           "get_default_dtype", "set_default_dtype", "is_tensor"]

float32, float64, float16 = np.float32, np.float64, np.float16
int64, int32, uint8, bool_ = np.int64, np.int32, np.uint8, np.bool_

_DTYPE_NAMES = {"float": np.float32, "float32": np.float32, "double": np.float64, "float64": np.float64,
                "half": np.float16, "float16": np.float16, "long": np.int64, "int64": np.int64,
                "int": np.int32, "int32": np.int32, "uint8": np.uint8, "bool": np.bool_}
_default_dtype = np.dtype(np.float32)


def get_default_dtype():
    return _default_dtype


def set_default_dtype(dtype):
    global _default_dtype
    _default_dtype = _as_dtype(dtype)


def _as_dtype(dtype):
    if dtype is None:
        return None
    if isinstance(dtype, str):
        d = _DTYPE_NAMES.get(dtype.replace("torch.", ""))
        if d is None:
            raise TypeError(f"unknown dtype {dtype!r}")
        return np.dtype(d)
    if hasattr(dtype, "is_floating_point") and not isinstance(dtype, np.dtype):  # torch.dtype
        return _as_dtype(str(dtype))
    return np.dtype(dtype)


class _Generator:
    """The global random state: initialisation, rand/randn, shuffling and dropout seeds draw from it."""

    def __init__(self, seed=None):
        self.manual_seed(seed)

    def manual_seed(self, seed):
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        return self

    def next_seed(self) -> int:
        return int(self.rng.integers(0, 2**63 - 1))


default_generator = _Generator()


def manual_seed(seed: int):
    """Seeds initialisation, rand/randn/randint, dropout and data shuffling."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"manual_seed: seed must be an int, got {type(seed).__name__}")
    return default_generator.manual_seed(int(seed))


def _wrap(a):
    """A new graph-less Tensor around array a (no copy)."""
    t = Tensor.__new__(Tensor)
    if type(a) is not np.ndarray and isinstance(a, np.generic):
        a = np.asarray(a)            # NumPy returns scalars from ufuncs on 0-d arrays; keep arrays
    t._data = a
    t.grad = None
    t.requires_grad = False
    t._grad_fn = None
    t._output_nr = 0
    t._device = "cpu" if type(a) is np.ndarray else device_of_array(a)
    return t


from .autograd import function as _function  # noqa: E402


def _root_grad(t, g):
    if g is None:
        if t._data.size != 1:
            raise RuntimeError(f"backward: grad can be implied only for a single-element output, "
                               f"got shape {tuple(t.shape)}; pass a gradient of that shape")
        return np.ones_like(t._data)
    g = g._data if isinstance(g, Tensor) else np.asarray(g, dtype=t._data.dtype)
    if g.shape != t._data.shape:
        raise ValueError(f"backward: gradient has shape {tuple(g.shape)} but the tensor has shape "
                         f"{tuple(t.shape)}")
    return g


def _to_array(data, dtype):
    if isinstance(data, Tensor):
        a = data._data
        return a.astype(dtype) if dtype is not None and a.dtype != dtype else a.copy()
    if hasattr(data, "__cuda_array_interface__") and hasattr(data, "astype"):
        return data.astype(dtype) if dtype is not None else data.copy()
    if dtype is None:
        a = np.array(data)
        if a.dtype == np.float64 and not isinstance(data, np.ndarray) and not isinstance(data, np.generic):
            a = a.astype(_default_dtype)   # Python floats become the default dtype, as in torch
        elif a.dtype.kind in "iu" and not isinstance(data, (np.ndarray, np.generic)):
            a = a.astype(np.int64)
        elif a.dtype.kind not in "fiub":
            raise TypeError(f"tensor: cannot make a tensor from data of dtype {a.dtype}")
        return a
    return np.array(data, dtype=dtype)


class Tensor:
    __slots__ = ("_data", "grad", "requires_grad", "_grad_fn", "_output_nr", "_device", "__weakref__")
    __array_ufunc__ = None        # NumPy scalars on the left defer to our reflected operators
    __array_priority__ = 1000

    def __init__(self, data, dtype=None, device=None, requires_grad=False):
        a = _to_array(data, _as_dtype(dtype))
        self._data = a
        self.grad = None
        self._grad_fn = None
        self._output_nr = 0
        self._device = device_of_array(a)
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)
        if device is not None and normalize_device(device) != self._device:
            self._data = self.to(device)._data
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
    def data(self):
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
            extra.append(f"grad_fn=<{self._grad_fn.op_name()}>")
        elif self.requires_grad:
            extra.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extra) + ")"

    __hash__ = object.__hash__

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
        from .autograd.engine import run_backward
        run_backward([self], [_root_grad(self, gradient)], retain_graph)

    def detach(self):
        return _wrap(self._data)

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
        self._grad_fn.__dict__.setdefault("retained", {})[self._output_nr] = self

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
                out = _ToDevice.apply(out, dev)
        if dtype is not None:
            d = _as_dtype(dtype)
            if d != out._data.dtype:
                out = _Cast.apply(out, d)
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
        return _Clone.apply(self)

    def contiguous(self):
        if self._data.flags.c_contiguous:
            return self
        return _Clone.apply(self)

    def is_contiguous(self):
        return bool(self._data.flags.c_contiguous)

    # ---- in-place (outside autograd: for optimizers, init and users under no_grad) -------------
    def _check_inplace(self, what):
        if self.requires_grad and STATE.grad_enabled and self._grad_fn is None:
            raise RuntimeError(f"{what}: a leaf tensor that requires grad is used in an in-place "
                               "operation; wrap it in pyengine.no_grad()")

    def zero_(self):
        self._check_inplace("zero_")
        self._data[...] = 0
        return self

    def fill_(self, value):
        self._check_inplace("fill_")
        self._data[...] = value
        return self

    def copy_(self, src):
        self._check_inplace("copy_")
        s = src._data if isinstance(src, Tensor) else np.asarray(src)
        try:
            np.copyto(self._data, np.broadcast_to(s, self._data.shape), casting="unsafe")
        except ValueError:
            raise ValueError(f"copy_: source of shape {tuple(s.shape)} does not broadcast to "
                             f"{tuple(self.shape)}") from None
        return self

    def _inplace(self, what, other, f):
        self._check_inplace(what)
        o = other._data if isinstance(other, Tensor) else other
        f(self._data, o, out=self._data, casting="unsafe")
        return self

    def add_(self, other, alpha=1):
        if alpha != 1:
            other = other * alpha
        return self._inplace("add_", other, np.add)

    def sub_(self, other, alpha=1):
        if alpha != 1:
            other = other * alpha
        return self._inplace("sub_", other, np.subtract)

    def mul_(self, other):
        return self._inplace("mul_", other, np.multiply)

    def div_(self, other):
        return self._inplace("div_", other, np.divide)

    def clamp_(self, min=None, max=None):
        self._check_inplace("clamp_")
        np.clip(self._data, min, max, out=self._data)
        return self

    def uniform_(self, a=0.0, b=1.0):
        self._check_inplace("uniform_")
        self._data[...] = default_generator.rng.uniform(a, b, self._data.shape)
        return self

    def normal_(self, mean=0.0, std=1.0):
        self._check_inplace("normal_")
        self._data[...] = default_generator.rng.normal(mean, std, self._data.shape)
        return self

    def __setitem__(self, idx, value):
        self._check_inplace("__setitem__")
        if self._grad_fn is not None and STATE.grad_enabled:
            raise RuntimeError("__setitem__ on a tensor that is part of a graph is not supported")
        self._data[_ops._index_arrays(idx)] = value._data if isinstance(value, Tensor) else value

    # ---- arithmetic -------------------------------------------------------------------------
    def __add__(self, o):
        return _ops.Add.apply(self, o)

    def __radd__(self, o):
        return _ops.Add.apply(o, self)

    def __sub__(self, o):
        return _ops.Sub.apply(self, o)

    def __rsub__(self, o):
        return _ops.Sub.apply(o, self)

    def __mul__(self, o):
        return _ops.Mul.apply(self, o)

    def __rmul__(self, o):
        return _ops.Mul.apply(o, self)

    def __truediv__(self, o):
        return _ops.Div.apply(self, o)

    def __rtruediv__(self, o):
        return _ops.Div.apply(o, self)

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

    def __iadd__(self, o):
        if self._grad_fn is not None and STATE.grad_enabled:
            return self + o          # a graph node: recorded out of place
        return self._inplace("__iadd__", o, np.add)

    def __isub__(self, o):
        if self._grad_fn is not None and STATE.grad_enabled:
            return self - o          # a graph node: recorded out of place
        return self._inplace("__isub__", o, np.subtract)

    def __imul__(self, o):
        if self._grad_fn is not None and STATE.grad_enabled:
            return self * o          # a graph node: recorded out of place
        return self._inplace("__imul__", o, np.multiply)

    def __itruediv__(self, o):
        if self._grad_fn is not None and STATE.grad_enabled:
            return self / o          # a graph node: recorded out of place
        return self._inplace("__itruediv__", o, np.divide)

    add = __add__
    sub = __sub__
    mul = __mul__
    div = __truediv__
    pow = __pow__
    neg = __neg__

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

    eq, ne, lt, le, gt, ge = __eq__, __ne__, __lt__, __le__, __gt__, __ge__

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
        return _ops.Clamp.apply(self, min, max)

    clip = clamp

    def relu(self):
        from .nn import functional as F
        return F.relu(self)

    def sigmoid(self):
        from .nn import functional as F
        return F.sigmoid(self)

    def tanh(self):
        from .nn import functional as F
        return F.tanh(self)

    def softmax(self, dim=-1):
        from .nn import functional as F
        return F.softmax(self, dim)

    def log_softmax(self, dim=-1):
        from .nn import functional as F
        return F.log_softmax(self, dim)

    # ---- reductions -------------------------------------------------------------------------
    def sum(self, dim=None, keepdim=False, axis=None):
        return _ops.Sum.apply(self, dim if axis is None else axis, keepdim)

    def mean(self, dim=None, keepdim=False, axis=None):
        return _ops.Mean.apply(self, dim if axis is None else axis, keepdim)

    def var(self, dim=None, keepdim=False, unbiased=True, axis=None, correction=None):
        c = (1 if unbiased else 0) if correction is None else correction
        return _ops.Var.apply(self, dim if axis is None else axis, keepdim, c)

    def std(self, dim=None, keepdim=False, unbiased=True, axis=None):
        return self.var(dim, keepdim, unbiased, axis).sqrt()

    def max(self, dim=None, keepdim=False, axis=None):
        return _ops.Max.apply(self, dim if axis is None else axis, keepdim)

    def min(self, dim=None, keepdim=False, axis=None):
        return _ops.Min.apply(self, dim if axis is None else axis, keepdim)

    def argmax(self, dim=None, keepdim=False, axis=None):
        ax = dim if axis is None else axis
        return _wrap(np.asarray(self._data.argmax(axis=ax, keepdims=keepdim)).astype(np.int64))

    def argmin(self, dim=None, keepdim=False, axis=None):
        ax = dim if axis is None else axis
        return _wrap(np.asarray(self._data.argmin(axis=ax, keepdims=keepdim)).astype(np.int64))

    def norm(self, p=2):
        if p == 2:
            return (self * self).sum().sqrt()
        return (self.abs() ** p).sum() ** (1.0 / p)

    def all(self):
        return _wrap(np.asarray(self._data.all()))

    def any(self):
        return _wrap(np.asarray(self._data.any()))

    # ---- shape ------------------------------------------------------------------------------
    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _ops.Reshape.apply(self, shape)

    view = reshape

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
        return _ops.Index.apply(self, _ops._index_arrays(idx))


_function.Tensor = Tensor
_function._wrap = _wrap


class _Clone(_ops.Function):
    name = "clone"

    @staticmethod
    def forward(ctx, a):
        return a.copy()

    @staticmethod
    def backward(ctx, g):
        return g


class _Cast(_ops.Function):
    name = "to"

    @staticmethod
    def forward(ctx, a, dtype):
        ctx.src = a.dtype
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        return g.astype(ctx.src) if ctx.src.kind == "f" else None


class _ToDevice(_ops.Function):
    name = "to_device"

    @staticmethod
    def forward(ctx, a, device):
        ctx.src = device_of_array(a)
        return _move(a, device)

    @staticmethod
    def backward(ctx, g):
        return _move(g, ctx.src)


def _move(a, device):
    if device == "cpu":
        return a.get() if hasattr(a, "get") and not isinstance(a, np.ndarray) else a
    return array_module(device).asarray(a)


# ---- creation ---------------------------------------------------------------------------------
def _finish(a, device, requires_grad):
    t = _wrap(a)
    if device is not None:
        dev = normalize_device(device)
        if dev != "cpu":
            t = _wrap(_move(a, dev))
    if requires_grad:
        t.requires_grad_(True)
    return t


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new tensor holding a copy of data (Python numbers/lists -> float32/int64/bool as in torch)."""
    return _finish(_to_array(data, _as_dtype(dtype)), device, requires_grad)


def as_tensor(data, dtype=None, device=None):
    if isinstance(data, Tensor) and dtype is None:
        return data
    if isinstance(data, np.ndarray) and (dtype is None or np.dtype(_as_dtype(dtype)) == data.dtype):
        return _finish(data, device, False)
    return tensor(data, dtype, device)


def is_tensor(x):
    return isinstance(x, Tensor)


def from_numpy(a):
    """A tensor sharing memory with the NumPy array a."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"from_numpy: expected numpy.ndarray, got {type(a).__name__}")
    return _wrap(a)


def from_dlpack(obj):
    """Zero-copy import from any DLPack producer (NumPy, PyTorch, CuPy, JAX...)."""
    dev = obj.__dlpack_device__()[0] if hasattr(obj, "__dlpack_device__") else 1
    if dev == 1:   # kDLCPU
        return _wrap(np.from_dlpack(obj))
    return _wrap(array_module("cuda").from_dlpack(obj))


def _shape_arg(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    return tuple(int(s) for s in size)


def _dt(dtype):
    return _default_dtype if dtype is None else _as_dtype(dtype)


def zeros(*size, dtype=None, device=None, requires_grad=False):
    return _finish(np.zeros(_shape_arg(size), _dt(dtype)), device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False):
    return _finish(np.ones(_shape_arg(size), _dt(dtype)), device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False):
    return _finish(np.empty(_shape_arg(size), _dt(dtype)), device, requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    if dtype is None and isinstance(fill_value, bool):
        dtype = np.bool_
    elif dtype is None and isinstance(fill_value, numbers.Integral):
        dtype = np.int64
    return _finish(np.full(_shape_arg((size,)), fill_value, _dt(dtype)), device, requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    return _finish(np.eye(n, m, dtype=_dt(dtype)), device, requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    if end is None:
        start, end = 0, start
    ints = all(isinstance(v, numbers.Integral) for v in (start, end, step))
    d = _as_dtype(dtype) if dtype is not None else (np.dtype(np.int64) if ints else _default_dtype)
    return _finish(np.arange(start, end, step).astype(d), device, requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    return _finish(np.linspace(start, end, steps).astype(_dt(dtype)), device, requires_grad)


def rand(*size, dtype=None, device=None, requires_grad=False, generator=None):
    g = (generator or default_generator).rng
    return _finish(g.random(_shape_arg(size)).astype(_dt(dtype)), device, requires_grad)


def randn(*size, dtype=None, device=None, requires_grad=False, generator=None):
    g = (generator or default_generator).rng
    return _finish(g.standard_normal(_shape_arg(size)).astype(_dt(dtype)), device, requires_grad)


def randint(low, high=None, size=(), dtype=None, device=None, generator=None):
    if high is None:
        low, high = 0, low
    g = (generator or default_generator).rng
    d = np.int64 if dtype is None else _as_dtype(dtype)
    return _finish(g.integers(low, high, size=tuple(size)).astype(d), device, False)


def _like(fn, t, dtype, device, requires_grad):
    return fn(t.shape, dtype=t.dtype if dtype is None else dtype, device=t.device if device is None else device,
              requires_grad=requires_grad)


def zeros_like(t, dtype=None, device=None, requires_grad=False):
    return _like(zeros, t, dtype, device, requires_grad)


def ones_like(t, dtype=None, device=None, requires_grad=False):
    return _like(ones, t, dtype, device, requires_grad)


def empty_like(t, dtype=None, device=None, requires_grad=False):
    return _like(empty, t, dtype, device, requires_grad)


def full_like(t, fill_value, dtype=None, device=None, requires_grad=False):
    return full(t.shape, fill_value, dtype=t.dtype if dtype is None else dtype,
                device=t.device if device is None else device, requires_grad=requires_grad)


def rand_like(t, dtype=None, device=None, requires_grad=False):
    return _like(rand, t, dtype, device, requires_grad)


def randn_like(t, dtype=None, device=None, requires_grad=False):
    return _like(randn, t, dtype, device, requires_grad)


def _tensors(seq, fn):
    seq = list(seq)
    if not seq:
        raise ValueError(f"{fn}: expected a non-empty sequence of tensors")
    return [s if isinstance(s, Tensor) else tensor(s) for s in seq]


def cat(tensors, dim=0, axis=None):
    return _ops.Cat.apply(*_tensors(tensors, "cat"), axis=dim if axis is None else axis)


concatenate = cat


def stack(tensors, dim=0, axis=None):
    return _ops.Stack.apply(*_tensors(tensors, "stack"), axis=dim if axis is None else axis)


def where(condition, x, y):
    c = condition._data if isinstance(condition, Tensor) else np.asarray(condition)
    return _ops.Where.apply(c, x, y)



