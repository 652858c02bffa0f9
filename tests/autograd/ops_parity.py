"""One parity helper for the tensor-op tests: run the same function on pyengine and on torch 2.13 and
compare everything a user can see — the result's type (a named tuple's name and fields), shapes,
dtypes, values, whether each output requires grad, and the gradients of every float input for a
random upstream gradient (a real vector-Jacobian product).

A case's function takes the module first: ``fn(M, *xs)`` with M = pyengine or torch, so one lambda
(``lambda M, x: x.topk(2, dim=0)`` or ``lambda M, a, b: M.einsum("ij,jk->ik", a, b)``) serves both.
Inputs are NumPy arrays (float arrays become leaves that require grad unless ``grad=False``) or
anything else, passed through unchanged.
"""
from __future__ import annotations

import numpy as np
import pytest

import pyengine as pe

torch = pytest.importorskip("torch")

# forward and gradient tolerances per dtype (float64 cases are the exact ones)
TOL = {np.dtype(np.float64): (1e-10, 1e-8), np.dtype(np.float32): (2e-5, 2e-4), np.dtype(np.float16): (2e-3, 2e-2)}


def _to(M, x, grad):
    if isinstance(x, np.ndarray):
        if M is pe:
            t = pe.tensor(x.copy(), dtype=x.dtype)
        else:
            t = torch.from_numpy(x.copy())
        if grad and x.dtype.kind == "f":
            t.requires_grad_(True)
        return t
    if isinstance(x, IndexArg):
        return _to(M, x.array, False)
    return x


class IndexArg:
    """An integer or bool array passed as a Tensor that never requires grad (indices, masks)."""

    def __init__(self, array):
        self.array = np.asarray(array)


def _type_name(o):
    return type(o).__name__


def _tolerances(dtype, atol, rtol):
    a, r = TOL.get(np.dtype(dtype), (0, 0))
    return (a if atol is None else atol), (r if rtol is None else rtol)


def compare(ours, theirs, path="out", atol=None, rtol=None, values=True):
    """Asserts ours (pyengine) matches theirs (torch) in type, shape, dtype, requires_grad and value."""
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, pe.Tensor), f"{path}: got {type(ours).__name__}, torch gives a Tensor"
        assert tuple(ours.shape) == tuple(theirs.shape), f"{path}: shape {tuple(ours.shape)} != torch {tuple(theirs.shape)}"
        tdt = str(theirs.dtype).replace("torch.", "")
        assert str(ours.dtype) == tdt, f"{path}: dtype {ours.dtype} != torch {tdt}"
        assert ours.requires_grad == theirs.requires_grad, \
            f"{path}: requires_grad {ours.requires_grad} != torch {theirs.requires_grad}"
        if values:
            a = np.asarray(ours.detach().numpy())
            b = theirs.detach().numpy()
            at, rt = _tolerances(a.dtype, atol, rtol)
            if a.dtype.kind == "f":
                np.testing.assert_allclose(a, b, rtol=rt, atol=at, equal_nan=True, err_msg=path)
            else:
                np.testing.assert_array_equal(a, b, err_msg=path)
        return
    if isinstance(theirs, (tuple, list)):
        assert isinstance(ours, (tuple, list)), f"{path}: got {type(ours).__name__}, torch gives {type(theirs).__name__}"
        if hasattr(theirs, "_fields") or type(theirs).__module__ == "torch.return_types":
            assert _type_name(ours) == _type_name(theirs), \
                f"{path}: result type {_type_name(ours)} != torch.return_types.{_type_name(theirs)}"
            fields = getattr(type(theirs), "__match_args__", None)
            if fields is not None:
                assert tuple(getattr(ours, "_fields", ())) == tuple(fields), \
                    f"{path}: fields {getattr(ours, '_fields', None)} != torch {fields}"
                for f in fields:                       # the fields read by name too
                    assert getattr(ours, f) is ours[fields.index(f)]
        assert len(ours) == len(theirs), f"{path}: {len(ours)} results, torch gives {len(theirs)}"
        for i, (o, t) in enumerate(zip(ours, theirs)):
            compare(o, t, f"{path}[{i}]", atol, rtol, values)
        return
    assert type(ours) is type(theirs) or (isinstance(ours, (int, float, bool)) and isinstance(theirs, (int, float, bool))), \
        f"{path}: {type(ours).__name__} != torch {type(theirs).__name__}"
    assert ours == theirs, f"{path}: {ours} != torch {theirs}"


def _flat(o):
    if isinstance(o, (tuple, list)):
        out = []
        for x in o:
            out.extend(_flat(x))
        return out
    return [o]


def check(fn, *inputs, grad=True, atol=None, rtol=None, gatol=None, grtol=None, seed=0, values=True,
          skip_grad_of=()):
    """fn(pe, ...) against fn(torch, ...): forward as ``compare``; then, when any output requires grad,
    backward with one random upstream gradient per float output and the input gradients compared."""
    pin = [_to(pe, x, grad) for x in inputs]
    tin = [_to(torch, x, grad) for x in inputs]
    ours = fn(pe, *pin)
    theirs = fn(torch, *tin)
    compare(ours, theirs, atol=atol, rtol=rtol, values=values)
    if not grad:
        return ours, theirs
    rng = np.random.default_rng(seed)
    po = [o for o in _flat(ours) if isinstance(o, pe.Tensor) and o.requires_grad]
    to = [o for o in _flat(theirs) if isinstance(o, torch.Tensor) and o.requires_grad]
    assert len(po) == len(to)
    if not po:
        return ours, theirs
    gs = [rng.standard_normal(o.shape).astype(o.detach().numpy().dtype) for o in to]
    pe.autograd.backward(po, [pe.tensor(g, dtype=g.dtype) for g in gs])
    torch.autograd.backward(to, [torch.from_numpy(g) for g in gs])
    for i, (p, t) in enumerate(zip(pin, tin)):
        if i in skip_grad_of or not isinstance(t, torch.Tensor) or not t.requires_grad:
            continue
        tg = t.grad
        pg = p.grad
        if tg is None:
            assert pg is None or not np.any(pg.numpy()), f"input {i}: pyengine has a gradient, torch has none"
            continue
        if pg is None:           # torch materialises an all-zero gradient where we leave .grad None
            assert not np.any(tg.numpy(force=True)), f"input {i}: no gradient (torch has a nonzero one)"
            continue
        assert pg.shape == tuple(tg.shape), f"input {i}: gradient shape {pg.shape} != torch {tuple(tg.shape)}"
        at, rt = _tolerances(pg.numpy().dtype, gatol, grtol)
        np.testing.assert_allclose(pg.numpy(), tg.numpy(force=True), rtol=rt, atol=at, equal_nan=True,
                                   err_msg=f"gradient of input {i}")
    return ours, theirs
