"""Shape, copy and index ops as Functions, with torch's signatures and view semantics.

Views (share the input's storage and version counter, as torch's do): ``split``/``chunk``/
``tensor_split``/``unbind``/``narrow`` (slices of the input), ``diagonal`` (a strided view),
``movedim``/``swapaxes`` (through permute). Copies: ``repeat``, ``tile``, ``repeat_interleave``,
``flip``, ``roll``, ``tril``/``triu``, ``diag``, ``gather``/``scatter*``, ``index_*``, ``masked_*``,
``take``/``take_along_dim``.

Gradients: a copy op's gradient is the transposed index map — ``gather`` ↔ scatter-add of g,
``index_select`` ↔ index-add, ``repeat`` sums the tiles, ``repeat_interleave`` sums each group,
``masked_select`` scatters into the mask (then sums over broadcast axes). Where indices repeat the
gradient accumulates (np.add.at). ``scatter`` with repeated indices writes the last value (torch leaves
the choice undefined); its gradient w.r.t. src is gather(g) at every index, as torch's.

Index tensors must be int64 (int32 too for index_select/index_add/index_copy/index_fill/take,
repeat_interleave's repeats), values within [0, size) — ``take``, ``index_*`` and ``narrow`` also take
negative positions where torch does. Violations raise ``_args.IndexOutOfRange`` (an IndexError and a
ValueError) naming the op, the value and the size.
"""
from __future__ import annotations

import numpy as np

from . import _args
from .core import Function, Tensor, _wrap
from .device import xp_of
from .ops import unbroadcast
from .ops_reduce import _add_at, along_index

__all__ = ["repeat", "tile", "repeat_interleave", "split", "chunk", "tensor_split", "unbind", "narrow", "gather",
           "scatter", "scatter_add", "index_select", "index_add", "index_copy", "index_fill", "masked_fill",
           "masked_select", "masked_scatter", "take", "take_along_dim", "flip", "fliplr", "flipud", "roll", "rot90",
           "tril", "triu", "diag", "diagonal", "diag_embed", "movedim", "swapaxes", "unflatten", "broadcast_to",
           "broadcast_tensors", "atleast_1d", "atleast_2d", "atleast_3d", "hstack", "vstack", "dstack",
           "column_stack", "meshgrid", "as_view"]


def as_view(src, out):
    """Marks out (whose array is a view of src's storage) as a view of src: shared version counter and
    base, as the core does for is_view ops."""
    out._version_counter = src._counter()
    out._base = src._base if src._base is not None else src
    return out


def _sizes(fn, what, sizes):
    out = _args.shape_arg(fn, sizes, what)
    for s in out:
        if s < 0:
            raise ValueError(f"{fn}(): {what} must be non-negative, got {out}")
    return out


# ---------------------------------------------------------------------------------------- repeat family
class Repeat(Function):
    """torch's repeat (NumPy's tile with len(reps) >= ndim); the gradient sums the tiles."""
    name = "repeat"

    @staticmethod
    def forward(ctx, a, reps):
        shape = (1,) * (len(reps) - a.ndim) + a.shape
        ctx.shape, ctx.padded, ctx.reps = a.shape, shape, reps
        return xp_of(a).tile(a.reshape(shape), reps)

    @staticmethod
    def backward(ctx, g):
        inter = []
        for r, s in zip(ctx.reps, ctx.padded):
            inter += [r, s]
        return g.reshape(inter).sum(axis=tuple(range(0, len(inter), 2))).reshape(ctx.shape)


def repeat(input, *sizes):
    reps = _sizes("repeat", "repeats", sizes)
    if len(reps) < input.ndim:
        raise ValueError(f"repeat(): the number of repeats ({len(reps)}) can not be smaller than the number of "
                         f"dimensions of the tensor ({input.ndim})")
    return Repeat.apply(input, reps)


def tile(input, dims):
    reps = _sizes("tile", "dims", (dims,) if isinstance(dims, (tuple, list)) else (dims,))
    reps = (1,) * (input.ndim - len(reps)) + reps
    return Repeat.apply(input, reps)


class RepeatInterleave(Function):
    name = "repeat_interleave"
    torch_name = "IndexSelectBackward0"

    @staticmethod
    def forward(ctx, a, repeats, axis):
        xp = xp_of(a)
        src = xp.repeat(xp.arange(a.shape[axis]), repeats)
        ctx.src, ctx.shape, ctx.axis = src, a.shape, axis
        return xp.take(a, src, axis=axis)

    @staticmethod
    def backward(ctx, g):
        out = xp_of(g).zeros(ctx.shape, g.dtype)
        _add_at(out, (slice(None),) * ctx.axis + (ctx.src,), g)
        return out


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Repeats each element (each slice along dim) repeats times; repeats an int or a 1-D tensor with
    one count per element. ``repeat_interleave(counts)`` alone gives arange repeated by counts."""
    if repeats is None:                      # torch.repeat_interleave(repeats)
        counts = _args.index_tensor("repeat_interleave", "repeats", input, int64_only=False)
        xp = xp_of(counts)
        return _wrap(xp.repeat(xp.arange(counts.size, dtype=np.int64), counts.reshape(-1)))
    x = input
    if dim is None:
        x = input.reshape(-1)
        axis = 0
    else:
        axis = _args.dim("repeat_interleave", dim, input.ndim)
        if input.ndim == 0:
            x = input.reshape(1)
    n = x.shape[axis]
    if isinstance(repeats, Tensor):
        r = _args.index_tensor("repeat_interleave", "repeats", repeats, int64_only=False)
        if r.ndim > 1 or (r.ndim == 1 and r.size not in (1, n)):
            raise ValueError(f"repeat_interleave(): repeats must have shape ({n},) or be a single count, got "
                             f"{tuple(r.shape)}")
        r = r.reshape(-1)
        if r.size and int(r.min()) < 0:
            raise ValueError("repeat_interleave(): repeats can not be negative")
        r = r if r.size == n else np.broadcast_to(r, (n,))
    else:
        r = _args.integer("repeat_interleave", "repeats", repeats)
        if r < 0:
            raise ValueError(f"repeat_interleave(): repeats can not be negative, got {r}")
    out = RepeatInterleave.apply(x, r, axis)
    if output_size is not None and out.shape[axis] != output_size:
        raise ValueError(f"repeat_interleave(): output_size {output_size} differs from the actual size "
                         f"{out.shape[axis]}")
    return out


# ---------------------------------------------------------------------------------------- split family
class Split(Function):
    """Views a[..., lo:hi, ...] along axis for each (lo, hi) in bounds (or a[..., i, ...] with
    ``squeeze``, for unbind); the gradient concatenates the outputs' gradients (zeros for unused)."""
    name = "split"
    torch_name = "SplitBackward0"

    @staticmethod
    def forward(ctx, a, axis, bounds, squeeze=False):
        ctx.shape, ctx.axis, ctx.bounds, ctx.squeeze = a.shape, axis, bounds, squeeze
        if squeeze:
            ctx.torch_name = "UnbindBackward0"
        pre = (slice(None),) * axis
        if squeeze:
            return tuple(a[pre + (lo,)] for lo, _ in bounds)
        return tuple(a[pre + (slice(lo, hi),)] for lo, hi in bounds)

    @staticmethod
    def backward(ctx, *gs):
        ref = next(g for g in gs if g is not None)
        xp = xp_of(ref)
        out = xp.zeros(ctx.shape, ref.dtype)
        pre = (slice(None),) * ctx.axis
        for (lo, hi), g in zip(ctx.bounds, gs):
            if g is not None:
                out[pre + ((lo,) if ctx.squeeze else (slice(lo, hi),))] = g
        return out


def _split_at(input, axis, bounds, squeeze=False):
    outs = Split.apply(input, axis, tuple(bounds), squeeze)
    if not isinstance(outs, tuple):
        outs = (outs,)
    for o in outs:
        as_view(input, o)
    return outs


def split(tensor, split_size_or_sections, dim=0):
    """Pieces of split_size along dim (the last may be smaller), or of the sizes in a list."""
    _args.check_tensor("split", "tensor", tensor)
    if tensor.ndim == 0:
        raise ValueError("split(): expected a tensor with at least one dimension, got a 0-d tensor")
    ax = _args.dim("split", dim, tensor.ndim)
    n = tensor.shape[ax]
    s = split_size_or_sections
    if isinstance(s, (list, tuple)):
        sizes = [_args.integer("split", "split_size_or_sections", v) for v in s]
        if any(v < 0 for v in sizes) or sum(sizes) != n:
            raise ValueError(f"split(): split sizes {tuple(sizes)} must be non-negative and sum to the size {n} "
                             f"of dim {ax}")
    else:
        size = _args.integer("split", "split_size_or_sections", s)
        if size < 0 or (size == 0 and n != 0):
            raise ValueError(f"split(): split_size must be positive, got {size}")
        sizes = [min(size, n - i) for i in range(0, n, size)] if n else [0]
    bounds, lo = [], 0
    for v in sizes:
        bounds.append((lo, lo + v))
        lo += v
    return _split_at(tensor, ax, bounds)


def chunk(input, chunks, dim=0):
    """At most ``chunks`` pieces of ceil(size / chunks) along dim (fewer when size is small)."""
    _args.check_tensor("chunk", "input", input)
    chunks = _args.integer("chunk", "chunks", chunks)
    if chunks <= 0:
        raise ValueError(f"chunk(): chunks must be positive, got {chunks}")
    if input.ndim == 0:
        raise ValueError("chunk(): expected a tensor with at least one dimension, got a 0-d tensor")
    ax = _args.dim("chunk", dim, input.ndim)
    n = input.shape[ax]
    size = -(-n // chunks) if n else 0
    return split(input, size, ax)


def tensor_split(input, indices_or_sections, dim=0):
    """Exactly ``sections`` pieces (the first n % sections one longer), or pieces between indices."""
    _args.check_tensor("tensor_split", "input", input)
    ax = _args.dim("tensor_split", dim, input.ndim)
    n = input.shape[ax]
    s = indices_or_sections
    if isinstance(s, Tensor):
        s = s.tolist()
    if isinstance(s, (list, tuple)):
        cuts = [_args.integer("tensor_split", "indices", v) for v in s]
        edges = [0] + [min(max(c if c >= 0 else c + n, 0), n) for c in cuts] + [n]
        bounds = [(edges[i], max(edges[i], edges[i + 1])) for i in range(len(edges) - 1)]
    else:
        k = _args.integer("tensor_split", "sections", s)
        if k <= 0:
            raise ValueError(f"tensor_split(): number of sections must be positive, got {k}")
        q, r = divmod(n, k)
        bounds, lo = [], 0
        for i in range(k):
            hi = lo + q + (1 if i < r else 0)
            bounds.append((lo, hi))
            lo = hi
    return _split_at(input, ax, bounds)


def unbind(input, dim=0):
    _args.check_tensor("unbind", "input", input)
    if input.ndim == 0:
        raise ValueError("unbind(): expected a tensor with at least one dimension, got a 0-d tensor")
    ax = _args.dim("unbind", dim, input.ndim)
    n = input.shape[ax]
    if n == 0:
        return ()
    return _split_at(input, ax, [(i, i + 1) for i in range(n)], squeeze=True)


def narrow(input, dim, start, length):
    _args.check_tensor("narrow", "input", input)
    ax = _args.dim("narrow", dim, input.ndim)
    n = input.shape[ax]
    start = _args.integer("narrow", "start", start)
    length = _args.integer("narrow", "length", length)
    if start < 0:
        start += n
    if not 0 <= start <= n or length < 0 or start + length > n:
        raise ValueError(f"narrow(): start ({start}) + length ({length}) must lie within dim {ax} of size {n}")
    idx = (slice(None),) * ax + (slice(start, start + length),)
    return input[idx]


# ---------------------------------------------------------------------------------------- gather / scatter
def _check_gather_like(fn, input, dim, index, src_shape=None):
    ax = _args.dim(fn, dim, input.ndim)
    idx = _args.index_tensor(fn, "index", index)
    nd = max(input.ndim, 1)
    if idx.ndim != input.ndim and not (input.ndim == 0 and idx.ndim <= 1):
        raise ValueError(f"{fn}(): index must have the same number of dimensions as input ({input.ndim}), got "
                         f"shape {tuple(idx.shape)}")
    shp = input.shape if input.ndim else (1,)
    ishp = idx.shape if idx.ndim else (1,)
    for d in range(nd):
        if d != ax and ishp[d] > shp[d]:
            raise ValueError(f"{fn}(): index {tuple(idx.shape)} is larger than input {tuple(input.shape)} in "
                             f"dim {d}")
        if src_shape is not None and ishp[d] > (src_shape[d] if len(src_shape) else 1):
            raise ValueError(f"{fn}(): index {tuple(idx.shape)} is larger than src {tuple(src_shape)} in dim {d}")
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= shp[ax]:
            raise _args.IndexOutOfRange(f"{fn}(): index {lo if lo < 0 else hi} is out of bounds for dim {ax} "
                                        f"with size {shp[ax]}")
    return ax, idx


def _region(shape, ishape, axis):
    """The leading block of an array of ``shape`` that an index of ``ishape`` addresses (every dim but
    axis cut to the index's size)."""
    return tuple(slice(None) if d == axis else slice(0, ishape[d]) for d in range(len(shape)))


def _block(ishape):
    """The leading block of src that an index of ``ishape`` reads (every dim cut to the index's size)."""
    return tuple(slice(0, s) for s in ishape)


class Gather(Function):
    name = "gather"

    @staticmethod
    def forward(ctx, a, axis, idx):
        ctx.shape, ctx.axis, ctx.idx = a.shape, axis, idx
        if a.ndim == 0:
            return a.reshape(idx.shape).copy()
        sub = a[_region(a.shape, idx.shape, axis)]
        return xp_of(a).take_along_axis(sub, idx, axis=axis)

    @staticmethod
    def backward(ctx, g):
        out = xp_of(g).zeros(ctx.shape, g.dtype)
        if g.ndim == 0 or not ctx.shape:
            return out + g.sum()
        view = out[_region(ctx.shape, ctx.idx.shape, ctx.axis)]
        _add_at(view, along_index(ctx.idx, ctx.axis), g)
        return out


def gather(input, dim, index, *, sparse_grad=False):
    _args.check_tensor("gather", "input", input)
    ax, idx = _check_gather_like("gather", input, dim, index)
    return Gather.apply(input, ax, idx)


class Scatter(Function):
    """out = a with out[index] = src (a Tensor, cut to index's shape, or a number); with ``add``,
    out[index] += src (accumulated over repeated indices)."""
    name = "scatter"

    @staticmethod
    def forward(ctx, a, src, axis, idx, add=False):
        xp = xp_of(a)
        if add:
            ctx.torch_name = "ScatterAddBackward0"
        out = a.copy()
        if hasattr(src, "shape"):
            src = src.astype(a.dtype, copy=False)
            part = src[_block(idx.shape)] if src.ndim else src
        else:
            part = xp.asarray(src, dtype=a.dtype)
        ctx.axis, ctx.idx, ctx.sshape, ctx.add = axis, idx, getattr(src, "shape", ()), add
        if a.ndim == 0:
            if idx.size:
                out[...] = (out + part.sum()) if add else part.reshape(-1)[-1]
            return out
        where = along_index(idx, axis)
        if add:
            _add_at(out, where, part)
        else:
            out[where] = part
        return out

    @staticmethod
    def backward(ctx, g, *_):
        n = ctx.needs_input_grad
        xp = xp_of(g)
        ga = gs = None
        scalar = g.ndim == 0
        where = None if scalar else along_index(ctx.idx, ctx.axis)
        if n[0]:
            ga = g.copy()
            if not ctx.add and ctx.idx.size:
                if scalar:
                    ga = xp.zeros_like(g)
                else:
                    ga[where] = 0
        if n[1]:
            picked = g.reshape(ctx.idx.shape) if scalar else g[where]
            gs = xp.zeros(ctx.sshape, g.dtype)
            if len(ctx.sshape):
                gs[_block(ctx.idx.shape)] = picked
            else:
                gs = picked.sum().reshape(())
        return ga, gs


def scatter(input, dim, index, src=None, value=None, *, reduce=None):
    """torch.scatter(input, dim, index, src) / (input, dim, index, value); reduce 'add' or 'multiply'
    (torch's deprecated form) is taken as scatter_add / not provided."""
    _args.check_tensor("scatter", "input", input)
    if src is None and value is None:
        raise TypeError("scatter(): expected 'src' (a Tensor) or 'value' (a number)")
    s = src if src is not None else value
    if not isinstance(s, Tensor):
        if isinstance(s, bool) or not isinstance(s, (int, float)):
            raise TypeError(f"scatter(): 'value' must be a number or 'src' a Tensor, got {type(s).__name__}")
    ax, idx = _check_gather_like("scatter", input, dim, index, s.shape if isinstance(s, Tensor) else None)
    if reduce is not None:
        if reduce == "add" and isinstance(s, Tensor):
            return Scatter.apply(input, s, ax, idx, True)
        raise ValueError(f"scatter(): reduce must be None (or 'add' with a src tensor; use scatter_add), got "
                         f"{reduce!r}")
    if isinstance(s, Tensor) and s.dtype != input.dtype:
        raise TypeError(f"scatter(): expected src to have dtype {input.dtype}, got {s.dtype}")
    return Scatter.apply(input, s, ax, idx, False)


def scatter_add(input, dim, index, src):
    _args.check_tensor("scatter_add", "input", input)
    _args.check_tensor("scatter_add", "src", src)
    if src.dtype != input.dtype:
        raise TypeError(f"scatter_add(): expected src to have dtype {input.dtype}, got {src.dtype}")
    ax, idx = _check_gather_like("scatter_add", input, dim, index, src.shape)
    return Scatter.apply(input, src, ax, idx, True)


# ---------------------------------------------------------------------------------------- index_*
def _index_vector(fn, input, dim, index):
    ax = _args.dim(fn, dim, input.ndim)
    idx = _args.index_tensor(fn, "index", index, int64_only=False)
    if idx.ndim > 1:
        raise ValueError(f"{fn}(): index must be 0-D or 1-D, got shape {tuple(idx.shape)}")
    n = input.shape[ax] if input.ndim else 1
    _args.in_range(fn, "index", idx, n, ax)
    idx = idx.reshape(-1).astype(np.int64, copy=False)
    return ax, xp_of(idx).where(idx < 0, idx + n, idx)


class IndexSelect(Function):
    name = "index_select"

    @staticmethod
    def forward(ctx, a, axis, idx):
        ctx.shape, ctx.axis, ctx.idx = a.shape, axis, idx
        if a.ndim == 0:
            return a.reshape(1)[idx].reshape(idx.shape if idx.size != 1 else ())
        return xp_of(a).take(a, idx, axis=axis)

    @staticmethod
    def backward(ctx, g):
        out = xp_of(g).zeros(ctx.shape if ctx.shape else (1,), g.dtype)
        _add_at(out, (slice(None),) * ctx.axis + (ctx.idx,), g.reshape(-1) if not ctx.shape else g)
        return out.reshape(ctx.shape)


def index_select(input, dim, index):
    _args.check_tensor("index_select", "input", input)
    ax, idx = _index_vector("index_select", input, dim, index)
    return IndexSelect.apply(input, ax, idx)


def _source_shape(fn, input, ax, idx, source):
    want = input.shape[:ax] + (idx.size,) + input.shape[ax + 1:] if input.ndim else (idx.size,)
    got = source.shape
    if input.ndim == 0 and source.ndim == 0 and idx.size == 1:
        return
    if tuple(got) != tuple(want):
        raise ValueError(f"{fn}(): source must have shape {tuple(want)} (input's with dim {ax} the index length), "
                         f"got {tuple(got)}")


class IndexAdd(Function):
    """out = a; out[..., index[i], ...] += alpha·source[..., i, ...] (copy=True: = source[..., i, ...],
    the last write winning on repeated indices)."""
    name = "index_add"

    @staticmethod
    def forward(ctx, a, source, axis, idx, alpha=1, copy=False):
        if copy:
            ctx.torch_name = "IndexCopyBackward0"
        ctx.axis, ctx.idx, ctx.alpha, ctx.copy, ctx.sshape = axis, idx, alpha, copy, source.shape
        out = a.copy()
        s = source.astype(a.dtype, copy=False)
        if a.ndim == 0:
            out = out.reshape(1)
            s = s.reshape(-1)
        where = (slice(None),) * axis + (idx,)
        if copy:
            out[where] = s
        else:
            _add_at(out, where, s * alpha if alpha != 1 else s)
        return out.reshape(a.shape)

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        gg = g.reshape(1) if g.ndim == 0 else g
        where = (slice(None),) * ctx.axis + (ctx.idx,)
        ga = gs = None
        if n[0]:
            ga = g.copy()
            if ctx.copy:
                ga.reshape(gg.shape)[where] = 0
        if n[1]:
            gs = xp_of(g).take(gg, ctx.idx, axis=ctx.axis).reshape(ctx.sshape)
            if ctx.alpha != 1:
                gs = gs * ctx.alpha
        return ga, gs


def index_add(input, dim, index, source, *, alpha=1):
    _args.check_tensor("index_add", "input", input)
    _args.check_tensor("index_add", "source", source)
    ax, idx = _index_vector("index_add", input, dim, index)
    _source_shape("index_add", input, ax, idx, source)
    return IndexAdd.apply(input, source, ax, idx, alpha, False)


def index_copy(input, dim, index, source):
    _args.check_tensor("index_copy", "input", input)
    _args.check_tensor("index_copy", "source", source)
    ax, idx = _index_vector("index_copy", input, dim, index)
    _source_shape("index_copy", input, ax, idx, source)
    return IndexAdd.apply(input, source, ax, idx, 1, True)


class IndexFill(Function):
    name = "index_fill"

    @staticmethod
    def forward(ctx, a, value, axis, idx):
        ctx.axis, ctx.idx = axis, idx
        out = a.copy()
        view = out.reshape(1) if a.ndim == 0 else out
        view[(slice(None),) * axis + (idx,)] = value
        return out

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        where = (slice(None),) * ctx.axis + (ctx.idx,)
        ga = gv = None
        gg = g.reshape(1) if g.ndim == 0 else g
        if n[0]:
            ga = g.copy()
            (ga.reshape(1) if g.ndim == 0 else ga)[where] = 0
        if n[1]:
            picked = gg[(slice(None),) * ctx.axis + (xp_of(g).unique(ctx.idx),)]
            gv = picked.sum().reshape(())
        return ga, gv


def index_fill(input, dim, index, value):
    _args.check_tensor("index_fill", "input", input)
    ax, idx = _index_vector("index_fill", input, dim, index)
    if isinstance(value, Tensor) and value.ndim != 0:
        raise ValueError(f"index_fill(): value must be a number or a 0-d tensor, got shape {tuple(value.shape)}")
    return IndexFill.apply(input, value, ax, idx)


# ---------------------------------------------------------------------------------------- masked_*
def _mask(fn, mask, shape=None):
    if not isinstance(mask, Tensor):
        raise TypeError(f"{fn}(): argument 'mask' must be a bool Tensor, got {type(mask).__name__}")
    m = mask._data
    if m.dtype != np.bool_:
        raise TypeError(f"{fn}(): mask must have dtype bool, got {m.dtype}")
    if shape is not None:
        try:
            ok = np.broadcast_shapes(m.shape, shape) == tuple(shape)
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(f"{fn}(): mask of shape {tuple(m.shape)} does not broadcast to the input's shape "
                             f"{tuple(shape)}")
    return m


class MaskedFill(Function):
    name = "masked_fill"

    @staticmethod
    def forward(ctx, a, mask, value):
        xp = xp_of(a)
        v = value.astype(a.dtype) if hasattr(value, "dtype") else value
        ctx.mask = mask
        return xp.where(mask, xp.asarray(v, dtype=a.dtype), a)

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        xp = xp_of(g)
        m = xp.broadcast_to(ctx.mask, g.shape)
        return (xp.where(m, 0, g) if n[0] else None, None,
                xp.where(m, g, 0).sum().reshape(()) if n[2] else None)


def masked_fill(input, mask, value):
    _args.check_tensor("masked_fill", "input", input)
    m = _mask("masked_fill", mask, input.shape)
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise ValueError(f"masked_fill(): value must be a number or a 0-d tensor, got shape "
                             f"{tuple(value.shape)}")
    elif isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"masked_fill(): value must be a number or a 0-d Tensor, got {type(value).__name__}")
    return MaskedFill.apply(input, m, value)


class MaskedSelect(Function):
    name = "masked_select"

    @staticmethod
    def forward(ctx, a, mask):
        xp = xp_of(a)
        shape = np.broadcast_shapes(a.shape, mask.shape)
        m = xp.broadcast_to(mask, shape)
        ctx.mask, ctx.shape, ctx.ashape = m, shape, a.shape
        return xp.broadcast_to(a, shape)[m]

    @staticmethod
    def backward(ctx, g):
        out = xp_of(g).zeros(ctx.shape, g.dtype)
        out[ctx.mask] = g
        return unbroadcast(out, ctx.ashape)


def masked_select(input, mask):
    _args.check_tensor("masked_select", "input", input)
    m = _mask("masked_select", mask)
    try:
        np.broadcast_shapes(input.shape, m.shape)
    except ValueError:
        raise ValueError(f"masked_select(): mask {tuple(m.shape)} and input {tuple(input.shape)} cannot be "
                         "broadcast together") from None
    return MaskedSelect.apply(input, m)


class MaskedScatter(Function):
    """out = a with the masked positions (in row-major order) taken from source's first elements."""
    name = "masked_scatter"

    @staticmethod
    def forward(ctx, a, source, mask):
        xp = xp_of(a)
        m = xp.broadcast_to(mask, a.shape)
        k = int(m.sum())
        if source.size < k:
            raise ValueError(f"masked_scatter(): the mask selects {k} elements but source has only {source.size}")
        out = a.copy()
        out[m] = source.reshape(-1)[:k].astype(a.dtype, copy=False)
        ctx.mask, ctx.k, ctx.sshape = m, k, source.shape
        return out

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        xp = xp_of(g)
        ga = xp.where(ctx.mask, 0, g) if n[0] else None
        gs = None
        if n[1]:
            flat = xp.zeros(int(np.prod(ctx.sshape)), g.dtype)
            flat[:ctx.k] = g[ctx.mask]
            gs = flat.reshape(ctx.sshape)
        return ga, gs, None


def masked_scatter(input, mask, source):
    _args.check_tensor("masked_scatter", "input", input)
    _args.check_tensor("masked_scatter", "source", source)
    m = _mask("masked_scatter", mask, input.shape)
    return MaskedScatter.apply(input, source, m)


# ---------------------------------------------------------------------------------------- take
class Take(Function):
    """input.flatten()[index] for an index of any shape (negative positions count from the end)."""
    name = "take"

    @staticmethod
    def forward(ctx, a, idx):
        ctx.shape, ctx.idx = a.shape, idx
        return a.reshape(-1)[idx]

    @staticmethod
    def backward(ctx, g):
        out = xp_of(g).zeros(int(np.prod(ctx.shape)), g.dtype)
        _add_at(out, ctx.idx, g)
        return out.reshape(ctx.shape)


def take(input, index):
    _args.check_tensor("take", "input", input)
    idx = _args.index_tensor("take", "index", index)
    n = int(np.prod(input.shape))
    _args.in_range("take", "index", idx, n)
    return Take.apply(input, xp_of(idx).where(idx < 0, idx + n, idx))


class TakeAlongDim(Function):
    name = "take_along_dim"

    @staticmethod
    def forward(ctx, a, idx, axis):
        xp = xp_of(a)
        shape = list(np.broadcast_shapes(tuple(s for i, s in enumerate(a.shape) if i != axis),
                                         tuple(s for i, s in enumerate(idx.shape) if i != axis)))
        ashape = shape[:axis] + [a.shape[axis]] + shape[axis:]
        ishape = shape[:axis] + [idx.shape[axis]] + shape[axis:]
        ab, ib = xp.broadcast_to(a, ashape), xp.broadcast_to(idx, ishape)
        ctx.sa, ctx.bshape, ctx.idx, ctx.axis = a.shape, tuple(ashape), ib, axis
        return xp.take_along_axis(ab, ib, axis=axis)

    @staticmethod
    def backward(ctx, g):
        out = xp_of(g).zeros(ctx.bshape, g.dtype)
        _add_at(out, along_index(ctx.idx, ctx.axis), g)
        return unbroadcast(out, ctx.sa)


def take_along_dim(input, indices, dim=None):
    _args.check_tensor("take_along_dim", "input", input)
    idx = _args.index_tensor("take_along_dim", "indices", indices)
    if dim is None:
        return take(input, _wrap(idx.reshape(-1)))
    ax = _args.dim("take_along_dim", dim, input.ndim)
    if idx.ndim != input.ndim:
        raise ValueError(f"take_along_dim(): input {tuple(input.shape)} and indices {tuple(idx.shape)} must have "
                         "the same number of dimensions")
    _args.in_range("take_along_dim", "index", idx, input.shape[ax], ax)
    n = input.shape[ax]
    try:
        return TakeAlongDim.apply(input, xp_of(idx).where(idx < 0, idx + n, idx), ax)
    except ValueError:
        raise ValueError(f"take_along_dim(): input {tuple(input.shape)} and indices {tuple(idx.shape)} cannot be "
                         f"broadcast together outside dim {ax}") from None


# ---------------------------------------------------------------------------------------- flips, rolls, triangles
class Flip(Function):
    name = "flip"

    @staticmethod
    def forward(ctx, a, axes):
        ctx.axes = axes
        return xp_of(a).flip(a, axes).copy() if axes else a.copy()

    @staticmethod
    def backward(ctx, g):
        return xp_of(g).flip(g, ctx.axes) if ctx.axes else g


def flip(input, *dims):
    _args.check_tensor("flip", "input", input)
    d = dims[0] if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
    return Flip.apply(input, _args.dims("flip", tuple(d), input.ndim, "dims"))


def fliplr(input):
    if input.ndim < 2:
        raise ValueError(f"fliplr(): input must be at least 2-D, got shape {tuple(input.shape)}")
    return flip(input, (1,))


def flipud(input):
    if input.ndim < 1:
        raise ValueError("flipud(): input must be at least 1-D")
    return flip(input, (0,))


class Roll(Function):
    name = "roll"

    @staticmethod
    def forward(ctx, a, shifts, axes):
        ctx.shifts, ctx.axes = shifts, axes
        xp = xp_of(a)
        if axes is None:
            return xp.roll(a.reshape(-1), shifts[0]).reshape(a.shape)
        return xp.roll(a, shifts, axes)

    @staticmethod
    def backward(ctx, g):
        xp = xp_of(g)
        neg = tuple(-s for s in ctx.shifts)
        if ctx.axes is None:
            return xp.roll(g.reshape(-1), neg[0]).reshape(g.shape)
        return xp.roll(g, neg, ctx.axes)


def roll(input, shifts, dims=None):
    _args.check_tensor("roll", "input", input)
    sh = tuple(shifts) if isinstance(shifts, (tuple, list)) else (shifts,)
    sh = tuple(_args.integer("roll", "shifts", s) for s in sh)
    if dims is None:
        if len(sh) != 1:
            raise ValueError(f"roll(): with dims=None, shifts must be a single int, got {sh}")
        return Roll.apply(input, sh, None)
    ds = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
    ds = tuple(_args.dim("roll", d, input.ndim, "dims") for d in ds)
    if len(ds) != len(sh):
        raise ValueError(f"roll(): shifts {sh} and dims {ds} must have the same length")
    return Roll.apply(input, sh, ds)


def rot90(input, k=1, dims=(0, 1)):
    _args.check_tensor("rot90", "input", input)
    if len(dims) != 2:
        raise ValueError(f"rot90(): dims must have length 2, got {tuple(dims)}")
    d0, d1 = (_args.dim("rot90", d, input.ndim, "dims") for d in dims)
    if d0 == d1:
        raise ValueError(f"rot90(): the two dims must differ, got {tuple(dims)}")
    k = _args.integer("rot90", "k", k) % 4
    if k == 1:
        return flip(input, (d1,)).transpose(d0, d1)
    if k == 2:
        return flip(input, (d0, d1))
    if k == 3:
        return flip(input, (d0,)).transpose(d0, d1)
    return input.clone()


class Triangle(Function):
    """tril / triu over the last two dims; the gradient keeps the same triangle."""

    @staticmethod
    def forward(ctx, a, diagonal, upper):
        xp = xp_of(a)
        m, n = a.shape[-2:]
        keep = xp.triu(xp.ones((m, n), bool), diagonal) if upper else xp.tril(xp.ones((m, n), bool), diagonal)
        ctx.keep = keep
        ctx.torch_name = "TriuBackward0" if upper else "TrilBackward0"
        return xp.where(keep, a, xp.zeros((), a.dtype))

    @staticmethod
    def backward(ctx, g):
        return g * ctx.keep


def _triangle(fn, input, diagonal, upper):
    _args.check_tensor(fn, "input", input)
    if input.ndim < 2:
        raise ValueError(f"{fn}(): input must be at least 2-D, got shape {tuple(input.shape)}")
    return Triangle.apply(input, _args.integer(fn, "diagonal", diagonal), upper)


def tril(input, diagonal=0):
    return _triangle("tril", input, diagonal, False)


def triu(input, diagonal=0):
    return _triangle("triu", input, diagonal, True)


def _diag_positions(m, n, offset):
    """(rows, cols) of the offset diagonal of an m×n matrix."""
    if offset >= 0:
        length = max(min(m, n - offset), 0)
        r = np.arange(length)
        return r, r + offset
    length = max(min(m + offset, n), 0)
    r = np.arange(length)
    return r - offset, r


class Diagonal(Function):
    """The offset diagonal of dims (d1, d2), appended as the last dim: a writable strided view of the
    input (NumPy's own diagonal is read-only), so writes through it reach the input, as in torch."""
    name = "diagonal"

    @staticmethod
    def forward(ctx, a, offset, d1, d2):
        xp = xp_of(a)
        ctx.shape, ctx.offset, ctx.d1, ctx.d2 = a.shape, offset, d1, d2
        if xp is not np:
            return xp.diagonal(a, offset, d1, d2)
        rows, cols = _diag_positions(a.shape[d1], a.shape[d2], offset)
        others = [i for i in range(a.ndim) if i not in (d1, d2)]
        shape = tuple(a.shape[i] for i in others) + (len(rows),)
        if len(rows) == 0 or a.size == 0:
            return np.zeros(shape, a.dtype)
        # a view that starts at the diagonal's first element, then one stride of d1 + d2 per step
        first = a[tuple(slice(int(rows[0]), None) if i == d1 else slice(int(cols[0]), None) if i == d2
                        else slice(None) for i in range(a.ndim))]
        strides = tuple(a.strides[i] for i in others) + (a.strides[d1] + a.strides[d2],)
        return np.lib.stride_tricks.as_strided(first, shape=shape, strides=strides,
                                               writeable=a.flags.writeable)

    @staticmethod
    def backward(ctx, g):
        xp = xp_of(g)
        out = xp.zeros(ctx.shape, g.dtype)
        rows, cols = _diag_positions(ctx.shape[ctx.d1], ctx.shape[ctx.d2], ctx.offset)
        moved = xp.moveaxis(out, (ctx.d1, ctx.d2), (-2, -1))
        moved[..., rows, cols] = g
        return out


def diagonal(input, offset=0, dim1=0, dim2=1):
    _args.check_tensor("diagonal", "input", input)
    if input.ndim < 2:
        raise ValueError(f"diagonal(): input must be at least 2-D, got shape {tuple(input.shape)}")
    d1 = _args.dim("diagonal", dim1, input.ndim, "dim1")
    d2 = _args.dim("diagonal", dim2, input.ndim, "dim2")
    if d1 == d2:
        raise ValueError(f"diagonal(): dim1 and dim2 must differ, both are {d1}")
    out = Diagonal.apply(input, _args.integer("diagonal", "offset", offset), d1, d2)
    return as_view(input, out) if out._data.size else out


class DiagEmbed(Function):
    """Matrices (dims dim1, dim2 of the output) with the input's last dim on their offset diagonal."""
    name = "diag_embed"

    @staticmethod
    def forward(ctx, a, offset, d1, d2):
        xp = xp_of(a)
        n = a.shape[-1] + abs(offset)
        nd = a.ndim + 1
        rest = list(a.shape[:-1])
        out_shape = [0] * nd
        it = iter(rest)
        for i in range(nd):
            out_shape[i] = n if i in (d1, d2) else next(it)
        out = xp.zeros(out_shape, a.dtype)
        rows, cols = _diag_positions(n, n, offset)
        xp.moveaxis(out, (d1, d2), (-2, -1))[..., rows, cols] = a
        ctx.offset, ctx.d1, ctx.d2 = offset, d1, d2
        return out

    @staticmethod
    def backward(ctx, g):
        xp = xp_of(g)
        rows, cols = _diag_positions(g.shape[ctx.d1], g.shape[ctx.d2], ctx.offset)
        return xp.moveaxis(g, (ctx.d1, ctx.d2), (-2, -1))[..., rows, cols]


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    _args.check_tensor("diag_embed", "input", input)
    nd = input.ndim + 1
    d1 = _args.dim("diag_embed", dim1, nd, "dim1")
    d2 = _args.dim("diag_embed", dim2, nd, "dim2")
    if d1 == d2:
        raise ValueError(f"diag_embed(): dim1 and dim2 must differ, both are {d1}")
    return DiagEmbed.apply(input, _args.integer("diag_embed", "offset", offset), d1, d2)


def diag(input, diagonal=0):
    """A 1-D input -> the square matrix with it on the given diagonal; 2-D -> that diagonal (a copy)."""
    _args.check_tensor("diag", "input", input)
    k = _args.integer("diag", "diagonal", diagonal)
    if input.ndim == 1:
        return DiagEmbed.apply(input, k, 0, 1)
    if input.ndim == 2:
        return Diagonal.apply(input, k, 0, 1).clone()
    raise ValueError(f"diag(): input must be 1-D or 2-D, got shape {tuple(input.shape)}")


# ---------------------------------------------------------------------------------------- compositions
def movedim(input, source, destination):
    src = tuple(source) if isinstance(source, (tuple, list)) else (source,)
    dst = tuple(destination) if isinstance(destination, (tuple, list)) else (destination,)
    if len(src) != len(dst):
        raise ValueError(f"movedim(): source {src} and destination {dst} must have the same length")
    src = tuple(_args.dim("movedim", d, input.ndim, "source") for d in src)
    dst = tuple(_args.dim("movedim", d, input.ndim, "destination") for d in dst)
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ValueError(f"movedim(): repeated dims in source {src} or destination {dst}")
    perm = [None] * input.ndim
    for s_, d_ in zip(src, dst):
        perm[d_] = s_
    rest = iter(d for d in range(input.ndim) if d not in src)
    perm = [next(rest) if p is None else p for p in perm]
    return input.permute(*perm)


def swapaxes(input, axis0, axis1):
    return input.transpose(_args.dim("swapaxes", axis0, input.ndim), _args.dim("swapaxes", axis1, input.ndim))


def unflatten(input, dim, sizes):
    ax = _args.dim("unflatten", dim, input.ndim)
    sizes = tuple(_args.integer("unflatten", "sizes", s) for s in sizes)
    n = input.shape[ax]
    known = 1
    for s in sizes:
        if s != -1:
            known *= s
    if sizes.count(-1) > 1 or (sizes.count(-1) == 0 and known != n) or (known and n % known):
        raise ValueError(f"unflatten(): sizes {sizes} don't multiply up to the size {n} of dim {ax}")
    return input.reshape(input.shape[:ax] + sizes + input.shape[ax + 1:])


def broadcast_to(input, size):
    return input.expand(*_args.shape_arg("broadcast_to", (size,)))


def broadcast_tensors(*tensors):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    try:
        shape = np.broadcast_shapes(*[t.shape for t in tensors])
    except ValueError:
        raise ValueError("broadcast_tensors(): shapes " + ", ".join(str(tuple(t.shape)) for t in tensors)
                         + " cannot be broadcast together") from None
    return tuple(t.expand(*shape) for t in tensors)


def _atleast(n, tensors):
    single = len(tensors) == 1 and isinstance(tensors[0], Tensor)
    seq = tensors[0] if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else tensors
    out = []
    for t in seq:
        if t.ndim >= n:
            out.append(t)
        elif n == 1:
            out.append(t.reshape(1))
        elif n == 2:
            out.append(t.reshape(1, -1) if t.ndim == 1 else t.reshape(1, 1))
        else:
            out.append(t.reshape(1, -1, 1) if t.ndim == 1 else t.unsqueeze(-1) if t.ndim == 2 else t.reshape(1, 1, 1))
    return out[0] if single else tuple(out)


def atleast_1d(*tensors):
    return _atleast(1, tensors)


def atleast_2d(*tensors):
    return _atleast(2, tensors)


def atleast_3d(*tensors):
    return _atleast(3, tensors)


def hstack(tensors):
    from ..tensor import cat
    ts = atleast_1d(*tensors)
    ts = ts if isinstance(ts, tuple) else (ts,)
    return cat(ts, 0 if ts[0].ndim == 1 else 1)


def vstack(tensors):
    from ..tensor import cat
    ts = atleast_2d(*tensors)
    return cat(ts if isinstance(ts, tuple) else (ts,), 0)


def dstack(tensors):
    from ..tensor import cat
    ts = atleast_3d(*tensors)
    return cat(ts if isinstance(ts, tuple) else (ts,), 2)


def column_stack(tensors):
    from ..tensor import cat
    ts = [t.reshape(-1, 1) if t.ndim <= 1 else t for t in tensors]
    return cat(ts, 1)


def meshgrid(*tensors, indexing="ij"):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid(): indexing must be 'ij' or 'xy', got {indexing!r}")
    for t in tensors:
        if t.ndim > 1:
            raise ValueError(f"meshgrid(): expected 0-D or 1-D tensors, got shape {tuple(t.shape)}")
    ts = [t.reshape(-1) for t in tensors]
    swap = indexing == "xy" and len(ts) >= 2
    if swap:
        ts[0], ts[1] = ts[1], ts[0]
    shape = tuple(t.shape[0] for t in ts)
    out = []
    for i, t in enumerate(ts):
        view = [1] * len(ts)
        view[i] = shape[i]
        out.append(t.reshape(*view).expand(*shape))
    if swap:
        out[0], out[1] = out[1], out[0]
    return tuple(out)

