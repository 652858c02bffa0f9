"""Central finite-difference gradient checks.

``numeric_vjp`` computes gᵀ·J of any function of NumPy arrays by central differences;
``gradcheck`` compares an analytic vector-Jacobian product with it and reports the worst element.
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
    """Raises GradcheckError naming the input and the worst element when |a − n| > atol + rtol·|n|."""
    for name, a, n in zip(names, analytic, numeric):
        a = np.asarray(a, dtype=np.float64)
        n = np.asarray(n, dtype=np.float64)
        if a.shape != n.shape:
            raise GradcheckError(f"gradient of {name}: analytic shape {a.shape} != numeric shape {n.shape}")
        excess = np.abs(a - n) - (atol + rtol * np.abs(n))
        if excess.size and np.max(excess) > 0 or not np.all(np.isfinite(a)):
            idx = np.unravel_index(int(np.argmax(np.where(np.isfinite(a), excess, np.inf))), a.shape)
            raise GradcheckError(
                f"gradient of {name} differs at index {tuple(int(i) for i in idx)}: analytic {a[idx]!r}, "
                f"numeric {n[idx]!r} (atol {atol}, rtol {rtol}; rel_error over the input {rel_error(a, n):.3e})")


def gradcheck(fn: Callable, inputs: Sequence, *, vjp: Callable | None = None, wrt: Sequence[int] | None = None,
              eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3, seed: int = 0) -> bool:
    """Checks the gradient of fn at inputs against central differences; returns True or raises.

    With ``vjp`` given, fn works on NumPy arrays and ``vjp(grad_output, *inputs)`` returns the
    gradients of the inputs listed in ``wrt`` (default: every float array input).
    """
    rng = np.random.default_rng(seed)
    if wrt is None:
        wrt = [i for i, x in enumerate(inputs) if isinstance(x, np.ndarray) and x.dtype.kind == "f"]
    if vjp is None:
        raise TypeError("gradcheck: for NumPy functions pass vjp=; Tensor functions are checked through autograd")
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
