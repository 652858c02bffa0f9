"""Bad input raises ValueError/TypeError naming the op and both operands' shapes, before any kernel."""
import numpy as np
import pytest

import pyengine as pe
from pyengine import nn
from pyengine.nn import functional as F


def test_matmul_inner_dimension_message():
    with pytest.raises(ValueError, match=r"matmul: \(32, 10\) @ \(11, 5\): inner dimensions 10 and 11 differ"):
        pe.randn(32, 10) @ pe.randn(11, 5)
    with pytest.raises(TypeError, match=r"matmul: \(2, 3\) float32 @ \(3, 2\) float64: dtypes differ"):
        pe.randn(2, 3) @ pe.randn(3, 2, dtype=pe.float64)


def test_broadcast_message_names_both_shapes():
    with pytest.raises(ValueError, match=r"add: shapes \(3, 4\) and \(5,\) cannot be broadcast"):
        pe.randn(3, 4) + pe.randn(5)
    with pytest.raises(ValueError, match=r"mul: shapes \(2, 3\) and \(3, 2\)"):
        pe.randn(2, 3) * pe.randn(3, 2)


def test_reshape_and_permute_messages():
    with pytest.raises(ValueError, match=r"reshape: cannot reshape a tensor of shape \(2, 3\) \(6 elements\) into \(4,\)"):
        pe.randn(2, 3).reshape(4)
    with pytest.raises(ValueError, match="permute"):
        pe.randn(2, 3).permute(0, 0)


def test_layers_name_themselves_and_what_they_expect():
    with pytest.raises(ValueError, match=r"Conv2d\(3, 8\): expected input of shape \(N, 3, H, W\) or \(3, H, W\), "
                                         r"got \(2, 4, 5, 5\)"):
        nn.Conv2d(3, 8, 3)(pe.randn(2, 4, 5, 5))
    with pytest.raises(ValueError, match=r"Conv2d\(3, 8\): .*got \(4, 5, 5\)"):
        nn.Conv2d(3, 8, 3)(pe.randn(4, 5, 5))
    with pytest.raises(ValueError, match=r"Linear\(in_features=10, out_features=5\): expected input of shape "
                                         r"\(\*, 10\), got \(32, 11\)"):
        nn.Linear(10, 5)(pe.randn(32, 11))
    with pytest.raises(ValueError, match=r"BatchNorm2d\(8\): expected input of shape \(N, 8, H, W\), got \(2, 4, 3, 3\)"):
        nn.BatchNorm2d(8)(pe.randn(2, 4, 3, 3))
    with pytest.raises(ValueError, match=r"BatchNorm1d\(3\)"):
        nn.BatchNorm1d(3)(pe.randn(2, 3, 4, 5))
    with pytest.raises(ValueError, match=r"MaxPool2d: expected input of shape \(N, C, H, W\) or \(C, H, W\), got \(3, 4\)"):
        nn.MaxPool2d(2)(pe.randn(3, 4))
    with pytest.raises(ValueError, match=r"LSTM\(input_size=4, hidden_size=3\): expected input of shape \(T, N, 4\)"):
        nn.LSTM(4, 3)(pe.randn(5, 2, 6))
    with pytest.raises(ValueError, match=r"LSTM.*h0 of shape \(1, 2, 3\), got \(1, 3, 3\)"):
        nn.LSTM(4, 3)(pe.randn(5, 2, 4), (pe.zeros(1, 3, 3), pe.zeros(1, 3, 3)))


def test_functional_messages():
    with pytest.raises(ValueError, match=r"conv2d: input \(1, 4, 5, 5\) has 4 channels but weight \(2, 3, 3, 3\)"):
        F.conv2d(pe.randn(1, 4, 5, 5), pe.randn(2, 3, 3, 3))
    with pytest.raises(TypeError, match=r"conv2d: input \(1, 3, 5, 5\) is float32 but weight \(2, 3, 3, 3\) is float64"):
        F.conv2d(pe.randn(1, 3, 5, 5), pe.randn(2, 3, 3, 3, dtype=pe.float64))
    with pytest.raises(ValueError, match=r"linear: input \(2, 3\) has 3 features but weight \(4, 5\) expects 5"):
        F.linear(pe.randn(2, 3), pe.randn(4, 5))
    with pytest.raises(ValueError, match=r"cross_entropy: input \(4, 3\) needs class-index target of shape \(4,\), got \(5,\)"):
        F.cross_entropy(pe.randn(4, 3), pe.tensor([0, 1, 2, 0, 1]))
    with pytest.raises(ValueError, match=r"cross_entropy: target 7 is out of range for 3 classes"):
        F.cross_entropy(pe.randn(2, 3), pe.tensor([0, 7]), label_smoothing=0.1)
    with pytest.raises(ValueError, match=r"mse_loss: input \(2, 3\) and target \(3, 2\) must have the same shape"):
        F.mse_loss(pe.randn(2, 3), pe.randn(3, 2))
    with pytest.raises(ValueError, match="reduction must be one of"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match="dropout: p must be in"):
        F.dropout(pe.randn(2), 1.5)
    with pytest.raises(TypeError, match="conv2d: input must be a pyengine.Tensor, got ndarray"):
        F.conv2d(np.zeros((1, 1, 3, 3)), pe.randn(1, 1, 1, 1))
    with pytest.raises(TypeError, match="relu: input must be a pyengine.Tensor, got ndarray"):
        F.relu(np.zeros(3))


def test_unknown_device_and_dtype():
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        pe.zeros(2, device="tpu")
    with pytest.raises(TypeError, match="unknown dtype"):
        pe.zeros(2, dtype="complex256")


def test_device_mismatch_names_both_devices():
    w = pe.randn(2, 3, 3, 3, dtype=pe.float64)   # the binding refuses it (dtype); the message looks further
    w._device = "cuda"              # stands in for a CUDA tensor on a machine without one
    with pytest.raises(ValueError, match=r"conv2d: input is on cpu but weight is on cuda"):
        F.conv2d(pe.randn(1, 3, 5, 5), w)


def test_sequential_names_the_layer_position():
    m = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(10, 2))
    with pytest.raises(ValueError, match=r"Sequential layer 3 \(Linear\): Linear\(in_features=10, out_features=2\): "
                                         r"expected input of shape \(\*, 10\), got \(2, 36\)"):
        m(pe.randn(2, 1, 5, 5))
