"""Differentiable tensor ops that are NumPy expressions on the storage (not kernels): elementwise
arithmetic with broadcasting, unary maths, reductions, shape ops, indexing, cat/stack, and matmul,
which goes through the device's gemm.

Every backward returns gradients in the input's shape: a broadcast input gets its gradient summed
over the broadcast axes (``unbroadcast``).
"""
from __future__ import annotations

import numpy as np

from .device import device_of_array, kernels_for, xp_of
from .function import Function


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


class _Binary(Function):
    @classmethod
    def forward(cls, ctx, a, b):
        # A NumPy scalar operand is weak, as a Python number is: float32 * np.float64(2) stays float32.
        if isinstance(b, np.generic):
            b = b.item()
        elif isinstance(a, np.generic):
            a = a.item()
        if type(a) is not type(b) and hasattr(a, "shape") and hasattr(b, "shape") \
                and device_of_array(a) != device_of_array(b):
            raise ValueError(f"{cls.name}: operand {tuple(a.shape)} is on {device_of_array(a)} but operand "
                             f"{tuple(b.shape)} is on {device_of_array(b)}")
        try:
            y = cls._f(a, b)
        except ValueError:
            raise _broadcast_error(cls.name, a, b) from None
        ctx.a, ctx.b = a, b
        return y


class Add(_Binary):
    name = "add"
    _f = staticmethod(lambda a, b: a + b)

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        return (unbroadcast(g, _shape(ctx.a)) if n[0] else None,
                unbroadcast(g, _shape(ctx.b)) if n[1] else None)


class Sub(_Binary):
    name = "sub"
    _f = staticmethod(lambda a, b: a - b)

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        return (unbroadcast(g, _shape(ctx.a)) if n[0] else None,
                unbroadcast(-g, _shape(ctx.b)) if n[1] else None)


class Mul(_Binary):
    name = "mul"
    _f = staticmethod(lambda a, b: a * b)

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        a, b = ctx.a, ctx.b
        return (unbroadcast(g * b, _shape(a)) if n[0] else None,
                unbroadcast(g * a, _shape(b)) if n[1] else None)


class Div(_Binary):
    name = "div"
    _f = staticmethod(lambda a, b: a / b)

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        a, b = ctx.a, ctx.b
        return (unbroadcast(g / b, _shape(a)) if n[0] else None,
                unbroadcast(-g * a / (b * b), _shape(b)) if n[1] else None)


class Pow(_Binary):
    name = "pow"
    _f = staticmethod(lambda a, b: a ** b)

    @classmethod
    def forward(cls, ctx, a, b):
        y = super().forward(ctx, a, b)
        ctx.y = y
        return y

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        a, b, y = ctx.a, ctx.b, ctx.y
        ga = gb = None
        if n[0]:
            ga = unbroadcast(g * b * a ** (b - 1), _shape(a))
        if n[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                la = np.where(a > 0, np.log(np.where(a > 0, a, 1)), 0)
            gb = unbroadcast(g * y * la, _shape(b))
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
    name = "clamp"

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
        # Ties share the gradient evenly (a subgradient; as torch's full reduction does).
        mask = (a == ctx.y)
        return g * mask / mask.sum(axis=ctx.axes, keepdims=True)


class Max(_MaxMin):
    name = "max"
    _f = staticmethod(np.max)


class Min(_MaxMin):
    name = "min"
    _f = staticmethod(np.min)


class Reshape(Function):
    name = "reshape"

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


def _index_arrays(idx):
    from ..tensor import Tensor
    if isinstance(idx, tuple):
        return tuple(i._data if isinstance(i, Tensor) else i for i in idx)
    return idx._data if isinstance(idx, Tensor) else idx


def _has_advanced(idx):
    items = idx if isinstance(idx, tuple) else (idx,)
    return any(isinstance(i, (list, np.ndarray)) or hasattr(i, "__cuda_array_interface__") for i in items)


class Index(Function):
    name = "getitem"

    @staticmethod
    def forward(ctx, a, idx):
        ctx.shape, ctx.dtype, ctx.idx = a.shape, a.dtype, idx
        try:
            return a[idx]
        except IndexError as e:
            raise IndexError(f"getitem: {e} (tensor of shape {tuple(a.shape)})") from None

    @staticmethod
    def backward(ctx, g):
        out = xp_of(g).zeros(ctx.shape, dtype=g.dtype)
        if _has_advanced(ctx.idx):
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
        ctx.splits = np.cumsum([x.shape[ax] for x in arrays])[:-1]
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
    """a @ b. 2-D @ 2-D and (..., K) @ (K, N) run as one gemm of the device's kernels (the batch
    dimensions of a folded into M); 1-D operands are promoted as NumPy does; batched @ batched uses a
    gemm per batch element."""
    name = "matmul"

    @staticmethod
    def forward(ctx, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise _matmul_error(a, b, "both operands must have at least one dimension")
        ka = a.shape[-1]
        kb = b.shape[0] if b.ndim == 1 else b.shape[-2]
        if ka != kb:
            raise _matmul_error(a, b, f"inner dimensions {ka} and {kb} differ")
        if device_of_array(a) != device_of_array(b):
            raise ValueError(f"matmul: {tuple(a.shape)} on {device_of_array(a)} @ {tuple(b.shape)} on "
                             f"{device_of_array(b)}: operands must be on the same device")
        if a.dtype != b.dtype:
            raise TypeError(f"matmul: {tuple(a.shape)} {a.dtype} @ {tuple(b.shape)} {b.dtype}: dtypes differ")
        ctx.a, ctx.b = a, b
        if a.dtype.kind != "f":
            return np.matmul(a, b)
        K = kernels_for(device_of_array(a))
        ctx.K = K
        if b.ndim == 2 and a.ndim >= 2:
            y = K.gemm(a.reshape(-1, ka) if a.ndim > 2 else a, b)
            return y.reshape(a.shape[:-1] + (b.shape[1],)) if a.ndim > 2 else y
        return np.matmul(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.a, ctx.b
        n = ctx.needs_input_grad
        ga = gb = None
        if b.ndim == 2 and a.ndim >= 2 and a.dtype.kind == "f":
            K = ctx.K
            k = a.shape[-1]
            g2 = g.reshape(-1, b.shape[1])
            if n[0]:
                ga = K.gemm(g2, b, trans_b=True).reshape(a.shape)
            if n[1]:
                gb = K.gemm(a.reshape(-1, k), g2, trans_a=True)
            return ga, gb
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = g
        if a.ndim == 1:
            g2 = np.expand_dims(g2, -2)
        if b.ndim == 1:
            g2 = np.expand_dims(g2, -1)
        if n[0]:
            ga = unbroadcast(np.matmul(g2, np.swapaxes(b2, -1, -2)), a2.shape).reshape(a.shape)
        if n[1]:
            gb = unbroadcast(np.matmul(np.swapaxes(a2, -1, -2), g2), b2.shape).reshape(b.shape)
        return ga, gb


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
