"""The Tensor ops as Functions: arithmetic with broadcasting and PyTorch's type promotion, unary maths,
reductions, shape ops and indexing, cat/stack/where, copies and casts, the in-place writers, and
matmul, which goes through the device's gemm.

Every backward returns gradients in its input's shape: a broadcast input gets its gradient summed over
the broadcast axes (``unbroadcast``). Each forward keeps on ctx only what its backward needs (shapes
rather than arrays where shapes suffice; an operand only when the other operand's gradient needs it),
because every array a ctx holds is watched by the version counters: holding more would make an
in-place change that cannot affect the gradient raise, as it does not in PyTorch.
"""
from __future__ import annotations

import numpy as np

from . import dtype as _dtype
from .core import Function, Tensor
from .core import _move as move
from .device import device_of_array, xp_of

_ndarray = np.ndarray


def unbroadcast(g, shape):
    """Sums g over the axes along which an input of ``shape`` was broadcast to g.shape."""
    if g.shape == shape:
        return g
    nd = g.ndim - len(shape)
    if nd > 0:
        g = g.sum(axis=tuple(range(nd)))
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


def _shape(x):
    return getattr(x, "shape", ())


def _broadcast_error(op, a, b):
    return ValueError(f"{op}: shapes {tuple(_shape(a))} and {tuple(_shape(b))} cannot be broadcast together")


def _promote(cls, a, b):
    """Operands cast to PyTorch's result dtype (``dtype.result_type``); Python numbers stay numbers (NumPy
    treats them as weak, so they no longer change the dtype). True division of integers gives the
    default float dtype."""
    if isinstance(a, np.generic):
        a = a.item()
    if isinstance(b, np.generic):
        b = b.item()
    da, db = getattr(a, "dtype", None), getattr(b, "dtype", None)
    if da is not None and db is not None and type(a) is not type(b) and device_of_array(a) != device_of_array(b):
        raise ValueError(f"{cls.name}: operand {tuple(a.shape)} is on {device_of_array(a)} but operand "
                         f"{tuple(b.shape)} is on {device_of_array(b)}")
    target = _dtype.result_type(a, b)
    if cls.true_division and target.kind in "biu":
        target = _dtype.get_default_dtype()
    if da is not None and da != target:
        a = a.astype(target)
    if db is not None and db != target:
        b = b.astype(target)
    return a, b


def _operands(cls, a, b):
    """a, b ready for the ufunc. The common cases need no promotion: two arrays of one dtype (no
    integer true division), a float array with a Python number."""
    if type(a) is _ndarray:
        if type(b) is _ndarray:
            if a.dtype == b.dtype and not (cls.true_division and a.dtype.kind != "f"):
                return a, b
        elif a.dtype.kind == "f" and (type(b) is float or type(b) is int):
            return a, b
    elif type(b) is _ndarray and b.dtype.kind == "f" and (type(a) is float or type(a) is int):
        return a, b
    return _promote(cls, a, b)


class _Binary(Function):
    true_division = False

    @classmethod
    def forward(cls, ctx, a, b):
        a, b = _operands(cls, a, b)
        if cls._save is not None:
            cls._save(ctx, a, b)
        try:
            return cls._f(a, b)
        except ValueError:
            raise _broadcast_error(cls.name, a, b) from None


def _input_shape(ctx, i):
    """The shape of input i, which needs a gradient: its graph edge holds it (for the engine's check)."""
    return ctx.next_edges[i][2]


class Add(_Binary):
    name = "add"
    _f = staticmethod(np.add)
    _save = None            # nothing: backward needs only the input shapes, which the graph edges hold

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        return (unbroadcast(g, _input_shape(ctx, 0)) if n[0] else None,
                unbroadcast(g, _input_shape(ctx, 1)) if n[1] else None)


class Sub(_Binary):
    name = "sub"
    _f = staticmethod(np.subtract)
    _save = None

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        return (unbroadcast(g, _input_shape(ctx, 0)) if n[0] else None,
                unbroadcast(-g, _input_shape(ctx, 1)) if n[1] else None)


class Mul(_Binary):
    name = "mul"
    _f = staticmethod(np.multiply)

    @staticmethod
    def _save(ctx, a, b):
        n = ctx.needs_input_grad
        ctx.sa, ctx.sb = getattr(a, "shape", ()), getattr(b, "shape", ())
        ctx.a = a if n[1] else None          # d/db needs a; d/da needs b
        ctx.b = b if n[0] else None

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        return (unbroadcast(g * ctx.b, ctx.sa) if n[0] else None,
                unbroadcast(g * ctx.a, ctx.sb) if n[1] else None)


class Div(_Binary):
    name = "div"
    true_division = True
    _f = staticmethod(np.true_divide)

    @staticmethod
    def _save(ctx, a, b):
        n = ctx.needs_input_grad
        ctx.sa, ctx.sb = getattr(a, "shape", ()), getattr(b, "shape", ())
        ctx.a = a if n[1] else None
        ctx.b = b if n[0] or n[1] else None

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        a, b = ctx.a, ctx.b
        return (unbroadcast(g / b, ctx.sa) if n[0] else None,
                unbroadcast(-g * a / (b * b), ctx.sb) if n[1] else None)


class Pow(_Binary):
    name = "pow"
    _f = staticmethod(np.power)

    @classmethod
    def forward(cls, ctx, a, b):
        a, b = _operands(cls, a, b)
        try:
            y = np.power(a, b)
        except ValueError:
            raise _broadcast_error(cls.name, a, b) from None
        ctx.a, ctx.b = a, b
        ctx.y = y if ctx.needs_input_grad[1] else None
        ctx.torch_name = "PowBackward1" if hasattr(a, "shape") and hasattr(b, "shape") else \
            "PowBackward0" if hasattr(a, "shape") else "PowBackward2"
        return y

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        a, b = ctx.a, ctx.b
        ga = gb = None
        with np.errstate(divide="ignore", invalid="ignore"):
            if n[0]:     # torch's: 0 where the exponent is 0 (not 0·0^-1 = NaN at a = 0)
                ga = unbroadcast(np.where(np.equal(b, 0), 0, g * b * a ** (b - 1)), _shape(a))
            if n[1]:     # g·y·log(a): 0 at a = 0 with b >= 0, NaN for a negative base (as torch)
                la = np.where((np.equal(a, 0)) & (np.greater_equal(b, 0)), 0, np.log(a))
                gb = unbroadcast(g * ctx.y * la, _shape(b))
        return ga, gb


class Neg(Function):
    name = "neg"

    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, g):
        return -g


class Exp(Function):
    name = "exp"

    @staticmethod
    def forward(ctx, a):
        ctx.y = np.exp(a)
        return ctx.y

    @staticmethod
    def backward(ctx, g):
        return g * ctx.y


class Log(Function):
    name = "log"

    @staticmethod
    def forward(ctx, a):
        ctx.a = a
        return np.log(a)

    @staticmethod
    def backward(ctx, g):
        return g / ctx.a


class Sqrt(Function):
    name = "sqrt"

    @staticmethod
    def forward(ctx, a):
        ctx.y = np.sqrt(a)
        return ctx.y

    @staticmethod
    def backward(ctx, g):
        return g / (2 * ctx.y)


class Abs(Function):
    name = "abs"

    @staticmethod
    def forward(ctx, a):
        ctx.a = a
        return np.abs(a)

    @staticmethod
    def backward(ctx, g):
        return g * np.sign(ctx.a)


class Clamp(Function):
    """Gradient 1 inside [lo, hi] including the bounds, 0 outside (PyTorch's choice at the bounds)."""
    name = "clamp"
    torch_name = "ClampBackward1"

    @staticmethod
    def forward(ctx, a, lo=None, hi=None):
        ctx.a, ctx.lo, ctx.hi = a, lo, hi
        return np.clip(a, lo, hi)

    @staticmethod
    def backward(ctx, g):
        a = ctx.a
        m = np.ones_like(a, dtype=bool)
        if ctx.lo is not None:
            m &= a >= ctx.lo
        if ctx.hi is not None:
            m &= a <= ctx.hi
        return g * m


def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)):
        return tuple(a % ndim if ndim else a for a in axis)
    return (axis % ndim if ndim else axis,)


def _expand_back(g, shape, axes, keepdim):
    """Reshape a reduced gradient so it broadcasts against the input shape."""
    if not keepdim:
        g = g.reshape([1 if i in axes else s for i, s in enumerate(shape)])
    return g


class Sum(Function):
    name = "sum"

    @staticmethod
    def forward(ctx, a, axis=None, keepdim=False):
        ctx.shape, ctx.axes, ctx.keepdim = a.shape, _axes(axis, a.ndim), keepdim
        if axis is not None:
            ctx.torch_name = "SumBackward1"
        return np.asarray(a.sum(axis=axis if axis is None else ctx.axes, keepdims=keepdim))

    @staticmethod
    def backward(ctx, g):
        g = _expand_back(g, ctx.shape, ctx.axes, ctx.keepdim)
        return np.broadcast_to(g, ctx.shape)


class Mean(Function):
    name = "mean"

    @staticmethod
    def forward(ctx, a, axis=None, keepdim=False):
        ctx.shape, ctx.axes, ctx.keepdim = a.shape, _axes(axis, a.ndim), keepdim
        if axis is not None:
            ctx.torch_name = "MeanBackward1"
        n = 1
        for i in ctx.axes:
            n *= a.shape[i]
        ctx.n = n
        return np.asarray(a.mean(axis=axis if axis is None else ctx.axes, keepdims=keepdim))

    @staticmethod
    def backward(ctx, g):
        g = _expand_back(g, ctx.shape, ctx.axes, ctx.keepdim) / ctx.n
        return np.broadcast_to(g, ctx.shape)


class Var(Function):
    name = "var"

    @staticmethod
    def forward(ctx, a, axis=None, keepdim=False, correction=1):
        axes = _axes(axis, a.ndim)
        n = 1
        for i in axes:
            n *= a.shape[i]
        ctx.a, ctx.axes, ctx.keepdim, ctx.den = a, axes, keepdim, max(n - correction, 0)
        return np.asarray(a.var(axis=axes, keepdims=keepdim, ddof=correction))

    @staticmethod
    def backward(ctx, g):
        a = ctx.a
        g = _expand_back(g, a.shape, ctx.axes, ctx.keepdim)
        return g * 2 * (a - a.mean(axis=ctx.axes, keepdims=True)) / ctx.den


class _MaxMin(Function):
    """The largest (smallest) value over all axes, or over a tuple of axes. Ties share the gradient
    evenly (PyTorch's choice for the full reduction)."""

    @classmethod
    def forward(cls, ctx, a, axis=None, keepdim=False):
        if a.size == 0:
            raise ValueError(f"{cls.name}: cannot reduce an empty tensor of shape {tuple(a.shape)}")
        axes = _axes(axis, a.ndim)
        ax = None if axis is None else axes
        y = np.asarray(cls._f(a, axis=ax, keepdims=True))
        ctx.a, ctx.y, ctx.axes, ctx.keepdim = a, y, axes, keepdim
        return y if keepdim else y.reshape([s for i, s in enumerate(a.shape) if i not in axes])

    @staticmethod
    def backward(ctx, g):
        a = ctx.a
        g = _expand_back(g, a.shape, ctx.axes, ctx.keepdim)
        mask = (a == ctx.y)
        return g * mask / mask.sum(axis=ctx.axes, keepdims=True)


class Max(_MaxMin):
    name = "max"
    torch_name = "MaxBackward1"
    _f = staticmethod(np.max)


class Min(_MaxMin):
    name = "min"
    torch_name = "MinBackward1"
    _f = staticmethod(np.min)


class _ExtremeAlong(Function):
    """(values, indices) of the largest (smallest) element along one dim, indices as int64 (the first
    one among ties, as PyTorch on CPU); the gradient goes to that index only."""

    @classmethod
    def forward(cls, ctx, a, dim, keepdim=False):
        if a.size == 0 or a.ndim == 0 and dim not in (0, -1):
            raise ValueError(f"{cls.name}: cannot reduce a tensor of shape {tuple(a.shape)} along dim {dim}")
        xp = xp_of(a)
        ax = dim % a.ndim if a.ndim else 0
        if a.ndim == 0:
            return a.copy(), xp.zeros((), np.int64)
        idx = xp.expand_dims(cls._arg(a, axis=ax), ax)
        values = xp.take_along_axis(a, idx, axis=ax)
        ctx.idx, ctx.shape, ctx.ax, ctx.keepdim = idx, a.shape, ax, keepdim
        idx = idx.astype(np.int64)
        if not keepdim:
            values, idx = values.squeeze(ax), idx.squeeze(ax)
        return values, idx

    @staticmethod
    def backward(ctx, g, g_indices=None):
        xp = xp_of(g)
        gx = xp.zeros(ctx.shape, g.dtype)
        if not ctx.keepdim:
            g = xp.expand_dims(g, ctx.ax)
        xp.put_along_axis(gx, ctx.idx, g, axis=ctx.ax)
        return gx


class MaxAlong(_ExtremeAlong):
    name = "max"
    _arg = staticmethod(np.argmax)


class MinAlong(_ExtremeAlong):
    name = "min"
    _arg = staticmethod(np.argmin)


class Reshape(Function):
    name = "reshape"
    torch_name = "ViewBackward0"
    is_view = True

    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        try:
            return a.reshape(shape)
        except ValueError:
            raise ValueError(f"reshape: cannot reshape a tensor of shape {tuple(a.shape)} "
                             f"({a.size} elements) into {tuple(shape)}") from None

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape)


class Permute(Function):
    name = "permute"
    is_view = True

    @staticmethod
    def forward(ctx, a, dims):
        if sorted(d % max(a.ndim, 1) for d in dims) != list(range(a.ndim)):
            raise ValueError(f"permute: dims {tuple(dims)} are not a permutation of the {a.ndim} axes "
                             f"of shape {tuple(a.shape)}")
        ctx.dims = dims
        return a.transpose(dims)

    @staticmethod
    def backward(ctx, g):
        return g.transpose(np.argsort([d % g.ndim for d in ctx.dims]))


class Expand(Function):
    name = "expand"
    is_view = True

    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        shape = tuple(a.shape[i - (len(shape) - a.ndim)] if s == -1 else s for i, s in enumerate(shape))
        try:
            return np.broadcast_to(a, shape)
        except ValueError:
            raise ValueError(f"expand: shape {tuple(a.shape)} cannot be expanded to {shape}") from None

    @staticmethod
    def backward(ctx, g):
        return unbroadcast(g, ctx.shape)


def index_arrays(idx):
    """An index with its Tensors replaced by their arrays."""
    if isinstance(idx, tuple):
        return tuple(i._data if isinstance(i, Tensor) else i for i in idx)
    return idx._data if isinstance(idx, Tensor) else idx


def _has_advanced(idx):
    items = idx if isinstance(idx, tuple) else (idx,)
    return any(isinstance(i, (list, np.ndarray)) or hasattr(i, "__cuda_array_interface__") for i in items)


class Index(Function):
    """a[idx]: basic indexing gives a view (sharing a's storage), advanced indexing a copy."""
    name = "getitem"
    is_view = True

    @staticmethod
    def forward(ctx, a, idx):
        ctx.shape, ctx.idx = a.shape, idx
        ctx.advanced = _has_advanced(idx)
        try:
            return a[idx]
        except IndexError as e:
            raise IndexError(f"getitem: {e} (tensor of shape {tuple(a.shape)})") from None

    @property
    def torch_name(self):
        if self.__dict__.get("advanced"):
            return "IndexBackward0"
        return "SelectBackward0" if isinstance(self.__dict__.get("idx"), int) else "SliceBackward0"

    @staticmethod
    def backward(ctx, g):
        out = xp_of(g).zeros(ctx.shape, dtype=g.dtype)
        if ctx.advanced:
            np.add.at(out, ctx.idx, g)   # repeated integer indices accumulate
        else:
            out[ctx.idx] = g
        return out


class Cat(Function):
    name = "cat"

    @staticmethod
    def forward(ctx, *arrays, axis=0):
        ref = arrays[0]
        ax = axis % max(ref.ndim, 1)
        for k, x in enumerate(arrays[1:], 1):
            if x.ndim != ref.ndim or any(x.shape[i] != ref.shape[i] for i in range(ref.ndim) if i != ax):
                raise ValueError(f"cat: tensor 0 has shape {tuple(ref.shape)} but tensor {k} has shape "
                                 f"{tuple(x.shape)}; all sizes except axis {axis} must match")
        ctx.axis = ax
        ctx.splits = [int(s) for s in np.cumsum([x.shape[ax] for x in arrays])[:-1]]
        return np.concatenate(arrays, axis=ax)

    @staticmethod
    def backward(ctx, g):
        parts = np.split(g, ctx.splits, axis=ctx.axis)
        return tuple(p if need else None for p, need in zip(parts, ctx.needs_input_grad))


class Stack(Function):
    name = "stack"

    @staticmethod
    def forward(ctx, *arrays, axis=0):
        ref = arrays[0]
        for k, x in enumerate(arrays[1:], 1):
            if x.shape != ref.shape:
                raise ValueError(f"stack: tensor 0 has shape {tuple(ref.shape)} but tensor {k} has shape "
                                 f"{tuple(x.shape)}; all must match")
        y = np.stack(arrays, axis=axis)
        ctx.axis = axis % y.ndim
        return y

    @staticmethod
    def backward(ctx, g):
        return tuple(np.take(g, i, axis=ctx.axis) if need else None
                     for i, need in enumerate(ctx.needs_input_grad))


def _matmul_error(a, b, msg):
    return ValueError(f"matmul: {tuple(a.shape)} @ {tuple(b.shape)}: {msg}")


class MatMul(Function):
    """a @ b on the device's GEMM, batched and broadcast as torch.matmul (``ops_linalg.matmul_arrays``:
    one GEMM with the batch folded into M when b has no batch, else one per batch element; 1-D
    operands promoted as in torch); the backward is the same GEMMs with transpose flags."""
    name = "matmul"

    @staticmethod
    def forward(ctx, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise _matmul_error(a, b, "both operands must have at least one dimension")
        ka = a.shape[-1]
        kb = b.shape[0] if b.ndim == 1 else b.shape[-2]
        if ka != kb:
            raise _matmul_error(a, b, f"inner dimensions {ka} and {kb} differ")
        try:
            np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise _matmul_error(a, b, f"batch dimensions {tuple(a.shape[:-2])} and {tuple(b.shape[:-2])} "
                                "cannot be broadcast together") from None
        if device_of_array(a) != device_of_array(b):
            raise ValueError(f"matmul: {tuple(a.shape)} on {device_of_array(a)} @ {tuple(b.shape)} on "
                             f"{device_of_array(b)}: operands must be on the same device")
        if a.dtype != b.dtype:
            raise TypeError(f"matmul: {tuple(a.shape)} {a.dtype} @ {tuple(b.shape)} {b.dtype}: dtypes differ")
        n = ctx.needs_input_grad
        ctx.a = a if n[1] else None
        ctx.b = b if n[0] else None
        ctx.sa, ctx.sb = a.shape, b.shape
        if a.ndim == 2 and b.ndim == 2:
            ctx.torch_name = "MmBackward0"
        elif a.ndim == 3 and b.ndim == 3 and a.shape[0] == b.shape[0]:
            ctx.torch_name = "BmmBackward0"
        return _linalg.matmul_arrays(a, b)

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        return _linalg.matmul_grads(g, ctx.a, ctx.b, ctx.sa, ctx.sb, n[0], n[1])


class Where(Function):
    name = "where"

    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.cond, ctx.sa, ctx.sb = cond, _shape(a), _shape(b)
        return np.where(cond, a, b)

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        zero = xp_of(g).zeros((), g.dtype)
        return (None,
                unbroadcast(np.where(ctx.cond, g, zero), ctx.sa) if n[1] else None,
                unbroadcast(np.where(ctx.cond, zero, g), ctx.sb) if n[2] else None)


# ---------------------------------------------------------------- copies, casts and in-place writers
class Clone(Function):
    name = "clone"

    @staticmethod
    def forward(ctx, a):
        return a.copy()

    @staticmethod
    def backward(ctx, g):
        return g


class Cast(Function):
    name = "to"
    torch_name = "ToCopyBackward0"

    @staticmethod
    def forward(ctx, a, dtype):
        ctx.src = a.dtype
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        return g.astype(ctx.src) if ctx.src.kind == "f" else None


class ToDevice(Function):
    name = "to_device"
    torch_name = "ToCopyBackward0"

    @staticmethod
    def forward(ctx, a, device):
        ctx.src = device_of_array(a)
        return move(a, device)

    @staticmethod
    def backward(ctx, g):
        return move(g, ctx.src)


class Overwrite(Function):
    """The result of writing value over every element of a (zero_, fill_, copy_, uniform_ ... on a tensor
    in a graph): a's old values get no gradient; a Tensor value gets the gradient summed to its shape."""
    name = "overwrite"
    torch_name = "CopyBackwards"

    @staticmethod
    def forward(ctx, a, value):
        out = xp_of(a).empty_like(a)
        out[...] = value
        ctx.vshape = _shape(value)
        return out

    @staticmethod
    def backward(ctx, g):
        return None, (unbroadcast(g, ctx.vshape) if ctx.needs_input_grad[1] else None)


class IndexPut(Function):
    """a with a[idx] = value (``__setitem__`` on a tensor in a graph)."""
    name = "setitem"
    torch_name = "CopySlices"

    @staticmethod
    def forward(ctx, a, value, idx):
        out = a.copy()
        out[idx] = value
        ctx.idx, ctx.vshape = idx, _shape(value)
        return out

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        ga = gv = None
        if n[0]:
            ga = g.copy()
            ga[ctx.idx] = 0
        if n[1]:
            gv = unbroadcast(g[ctx.idx], ctx.vshape)
        return ga, gv


class Pad(Function):
    """Constant padding by (before, after) widths per axis."""
    name = "pad"
    torch_name = "ConstantPadNdBackward0"

    @staticmethod
    def forward(ctx, x, widths, value):
        ctx.sl = tuple(slice(a, a + s) for (a, _), s in zip(widths, x.shape))
        return np.pad(x, widths, constant_values=value)

    @staticmethod
    def backward(ctx, g):
        return g[ctx.sl]


from . import ops_linalg as _linalg  # noqa: E402  (imports this module's Functions)
