"""The bad-input matrix for layers, run in a fresh process (python layer_matrix.py prints JSON).

| case             | input                                   | accepted outcome                              |
|------------------|-----------------------------------------|-----------------------------------------------|
| rank-minus-one   | the first axis dropped                  | ValueError naming the layer, or a result      |
| rank-plus-one    | an extra leading axis                   | ValueError naming the layer                   |
| wrong-channels   | one channel/feature more than expected  | ValueError naming the layer and what it expected |
| dtype-int        | int64 values                            | TypeError/ValueError, or a float result       |
| dtype-float16    | float16 values                          | TypeError/ValueError, or a float result       |
| dtype-bool       | bool values                             | TypeError/ValueError, or a float result       |
| nan-inf          | some NaN and Inf values                 | a result (IEEE propagation), never a crash    |
| non-contiguous   | the same values as a strided view       | the same result as the contiguous input       |
| zero-batch       | batch size 0                            | an empty result of the right shape, or ValueError |
"""
import json
import sys
import traceback

import numpy as np


def layers():
    import pyengine as pe
    from pyengine import nn
    pe.manual_seed(0)
    # name, layer, good input shape, index of the channel/feature axis (or None)
    return [
        ("Linear", nn.Linear(6, 4), (3, 6), 1),
        ("Conv2d", nn.Conv2d(3, 5, 3, padding=1), (2, 3, 7, 7), 1),
        ("Conv2d-depthwise", nn.Conv2d(4, 4, 3, groups=4), (2, 4, 6, 6), 1),
        ("MaxPool2d", nn.MaxPool2d(2, 2), (2, 3, 6, 6), None),
        ("AvgPool2d", nn.AvgPool2d(3, 2, padding=1), (2, 3, 7, 7), None),
        ("AdaptiveAvgPool2d", nn.AdaptiveAvgPool2d(1), (2, 3, 5, 5), None),
        ("BatchNorm1d", nn.BatchNorm1d(5), (4, 5), 1),
        ("BatchNorm2d", nn.BatchNorm2d(3), (4, 3, 5, 5), 1),
        ("ReLU", nn.ReLU(), (3, 5), None),
        ("LeakyReLU", nn.LeakyReLU(0.1), (3, 5), None),
        ("PReLU", nn.PReLU(), (3, 5), None),
        ("ELU", nn.ELU(), (3, 5), None),
        ("Sigmoid", nn.Sigmoid(), (3, 5), None),
        ("Tanh", nn.Tanh(), (3, 5), None),
        ("Softmax", nn.Softmax(dim=1), (3, 5), None),
        ("LogSoftmax", nn.LogSoftmax(dim=1), (3, 5), None),
        ("Dropout", nn.Dropout(0.5), (3, 5), None),
        ("Flatten", nn.Flatten(), (2, 3, 4), None),
        ("LSTM", nn.LSTM(6, 4), (5, 2, 6), 2),
        ("RNN", nn.RNN(6, 4), (5, 2, 6), 2),
        ("LSTMCell", nn.LSTMCell(6, 4), (2, 6), 1),
    ]


def _first(out):
    return out[0] if isinstance(out, tuple) else out


def run():
    import pyengine as pe
    failures, count = [], 0
    rng = np.random.default_rng(0)
    for name, layer, shape, ch_axis in layers():
        layer.eval()   # dropout and batch-norm statistics fixed, so two calls compare equal
        good = rng.standard_normal(shape).astype(np.float32)
        ref = _first(layer(pe.tensor(good))).numpy()

        def attempt(case, x, expect):
            nonlocal count
            count += 1
            where = f"{name} [{case}]"
            try:
                out = _first(layer(pe.tensor(x) if not isinstance(x, pe.Tensor) else x))
            except (ValueError, TypeError) as exc:
                if expect in ("result", "same"):
                    failures.append(f"{where}: valid input rejected: {exc}")
                elif expect == "error-named" and type(layer).__name__ not in str(exc) and name.split("-")[0] not in str(exc):
                    failures.append(f"{where}: error does not name the layer: {exc}")
                return
            except Exception as exc:
                failures.append(f"{where}: raised {type(exc).__name__}: {exc}")
                return
            if expect == "error-named":
                failures.append(f"{where}: accepted an input of the wrong shape {np.shape(x)}")
            elif expect == "same" and not np.allclose(out.numpy(), ref, atol=1e-6, equal_nan=True):
                failures.append(f"{where}: result differs from the contiguous input's")
            elif out.numpy().dtype.kind not in "fc" and name not in ("Dropout", "Flatten"):
                # Dropout in eval and Flatten only move values, and keep the dtype (as in torch)
                failures.append(f"{where}: non-float result {out.numpy().dtype}")

        # Linear, like torch, takes any leading dimensions (*, in_features)
        attempt("rank-plus-one", good[None], "error-named" if name not in ("Linear", "ReLU", "LeakyReLU", "PReLU", "ELU", "Sigmoid", "Tanh", "Dropout", "Flatten", "Softmax", "LogSoftmax", "AdaptiveAvgPool2d", "MaxPool2d", "AvgPool2d") else "any")
        attempt("rank-minus-one", good[0], "any")
        if ch_axis is not None:
            wide = list(shape)
            wide[ch_axis] += 1
            attempt("wrong-channels", rng.standard_normal(wide).astype(np.float32), "error-named")
        attempt("dtype-int", good.astype(np.int64), "any")
        attempt("dtype-float16", good.astype(np.float16), "any")
        attempt("dtype-bool", good > 0, "any")
        bad = good.copy()
        bad.reshape(-1)[::3] = np.nan
        bad.reshape(-1)[1::7] = np.inf
        attempt("nan-inf", bad, "result")
        strided = np.empty(shape + (2,), np.float32)
        strided[..., 0] = good
        attempt("non-contiguous", strided[..., 0], "same")
        batch_axis = 1 if name in ("LSTM", "RNN") else 0
        empty = list(shape)
        empty[batch_axis] = 0
        attempt("zero-batch", np.zeros(empty, np.float32), "any")
    return {"cases": count, "failures": failures}


if __name__ == "__main__":
    try:
        report = run()
    except Exception:
        report = {"cases": 0, "failures": [traceback.format_exc()]}
    print(json.dumps(report))
