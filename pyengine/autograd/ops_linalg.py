"""Matrix products on the device's GEMM (kernels.cpu.gemm / kernels.cuda.gemm), and the ops built on
them: the array-level matmul that ``ops.MatMul`` runs, mm, bmm, mv, dot, outer, addmm/addmv/baddbmm/
addbmm, tensordot and einsum.

Batched matmul (``matmul_arrays``), shapes a (..., M, K) @ b (..., K, N) -> (..., M, N) with the
batch dims broadcast, 1-D operands promoted as in torch (a (K) is a row (1, K), b (K) a column
(K, 1), the added dim dropped again):

- b without batch dims (or all of size 1): one GEMM, a's batch folded into M: (B·M, K) @ (K, N);
- otherwise a loop over the broadcast batch, one GEMM per matrix pair: C[i] = A[ai[i]] @ B[bi[i]],
  where ai / bi map each output batch index to the operand's own (size-1 dims broadcast by index,
  never copied).
The gradients are the same products with the transpose flags of the GEMM (no transposed copies):
dA[ai[i]] += dC[i] · B[bi[i]]ᵀ, dB[bi[i]] += A[ai[i]]ᵀ · dC[i] (accumulated over broadcast batches).
Floating types other than float32/float64 (float16) run the GEMM in float32; integers use NumPy's
matmul (torch has integer matmul on CPU; the GEMM is float only).

einsum reduces to these: each operand first takes the diagonal of a repeated label ("ii->i") and sums
the labels no other operand and not the output has; then operands are contracted left to right, each
pair as one batched GEMM over (batch labels, left labels, contracted labels) x (batch, contracted,
right); the result is permuted into the output's order. So its gradient is the GEMM's too.
"""
from __future__ import annotations

import numpy as np

from . import _args
from .core import Tensor
from .device import kernels_of, xp_of

__all__ = ["matmul_arrays", "matmul_grads", "mm", "bmm", "matmul", "mv", "dot", "vdot", "inner", "outer",
           "addmm", "addmv", "addr", "baddbmm", "addbmm", "tensordot", "einsum"]

_GEMM_TYPES = (np.dtype(np.float32), np.dtype(np.float64))


# ---------------------------------------------------------------------------------------- array level
def _gemm(K, a, b, trans_a=False, trans_b=False):
    """op(a) @ op(b) for 2-D arrays through the kernel module K (float16 through float32)."""
    if a.dtype in _GEMM_TYPES:
        return K.gemm(a, b, trans_a=trans_a, trans_b=trans_b)
    return K.gemm(a.astype(np.float32), b.astype(np.float32), trans_a=trans_a, trans_b=trans_b).astype(a.dtype)


def _count(shape):
    """The number of matrices in a batch of this shape."""
    return int(np.prod(shape)) if shape else 1


def _batch_map(batch, shape):
    """For each index of the broadcast batch (row-major), the flat index into an operand whose batch
    dims are ``shape`` (right-aligned, size-1 dims broadcast)."""
    n = int(np.prod(shape)) if shape else 1
    own = np.arange(n).reshape(shape) if shape else np.zeros((), np.int64)
    return np.broadcast_to(own, batch).reshape(-1)


def _as_matrices(a, b):
    """(a2, b2, squeeze): a as (..., M, K), b as (..., K, N), and which of the result's last two dims
    to drop afterwards (for 1-D operands)."""
    squeeze = []
    if a.ndim == 1:
        a = a.reshape(1, -1)
        squeeze.append(-2)
    if b.ndim == 1:
        b = b.reshape(-1, 1)
        squeeze.append(-1)
    return a, b, tuple(squeeze)


def matmul_arrays(a, b, K=None):
    """a @ b for arrays (torch.matmul's broadcasting and 1-D rules) on the GEMM of a's device."""
    if a.dtype.kind not in "f":
        return np.matmul(a, b)
    K = K or kernels_of(a)
    a2, b2, squeeze = _as_matrices(a, b)
    M, Kd = a2.shape[-2:]
    N = b2.shape[-1]
    ba, bb = a2.shape[:-2], b2.shape[:-2]
    batch = np.broadcast_shapes(ba, bb)
    if all(s == 1 for s in bb):
        y = _gemm(K, a2.reshape(-1, Kd), b2.reshape(Kd, N)).reshape(batch + (M, N))
    else:
        xp = xp_of(a)
        a3, b3 = a2.reshape((_count(ba), M, Kd)), b2.reshape((_count(bb), Kd, N))
        ai, bi = _batch_map(batch, ba), _batch_map(batch, bb)
        y = xp.empty((len(ai), M, N), a.dtype)
        for i in range(len(ai)):
            y[i] = _gemm(K, a3[ai[i]], b3[bi[i]])
        y = y.reshape(batch + (M, N))
    if squeeze:
        y = y.reshape([s for i, s in enumerate(y.shape) if i - y.ndim not in squeeze])
    return y


def matmul_grads(g, a, b, sa, sb, need_a, need_b, K=None):
    """(dL/da, dL/db) of y = a @ b given dL/dy = g (a and b as saved: either may be None when its
    partner's gradient is not needed; sa, sb their shapes)."""
    if g.dtype.kind not in "f":
        raise RuntimeError("matmul: integer matmul is not differentiable")
    K = K or kernels_of(g)
    xp = xp_of(g)
    la, lb = len(sa), len(sb)
    sa2 = (1, sa[0]) if la == 1 else tuple(sa)
    sb2 = (sb[0], 1) if lb == 1 else tuple(sb)
    M, Kd = sa2[-2:]
    N = sb2[-1]
    ba, bb = sa2[:-2], sb2[:-2]
    batch = np.broadcast_shapes(ba, bb)
    g3 = g.reshape((_count(batch), M, N))
    a_m = a.reshape(sa2) if a is not None else None
    b_m = b.reshape(sb2) if b is not None else None
    ga = gb = None
    if all(s == 1 for s in bb):
        g2 = g3.reshape(-1, N)
        if need_a:
            ga = _gemm(K, g2, b_m.reshape(Kd, N), trans_b=True)           # dC · Bᵀ
            ga = ga.reshape(batch + (M, Kd))
            ga = _sum_to(ga, sa2).reshape(sa)
        if need_b:
            gb = _gemm(K, a_m.reshape(-1, Kd), _expand_rows(g2, a_m, batch, ba, M, N), trans_a=True)  # Aᵀ · dC
            gb = gb.reshape(sb)
        return ga, gb
    ai, bi = _batch_map(batch, ba), _batch_map(batch, bb)
    if need_a:
        b3 = b_m.reshape((_count(bb), Kd, N))
        acc = xp.zeros((_count(ba), M, Kd), g.dtype)
        for i in range(len(ai)):
            acc[ai[i]] += _gemm(K, g3[i], b3[bi[i]], trans_b=True)
        ga = acc.reshape(sa)
    if need_b:
        a3 = a_m.reshape((_count(ba), M, Kd))
        acc = xp.zeros((_count(bb), Kd, N), g.dtype)
        for i in range(len(bi)):
            acc[bi[i]] += _gemm(K, a3[ai[i]], g3[i], trans_a=True)
        gb = acc.reshape(sb)
    return ga, gb


def _sum_to(x, shape):
    """x summed over the leading batch dims that ``shape`` broadcast into."""
    if x.shape == tuple(shape):
        return x
    nd = x.ndim - len(shape)
    if nd:
        x = x.sum(axis=tuple(range(nd)))
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and x.shape[i] != 1)
    return x.sum(axis=axes, keepdims=True) if axes else x


def _expand_rows(g2, a_m, batch, ba, M, N):
    """dC as (rows of a's folded batch, N): when a's batch is smaller than the broadcast batch (b's
    size-1 dims added dims), the extra batch copies of dC are summed first."""
    rows = (int(np.prod(ba)) if ba else 1) * M
    if g2.shape[0] == rows:
        return g2
    g = g2.reshape(batch + (M, N))
    return _sum_to(g, ba + (M, N)).reshape(rows, N)


# ---------------------------------------------------------------------------------------- Tensor level
def _two(fn, a, b, na, nb):
    _args.check_tensor(fn, "input", a)
    _args.check_tensor(fn, "mat2" if fn in ("mm", "bmm") else "other", b)
    for t, n, what in ((a, na, "input"), (b, nb, "mat2" if fn in ("mm", "bmm") else "other")):
        if n is not None and t.ndim != n:
            raise ValueError(f"{fn}(): {what} must be a {n}-D tensor, got shape {tuple(t.shape)}")
    if a.dtype != b.dtype:
        raise TypeError(f"{fn}(): expected both operands to have the same dtype, got {a.dtype} and {b.dtype}")


def matmul(input, other):
    return input @ other


def mm(input, mat2):
    """(M, K) @ (K, N)."""
    _two("mm", input, mat2, 2, 2)
    if input.shape[1] != mat2.shape[0]:
        raise ValueError(f"mm(): input {tuple(input.shape)} and mat2 {tuple(mat2.shape)} cannot be multiplied "
                         f"(inner dimensions {input.shape[1]} and {mat2.shape[0]} differ)")
    return input @ mat2


def bmm(input, mat2):
    """(B, M, K) @ (B, K, N), one GEMM per batch element."""
    _two("bmm", input, mat2, 3, 3)
    if input.shape[0] != mat2.shape[0]:
        raise ValueError(f"bmm(): batch sizes differ: input {tuple(input.shape)} and mat2 {tuple(mat2.shape)}")
    if input.shape[2] != mat2.shape[1]:
        raise ValueError(f"bmm(): input {tuple(input.shape)} and mat2 {tuple(mat2.shape)} cannot be multiplied "
                         f"(inner dimensions {input.shape[2]} and {mat2.shape[1]} differ)")
    return input @ mat2


def mv(input, vec):
    _two("mv", input, vec, 2, 1)
    if input.shape[1] != vec.shape[0]:
        raise ValueError(f"mv(): input {tuple(input.shape)} and vec {tuple(vec.shape)} sizes don't match")
    return input @ vec


def dot(input, other):
    """Σ input·other over two 1-D tensors of one size."""
    _two("dot", input, other, 1, 1)
    if input.shape != other.shape:
        raise ValueError(f"dot(): 1-D tensors of the same size expected, got {input.shape[0]} and "
                         f"{other.shape[0]}")
    return input @ other


vdot = dot


def inner(input, other):
    """Σ over the last dims (a scalar operand multiplies)."""
    if input.ndim == 0 or other.ndim == 0:
        return input * other
    if input.shape[-1] != other.shape[-1]:
        raise ValueError(f"inner(): last dimensions differ: {tuple(input.shape)} and {tuple(other.shape)}")
    return tensordot(input, other, ([input.ndim - 1], [other.ndim - 1]))


def outer(input, vec2):
    _two("outer", input, vec2, 1, 1)
    return input.reshape(-1, 1) * vec2.reshape(1, -1)


ger = outer


def _scaled(x, s):
    return x if s == 1 else x * s


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """beta·input + alpha·(mat1 @ mat2)."""
    p = mm(mat1, mat2)
    return _scaled(p, alpha) if beta == 0 else _scaled(input, beta) + _scaled(p, alpha)


def addmv(input, mat, vec, *, beta=1, alpha=1):
    p = mv(mat, vec)
    return _scaled(p, alpha) if beta == 0 else _scaled(input, beta) + _scaled(p, alpha)


def addr(input, vec1, vec2, *, beta=1, alpha=1):
    p = outer(vec1, vec2)
    return _scaled(p, alpha) if beta == 0 else _scaled(input, beta) + _scaled(p, alpha)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    p = bmm(batch1, batch2)
    return _scaled(p, alpha) if beta == 0 else _scaled(input, beta) + _scaled(p, alpha)


def addbmm(input, batch1, batch2, *, beta=1, alpha=1):
    p = bmm(batch1, batch2).sum(0)
    return _scaled(p, alpha) if beta == 0 else _scaled(input, beta) + _scaled(p, alpha)


def tensordot(a, b, dims=2):
    """Contracts a's dims_a with b's dims_b (dims an int n: a's last n with b's first n)."""
    _args.check_tensor("tensordot", "a", a)
    _args.check_tensor("tensordot", "b", b)
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, int):
        if dims < 0:
            raise ValueError(f"tensordot(): dims must be non-negative, got {dims}")
        da, db = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        if len(dims) != 2:
            raise ValueError(f"tensordot(): dims must be an int or a pair of dim lists, got {dims!r}")
        da = [dims[0]] if isinstance(dims[0], int) else list(dims[0])
        db = [dims[1]] if isinstance(dims[1], int) else list(dims[1])
    da = [_args.dim("tensordot", d, a.ndim, "dims") for d in da]
    db = [_args.dim("tensordot", d, b.ndim, "dims") for d in db]
    if len(da) != len(db):
        raise ValueError(f"tensordot(): both dim lists must have the same length, got {da} and {db}")
    for x, y in zip(da, db):
        if a.shape[x] != b.shape[y]:
            raise ValueError(f"tensordot(): contracted dimensions differ: a dim {x} has size {a.shape[x]}, b dim "
                             f"{y} has size {b.shape[y]}")
    fa = [d for d in range(a.ndim) if d not in da]
    fb = [d for d in range(b.ndim) if d not in db]
    m = int(np.prod([a.shape[d] for d in fa])) if fa else 1
    k = int(np.prod([a.shape[d] for d in da])) if da else 1
    n = int(np.prod([b.shape[d] for d in fb])) if fb else 1
    a2 = a.permute(*(fa + da)).reshape(m, k)
    b2 = b.permute(*(db + fb)).reshape(k, n)
    return (a2 @ b2).reshape(tuple(a.shape[d] for d in fa) + tuple(b.shape[d] for d in fb))


# ---------------------------------------------------------------------------------------- einsum
def _parse_term(term, op, n_ell, fn):
    """A term's labels: letters, and ('.', j) for the j-th of n_ell right-aligned ellipsis dims."""
    if term.count("...") > 1:
        raise ValueError(f"{fn}: more than one ellipsis in the term {term!r}")
    if "..." in term:
        pre, post = term.split("...")
    else:
        pre, post = term, ""
    for ch in pre + post:
        if not ch.isalpha():
            raise ValueError(f"{fn}: invalid subscript {ch!r} in {term!r}; use letters a-z, A-Z and '...'")
    if op is None:
        e = n_ell if "..." in term else 0
    else:
        e = op.ndim - len(pre) - len(post)
        if ("..." not in term and e != 0) or e < 0:
            raise ValueError(f"{fn}: the term {term!r} has {len(pre) + len(post)} subscripts for an operand of "
                             f"{op.ndim} dimensions")
    return list(pre) + [(".", n_ell - e + j) for j in range(e)] + list(post)


def einsum(equation, *operands):
    """torch.einsum: sums of products over labelled dims ("ij,jk->ik", "bij,bjk->bik", "ii->i", "...ij->...ji",
    implicit outputs: the labels used once, in alphabetical order)."""
    fn = "einsum"
    if not isinstance(equation, str):
        raise TypeError(f"{fn}(): equation must be a string, got {type(equation).__name__}")
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    for i, op in enumerate(operands):
        if not isinstance(op, Tensor):
            raise TypeError(f"{fn}(): operand {i} must be a Tensor, got {type(op).__name__}")
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(operands):
        raise ValueError(f"{fn}(): the equation has {len(terms)} terms but {len(operands)} operands were given")
    n_ell = 0
    for t, op in zip(terms, operands):
        if "..." in t:
            n_ell = max(n_ell, op.ndim - len(t.replace("...", "")))
    labels = [_parse_term(t, op, n_ell, fn) for t, op in zip(terms, operands)]
    if arrow:
        out = _parse_term(rhs, None, n_ell, fn)
        if len(set(out)) != len(out):
            raise ValueError(f"{fn}(): the output {rhs!r} repeats a subscript")
        used = set().union(*labels)
        for lab in out:
            if lab not in used:
                raise ValueError(f"{fn}(): output subscript {lab!r} does not appear in the inputs")
    else:
        counts = {}
        for ls in labels:
            for lab in ls:
                if lab[0] != ".":
                    counts[lab] = counts.get(lab, 0) + 1
        out = [(".", j) for j in range(n_ell)] + sorted(k for k, c in counts.items() if c == 1)
    sizes = {}
    for ls, op in zip(labels, operands):
        for lab, s in zip(ls, op.shape):
            prev = sizes.get(lab)
            if prev is not None and prev != s and 1 not in (prev, s):
                name = "..." if lab[0] == "." else lab
                raise ValueError(f"{fn}(): subscript {name!r} has size {s} in one operand and {prev} in another")
            sizes[lab] = s if prev in (None, 1) else prev
    items = []
    for k, (op, ls) in enumerate(zip(operands, labels)):
        x, ls = _diagonals(op, list(ls))
        elsewhere = set(out).union(*[set(m) for j, m in enumerate(labels) if j != k])
        x, ls = _sum_out(x, ls, [lab for lab in ls if lab not in elsewhere])
        items.append((x, ls))
    x, ls = items[0]
    for k in range(1, len(items)):
        later = set(out).union(*[set(m) for _, m in items[k + 1:]])
        x, ls = _contract(x, ls, items[k][0], items[k][1], later)
    x, ls = _sum_out(x, ls, [lab for lab in ls if lab not in out])
    x = x.permute(*[ls.index(lab) for lab in out]) if ls else x
    want = tuple(sizes[lab] for lab in out)
    if tuple(x.shape) != want:           # a label of size 1 in every operand that had it vs broadcast
        x = x.expand(*want)
    return x


def _diagonals(x, ls):
    """Takes the diagonal of every repeated label (the diagonal moves to the end)."""
    from .ops_index import diagonal
    while True:
        dup = next((lab for lab in ls if ls.count(lab) > 1), None)
        if dup is None:
            return x, ls
        i = ls.index(dup)
        j = ls.index(dup, i + 1)
        x = diagonal(x, 0, i, j)
        ls = [lab for k, lab in enumerate(ls) if k not in (i, j)] + [dup]


def _sum_out(x, ls, drop):
    if not drop:
        return x, ls
    x = x.sum(tuple(ls.index(lab) for lab in drop))
    return x, [lab for lab in ls if lab not in drop]


def _contract(a, la, b, lb, later):
    """a (labels la) times b (labels lb), summed over the shared labels not needed later: one batched
    GEMM over (batch, left, contracted) x (batch, contracted, right)."""
    a, la = _sum_out(a, la, [lab for lab in la if lab not in lb and lab not in later])
    b, lb = _sum_out(b, lb, [lab for lab in lb if lab not in la and lab not in later])
    batch = [lab for lab in la if lab in lb and lab in later]
    contr = [lab for lab in la if lab in lb and lab not in later]
    left = [lab for lab in la if lab not in lb]
    right = [lab for lab in lb if lab not in la]
    for lab in contr:                    # a size-1 side of a contracted label: sum the other side first
        sa, sb = a.shape[la.index(lab)], b.shape[lb.index(lab)]
        if sa != sb:
            if sa == 1:
                b = b.sum(lb.index(lab), keepdim=True)
            else:
                a = a.sum(la.index(lab), keepdim=True)
    ap = a.permute(*[la.index(lab) for lab in batch + left + contr]) if la else a
    bp = b.permute(*[lb.index(lab) for lab in batch + contr + right]) if lb else b
    nb = len(batch)
    bsizes = tuple(max(ap.shape[i], bp.shape[i]) for i in range(nb))
    if tuple(ap.shape[:nb]) != bsizes:
        ap = ap.expand(*(bsizes + tuple(ap.shape[nb:])))
    if tuple(bp.shape[:nb]) != bsizes:
        bp = bp.expand(*(bsizes + tuple(bp.shape[nb:])))
    lsz = tuple(ap.shape[nb:nb + len(left)])
    csz = tuple(ap.shape[nb + len(left):])
    rsz = tuple(bp.shape[nb + len(contr):])
    B, L, C, R = (int(np.prod(s)) if s else 1 for s in (bsizes, lsz, csz, rsz))
    y = ap.reshape(B, L, C) @ bp.reshape(B, C, R)
    return y.reshape(bsizes + lsz + rsz), batch + left + right
