"""Recurrent stacks in ONNX against torch 2.13 through onnxruntime: forward and bidirectional RNN /
LSTM / GRU, num_layers > 1 as a chain of nodes, initial states given or not, batch_first and
unbatched inputs, odd sizes; and the export read back by pyengine.onnx.load."""
import numpy as np
import pytest

import pyengine
from pyengine import nn

from onnx_support import session

po = pytest.importorskip("pyengine.onnx")
torch = pytest.importorskip("torch")

CASES = [
    ("LSTM", dict(input_size=3, hidden_size=5, bidirectional=True)),
    ("LSTM", dict(input_size=4, hidden_size=3, num_layers=3, bidirectional=True, batch_first=True)),
    ("LSTM", dict(input_size=2, hidden_size=7, num_layers=2, bias=False)),
    ("GRU", dict(input_size=3, hidden_size=5, bidirectional=True)),
    ("GRU", dict(input_size=5, hidden_size=2, num_layers=2, bidirectional=True, bias=False, batch_first=True)),
    ("RNN", dict(input_size=3, hidden_size=4, bidirectional=True)),
    ("RNN", dict(input_size=3, hidden_size=4, num_layers=2, bidirectional=True, nonlinearity="relu")),
]


def _pair(kind, kw):
    pyengine.manual_seed(1)
    ours = getattr(nn, kind)(**kw)
    theirs = getattr(torch.nn, kind)(**kw)
    with torch.no_grad():
        for name, p in theirs.named_parameters():
            p.copy_(torch.from_numpy(ours.state_dict()[name].numpy()))
    return ours.eval(), theirs.eval()


class _WithState(nn.Module):
    def __init__(self, rnn):
        super().__init__()
        self.rnn = rnn

    def forward(self, x, *state):
        out, fin = self.rnn(x, tuple(state) if len(state) == 2 else state[0] if state else None)
        return (out, *fin) if isinstance(fin, tuple) else (out, fin)


@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("unbatched", [False, True])
@pytest.mark.parametrize("i", range(len(CASES)))
def test_recurrent_stack_matches_torch_in_onnxruntime(i, unbatched, with_state):
    kind, kw = CASES[i]
    ours, theirs = _pair(kind, kw)
    rng = np.random.default_rng(i)
    T, N, H = 6, 3, kw["hidden_size"]
    LD = kw.get("num_layers", 1) * (2 if kw.get("bidirectional") else 1)
    x = rng.standard_normal((T, kw["input_size"]) if unbatched else
                            (N, T, kw["input_size"]) if kw.get("batch_first") else (T, N, kw["input_size"]))
    x = x.astype(np.float32)
    n_states = 2 if kind == "LSTM" else 1
    states = [rng.standard_normal((LD, H) if unbatched else (LD, N, H)).astype(np.float32)
              for _ in range(n_states)] if with_state else []
    model = _WithState(ours)
    feeds = [x] + states
    names = [f"x{k}" for k in range(len(feeds))]
    proto = po.export(model, tuple(pyengine.from_numpy(a) for a in feeds), input_names=names)
    directions = {a.s.decode() for n in proto.graph.node if n.op_type == kind for a in n.attribute
                  if a.name == "direction"}
    assert directions == ({"bidirectional"} if kw.get("bidirectional") else set())
    assert sum(n.op_type == kind for n in proto.graph.node) == kw.get("num_layers", 1)
    got = session(proto).run(None, dict(zip(names, feeds)))
    with torch.no_grad():
        t_state = None
        if with_state:
            t_state = tuple(torch.from_numpy(s) for s in states) if kind == "LSTM" else torch.from_numpy(states[0])
        t_out, t_fin = theirs(torch.from_numpy(x), t_state)
    want = [t_out.numpy()] + ([f.numpy() for f in t_fin] if kind == "LSTM" else [t_fin.numpy()])
    with pyengine.no_grad():
        back = po.load(proto)(*[pyengine.from_numpy(a) for a in feeds])
    back = [b.numpy() for b in back]
    assert len(got) == len(want) == len(back)
    for g, b, w in zip(got, back, want):
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=2e-6)
        np.testing.assert_allclose(b, w, rtol=1e-5, atol=2e-6)
