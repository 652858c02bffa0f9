"""Static post-training quantization: observers and quantize_per_tensor against torch, an int8 conv
against torch's quantized conv on the same int8 weights, the digit CNN's accuracy within a point
of float, MobileNetV2 end to end, fusion and the errors of the flow."""
import numpy as np
import pytest

import pyengine as pe
from pyengine import nn
from pyengine import quantization as Q
from pyengine.models import mobilenet_v2

from .conftest import accuracy

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore:.*quantized tensor creation:UserWarning")


def test_minmax_qparams_and_quantize_match_torch(rng):
    x = (rng.standard_normal((4, 3, 5, 7)) * 2 + 0.7).astype(np.float32)
    obs = Q.MinMaxObserver()
    obs(pe.tensor(x))
    scale, zp = obs.calculate_qparams()
    tobs = torch.ao.quantization.MinMaxObserver(dtype=torch.quint8, qscheme=torch.per_tensor_affine)
    tobs(torch.from_numpy(x))
    ts, tz = tobs.calculate_qparams()
    assert abs(scale - float(ts)) <= 1e-7 * scale and zp == int(tz)
    ours = Q.quantize_per_tensor(pe.tensor(x), scale, zp).data
    theirs = torch.quantize_per_tensor(torch.from_numpy(x), scale, zp, torch.quint8).int_repr().numpy()
    np.testing.assert_array_equal(ours, theirs)


def test_relu_outputs_keep_zero_exact(rng):
    obs = Q.MinMaxObserver()
    obs(np.maximum(rng.standard_normal(1000), 0.2).astype(np.float32))    # range [0.2, ...] widened to 0
    scale, zp = obs.calculate_qparams()
    assert zp == 0
    assert Q.quantize_per_tensor(pe.zeros(3), scale, zp).dequantize().numpy().tolist() == [0.0, 0.0, 0.0]


def test_histogram_observers_clip_outliers(rng):
    x = rng.standard_normal(200_000).astype(np.float32)
    x[:5] = [40, -35, 30, 25, -50]                       # rare outliers
    mm, pct, mse = Q.MinMaxObserver(), Q.HistogramObserver(), Q.HistogramObserver(method="mse")
    for chunk in np.array_split(x, 7):                   # the histogram grows its range chunk by chunk
        for o in (mm, pct, mse):
            o(chunk)
    s_mm = mm.calculate_qparams()[0]
    s_pct, s_mse = pct.calculate_qparams()[0], mse.calculate_qparams()[0]
    lo, hi = np.percentile(x, [0.005, 99.995])
    assert abs(s_pct * 255 - (hi - lo)) < 0.05 * (hi - lo)
    assert s_pct < s_mm / 5
    err = {}
    for name, s in (("minmax", s_mm), ("pct", s_pct), ("mse", s_mse)):
        zp = Q.affine_qparams(-s * 127, s * 128)[1]
        err[name] = float(((Q.quantize_per_tensor(pe.tensor(x), s, zp).dequantize().numpy() - x) ** 2).mean())
    assert err["mse"] <= 1.05 * min(err.values())     # what it minimises, on the real values too


def test_weights_are_symmetric_int8_without_minus_128(rng):
    w = rng.standard_normal((6, 4, 3, 3)).astype(np.float32)
    q, s = Q.quantize_weight(w)
    assert q.dtype == np.int8 and q.min() >= -127 and q.max() == 127
    assert np.all(np.abs(q.astype(np.float64) * s[:, None, None, None] - w) <= s[:, None, None, None] / 2 + 1e-7)


def test_int8_conv_matches_torch_quantized_conv(rng):
    """The same int8 weights, scales and zero points through torch's quantized conv (fbgemm/onednn)."""
    conv = nn.Conv2d(8, 16, 3, padding=1)
    x = rng.uniform(0, 3, (2, 8, 12, 12)).astype(np.float32)
    sx, zx, sy, zy = 3 / 255, 0, 0.05, 120
    ours = Q.QuantizedConv2d.from_float(conv, sy, zy)
    qx = Q.quantize_per_tensor(pe.tensor(x), sx, zx)
    got = ours(qx).data
    tq = torch.ao.nn.quantized.Conv2d(8, 16, 3, padding=1)
    w_t = torch._make_per_channel_quantized_tensor(torch.from_numpy(ours.weight.numpy()),
                                                   torch.from_numpy(ours.weight_scale.numpy()),
                                                   torch.zeros(16, dtype=torch.int64), 0)
    tq.set_weight_bias(w_t, torch.from_numpy(conv.bias.numpy()))
    tq.scale, tq.zero_point = sy, zy
    want = tq(torch.quantize_per_tensor(torch.from_numpy(x), sx, zx, torch.quint8)).int_repr().numpy()
    diff = np.abs(got.astype(int) - want.astype(int))
    assert diff.max() <= 1 and (diff == 0).mean() > 0.98, (diff.max(), (diff == 0).mean())
    # and within rounding of the float convolution
    with pe.no_grad():
        ref = conv(qx.dequantize()).numpy()
    assert np.abs(ours(qx).dequantize().numpy() - ref).max() <= 0.5 * sy + 0.02


@pytest.mark.parametrize("observer", ["minmax", "histogram"])
def test_quantized_digit_cnn_within_a_point_of_float(trained_digit_cnn, digits_split, observer):
    (xt, _), (xv, yv) = digits_split
    qmodel = Q.quantize(trained_digit_cnn, xt[:300], Q.get_default_qconfig(observer))
    kinds = {type(m).__name__ for m in qmodel.modules()}
    assert {"Quantize", "QuantizedConv2d", "QuantizedLinear", "QuantizedMaxPool2d", "DeQuantize"} <= kinds
    assert not kinds & {"Conv2d", "BatchNorm2d", "Linear", "ReLU"}
    acc_f, acc_q = accuracy(trained_digit_cnn, xv, yv), accuracy(qmodel, xv, yv)
    assert acc_f > 0.9
    assert acc_q >= acc_f - 0.01, (acc_f, acc_q)
    assert isinstance(trained_digit_cnn.features[1], nn.BatchNorm2d)      # the float model is untouched


def test_eager_flow_by_hand_with_named_fusion(trained_digit_cnn, digits_split):
    (xt, _), (xv, yv) = digits_split
    m = Q.fuse_modules(trained_digit_cnn, [["features.0", "features.1", "features.2"],
                                           ["features.4", "features.5", "features.6"],
                                           ["features.8", "features.9", "features.10"]])
    wrapped = Q.QuantWrapper(m)
    wrapped.qconfig = Q.get_default_qconfig("mse")
    Q.prepare(wrapped, inplace=True)
    assert isinstance(wrapped.module.features[0].activation_post_process, Q.HistogramObserver)
    with pe.no_grad():
        wrapped(pe.tensor(xt[:256]))
    q = Q.convert(wrapped)
    assert accuracy(q, xv, yv) >= accuracy(trained_digit_cnn, xv, yv) - 0.01
    assert not any(isinstance(x, Q.HistogramObserver) for x in q.modules())


def test_mobilenet_v2_quantizes_end_to_end(rng):
    pe.manual_seed(0)
    model = mobilenet_v2(num_classes=10, width_mult=0.35)
    model.train()
    with pe.no_grad():                                   # batch-norm statistics of the data
        for _ in range(3):
            model(pe.tensor(rng.uniform(-1, 1, (8, 3, 64, 64)).astype(np.float32)))
    model.eval()
    calib = rng.uniform(-1, 1, (32, 3, 64, 64)).astype(np.float32)
    q = Q.quantize(model, calib, Q.get_default_qconfig("histogram"))
    kinds = [type(m).__name__ for m in q.modules()]
    assert "QuantizedMobileNetV2" in kinds and "QuantizedAdd" in kinds and "Conv2d" not in kinds
    x = rng.uniform(-1, 1, (6, 3, 64, 64)).astype(np.float32)
    with pe.no_grad():
        a, b = model(pe.tensor(x)).numpy(), q(pe.tensor(x)).numpy()
    cos = (a * b).sum() / np.linalg.norm(a) / np.linalg.norm(b)
    assert cos > 0.95, cos


def test_flow_errors_name_the_problem(trained_digit_cnn, rng):
    unfused = Q.prepare(Q.QuantWrapper(trained_digit_cnn))
    with pe.no_grad():
        unfused(pe.randn(2, 1, 28, 28))
    with pytest.raises(ValueError, match="convert: found an unfused BatchNorm"):
        Q.convert(unfused)
    with pytest.raises(RuntimeError, match="MinMaxObserver: nothing was observed"):
        Q.convert(Q.prepare(Q.QuantWrapper(Q.fuse_modules(trained_digit_cnn))))
    with pytest.raises(ValueError, match="fuse_modules: call model.eval"):
        Q.fuse_modules(nn.Sequential(nn.Conv2d(1, 2, 3)).train())
    with pytest.raises(ValueError, match="fuse_modules: no module named 'features.99'"):
        Q.fuse_modules(trained_digit_cnn, [["features.99"]])
    with pytest.raises(ValueError, match="convert: Softmax has no int8 version"):
        m = Q.prepare(Q.QuantWrapper(nn.Sequential(nn.Linear(4, 3), nn.Softmax(1)).eval()))
        m(pe.randn(2, 4))
        Q.convert(m)
    with pytest.raises(TypeError, match="QuantizedConv2d: expected a QTensor"):
        Q.QuantizedConv2d.from_float(nn.Conv2d(1, 2, 3), 0.1, 0)(pe.randn(1, 1, 5, 5))
    with pytest.raises(ValueError, match="get_default_qconfig: observer must be"):
        Q.get_default_qconfig("kl")
