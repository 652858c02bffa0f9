"""The converted int8 model exported as QDQ ONNX: valid for onnx.checker and equal to ours in
onnxruntime (whose fused int8 kernels may round a requantization one step differently)."""
import numpy as np
import pytest

import pyengine as pe
from pyengine import quantization as Q

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def test_quantized_digit_cnn_runs_the_same_in_onnxruntime(trained_digit_cnn, digits_split, tmp_path):
    (xt, _), (xv, yv) = digits_split
    q = Q.quantize(trained_digit_cnn, xt[:200])
    path = tmp_path / "digit-int8.onnx"
    proto = Q.export_onnx(q, pe.tensor(xv[:2]), str(path))
    ops = {n.op_type for n in proto.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear", "Conv", "MaxPool", "Gemm"} <= ops
    inits = {i.name: i for i in proto.graph.initializer}
    assert any(i.data_type == onnx.TensorProto.INT8 for i in inits.values())     # int8 weights in the file
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = xv[:300]
    got = sess.run(None, {"input": x})[0]                                           # another batch size
    with pe.no_grad():
        want = q(pe.tensor(x)).numpy()
    step = float(q.module.fc.scale.numpy())
    assert np.abs(got - want).max() <= 2 * step + 1e-6
    assert (got.argmax(1) == want.argmax(1)).mean() >= 0.99
    assert (got.argmax(1) == yv[:300]).mean() >= 0.9


def test_export_rejects_float_models(tmp_path):
    with pytest.raises(ValueError, match="export_onnx: QuantStub has no ONNX form here"):
        Q.export_onnx(Q.QuantWrapper(pe.nn.Sequential(pe.nn.Linear(3, 2))), pe.randn(1, 3), str(tmp_path / "x.onnx"))
