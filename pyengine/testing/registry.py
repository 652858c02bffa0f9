"""The op registry: every kernel of the contract, its sample inputs, reference, tolerances, errors.

Each op family has a module in ``pyengine/testing/ops/`` that defines ``OPS: list[OpInfo]``. The
tests in ``tests/kernels/`` are generated from this list:

* parity — ``kernels.cpu`` (and ``kernels.cuda`` on a GPU) against ``pyengine.reference`` for every
  sample, float64 tight and float32 calibrated, on every CPU instruction set;
* gradients — for ops with a ``grad`` spec, the vector-Jacobian product of the reference (and of the
  C++ kernels in float64) against central differences;
* errors — every ``ErrorInput`` raises the named exception with a message matching its regex;
* completeness — every public function of ``kernels.cpu`` and ``reference`` has an entry.

A family module may also declare what is tested above the kernel, so that adding a family touches
only its own registry file: ``autograd_cases()`` (gradcheck entries of its functional op and layer,
collected by ``testing.autograd_ops``) and ``LAYERS: list[LayerParity]`` (its ``nn`` layer against
``torch.nn``'s, in tests/nn/test_torch_parity.py).

A sample's args hold float arrays in the dtype under test; the parity test hands the reference
float64 copies, so it is the oracle, and checks the kernel returned the input's dtype.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

import numpy as np

F32 = np.dtype(np.float32)
F64 = np.dtype(np.float64)

# (atol, rtol) per dtype; a family may override per op.
DEFAULT_TOL = {F32: (1e-4, 1e-4), F64: (1e-10, 1e-10)}


@dataclass
class Sample:
    """One call: ``op(*args, **kwargs)``. ``desc`` appears in failure messages."""
    args: tuple
    kwargs: dict = field(default_factory=dict)
    desc: str = ""


@dataclass
class ErrorInput:
    """A call that must raise ``error`` with a message matching the regex ``match``."""
    args: tuple
    kwargs: dict = field(default_factory=dict)
    error: type = ValueError
    match: str = ""
    desc: str = ""


@dataclass
class GradSpec:
    """How to check an op's backward against finite differences.

    forward(impl, *xs) -> array          the differentiable output as a function of the inputs xs
    vjp(impl, g, *xs)  -> list[array]    the analytic gradients of sum(forward·g) w.r.t. xs, through
                                         impl's backward kernels
    inputs(rng)        -> list[Sample]   float64 samples; each Sample.args are the xs (small sizes:
                                         every element is perturbed twice), kept away from kinks
    """
    forward: Callable
    vjp: Callable
    inputs: Callable[[np.random.Generator], Sequence[Sample]]
    tol: tuple[float, float] = (1e-5, 1e-3)   # PyTorch's gradcheck atol, rtol


@dataclass
class OpInfo:
    name: str                                   # the function name in the contract
    family: str
    samples: Callable[[np.random.Generator, np.dtype], Sequence[Sample]]
    error_inputs: Callable[[np.random.Generator], Sequence[ErrorInput]] = lambda rng: []
    tol: dict = field(default_factory=lambda: dict(DEFAULT_TOL))
    # call(impl, sample) -> result; default getattr(impl, name)(*args, **kwargs). Override when the
    # op needs implementation-specific inputs (e.g. a backward that takes its own forward's `saved`).
    call: Optional[Callable[[Any, Sample], Any]] = None
    # outputs(result) -> tuple of arrays to compare (default: the result, or each array of a tuple).
    outputs: Optional[Callable[[Any], Sequence[np.ndarray]]] = None
    grad: Optional[GradSpec] = None
    dtypes: tuple = (F32, F64)

    def run(self, impl, sample: Sample):
        if self.call is not None:
            return self.call(impl, sample)
        return getattr(impl, self.name)(*sample.args, **sample.kwargs)

    def comparable(self, result) -> list[np.ndarray]:
        if self.outputs is not None:
            return list(self.outputs(result))
        if isinstance(result, (tuple, list)):
            return [r for r in result if isinstance(r, np.ndarray) or hasattr(r, "__cuda_array_interface__")]
        return [result]


def to_float64(value):
    """Float arrays (also inside tuples, lists and dicts) cast to float64; everything else as is."""
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return value.astype(np.float64)
    if isinstance(value, tuple):
        return tuple(to_float64(v) for v in value)
    if isinstance(value, list):
        return [to_float64(v) for v in value]
    if isinstance(value, dict):
        return {k: to_float64(v) for k, v in value.items()}
    return value


@dataclass
class LayerParity:
    """An ``nn`` layer checked against the ``torch.nn`` layer of the same name and arguments: forward,
    input and parameter gradients in float64 with torch's weights loaded, and the state_dict names and
    repr of a fresh pair (and the state_dict values too when ``same_init``: a deterministic init)."""
    name: str
    layer: str                        # class name in both pyengine.nn and torch.nn
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    inputs: Sequence = ()             # input shapes (standard normal float64 data)
    random_affine: bool = False       # give torch's layer random parameters before they are loaded
    same_init: bool = False


def all_layer_parity() -> list[LayerParity]:
    """Every LayerParity of every family module in pyengine.testing.ops."""
    from . import ops
    found: list[LayerParity] = []
    for mod in pkgutil.iter_modules(ops.__path__):
        found.extend(getattr(importlib.import_module(f"{ops.__name__}.{mod.name}"), "LAYERS", []))
    return found


def all_ops() -> list[OpInfo]:
    """Every OpInfo of every family module in pyengine.testing.ops."""
    from . import ops
    found: list[OpInfo] = []
    for mod in pkgutil.iter_modules(ops.__path__):
        module = importlib.import_module(f"{ops.__name__}.{mod.name}")
        found.extend(getattr(module, "OPS", []))
    names = [op.name for op in found]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise RuntimeError(f"op registry: duplicate entries {sorted(dupes)}")
    return found


def signature(fn) -> list[tuple[str, str, str]]:
    """(name, kind, repr of the default or "") of every parameter of fn: a Python function, or a
    pybind11 binding (whose first docstring line is its signature), so that the kernels, which are
    bindings, can be held to the reference's signatures."""
    if inspect.isfunction(fn):
        kinds = {inspect.Parameter.KEYWORD_ONLY: "keyword", inspect.Parameter.POSITIONAL_OR_KEYWORD: "positional"}
        return [(p.name, kinds.get(p.kind, str(p.kind)), "" if p.default is inspect.Parameter.empty else repr(p.default))
                for p in inspect.signature(fn).parameters.values()]
    head = (fn.__doc__ or "").splitlines()[0]
    inner = head[head.index("(") + 1:head.rindex(")")]
    parts, depth, cur, quote = [], 0, "", None
    for ch in inner:   # split at the commas outside brackets and quotes
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
            continue
        cur += ch
    if cur.strip():
        parts.append(cur.strip())
    out, kind = [], "positional"
    for part in parts:
        if part == "*":
            kind = "keyword"
            continue
        name, _, default = part.partition("=")
        out.append((name.split(":")[0].strip(), kind, default.strip()))
    return out


def get_op(name: str) -> OpInfo:
    for op in all_ops():
        if op.name == name:
            return op
    raise KeyError(name)


# Helpers for sample generators ------------------------------------------------------------------

def randn(rng: np.random.Generator, shape, dtype) -> np.ndarray:
    """Standard-normal data of a dtype; never zeros (a kernel that ignores its input must fail)."""
    return rng.standard_normal(shape).astype(dtype)


def with_saved(result) -> list:
    """The arrays a forward returns, followed by those inside its last element, the `saved` tuple
    (the recurrent families' outputs= hook: the saved gates are compared too)."""
    *arrays, saved = result
    return [*arrays, *saved]


def non_contiguous(x: np.ndarray) -> np.ndarray:
    """The same values as x in a non-contiguous view (every other element of a wider array)."""
    wide = np.empty(x.shape[:-1] + (2 * x.shape[-1],), dtype=x.dtype) if x.ndim else np.empty(2, x.dtype)
    wide[..., ::2] = x
    view = wide[..., ::2]
    assert not view.flags.c_contiguous or x.size <= 1
    return view
