"""ONNX forms of the spatial breadth ops, held to torch 2.13 through onnxruntime on random data with
odd sizes: F.pad's reflect/replicate/circular (Pad reflect/edge/wrap, or Slice+Concat before opset
19), Conv1d/Conv2d padding_mode, F.interpolate (Resize), adaptive max pooling (MaxPool / GlobalMaxPool /
Slice+ReduceMax), and the ConvTranspose importer (against onnxruntime, and torch where it has the case)."""
import numpy as np
import pytest

import pyengine
from pyengine import nn
from pyengine.nn import functional as F

from onnx_support import onnx, session  # noqa: F401

po = pytest.importorskip("pyengine.onnx")
torch = pytest.importorskip("torch")
TF = torch.nn.functional
helper, numpy_helper, TP = onnx.helper, onnx.numpy_helper, onnx.TensorProto


class _Fn(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


def _rand(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _ort_and_back(model, x, opset=17, dyn=True):
    """(onnxruntime's output, the re-imported model's output, the proto) for model exported on x."""
    proto = po.export(model, pyengine.from_numpy(x), input_names=["x"], output_names=["y"], opset_version=opset,
                      dynamic_axes={"x": [0], "y": [0]} if dyn else None)
    got = session(proto).run(None, {"x": x})[0]
    with pyengine.no_grad():
        back = po.load(proto)(pyengine.from_numpy(x)).numpy()
    return got, back, proto


def _close(a, b, tol=1e-5):
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol * max(1.0, float(np.abs(b).max())))


# ------------------------------------------------------------------------------ pad modes
PADS = [((2, 3, 5), (2, 3)), ((1, 3, 5), (4, 1)), ((2, 3, 4, 5), (1, 2, 3, 0)), ((2, 2, 3, 7), (0, 3, 2, 2)),
        ((3, 4, 5), (2, 1, 0, 3))]      # the last: unbatched (C, H, W)


@pytest.mark.parametrize("opset", [11, 17, 19, 21])
@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape,pad", PADS)
def test_pad_modes_match_torch(shape, pad, mode, opset):
    if mode == "reflect" and max(pad) >= min(shape[-len(pad) // 2:]):
        pad = tuple(min(p, 2) for p in pad)
    x = _rand(shape)
    got, back, proto = _ort_and_back(_Fn(lambda t: F.pad(t, pad, mode)), x, opset)
    want = TF.pad(torch.from_numpy(x), pad, mode).numpy()
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(back, want)
    ops = {n.op_type for n in proto.graph.node}
    if mode == "circular" and opset < 19:
        assert "Pad" not in ops and "Concat" in ops         # wrap needs opset 19
    else:
        modes = {a.s.decode() for n in proto.graph.node if n.op_type == "Pad" for a in n.attribute if a.name == "mode"}
        assert modes == {{"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]}


def test_padding_layers_match_torch():
    x = _rand((2, 3, 6, 5), 1)
    for ours, theirs in [(nn.ReflectionPad2d((1, 2, 3, 0)), torch.nn.ReflectionPad2d((1, 2, 3, 0))),
                         (nn.ReplicationPad2d(3), torch.nn.ReplicationPad2d(3)),
                         (nn.CircularPad2d((2, 0, 1, 3)), torch.nn.CircularPad2d((2, 0, 1, 3)))]:
        for opset in (17, 19):
            got, back, _ = _ort_and_back(ours, x, opset)
            want = theirs(torch.from_numpy(x)).numpy()
            np.testing.assert_array_equal(got, want)
            np.testing.assert_array_equal(back, want)


def _copy_params(ours, theirs):
    with torch.no_grad():
        for name, p in theirs.named_parameters():
            p.copy_(torch.from_numpy(dict(ours.named_parameters())[name].numpy()))


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("case", ["conv2d", "conv2d-same-stride", "conv2d-unbatched", "conv1d"])
def test_conv_padding_mode_matches_torch(case, mode):
    pyengine.manual_seed(3)
    if case == "conv1d":
        kw = dict(in_channels=4, out_channels=6, kernel_size=3, stride=2, padding=2, dilation=2, groups=2)
        ours, theirs, shape = nn.Conv1d(**kw, padding_mode=mode), torch.nn.Conv1d(**kw, padding_mode=mode), (2, 4, 11)
    else:
        kw = dict(in_channels=3, out_channels=5, kernel_size=(3, 4))
        kw.update(padding="same") if case == "conv2d-same-stride" else kw.update(padding=(1, 2), stride=(2, 1))
        ours, theirs = nn.Conv2d(**kw, padding_mode=mode), torch.nn.Conv2d(**kw, padding_mode=mode)
        shape = (3, 7, 9) if case == "conv2d-unbatched" else (2, 3, 7, 9)
    _copy_params(ours, theirs)
    x = _rand(shape, 2)
    got, back, _ = _ort_and_back(ours, x, 17, dyn=case != "conv2d-unbatched")
    with torch.no_grad():
        want = theirs(torch.from_numpy(x)).numpy()
    _close(got, want)
    _close(back, want)


# ------------------------------------------------------------------------------ Resize
RESIZE = [
    ((2, 3, 4, 5), dict(scale_factor=2, mode="nearest")),
    ((1, 2, 5, 7), dict(scale_factor=1.5, mode="nearest")),
    ((2, 2, 5, 7), dict(scale_factor=(0.6, 2.5), mode="nearest")),
    ((2, 3, 4, 5), dict(size=(3, 7), mode="nearest")),
    ((2, 3, 9, 5), dict(size=(4, 11), mode="nearest-exact")),
    ((1, 2, 5, 7), dict(scale_factor=1.37, mode="nearest-exact")),
    ((2, 3, 4, 5), dict(size=(7, 3), mode="bilinear", align_corners=True)),
    ((2, 3, 4, 5), dict(size=(1, 6), mode="bilinear", align_corners=True)),
    ((2, 3, 4, 5), dict(scale_factor=1.5, mode="bilinear", align_corners=True)),
    ((2, 3, 5, 7), dict(scale_factor=1.5, mode="bilinear")),
    ((2, 3, 9, 8), dict(scale_factor=0.6, mode="bilinear")),
    ((2, 3, 5, 7), dict(size=(1, 11), mode="bilinear")),
    ((2, 3, 7), dict(scale_factor=2.5, mode="linear")),
    ((2, 3, 7), dict(size=12, mode="linear", align_corners=True)),
    ((2, 3, 7), dict(size=4, mode="nearest")),
    ((2, 3, 7), dict(scale_factor=3, mode="nearest-exact")),
    ((1, 2, 5, 7), dict(scale_factor=1.5, mode="bilinear", recompute_scale_factor=True)),
]


@pytest.mark.parametrize("opset", [11, 13, 18, 21])
@pytest.mark.parametrize("i", range(len(RESIZE)))
def test_interpolate_matches_torch(i, opset):
    shape, kw = RESIZE[i]
    x = _rand(shape, i)
    got, back, proto = _ort_and_back(_Fn(lambda t: F.interpolate(t, **kw)), x, opset)
    want = TF.interpolate(torch.from_numpy(x), **kw).numpy()
    _close(got, want)
    _close(back, want)
    assert [n.op_type for n in proto.graph.node].count("Resize") == 1


def test_upsample_layers_match_torch():
    x = _rand((2, 3, 5, 4), 7)
    for ours, theirs in [(nn.Upsample(scale_factor=3), torch.nn.Upsample(scale_factor=3)),
                         (nn.UpsamplingNearest2d(size=(3, 7)), torch.nn.UpsamplingNearest2d(size=(3, 7))),
                         (nn.UpsamplingBilinear2d(scale_factor=1.5), torch.nn.UpsamplingBilinear2d(scale_factor=1.5)),
                         (nn.Upsample(size=(8, 9), mode="bilinear"), torch.nn.Upsample(size=(8, 9), mode="bilinear"))]:
        got, back, _ = _ort_and_back(ours, x)
        want = theirs(torch.from_numpy(x)).numpy()
        _close(got, want)
        _close(back, want)


# ------------------------------------------------------------------------------ adaptive max pooling
ADAPTIVE = [((2, 3, 6, 9), (2, 3), "MaxPool"), ((2, 3, 7, 5), 1, "GlobalMaxPool"),
            ((2, 3, 7, 5), (3, 2), "ReduceMax"), ((1, 2, 5, 11), (5, 4), "ReduceMax"), ((3, 7, 5), (2, 5), "ReduceMax"),
            ((2, 3, 10), 4, "ReduceMax"), ((2, 3, 12), 4, "MaxPool"), ((2, 3, 9), 1, "GlobalMaxPool"), ((3, 10), 3, "ReduceMax")]


@pytest.mark.parametrize("opset", [11, 17, 18])
@pytest.mark.parametrize("i", range(len(ADAPTIVE)))
def test_adaptive_max_pool_matches_torch(i, opset):
    shape, size, op = ADAPTIVE[i]
    x = _rand(shape, i)
    one_d = len(shape) <= 3 and not isinstance(size, tuple)
    ours = nn.AdaptiveMaxPool1d(size) if one_d else nn.AdaptiveMaxPool2d(size)
    theirs = torch.nn.AdaptiveMaxPool1d(size) if one_d else torch.nn.AdaptiveMaxPool2d(size)
    unbatched = len(shape) == (2 if one_d else 3)
    got, back, proto = _ort_and_back(ours, x, opset, dyn=not unbatched)
    want = theirs(torch.from_numpy(x)).numpy()
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(back, want)
    assert op in {n.op_type for n in proto.graph.node}
    got_f, _, _ = _ort_and_back(_Fn(lambda t: F.adaptive_max_pool1d(t, size) if one_d else
                                    F.adaptive_max_pool2d(t, size)), x, opset, dyn=not unbatched)
    np.testing.assert_array_equal(got_f, want)


def test_adaptive_max_pool_with_indices_is_refused_by_name():
    with pytest.raises(po.UnsupportedOperatorError, match=r"AdaptiveMaxPool2d.*return_indices"):
        po.export(nn.Sequential(nn.AdaptiveMaxPool2d(2, return_indices=True)), pyengine.randn(1, 2, 5, 5))


# ------------------------------------------------------------------------------ ConvTranspose import
def _conv_transpose_model(x_shape, w, b, opset=17, **attrs):
    inits = [numpy_helper.from_array(w, "W")] + ([numpy_helper.from_array(b, "B")] if b is not None else [])
    node = helper.make_node("ConvTranspose", ["X", "W"] + (["B"] if b is not None else []), ["Y"],
                            **{k: v for k, v in attrs.items() if v is not None})
    g = helper.make_graph([node], "ct", [helper.make_tensor_value_info("X", TP.FLOAT, list(x_shape))],
                          [helper.make_tensor_value_info("Y", TP.FLOAT, [None] * len(x_shape))], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


# (x shape, weight shape, attributes, torch's kwargs or None where torch has no such case)
CONV_T = [
    ((2, 3, 5, 4), (3, 4, 3, 3), dict(strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 1]),
     dict(stride=2, padding=1, output_padding=1)),
    ((1, 4, 5, 6), (4, 3, 3, 2), dict(strides=[1, 2], dilations=[2, 2], group=2), dict(stride=(1, 2), dilation=2, groups=2)),
    ((2, 6, 3, 5), (6, 1, 2, 3), dict(strides=[3, 2], pads=[0, 1, 0, 1], group=6), dict(stride=(3, 2), padding=(0, 1), groups=6)),
    ((2, 2, 4, 3), (2, 3, 3, 3), dict(strides=[2, 3], output_shape=[9, 10]), dict(stride=(2, 3), output_padding=(0, 1))),
    ((2, 2, 4, 3), (2, 3, 3, 3), dict(strides=[2, 2], pads=[0, 1, 2, 0]), None),
    ((2, 2, 4, 3), (2, 3, 3, 3), dict(strides=[2, 2], auto_pad="SAME_UPPER"), None),
    ((2, 2, 4, 3), (2, 3, 3, 3), dict(strides=[2, 2], auto_pad="SAME_LOWER", output_padding=[1, 0]), None),
    ((2, 2, 4, 3), (2, 3, 2, 2), dict(strides=[3, 2], pads=[2, 0, 0, 1], output_padding=[2, 1]), None),
    ((2, 3, 7), (3, 2, 4), dict(strides=[3], pads=[1, 2], output_padding=[1]), None),
    ((2, 3, 7), (3, 4, 3), dict(strides=[2], pads=[1, 1], dilations=[2]), dict(stride=2, padding=1, dilation=2)),
]


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("i", range(len(CONV_T)))
def test_conv_transpose_import_matches_onnxruntime_and_torch(i, bias):
    x_shape, w_shape, attrs, torch_kw = CONV_T[i]
    rng = np.random.default_rng(i)
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = (rng.standard_normal(w_shape) * 0.3).astype(np.float32)
    b = rng.standard_normal(w_shape[1] * attrs.get("group", 1)).astype(np.float32) if bias else None
    proto = _conv_transpose_model(x_shape, w, b, **attrs)
    onnx.checker.check_model(proto, full_check=True)
    want = session(proto).run(None, {"X": x})[0]
    m = po.load(proto)
    y = m(pyengine.from_numpy(x))
    _close(y.numpy(), want)
    if torch_kw is not None:
        fn = TF.conv_transpose1d if len(x_shape) == 3 else TF.conv_transpose2d
        t = fn(torch.from_numpy(x), torch.from_numpy(w), None if b is None else torch.from_numpy(b), **torch_kw)
        _close(y.numpy(), t.numpy())
    y.sum().backward()                         # trainable: the gradient reaches the imported weight
    grads = [p.grad for p in m.parameters()]
    assert grads and all(g is not None and np.isfinite(g.numpy()).all() for g in grads)


def test_conv_transpose_layers_round_trip():
    pyengine.manual_seed(0)
    for layer, shape in [(nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1), (2, 3, 5, 4)),
                         (nn.ConvTranspose2d(4, 6, (3, 2), stride=(1, 2), dilation=2, groups=2, bias=False), (1, 4, 5, 6))]:
        x = _rand(shape, 5)
        got, back, proto = _ort_and_back(layer, x)
        with pyengine.no_grad():
            want = layer(pyengine.from_numpy(x)).numpy()
        _close(got, want)
        _close(back, want)


def test_conv_transpose_output_size_and_unbatched_export_as_run():
    pyengine.manual_seed(0)
    ours = nn.ConvTranspose2d(3, 2, 3, stride=(2, 3), padding=1)
    theirs = torch.nn.ConvTranspose2d(3, 2, 3, stride=(2, 3), padding=1)
    _copy_params(ours, theirs)
    x = _rand((2, 3, 4, 5), 9)

    class WithSize(nn.Module):
        def __init__(self):
            super().__init__()
            self.up = ours

        def forward(self, t):
            return self.up(t, output_size=(8, 15))
    got, back, _ = _ort_and_back(WithSize(), x)
    with torch.no_grad():
        want = theirs(torch.from_numpy(x), output_size=(8, 15)).numpy()
    assert want.shape == (2, 2, 8, 15)
    _close(got, want)
    _close(back, want)
    got, back, _ = _ort_and_back(ours, x[0], dyn=False)
    with torch.no_grad():
        want = theirs(torch.from_numpy(x[0])).numpy()
    _close(got, want)
    _close(back, want)


def test_functional_conv_transpose_exports():
    rng = np.random.default_rng(4)
    w = rng.standard_normal((4, 3, 2, 3)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)

    class Up(nn.Module):
        def __init__(self):
            super().__init__()
            self.w, self.b = nn.Parameter(pyengine.from_numpy(w)), nn.Parameter(pyengine.from_numpy(b))

        def forward(self, t):
            return F.conv_transpose2d(t, self.w, self.b, stride=(3, 2), padding=(1, 0), output_padding=(2, 1),
                                      groups=2, dilation=(1, 2))
    x = _rand((2, 4, 5, 3), 11)
    got, back, proto = _ort_and_back(Up(), x)
    want = TF.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), stride=(3, 2),
                               padding=(1, 0), output_padding=(2, 1), groups=2, dilation=(1, 2)).numpy()
    _close(got, want)
    _close(back, want)


def test_conv_transpose_bad_weight_is_named():
    proto = _conv_transpose_model((1, 3, 4, 4), np.zeros((2, 2, 3, 3), np.float32), None)
    with pytest.raises(ValueError, match=r"ConvTranspose.*weight \(2, 2, 3, 3\) needs \(C = 3"):
        po.load(proto)(pyengine.randn(1, 3, 4, 4))


# ------------------------------------------------------------------------------ 3-D ConvTranspose import
# (x shape, weight shape, attributes, torch's conv_transpose3d kwargs or None)
CONV_T3 = [
    ((2, 3, 4, 5, 3), (3, 2, 3, 3, 3), dict(strides=[2, 2, 2], pads=[1, 1, 1, 1, 1, 1], output_padding=[1, 0, 1]),
     dict(stride=2, padding=1, output_padding=(1, 0, 1))),
    ((1, 4, 3, 4, 5), (4, 3, 2, 3, 2), dict(strides=[3, 1, 2], dilations=[2, 1, 2], group=2),
     dict(stride=(3, 1, 2), dilation=(2, 1, 2), groups=2)),
    ((2, 2, 1, 3, 3), (2, 3, 3, 2, 2), dict(), dict()),
    ((2, 2, 3, 4, 3), (2, 3, 2, 3, 3), dict(strides=[2, 2, 1], pads=[0, 1, 2, 1, 0, 0]), None),
    ((1, 2, 3, 3, 4), (2, 2, 3, 3, 2), dict(strides=[2, 2, 2], auto_pad="SAME_UPPER"), None),
    ((1, 2, 3, 3, 4), (2, 2, 2, 3, 3), dict(strides=[3, 2, 2], output_shape=[9, 7, 9]), None),
]


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("i", range(len(CONV_T3)))
def test_conv_transpose3d_import_matches_onnxruntime_and_torch(i, bias):
    x_shape, w_shape, attrs, torch_kw = CONV_T3[i]
    rng = np.random.default_rng(40 + i)
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = (rng.standard_normal(w_shape) * 0.3).astype(np.float32)
    b = rng.standard_normal(w_shape[1] * attrs.get("group", 1)).astype(np.float32) if bias else None
    proto = _conv_transpose_model(x_shape, w, b, **attrs)
    onnx.checker.check_model(proto, full_check=True)
    want = session(proto).run(None, {"X": x})[0]
    m = po.load(proto)
    y = m(pyengine.from_numpy(x))
    _close(y.numpy(), want)
    if torch_kw is not None:
        t = TF.conv_transpose3d(torch.from_numpy(x), torch.from_numpy(w), None if b is None else torch.from_numpy(b),
                                **torch_kw)
        _close(y.numpy(), t.numpy())
    y.sum().backward()
    grads = [p.grad for p in m.parameters()]
    assert grads and all(g is not None and np.isfinite(g.numpy()).all() for g in grads)


def test_conv_transpose3d_input_gradient_matches_torch():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((1, 2, 3, 4, 3)).astype(np.float32)
    w = (rng.standard_normal((2, 3, 3, 2, 3)) * 0.3).astype(np.float32)
    proto = _conv_transpose_model(x.shape, w, None, strides=[2, 1, 2], pads=[1, 0, 1, 1, 0, 1])
    px = pyengine.from_numpy(x).requires_grad_()
    y = po.load(proto)(px)
    tx = torch.from_numpy(x).requires_grad_()
    t = TF.conv_transpose3d(tx, torch.from_numpy(w), stride=(2, 1, 2), padding=(1, 0, 1))
    _close(y.detach().numpy(), t.detach().numpy())
    g = rng.standard_normal(t.shape).astype(np.float32)
    y.backward(pyengine.from_numpy(g))
    t.backward(torch.from_numpy(g))
    _close(px.grad.numpy(), tx.grad.numpy())


# ------------------------------------------------------------------------------ Resize-10 and Upsample-7/9
LEGACY_RESIZE = [
    ((2, 3, 4, 5), [1, 1, 2, 3], "nearest"),
    ((1, 2, 5, 7), [1, 1, 1.5, 2.5], "nearest"),
    ((1, 2, 9, 8), [1, 1, 0.5, 0.75], "nearest"),
    ((2, 3, 4, 5), [1, 1, 2, 2], "linear"),
    ((1, 2, 5, 7), [1, 1, 1.7, 0.6], "linear"),
    ((2, 3, 7), [1, 1, 3], "linear"),
    ((2, 4, 3, 5), [1, 2, 2, 1], "nearest"),
]


def _legacy_model(op, opset, x_shape, scales, mode):
    inputs, inits, attrs = ["X"], [], dict(mode=mode)
    if op == "Upsample" and opset < 9:
        attrs["scales"] = [float(s) for s in scales]
    else:
        inits.append(numpy_helper.from_array(np.asarray(scales, np.float32), "scales"))
        inputs.append("scales")
    node = helper.make_node(op, inputs, ["Y"], **attrs)
    g = helper.make_graph([node], "r", [helper.make_tensor_value_info("X", TP.FLOAT, list(x_shape))],
                          [helper.make_tensor_value_info("Y", TP.FLOAT, None)], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], ir_version=5)


@pytest.mark.parametrize("op,opset", [("Resize", 10), ("Upsample", 9), ("Upsample", 7)])
@pytest.mark.parametrize("i", range(len(LEGACY_RESIZE)))
def test_legacy_resize_matches_onnxruntime(i, op, opset):
    x_shape, scales, mode = LEGACY_RESIZE[i]
    x = _rand(x_shape, 60 + i)
    proto = _legacy_model(op, opset, x_shape, scales, mode)
    if op == "Upsample" and min(scales) < 1:   # ONNX's Upsample only enlarges; onnxruntime refuses it too
        with pytest.raises(ValueError, match=r"Upsample scales must be >= 1"):
            po.load(proto)(pyengine.from_numpy(x))
        return
    want = session(proto).run(None, {"X": x})[0]
    px = pyengine.from_numpy(x).requires_grad_()
    y = po.load(proto)(px)
    _close(y.detach().numpy(), want)
    y.sum().backward()
    assert px.grad is not None and np.isfinite(px.grad.numpy()).all()


def test_legacy_resize_refuses_bad_scales_by_name():
    proto = _legacy_model("Resize", 10, (1, 2, 3, 4), [1, 1, 2], "nearest")
    with pytest.raises(ValueError, match=r"Resize, opset 10\): scales of 3 values for an input of rank 4"):
        po.load(proto)(pyengine.from_numpy(_rand((1, 2, 3, 4))))
    proto = _legacy_model("Upsample", 9, (1, 2, 3, 4), [1, 1, 2, 2], "cubic")
    with pytest.raises(ValueError, match=r"mode 'cubic' is not nearest or linear"):
        po.load(proto)
