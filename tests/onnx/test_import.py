"""pyengine.onnx.load: models from torch.onnx.export and from our exporter, trainable imports, and
hostile files that must end in a clear ValueError."""
import io
import os
import warnings

import numpy as np
import pytest

import pyengine
from pyengine import nn, optim

from onnx_support import onnx, run_pyengine  # noqa: F401

po = pytest.importorskip("pyengine.onnx")
helper, numpy_helper, TP = onnx.helper, onnx.numpy_helper, onnx.TensorProto


# ------------------------------------------------------------------------------ from torch
torch = None


def _torch():
    global torch
    torch = pytest.importorskip("torch")
    return torch


def _torch_models():
    t = _torch()

    class CNN(t.nn.Module):
        def __init__(self):
            super().__init__()
            self.features = t.nn.Sequential(
                t.nn.Conv2d(1, 8, 3, padding=1), t.nn.BatchNorm2d(8), t.nn.ReLU(), t.nn.MaxPool2d(2),
                t.nn.Conv2d(8, 16, 3, padding=1, stride=2), t.nn.BatchNorm2d(16), t.nn.ReLU(),
                t.nn.AdaptiveAvgPool2d(1))
            self.fc = t.nn.Linear(16, 10)

        def forward(self, x):
            return t.nn.functional.log_softmax(self.fc(t.flatten(self.features(x), 1)), 1)

    class LSTMClassifier(t.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = t.nn.LSTM(5, 7, num_layers=2, batch_first=True)
            self.fc = t.nn.Linear(7, 3)

        def forward(self, x):
            y, _ = self.lstm(x)
            return self.fc(y[:, -1])
    return CNN, LSTMClassifier


def _export_torch(m, x, **kw):
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # the TorchScript exporter: the torch.export one needs onnxscript, which is not installed here
        torch.onnx.export(m, (x,), buf, dynamo=False, opset_version=17, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "n"}, "y": {0: "n"}}, **kw)
    return buf.getvalue()


@pytest.mark.parametrize("fold", [True, False])
def test_a_cnn_from_torch_onnx_export(fold):
    CNN, _ = _torch_models()
    torch.manual_seed(0)
    m = CNN().eval()
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.5, 0.5)
                mod.running_var.uniform_(0.5, 1.5)
                mod.weight.uniform_(0.5, 1.5)
    kw = {} if fold else {"training": torch.onnx.TrainingMode.PRESERVE, "do_constant_folding": False}
    data = _export_torch(m, torch.randn(2, 1, 12, 12), **kw)
    imp = po.load(data)
    ops = {n.op for n in imp._nodes}
    assert ("BatchNormalization" in ops) != fold
    for n in (1, 4):
        x = torch.randn(n, 1, 12, 12)
        with torch.no_grad():
            want = m(x).numpy()
        got = run_pyengine(imp, [x.numpy()])[0]
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    if not fold:      # unfolded: torch's state-dict names survive, so its weights load by name
        sd = imp.state_dict()
        assert {"features.0.weight", "features.1.running_var", "fc.bias"} <= set(sd)
        np.testing.assert_array_equal(sd["features.4.weight"].numpy(), m.features[4].weight.detach().numpy())


def test_an_lstm_classifier_from_torch_onnx_export():
    _, LSTMClassifier = _torch_models()
    torch.manual_seed(1)
    m = LSTMClassifier().eval()
    imp = po.load(_export_torch(m, torch.randn(2, 6, 5)))
    assert "LSTM" in {n.op for n in imp._nodes}
    for n, T in ((1, 6), (3, 6)):
        x = torch.randn(n, T, 5)
        with torch.no_grad():
            want = m(x).numpy()
        np.testing.assert_allclose(run_pyengine(imp, [x.numpy()])[0], want, rtol=1e-4, atol=1e-5)


def test_an_imported_model_trains():
    """Initializers are Parameters: the imported CNN fine-tunes, batch norm in training mode
    updates its running statistics, and the loss falls."""
    CNN, _ = _torch_models()
    torch.manual_seed(0)
    m = CNN().eval()
    with torch.no_grad():     # distinct values: torch.onnx.export merges equal initializers (var = weight = 1)
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.1, 0.1)
                mod.running_var.uniform_(0.9, 1.1)
    imp = po.load(_export_torch(m, torch.randn(2, 1, 12, 12), training=torch.onnx.TrainingMode.PRESERVE,
                                do_constant_folding=False))
    params = dict(imp.named_parameters())
    assert "features.0.weight" in params and "features.1.running_mean" not in params
    rng = np.random.default_rng(0)
    x = pyengine.from_numpy(rng.standard_normal((16, 1, 12, 12)).astype(np.float32))
    y = pyengine.from_numpy(rng.integers(0, 10, 16))
    imp.train()
    opt = optim.SGD(imp.parameters(), lr=0.05, momentum=0.9)
    rm_before = imp.state_dict()["features.1.running_mean"].numpy().copy()
    losses = []
    for _ in range(40):
        loss = nn.NLLLoss()(imp(x), y)          # the graph ends in log_softmax
        opt.zero_grad()
        loss.backward()
        assert all(p.grad is not None for p in imp.parameters())
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    assert not np.allclose(imp.state_dict()["features.1.running_mean"].numpy(), rm_before)


# ------------------------------------------------------------------------------ hostile files
def _small_model(opset=17, **kw):
    w = numpy_helper.from_array(np.ones((3, 2), np.float32), "w")
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TP.FLOAT, [None, 3])],
                          [helper.make_tensor_value_info("y", TP.FLOAT, [None, 2])], [w])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], **kw)


def test_the_small_model_loads():
    m = po.load(_small_model().SerializeToString())
    np.testing.assert_allclose(run_pyengine(m, [np.ones((2, 3), np.float32)])[0], np.full((2, 2), 3.0))


def test_truncated_and_garbage_files_are_value_errors(tmp_path):
    data = _small_model().SerializeToString()
    for cut in range(1, len(data), max(1, len(data) // 13)):
        with pytest.raises(ValueError, match="pyengine.onnx.load"):
            po.load(data[:cut])
    rng = np.random.default_rng(0)
    for _ in range(20):
        with pytest.raises(ValueError):
            po.load(rng.integers(0, 256, 300, dtype=np.uint8).tobytes())
    (tmp_path / "empty.onnx").write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        po.load(tmp_path / "empty.onnx")
    (tmp_path / "text.onnx").write_text("this is not a model\n")
    with pytest.raises(ValueError, match="not an ONNX model"):
        po.load(tmp_path / "text.onnx")
    with pytest.raises(ValueError, match="folder"):
        po.load(tmp_path)
    with pytest.raises(FileNotFoundError):
        po.load(tmp_path / "missing.onnx")
    with pytest.raises(TypeError, match="expected a path, bytes"):
        po.load(3)


def test_random_corruption_never_escapes_as_another_error():
    data = bytearray(_small_model().SerializeToString())
    rng = np.random.default_rng(1)
    for _ in range(300):
        bad = bytearray(data)
        for i in rng.integers(0, len(bad), rng.integers(1, 6)):
            bad[i] = int(rng.integers(0, 256))
        try:
            m = po.load(bytes(bad))
        except ValueError:
            continue
        try:
            run_pyengine(m, [np.ones((2, 3), np.float32)])
        except ValueError:
            pass


def test_a_cycle_is_refused():
    nodes = [helper.make_node("Add", ["x", "c"], ["b"], name="first"), helper.make_node("Relu", ["b"], ["c"])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TP.FLOAT, [2])],
                          [helper.make_tensor_value_info("c", TP.FLOAT, [2])])
    with pytest.raises(ValueError, match="cycle"):
        po.load(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))
    g = helper.make_graph([helper.make_node("Relu", ["nowhere"], ["y"], name="r")], "g", [],
                          [helper.make_tensor_value_info("y", TP.FLOAT, [2])])
    with pytest.raises(ValueError, match="reads 'nowhere', which no input"):
        po.load(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))


def _with_initializer(t):
    g = helper.make_graph([helper.make_node("Relu", ["w"], ["y"])], "g", [],
                          [helper.make_tensor_value_info("y", TP.FLOAT, None)], [t])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def test_a_tensor_declaring_more_than_it_holds_is_refused_without_allocating():
    t = TP(name="w", data_type=TP.FLOAT, dims=[1000, 1000], raw_data=b"\0" * 16)
    with pytest.raises(ValueError, match="need 4000000 bytes, the tensor holds 16"):
        po.load(_with_initializer(t))
    t = TP(name="w", data_type=TP.FLOAT, dims=[1 << 20, 1 << 20, 1 << 20], raw_data=b"\0" * 4)
    with pytest.raises(ValueError, match="declares more than"):
        po.load(_with_initializer(t))
    t = TP(name="w", data_type=TP.FLOAT, dims=[10], float_data=[1.0, 2.0])
    with pytest.raises(ValueError, match="need 10 values, the tensor holds 2"):
        po.load(_with_initializer(t))
    t = TP(name="w", data_type=TP.FLOAT, dims=[-3], raw_data=b"")
    with pytest.raises(ValueError, match="negative dimension"):
        po.load(_with_initializer(t))
    t = TP(name="w", data_type=TP.STRING, dims=[1], string_data=[b"x"])
    with pytest.raises(ValueError, match="element type 8 is not supported"):
        po.load(_with_initializer(t))


def _external(location, offset=0, length=16):
    t = TP(name="w", data_type=TP.FLOAT, dims=[4], data_location=TP.EXTERNAL)
    for k, v in (("location", location), ("offset", str(offset)), ("length", str(length))):
        e = t.external_data.add()
        e.key, e.value = k, v
    return _with_initializer(t)


def test_external_data_must_stay_inside_the_model_folder(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "w.bin").write_bytes(np.arange(4, dtype=np.float32).tobytes())
    (tmp_path / "secret.bin").write_bytes(b"\0" * 16)
    os.symlink(tmp_path / "secret.bin", folder / "link.bin")

    def save(model):
        p = folder / "m.onnx"
        p.write_bytes(model.SerializeToString())
        return p
    m = po.load(save(_external("w.bin")))
    np.testing.assert_array_equal(run_pyengine(m, [])[0], [0, 1, 2, 3])
    for loc, msg in (("../secret.bin", "outside the model's folder"), (str(tmp_path / "secret.bin"), "relative"),
                     ("link.bin", "outside the model's folder"), ("missing.bin", "does not exist")):
        with pytest.raises(ValueError, match=msg):
            po.load(save(_external(loc)))
    with pytest.raises(ValueError, match="wants bytes 8..24"):
        po.load(save(_external("w.bin", offset=8)))
    with pytest.raises(ValueError, match="needs the model loaded from a file"):
        po.load(_external("w.bin").SerializeToString())


def test_an_op_of_an_unknown_domain_and_unsupported_ops_are_refused():
    g = helper.make_graph([helper.make_node("Evil", ["x"], ["y"], domain="com.example")], "g",
                          [helper.make_tensor_value_info("x", TP.FLOAT, [2])],
                          [helper.make_tensor_value_info("y", TP.FLOAT, [2])])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)])
    with pytest.raises(ValueError, match="op 'Evil' of domain 'com.example'"):
        po.load(model)
    g = helper.make_graph([helper.make_node("Einsum", ["x"], ["y"], equation="i->i")], "g",
                          [helper.make_tensor_value_info("x", TP.FLOAT, [2])],
                          [helper.make_tensor_value_info("y", TP.FLOAT, [2])])
    with pytest.raises(ValueError, match="op 'Einsum'.*is not supported"):
        po.load(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))
    with pytest.raises(ValueError, match="opset 30 is outside"):
        po.load(_small_model(opset=30))


def test_data_dependent_sizes_are_bounded_at_run_time():
    shape = numpy_helper.from_array(np.array([1 << 20, 1 << 20], np.int64), "s")
    g = helper.make_graph([helper.make_node("ConstantOfShape", ["s"], ["y"])], "g", [],
                          [helper.make_tensor_value_info("y", TP.FLOAT, None)], [shape])
    m = po.load(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))
    with pytest.raises(ValueError, match="more than"):
        run_pyengine(m, [])


def test_wrong_inputs_are_named():
    m = po.load(_small_model())
    with pytest.raises(ValueError, match="takes 1 inputs \\(x\\), got 2"):
        m(np.ones((1, 3), np.float32), np.ones(1))
    with pytest.raises(ValueError, match="ONNX node 'MatMul_0' \\(MatMul, opset 17\\)"):
        m(np.ones((1, 4), np.float32))


def test_pyengine_works_without_onnx_installed():
    from support import run_python
    code = ("import sys; sys.modules['onnx'] = None; sys.modules['onnxruntime'] = None\n"
            "import pyengine, pyengine.onnx, pyengine.models\n"
            "m = pyengine.models.lenet5()\n"
            "try:\n    pyengine.onnx.export(m, pyengine.randn(1, 1, 28, 28))\n"
            "except ImportError as e:\n    print('export:', e)\n"
            "try:\n    pyengine.onnx.load(b'x')\n"
            "except ImportError as e:\n    print('load:', e)\n")
    r = run_python(code=code)
    assert r.returncode == 0, r.stderr
    assert 'export: pyengine.onnx.export needs the onnx package: pip install "pyengine[onnx]"' in r.stdout
    assert "load: pyengine.onnx.load needs the onnx package" in r.stdout
