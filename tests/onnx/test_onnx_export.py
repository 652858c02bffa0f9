"""pyengine.onnx.export: every layer and every zoo model exports, passes onnx.checker (full check)
and matches pyengine in onnxruntime (rtol 1e-4) at batch sizes other than the traced one."""
import numpy as np
import pytest

import pyengine
from pyengine import models, nn
from pyengine.nn import functional as F

from layer_cases import LAYERS
from onnx_support import assert_matches, onnx, randomize, run_pyengine, session  # noqa: F401

po = pytest.importorskip("pyengine.onnx")


def _in_axes(m, shapes):
    if isinstance(m, (nn.LSTM, nn.RNN, nn.GRU)) and not m.batch_first and len(shapes[0]) == 3:
        return [1]
    if isinstance(m, nn.Conv2d) and len(shapes[0]) == 3:
        return [2]                    # unbatched (C, H, W): the height is the symbolic axis
    return [0] * len(shapes)          # every input batched on axis 0 (MultiheadAttention takes three)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_every_layer_exports_and_matches_onnxruntime(name):
    build, shapes = LAYERS[name]
    pyengine.manual_seed(0)
    m = randomize(build())
    assert_matches(m, shapes, _in_axes(m, shapes))


@pytest.mark.parametrize("opset", [11, 13, 17, 18, 21])
def test_opsets_11_to_21(opset):
    pyengine.manual_seed(0)
    m = randomize(nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU6(), nn.MaxPool2d(2),
                                nn.Softmax(dim=1), nn.Flatten(), nn.Linear(4 * 3 * 3, 5), nn.LogSoftmax(dim=0)))
    proto = assert_matches(m, [(2, 3, 7, 6)], opset_version=opset)
    assert proto.opset_import[0].version == opset


class _Ops(nn.Module):
    """A forward built from Tensor ops between layers, as a model's own code would be."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn
        self.lin = nn.Linear(6, 6)

    def forward(self, x):
        return self.fn(self.lin(x))


TENSOR_OPS = {
    "add-sub-mul-div-scalars": lambda x: (x + 1.5) * x - x / 3.0 + 2 * x - (1 - x),
    "pow-neg-abs": lambda x: (-x).abs() ** 2 + x ** 3,
    "exp-log-sqrt": lambda x: (x.abs() + 0.5).log() + (x.abs() + 1).sqrt() + (x * 0.1).exp(),
    "clamp": lambda x: x.clamp(-0.3, 0.5) + x.clamp(min=0.1),
    "sum-mean-var": lambda x: x.sum(1, keepdim=True) + x.mean(-1, keepdim=True) * x.var(1, keepdim=True) + x.sum(),
    "max-min": lambda x: x.max(1, keepdim=True).values - x.min(1, keepdim=True)[0] + x.max() + x.max((0, 1)),
    "max-indices": lambda x: x.max(1).indices.to(pyengine.float32).unsqueeze(1) * x - x.min(-1, keepdim=True).indices,
    "reshape-view-flatten": lambda x: x.reshape(x.shape[0], 2, 3).view(x.shape[0], 3, 2).flatten(1),
    "squeeze-unsqueeze": lambda x: x.unsqueeze(1).unsqueeze(-1).squeeze(-1).squeeze(1),
    "transpose-permute-T": lambda x: x.reshape(x.shape[0], 2, 3).transpose(1, 2).permute(0, 2, 1).flatten(1),
    "getitem-basic": lambda x: pyengine.cat([x[:, 1:4], x[:, ::2], x[:, -1:], x[:, None, 2].flatten(1)], 1),
    "getitem-int-and-array": lambda x: x[:, 2:3] * x[:, [0, 5, 1]].sum(1, keepdim=True),
    "cat-stack": lambda x: pyengine.stack([x, x * 2], 1).flatten(1) + pyengine.cat([x, x], 1),
    "expand": lambda x: x[:, :1].expand(x.shape[0], 6) + x,
    "matmul": lambda x: x.reshape(x.shape[0], 2, 3) @ pyengine.ones(3, 4),
    "where": lambda x: pyengine.where(np.arange(6) % 2 == 0, x, x * 0.5),
    "functional": lambda x: F.relu(x) + F.leaky_relu(x, 0.3) + F.elu(x) + F.sigmoid(x) + F.tanh(x) + F.relu6(x * 4)
    + F.softmax(x, 1) + F.log_softmax(x, -1),
    "clone-to": lambda x: x.clone().to(pyengine.float64).to(pyengine.float32),
}


@pytest.mark.parametrize("name", sorted(TENSOR_OPS))
def test_tensor_ops_in_a_forward(name):
    pyengine.manual_seed(0)
    assert_matches(_Ops(TENSOR_OPS[name]), [(3, 6)])


class _Functional(nn.Module):
    """Layers' functional forms called directly, parameters held by the module."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(pyengine.randn(4, 3, 3, 3) * 0.3)
        self.b = nn.Parameter(pyengine.randn(4))
        self.bn = nn.BatchNorm2d(4)
        self.slope = nn.Parameter(pyengine.rand(4) * 0.3)

    def forward(self, x):
        y = F.conv2d(x, self.w, self.b, stride=1, padding="same")
        y = F.batch_norm(y, self.bn.running_mean, self.bn.running_var, self.bn.weight, self.bn.bias, False)
        y = F.prelu(y, self.slope)
        y = F.max_pool2d(y, 3, 2, 1, ceil_mode=True) + F.avg_pool2d(y, 3, 2, 1, ceil_mode=True)
        y = F.pad(y, (1, 0, 0, 2), value=0.5)
        y = F.adaptive_avg_pool2d(y, (3, 2)) + F.adaptive_avg_pool2d(y, 1)
        return F.linear(y.flatten(1), self.w.reshape(4, -1)[:, :24])


def test_functional_layers_in_a_forward():
    pyengine.manual_seed(0)
    assert_matches(randomize(_Functional()), [(2, 3, 9, 8)])


class _Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.bn = nn.BatchNorm2d(3)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)) + x)


ZOO = {"lenet5": (1, 28), "digit_cnn": (1, 28), "alexnet": (3, 64), "vgg11": (3, 32), "vgg16": (3, 32),
       "vgg16_bn": (3, 32), "resnet18": (3, 64), "resnet34": (3, 40), "resnet50": (3, 64), "mobilenet_v2": (3, 64),
       "squeezenet1_1": (3, 64)}


@pytest.mark.parametrize("name", sorted(ZOO))
def test_every_zoo_model_exports_and_matches_onnxruntime(name):
    pyengine.manual_seed(0)
    m = randomize(models.get_model(name, num_classes=10))
    c, side = ZOO[name]
    big = name.startswith(("vgg", "alexnet"))       # 60-140M parameters: one other batch size is enough
    assert_matches(m, [(2, c, side, side)], batches=(3,) if big else (1, 3), out_axes=[[0]])


@pytest.mark.parametrize("model", ["digit_cnn", "residual"])
def test_fold_batchnorm_removes_it_and_keeps_the_outputs(model):
    pyengine.manual_seed(0)
    m = randomize(models.digit_cnn() if model == "digit_cnn" else _Residual())
    shape = (2, 1, 28, 28) if model == "digit_cnn" else (2, 3, 6, 6)
    proto = assert_matches(m, [shape], fold_batchnorm=True)
    ops = [n.op_type for n in proto.graph.node]
    assert "BatchNormalization" not in ops and "Conv" in ops
    plain = assert_matches(m, [shape])
    assert "BatchNormalization" in [n.op_type for n in plain.graph.node]
    names = {i.name for i in plain.graph.initializer}
    assert ("features.0.weight" if model == "digit_cnn" else "conv.weight") in names     # state-dict names


def test_initializers_carry_state_dict_names(tmp_path):
    pyengine.manual_seed(0)
    m = models.resnet18(num_classes=4)
    path = tmp_path / "r.onnx"
    po.export(m, pyengine.randn(1, 3, 32, 32), path)
    loaded = onnx.load(str(path))
    names = {i.name for i in loaded.graph.initializer}
    assert {"conv1.weight", "layer1.0.bn1.running_var", "fc.weight", "fc.bias"} <= names
    onnx.checker.check_model(loaded, full_check=True)


class _NoExporter(pyengine.autograd.Function):
    name = "my_custom_op"

    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, g):
        return g * 2


class _Custom(nn.Module):
    def __init__(self):
        super().__init__()
        self.head = nn.Sequential(nn.Linear(3, 3), _CustomLeaf())

    def forward(self, x):
        return self.head(x)


class _CustomLeaf(nn.Module):
    def forward(self, x):
        return _NoExporter.apply(x)


def test_an_unsupported_op_names_the_op_the_layer_and_the_opset():
    with pytest.raises(po.UnsupportedOperatorError,
                       match=r"op 'my_custom_op' in layer 'head\.1' \(_CustomLeaf\) cannot be exported at "
                             r"opset 15: pyengine has no ONNX exporter"):
        po.export(_Custom(), pyengine.randn(2, 3), opset_version=15)
    with pytest.raises(po.UnsupportedOperatorError,
                       match=r"op 'MaxPool2d' in layer '1' \(MaxPool2d\) cannot be exported at opset 17: "
                             r"return_indices"):
        po.export(nn.Sequential(nn.ReLU(), nn.MaxPool2d(2, return_indices=True)), pyengine.randn(1, 1, 4, 4))
    with pytest.raises(po.UnsupportedOperatorError, match="BatchNorm2d.*running statistics"):
        po.export(nn.Sequential(nn.BatchNorm2d(2, track_running_stats=False)), pyengine.randn(2, 2, 3, 3))


def test_bad_arguments_are_named():
    m = nn.Linear(3, 2)
    x = pyengine.randn(2, 3)
    with pytest.raises(ValueError, match="opset_version must be an int in 11..21, got 9"):
        po.export(m, x, opset_version=9)
    with pytest.raises(TypeError, match="model must be a pyengine nn.Module"):
        po.export(lambda t: t, x)
    with pytest.raises(TypeError, match=r"args\[0\] must be a Tensor"):
        po.export(m, [[1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match="input_names"):
        po.export(m, x, input_names=["a", "b"])
    with pytest.raises(ValueError, match="dynamic_axes names \\['nope'\\]"):
        po.export(m, x, dynamic_axes={"nope": [0]})
    with pytest.raises(ValueError, match="names axis 5"):
        po.export(m, x, dynamic_axes={"input": [5]})


def test_export_leaves_the_model_as_it_was(tmp_path):
    m = models.digit_cnn()
    m.train()
    m.features[1].eval()
    before = {k: v.numpy().copy() for k, v in m.state_dict().items()}
    po.export(m, pyengine.randn(2, 1, 28, 28), tmp_path / "d.onnx")
    assert m.training and not m.features[1].training and m.features[2].training
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])
    x = pyengine.randn(2, 3)
    y = nn.Linear(3, 2)(x)          # Functions are unpatched again: ordinary calls record nothing extra
    assert y.shape == (2, 2) and nn.Module.__call__ is nn.Linear.__call__


def test_export_writes_atomically(tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"old")
    with pytest.raises(po.UnsupportedOperatorError):
        po.export(_Custom(), pyengine.randn(2, 3), path)
    assert path.read_bytes() == b"old"
    po.export(nn.Linear(3, 2), pyengine.randn(2, 3), path)
    assert onnx.load(str(path)).graph.node
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]
