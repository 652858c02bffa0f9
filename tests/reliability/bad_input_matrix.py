"""The bad-input matrix, run for one op in a fresh process (so a crash fails the test, not the suite).

For every registered kernel, the first ordinary float32 sample is mutated by each case of
``CASES`` below, one float-array argument at a time. Each mutated call must either give the
correct result (the reference's, on the same values) or raise ValueError/TypeError whose message
names the function. Usage: ``python bad_input_matrix.py OP_NAME`` prints a JSON report.

| case            | mutation                                   | accepted outcome                         |
|-----------------|--------------------------------------------|------------------------------------------|
| dtype-int32     | argument cast to int32                     | TypeError naming function and argument   |
| dtype-int64     | argument cast to int64                     | TypeError naming function and argument   |
| dtype-float16   | argument cast to float16                   | TypeError naming function and argument   |
| dtype-bool      | argument cast to bool                      | TypeError naming function and argument   |
| dtype-object    | argument cast to object                    | TypeError naming function and argument   |
| mixed-dtype     | argument cast to float64, others float32   | TypeError, or correct result             |
| rank-plus-one   | argument gets a leading axis of size 1     | ValueError, or correct result            |
| rank-minus-one  | argument loses its first axis              | ValueError, or correct result            |
| nan             | a quarter of the argument's values NaN     | finite exactly where the reference is; its NaNs stay NaN |
| inf             | some values +Inf and -Inf                  | finite exactly where the reference is    |
| non-contiguous  | argument as a strided view                 | correct result                           |
| negative-stride | argument as a reversed view of a copy      | correct result                           |
| read-only       | argument not writeable                     | correct result, or ValueError "read-only" for in-place arguments |
| not-an-array    | argument as a nested list                  | TypeError naming function and argument   |
"""
from __future__ import annotations

import inspect
import json
import re
import sys
import traceback

import numpy as np


def _float_positions(sample):
    """The float array arguments; for an op with none (the uint8 kernels), its integer arrays."""
    floats = [i for i, a in enumerate(sample.args) if isinstance(a, np.ndarray) and a.dtype.kind == "f"]
    return floats or [i for i, a in enumerate(sample.args) if isinstance(a, np.ndarray) and a.dtype.kind in "iu"]


def _applies(case, x):
    """NaN/Inf need a float argument, and a cast to the argument's own dtype is no mutation."""
    if x.dtype.kind != "f":
        return case not in ("nan", "inf") and not (case.startswith("dtype-") and case[6:] == x.dtype.name)
    return True


def _non_contiguous(x):
    wide = np.empty(x.shape + (2,), dtype=x.dtype)
    wide[..., 0] = x
    return wide[..., 0]


def _negative_stride(x):
    if x.ndim == 0 or x.shape[0] == 0:
        return x
    flipped = np.ascontiguousarray(x[::-1])
    return flipped[::-1]


def _with_nan(x, rng):
    y = x.copy()
    if y.size:
        y.reshape(-1)[rng.random(y.size) < 0.25] = np.nan
    return y


def _with_inf(x, rng):
    y = x.copy()
    if y.size:
        flat = y.reshape(-1)
        flat[rng.random(y.size) < 0.1] = np.inf
        flat[rng.random(y.size) < 0.1] = -np.inf
    return y


def _read_only(x):
    y = x.copy()
    y.setflags(write=False)
    return y


# name, mutation(x, rng) -> new argument, expectation
CASES = [
    ("dtype-int32", lambda x, rng: x.astype(np.int32), "type-error"),
    ("dtype-int64", lambda x, rng: x.astype(np.int64), "type-error"),
    ("dtype-float16", lambda x, rng: x.astype(np.float16), "type-error"),
    ("dtype-bool", lambda x, rng: x.astype(bool), "type-error"),
    ("dtype-object", lambda x, rng: x.astype(object), "type-error"),
    ("mixed-dtype", lambda x, rng: x.astype(np.float64), "error-or-correct"),
    ("rank-plus-one", lambda x, rng: x[None], "error-or-correct"),
    ("rank-minus-one", lambda x, rng: x[0] if x.ndim and x.shape[0] else x.reshape(-1)[:0], "error-or-correct"),
    ("nan", _with_nan, "ieee"),
    ("inf", _with_inf, "ieee"),
    ("non-contiguous", lambda x, rng: _non_contiguous(x), "correct"),
    ("negative-stride", lambda x, rng: _negative_stride(x), "correct"),
    ("read-only", lambda x, rng: _read_only(x), "correct-or-readonly"),
    ("not-an-array", lambda x, rng: x.tolist(), "type-error"),
]


def _arrays(outputs):
    """The comparable outputs; a NumPy scalar where an array belongs is kept so it shows as a
    type mismatch (the contract returns arrays, 0-d included)."""
    return [r for r in outputs if r is not None]


def _same(got, want, atol, rtol, ieee):
    g, w = _arrays(got), _arrays(want)
    if len(g) != len(w):
        return f"{len(g)} outputs, reference gives {len(w)}"
    for k, (a, b) in enumerate(zip(g, w)):
        if not isinstance(a, np.ndarray) or not isinstance(b, np.ndarray):
            return f"output {k}: {type(a).__name__} vs reference {type(b).__name__}; arrays expected"
        if a.shape != b.shape:
            return f"output {k}: shape {a.shape}, reference {b.shape}"
        if b.dtype.kind != "f":
            if not ieee and not np.array_equal(a, b):
                return f"output {k}: integer output differs from the reference"
            continue
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        if ieee:
            # IEEE propagation, independent of the summation order and algebraic form of a kernel:
            # where the reference is finite we must be finite (and close), where it is NaN we must be
            # NaN (a NaN is never swallowed), where it is ±Inf we must be non-finite.
            fin = np.isfinite(b64)
            if not np.array_equal(np.isfinite(a64), fin):
                return (f"output {k}: finite where the reference is not, or the reverse "
                        f"({int((~np.isfinite(a64) & fin).sum())} non-finite where the reference is finite, "
                        f"{int((np.isfinite(a64) & ~fin).sum())} finite where it is not)")
            if not np.all(np.isnan(a64)[np.isnan(b64)]):
                return f"output {k}: a NaN of the reference came out as a number or Inf"
            a64, b64 = a64[fin], b64[fin]
        if not np.allclose(a64, b64, atol=atol, rtol=rtol):
            return f"output {k}: values differ from the reference (max {np.max(np.abs(a64 - b64)):.3e})"
    return None


def run_matrix(op_name: str) -> dict:
    from pyengine import reference
    from pyengine.kernels import cpu
    from pyengine.testing.registry import Sample, get_op, to_float64

    op = get_op(op_name)
    rng = np.random.default_rng(5)
    dtype = np.dtype(np.float32) if np.dtype(np.float32) in op.dtypes else op.dtypes[0]
    samples = [s for s in op.samples(rng, dtype)
               if all(a.size > 0 for a in s.args if isinstance(a, np.ndarray))]
    if not samples:
        return {"op": op_name, "cases": 0, "failures": [f"{op_name}: no non-empty float32 sample"]}
    sample = samples[0]
    # Ops whose sample feeds a custom call (a backward run after each implementation's own forward)
    # cannot map positions to parameter names, and their errors may name the forward function.
    direct = op.call is None
    params = list(inspect.signature(getattr(reference, op_name)).parameters)  # = the binding's (test_registry)
    atol, rtol = op.tol[dtype]
    failures, count = [], 0
    for pos in _float_positions(sample):
        arg_name = params[pos] if direct and pos < len(params) else f"argument {pos}"
        for case, mutate, expect in CASES:
            if (case == "not-an-array" and not direct) or not _applies(case, sample.args[pos]):
                continue  # a custom call prepares its arrays itself (copies, forward first)
            count += 1
            args = list(sample.args)
            args[pos] = mutate(sample.args[pos], np.random.default_rng(9))
            where = f"{op_name}({arg_name}) [{case}]"
            call_args = tuple(a.copy() if isinstance(a, np.ndarray) and a.flags.writeable else a for a in args)
            try:
                got = op.run(cpu, Sample(call_args, dict(sample.kwargs), sample.desc))
                error = None
            except (ValueError, TypeError) as exc:
                got, error = None, exc
            except Exception as exc:  # any other exception type is a failure of the contract
                failures.append(f"{where}: raised {type(exc).__name__}: {exc}")
                continue
            if error is not None:
                msg = str(error)
                named = msg.startswith(f"{op_name}:") if direct else re.match(r"^\w+: ", msg)
                if not named:
                    failures.append(f"{where}: error message does not name the function: {msg!r}")
                elif expect == "type-error" and not isinstance(error, TypeError):
                    failures.append(f"{where}: expected TypeError, got {type(error).__name__}: {msg}")
                elif expect == "type-error" and direct and arg_name not in msg:
                    failures.append(f"{where}: TypeError does not name the argument: {msg!r}")
                elif expect in ("correct", "ieee"):
                    failures.append(f"{where}: valid input rejected: {type(error).__name__}: {msg}")
                elif expect == "correct-or-readonly" and not re.search("read-only", msg):
                    failures.append(f"{where}: rejected without saying read-only: {msg!r}")
                continue
            if expect == "type-error":
                failures.append(f"{where}: accepted an invalid argument instead of raising TypeError")
                continue
            ref_args = to_float64(tuple(np.array(a) if isinstance(a, np.ndarray) else a for a in args))
            try:
                want = op.run(reference, Sample(ref_args, to_float64(dict(sample.kwargs)), sample.desc))
            except (ValueError, TypeError) as exc:
                failures.append(f"{where}: the kernel accepted what the reference rejects ({exc})")
                continue
            problem = _same(op.comparable(got), op.comparable(want), atol, rtol, ieee=(expect == "ieee"))
            if problem:
                failures.append(f"{where}: {problem}")
    return {"op": op_name, "cases": count, "failures": failures}


if __name__ == "__main__":
    try:
        report = run_matrix(sys.argv[1])
    except Exception:
        report = {"op": sys.argv[1], "cases": 0, "failures": [traceback.format_exc()]}
    print(json.dumps(report))
