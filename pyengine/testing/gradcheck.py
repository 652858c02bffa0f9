"""Central finite-difference gradient checks.

``numeric_vjp`` computes gᵀ·J of any function of NumPy arrays by central differences;
``gradcheck`` compares an analytic vector-Jacobian product with it and reports the worst element.
It has two modes:

* NumPy mode (``vjp=`` given): fn works on arrays and vjp returns the analytic gradients — used by
  the kernel tests on the reference and C++ backward kernels.
* Tensor mode (no ``vjp``): fn is any function of pyengine Tensors (or an ``nn.Module``); the analytic
  gradients come from autograd. The checked inputs are the Tensors with requires_grad (all float
  inputs when none has it) plus, for a Module, its parameters; float32 inputs are checked on float64
  copies. ``fast_mode=True`` compares a few random directional derivatives (random projections
  vᵀ·J·u) instead of every element, for large inputs: two evaluations per projection instead of two
  per element; when it fails on a small enough input the full check runs to name the worst element.
A random upstream gradient g is used (a real vector-Jacobian product, not the gradient of a sum,
which hides transposition bugs). Defaults are PyTorch's: eps 1e-6, atol 1e-5, rtol 1e-3, float64.

    rel_error(a, b) = max|a − b| / max(1e-8, max(|a| + |b|))      (cs231n)
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np


class GradcheckError(AssertionError):
    """The analytic and numeric gradients disagree; the message names the worst element."""


def rel_error(a, b) -> float:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b)) / max(1e-8, float(np.max(np.abs(a) + np.abs(b)))))


def _as_output(y):
    if isinstance(y, (tuple, list)):
        y = y[0]
    return np.asarray(y, dtype=np.float64)


def numeric_vjp(fn: Callable, inputs: Sequence[np.ndarray], grad_output: np.ndarray, wrt: Sequence[int],
                eps: float = 1e-6) -> list[np.ndarray]:
    """gᵀ·∂fn/∂inputs[i] for each i in wrt, by central differences (inputs perturbed in place on copies)."""
    inputs = [np.array(x, dtype=np.float64, copy=True) if isinstance(x, np.ndarray) else x for x in inputs]
    g = np.asarray(grad_output, dtype=np.float64)
    grads = []
    for i in wrt:
        x = inputs[i]
        grad = np.zeros_like(x)
        flat, gflat = x.reshape(-1), grad.reshape(-1)
        for j in range(flat.size):
            old = flat[j]
            flat[j] = old + eps
            plus = float(np.sum(_as_output(fn(*inputs)) * g))
            flat[j] = old - eps
            minus = float(np.sum(_as_output(fn(*inputs)) * g))
            flat[j] = old
            gflat[j] = (plus - minus) / (2 * eps)
        grads.append(grad)
    return grads


def compare_grads(analytic: Sequence[np.ndarray], numeric: Sequence[np.ndarray], names: Sequence[str],
                  atol: float, rtol: float) -> None:
    """Raises GradcheckError naming the input and the worst element when |a − n| > atol + rtol·|n|, or
    when either gradient holds a NaN or an infinity (a non-finite value never counts as a match)."""
    for name, a, n in zip(names, analytic, numeric):
        a = np.asarray(a, dtype=np.float64)
        n = np.asarray(n, dtype=np.float64)
        if a.shape != n.shape:
            raise GradcheckError(f"gradient of {name}: analytic shape {a.shape} != numeric shape {n.shape}")
        for which, v in (("analytic", a), ("numeric", n)):
            bad = ~np.isfinite(v)
            if bad.any():
                idx = np.unravel_index(int(np.argmax(bad)), v.shape)
                raise GradcheckError(
                    f"gradient of {name}: the {which} gradient is not finite at index "
                    f"{tuple(int(i) for i in idx)}: analytic {float(a[idx])!r}, numeric {float(n[idx])!r} "
                    f"({int(bad.sum())} of {v.size} elements not finite)")
        excess = np.abs(a - n) - (atol + rtol * np.abs(n))
        if excess.size and np.max(excess) > 0:
            idx = np.unravel_index(int(np.argmax(excess)), a.shape)
            raise GradcheckError(
                f"gradient of {name} differs at index {tuple(int(i) for i in idx)}: analytic {float(a[idx])!r}, "
                f"numeric {float(n[idx])!r} (atol {atol}, rtol {rtol}; rel_error over the input {rel_error(a, n):.3e})")


def gradcheck(fn: Callable, inputs: Sequence, *, vjp: Callable | None = None, wrt: Sequence[int] | None = None,
              eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3, seed: int = 0, fast_mode: bool = False,
              n_projections: int = 3, raise_exception: bool = True) -> bool:
    """Checks the gradient of fn at inputs against central differences; returns True or raises
    GradcheckError naming the input and its worst element (index, analytic, numeric).

    With ``vjp`` given, fn works on NumPy arrays and ``vjp(grad_output, *inputs)`` returns the
    gradients of the inputs listed in ``wrt`` (default: every float array input).
    Without it, fn is a function of Tensors or an nn.Module and autograd gives the gradients of the
    inputs listed in ``wrt`` (default: the Tensors with requires_grad, else every float input) and of
    a Module's parameters. The upstream gradient is random (a real vector-Jacobian product).
    ``fast_mode`` checks ``n_projections`` random directional derivatives instead of every element.
    With ``raise_exception=False`` a failure returns False instead of raising.
    """
    if vjp is None:
        try:
            return _tensor_mode(fn, inputs, wrt, eps, atol, rtol, seed, fast_mode, n_projections)
        except GradcheckError:
            if raise_exception:
                raise
            return False
    rng = np.random.default_rng(seed)
    if wrt is None:
        wrt = [i for i, x in enumerate(inputs) if isinstance(x, np.ndarray) and x.dtype.kind == "f"]
    inputs64 = [np.asarray(x, dtype=np.float64) if isinstance(x, np.ndarray) and x.dtype.kind == "f" else x
                for x in inputs]
    y = _as_output(fn(*inputs64))
    g = rng.standard_normal(y.shape)
    analytic = vjp(g, *inputs64)
    if isinstance(analytic, np.ndarray):
        analytic = [analytic]
    numeric = numeric_vjp(fn, inputs64, g, wrt, eps)
    compare_grads(analytic, numeric, [f"input {i}" for i in wrt], atol, rtol)
    return True


# ---------------------------------------------------------------------------------------------- Tensor mode
def _tensor_mode(fn, inputs, wrt, eps, atol, rtol, seed, fast_mode, n_projections):
    import copy

    from ..autograd import backward as _backward
    from ..autograd.grad_mode import no_grad
    from ..nn.module import Module
    from ..tensor import Tensor

    if isinstance(inputs, (Tensor, np.ndarray)):
        inputs = (inputs,)
    inputs = list(inputs)
    params = []
    if isinstance(fn, Module):
        fn = copy.deepcopy(fn).double()
        params = [(name, p) for name, p in fn.named_parameters() if p.requires_grad]
    flagged = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if wrt is None:
        wrt = flagged or [i for i, x in enumerate(inputs)
                          if isinstance(x, (Tensor, np.ndarray)) and np.asarray(x).dtype.kind == "f"]
    call = []
    for i, x in enumerate(inputs):
        if isinstance(x, (Tensor, np.ndarray)) and np.asarray(x).dtype.kind == "f":
            t = Tensor(np.array(np.asarray(x), dtype=np.float64))
            if i in wrt:
                t.requires_grad_(True)
            call.append(t)
        else:
            call.append(x)
    checked = [(f"input {i}", call[i]) for i in wrt] + [(f"parameter {n}", p) for n, p in params]
    if not checked:
        raise ValueError("gradcheck: nothing to check: no float input requires grad and fn has no parameters")
    for _, t in checked:
        t.grad = None

    def outputs():
        out = fn(*call)
        outs = out if isinstance(out, (tuple, list)) else (out,)
        flat = []
        for o in outs:
            if isinstance(o, (tuple, list)):
                flat.extend(o)
            else:
                flat.append(o)
        return [o for o in flat if isinstance(o, Tensor) and o.dtype.kind == "f"]

    rng = np.random.default_rng(seed)
    outs = outputs()
    if not outs:
        raise ValueError("gradcheck: fn returned no floating-point Tensor")
    gs = [rng.standard_normal(o.shape) for o in outs]
    live = [(o, g) for o, g in zip(outs, gs) if o.requires_grad]
    if live:
        try:
            _backward([o for o, _ in live], [Tensor(g) for _, g in live])
        except RuntimeError as e:       # the engine refused a gradient (its shape) or a saved value changed
            raise GradcheckError(f"backward failed: {e}") from e
    analytic = [t.grad._data if t.grad is not None else np.zeros_like(t._data) for _, t in checked]
    for _, t in checked:
        t.grad = None

    def objective():
        with no_grad():
            return float(sum(np.sum(np.asarray(o._data, dtype=np.float64) * g) for o, g in zip(outputs(), gs)))

    def full_check():
        numeric = []
        for _, t in checked:
            flat = t._data.reshape(-1)
            num = np.zeros(flat.size)
            for j in range(flat.size):
                old = flat[j]
                flat[j] = old + eps
                plus = objective()
                flat[j] = old - eps
                minus = objective()
                flat[j] = old
                num[j] = (plus - minus) / (2 * eps)
            numeric.append(num.reshape(t.shape))
        compare_grads(analytic, numeric, [n for n, _ in checked], atol, rtol)

    if not fast_mode:
        full_check()
        return True
    for k in range(n_projections):
        dirs = [rng.standard_normal(t.shape) for _, t in checked]
        saved = [t._data.copy() for _, t in checked]
        for (_, t), d in zip(checked, dirs):
            t._data += eps * d
        plus = objective()
        for (_, t), d, s0 in zip(checked, dirs, saved):
            t._data[...] = s0 - eps * d
        minus = objective()
        for (_, t), s0 in zip(checked, saved):
            t._data[...] = s0
        numeric = (plus - minus) / (2 * eps)
        ana = float(sum(np.sum(a * d) for a, d in zip(analytic, dirs)))
        if not abs(ana - numeric) <= atol + rtol * abs(numeric):      # False for a NaN or inf on either side
            msg = (f"fast gradcheck: random projection {k} of the gradient differs: analytic {ana!r}, numeric "
                   f"{numeric!r} (atol {atol}, rtol {rtol})")
            if sum(t._data.size for _, t in checked) <= 4096:
                try:
                    full_check()
                except GradcheckError as e:
                    raise GradcheckError(msg + "; full check: " + str(e)) from None
            raise GradcheckError(msg + "; run with fast_mode=False to locate the worst element")
    return True
