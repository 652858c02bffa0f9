"""Dynamic quantization of Linear and LSTM: close to float and to torch's dynamic int8 layers."""
import numpy as np
import pytest

import pyengine as pe
from pyengine import nn
from pyengine import quantization as Q


def _rel(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


def test_dynamic_linear_close_to_float_and_torch(rng):
    torch = pytest.importorskip("torch")
    lin = nn.Linear(300, 70)
    x = pe.tensor(rng.standard_normal((33, 300)).astype(np.float32))
    q = Q.quantize_dynamic(nn.Sequential(lin, nn.ReLU()))
    assert isinstance(q[0], Q.DynamicQuantizedLinear) and isinstance(lin, nn.Linear)
    with pe.no_grad():
        want, got = lin(x).numpy(), q[0](x).numpy()
    assert _rel(got, want) < 0.02
    tl = torch.nn.Linear(300, 70)
    tl.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in lin.state_dict().items()})
    tq = torch.ao.quantization.quantize_dynamic(torch.nn.Sequential(tl), {torch.nn.Linear}, dtype=torch.qint8)
    theirs = tq(torch.from_numpy(x.numpy())).detach().numpy()
    assert _rel(got, theirs) < 0.03
    # more than 2-D input, and the shape check
    assert q[0](pe.tensor(rng.standard_normal((2, 3, 300)).astype(np.float32))).shape == (2, 3, 70)
    with pytest.raises(ValueError, match=r"DynamicQuantizedLinear\(in_features=300\): expected input of shape"):
        q[0](pe.randn(4, 299))


@pytest.mark.parametrize("batch_first,layers", [(False, 1), (True, 2)])
def test_dynamic_lstm_close_to_float(rng, batch_first, layers):
    lstm = nn.LSTM(20, 32, num_layers=layers, batch_first=batch_first).eval()
    q = Q.quantize_dynamic(lstm)
    assert isinstance(q, Q.DynamicQuantizedLSTM)
    shape = (5, 9, 20) if batch_first else (9, 5, 20)
    x = pe.tensor(rng.standard_normal(shape).astype(np.float32))
    h0 = pe.tensor(rng.standard_normal((layers, 5, 32)).astype(np.float32) * 0.5)
    c0 = pe.tensor(rng.standard_normal((layers, 5, 32)).astype(np.float32) * 0.5)
    with pe.no_grad():
        y, (h, c) = lstm(x, (h0, c0))
    yq, (hq, cq) = q(x, (h0, c0))
    assert yq.shape == y.shape and hq.shape == h.shape
    for a, b in ((yq, y), (hq, h), (cq, c)):
        assert np.abs(a.numpy() - b.numpy()).max() < 0.03
    y1, _ = q(x[:, 0] if batch_first else x[:, 0])           # unbatched input
    assert y1.shape == ((9, 32) if not batch_first else (5, 32))


def test_quantize_dynamic_rejects_what_it_cannot_quantize():
    with pytest.raises(ValueError, match="quantize_dynamic: no dynamic int8 version of \\['Conv2d'\\]"):
        Q.quantize_dynamic(nn.Conv2d(1, 1, 1), {nn.Conv2d})
    with pytest.raises(ValueError, match="only dtype='qint8'"):
        Q.quantize_dynamic(nn.Linear(2, 2), dtype="float16")
