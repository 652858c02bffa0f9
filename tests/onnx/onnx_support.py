"""Helpers for the ONNX tests: run an exported model in onnxruntime and compare with pyengine."""
import numpy as np
import pytest

import pyengine
from layer_cases import INDEX_LAYERS

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def session(proto):
    return ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])


def flat(out):
    if isinstance(out, (tuple, list)):
        r = []
        for o in out:
            r.extend(flat(o))
        return r
    return [out]


def run_pyengine(model, xs):
    with pyengine.no_grad():
        return [o.numpy() for o in flat(model(*[pyengine.from_numpy(x) for x in xs]))]


def batch_axes(model, xs, in_axes):
    """Which axis of each output follows the batch: the one whose size changes with it."""
    def grow(x, ax):
        return np.concatenate([x, x[(slice(None),) * ax + (slice(0, 1),)]], axis=ax)
    a = run_pyengine(model, xs)
    b = run_pyengine(model, [grow(x, ax) for x, ax in zip(xs, in_axes)])
    axes = []
    for u, v in zip(a, b):
        diff = [i for i, (p, q) in enumerate(zip(u.shape, v.shape)) if p != q]
        axes.append(diff)
    return axes


def assert_matches(model, sample_shapes, in_axes=None, batches=(1, 5), rtol=1e-4, seed=0, out_axes=None,
                   roundtrip=True, **export_kw):
    """Exports model on random inputs of sample_shapes with the batch axes symbolic, then compares
    onnxruntime with pyengine at other batch sizes — and, with roundtrip, the model read back by
    pyengine.onnx.load too. Returns the ModelProto."""
    from pyengine import onnx as po
    model.eval()
    rng = np.random.default_rng(seed)

    def draw(shape):      # layers of integer indices (layer_cases.INDEX_LAYERS) get indices, not floats
        if type(model).__name__ in INDEX_LAYERS:
            return rng.integers(0, model.num_embeddings, shape)
        return rng.standard_normal(shape).astype(np.float32)
    xs = [draw(s) for s in sample_shapes]
    in_axes = in_axes or [0] * len(xs)
    out_axes = out_axes or batch_axes(model, xs, in_axes)
    in_names = [f"x{i}" for i in range(len(xs))]
    out_names = [f"y{i}" for i in range(len(out_axes))]
    dyn = {n: [a] for n, a in zip(in_names, in_axes)}
    dyn.update({n: a for n, a in zip(out_names, out_axes) if a})
    proto = po.export(model, tuple(pyengine.from_numpy(x) for x in xs), input_names=in_names,
                      output_names=out_names, dynamic_axes=dyn, **export_kw)
    sess = session(proto)
    back = po.load(proto) if roundtrip else None
    for b in batches:
        feeds = []
        for s, ax in zip(sample_shapes, in_axes):
            shape = list(s)
            shape[ax] = b
            feeds.append(draw(shape))
        want = run_pyengine(model, feeds)
        got = sess.run(None, dict(zip(in_names, feeds)))
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.shape == w.shape
            np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol * max(1.0, float(np.abs(w).max())) * 1e-1)
        if back is not None:
            again = run_pyengine(back, feeds)
            for g, w in zip(again, want):
                assert g.shape == w.shape
                np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol * max(1.0, float(np.abs(w).max())) * 1e-1)
    return proto


def randomize(model, seed=0):
    """Non-trivial batch-norm statistics and parameters drawn so activations stay O(1)."""
    rng = np.random.default_rng(seed)
    for name, b in model.named_buffers():
        if name.endswith("running_mean"):
            b._data[...] = rng.standard_normal(b.shape) * 0.1
        elif name.endswith("running_var"):
            b._data[...] = rng.random(b.shape) * 0.5 + 0.75
    return model
