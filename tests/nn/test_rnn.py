"""The recurrent layers against torch 2.13: RNN (tanh, relu), LSTM and GRU stacks (layers, directions,
batch_first, unbatched input, given or omitted states, no bias, inter-layer dropout) and the cells, in
float64 with torch's weights loaded through load_state_dict: outputs, final states, the gradients of
the input, of the initial states and of every parameter, and the state-dict keys in torch's order.
Then the layers' bad-argument and bad-input errors. Skipped where torch is not installed."""
import numpy as np
import pytest

import pyengine as pe
from pyengine import nn

torch = pytest.importorskip("torch")
tnn = torch.nn

ATOL, RTOL = 1e-9, 1e-7


def _flat(o):
    if isinstance(o, (tuple, list)):
        return [x for item in o for x in _flat(item)]
    return [o]


def _np(t):
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t.numpy())


def _pair(cls, *args, **kw):
    """The same layer in both libraries, float64, ours holding torch's weights."""
    torch.manual_seed(0)
    theirs = getattr(tnn, cls)(*args, **kw).double()
    ours = getattr(nn, cls)(*args, **kw).double()
    assert list(ours.state_dict()) == list(theirs.state_dict()), "state-dict keys or their order differ"
    for k, v in theirs.state_dict().items():
        assert ours.state_dict()[k].shape == tuple(v.shape), k
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def _check(what, ours, theirs):
    a, b = _np(ours), _np(theirs)
    assert a.shape == b.shape, f"{what}: shape {a.shape} vs torch {b.shape}"
    np.testing.assert_allclose(a, b, atol=ATOL, rtol=RTOL, err_msg=what)


def compare(ours, theirs, arrays, call, grad=True):
    """call(module, *tensors) on both; every output, then a random upstream gradient through both."""
    p_in = [pe.tensor(a, requires_grad=grad) for a in arrays]
    t_in = [torch.tensor(a, requires_grad=grad) for a in arrays]
    p_out, t_out = _flat(call(ours, *p_in)), _flat(call(theirs, *t_in))
    assert len(p_out) == len(t_out)
    for i, (a, b) in enumerate(zip(p_out, t_out)):
        _check(f"output {i}", a, b)
    if not grad:
        return
    rng = np.random.default_rng(7)
    gs = [rng.standard_normal(tuple(o.shape)) for o in t_out]
    pe.autograd.backward(p_out, [pe.tensor(g) for g in gs])
    torch.autograd.backward(t_out, [torch.tensor(g) for g in gs])
    for i, (a, b) in enumerate(zip(p_in, t_in)):
        _check(f"grad of input {i}", a.grad, b.grad)
    tp = dict(theirs.named_parameters())
    for k, p in ours.named_parameters():
        _check(f"grad of {k}", p.grad, tp[k].grad)


def rn(*shape, seed=0):
    return np.random.default_rng(seed + 31 * len(shape) + sum(shape)).standard_normal(shape)


def _with_state(kind):
    """How a stack is called with its initial state(s) given as extra inputs."""
    if kind == "LSTM":
        return lambda m, x, h, c: m(x, (h, c))
    return lambda m, x, h: m(x, h)


# (class, constructor kwargs, T, N (None: unbatched), state given)
STACKS = []
for _cls in ("RNN", "LSTM", "GRU"):
    STACKS += [
        (_cls, dict(num_layers=2, bidirectional=True), 5, 3, True),
        (_cls, dict(num_layers=2, bidirectional=True, batch_first=True), 4, 2, False),
        (_cls, dict(num_layers=3, bias=False), 3, 1, True),
        (_cls, dict(bidirectional=True), 6, None, True),
        (_cls, dict(bidirectional=True), 4, None, False),
        (_cls, dict(), 1, 5, False),
    ]
STACKS += [("RNN", dict(nonlinearity="relu", num_layers=2, bidirectional=True), 5, 3, True),
           ("GRU", dict(num_layers=2, batch_first=True), 7, 9, True),
           ("GRU", dict(num_layers=3, bidirectional=True, bias=False), 3, 17, False)]


def _stack_id(case):
    cls, kw, T, N, given = case
    opts = ",".join(f"{k}={v}" for k, v in kw.items())
    return f"{cls}({opts})-T{T}-N{N}-{'h0' if given else 'no-h0'}"


@pytest.mark.parametrize("case", STACKS, ids=[_stack_id(c) for c in STACKS])
def test_stack_matches_torch(case):
    cls, kw, T, N, given = case
    I, H = 5, 7
    ours, theirs = _pair(cls, I, H, **kw)
    D = 2 if kw.get("bidirectional") else 1
    LD = kw.get("num_layers", 1) * D
    if N is None:
        x, state = rn(T, I), (LD, H)
    elif kw.get("batch_first"):
        x, state = rn(N, T, I), (LD, N, H)
    else:
        x, state = rn(T, N, I), (LD, N, H)
    arrays = [x]
    if given:
        arrays += [rn(*state, seed=1)] + ([rn(*state, seed=2)] if cls == "LSTM" else [])
        call = _with_state(cls)
    else:
        call = lambda m, x: m(x)  # noqa: E731
    compare(ours, theirs, arrays, call)


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
def test_stack_output_shapes(cls):
    m = getattr(nn, cls)(4, 6, num_layers=3, bidirectional=True, batch_first=True)
    out, h = m(pe.randn(2, 5, 4))
    states = h if cls == "LSTM" else (h,)
    assert out.shape == (2, 5, 12)
    assert all(s.shape == (6, 2, 6) for s in states)
    assert m.weight_ih_l1.shape == (m._gates * 6, 12) and m.weight_ih_l0_reverse.shape == (m._gates * 6, 4)


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
def test_dropout_between_layers(cls):
    """p = 1 zeroes the second layer's input in training, deterministically: torch agrees; in eval
    mode dropout is off (torch agrees at p = 0.5); in training at p = 0.5 two calls differ, and the
    first layer's final state (before any dropout) does not."""
    ours, theirs = _pair(cls, 3, 4, num_layers=2, dropout=1.0, bidirectional=True)
    compare(ours, theirs, [rn(5, 2, 3)], lambda m, x: m(x))
    ours, theirs = _pair(cls, 3, 4, num_layers=2, dropout=0.5)
    ours.eval(), theirs.eval()
    compare(ours, theirs, [rn(5, 2, 3)], lambda m, x: m(x))
    ours.train()
    x = pe.tensor(rn(5, 2, 3))
    (a, ha), (b, hb) = ours(x), ours(x)
    if cls == "LSTM":
        ha, hb = ha[0], hb[0]
    assert not np.allclose(a.numpy(), b.numpy())
    np.testing.assert_array_equal(ha.numpy()[0], hb.numpy()[0])


def test_dropout_with_one_layer_warns_as_torch_does():
    with pytest.warns(UserWarning, match="num_layers=1"):
        nn.LSTM(3, 4, dropout=0.3)


# ------------------------------------------------------------------------------------ cells
CELLS = [
    ("RNNCell", dict(), 3, True),
    ("RNNCell", dict(nonlinearity="relu"), 1, False),
    ("RNNCell", dict(bias=False), None, True),
    ("LSTMCell", dict(), 4, True),
    ("LSTMCell", dict(bias=False), None, False),
    ("GRUCell", dict(), 4, True),
    ("GRUCell", dict(), 1, False),
    ("GRUCell", dict(bias=False), None, True),
]


@pytest.mark.parametrize("cls,kw,N,given", CELLS, ids=[f"{c[0]}-{c[1]}-N{c[2]}-{c[3]}" for c in CELLS])
def test_cell_matches_torch(cls, kw, N, given):
    I, H = 5, 3
    ours, theirs = _pair(cls, I, H, **kw)
    x = rn(I) if N is None else rn(N, I)
    sh = (H,) if N is None else (N, H)
    if not given:
        compare(ours, theirs, [x], lambda m, x: m(x))
    elif cls == "LSTMCell":
        compare(ours, theirs, [x, rn(*sh, seed=1), rn(*sh, seed=2)], lambda m, x, h, c: m(x, (h, c)))
    else:
        compare(ours, theirs, [x, rn(*sh, seed=1)], lambda m, x, h: m(x, h))


def test_rnn_cell_relu_kink_matches_torch():
    """A pre-activation of exactly 0 gets relu's subgradient 0, as in torch."""
    ours, theirs = _pair("RNNCell", 2, 2, nonlinearity="relu", bias=False)
    x = np.array([[1.0, -1.0]])
    w = np.array([[1.0, 1.0], [2.0, 0.5]])
    with torch.no_grad():
        theirs.weight_ih.copy_(torch.tensor(w))
        theirs.weight_hh.zero_()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    compare(ours, theirs, [x], lambda m, x: m(x))


# ----------------------------------------------------------------------------------- errors
def test_constructor_errors():
    with pytest.raises(NotImplementedError, match="proj_size"):
        nn.LSTM(3, 4, proj_size=2)
    with pytest.raises(ValueError, match="proj_size"):
        nn.LSTM(3, 4, proj_size=-1)
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNNCell(3, 4, nonlinearity="gelu")
    with pytest.raises(ValueError, match="hidden_size"):
        nn.RNN(3, 0)
    with pytest.raises(ValueError, match="num_layers"):
        nn.LSTM(3, 4, num_layers=0)
    with pytest.raises(TypeError, match="hidden_size"):
        nn.LSTMCell(3, 2.5)
    with pytest.raises(ValueError, match="dropout"):
        nn.LSTM(3, 4, num_layers=2, dropout=1.5)


def test_input_and_state_errors():
    m = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    with pytest.raises(ValueError, match=r"expected input of shape \(T, N, 3\).*got \(5, 2, 4\)"):
        m(pe.randn(5, 2, 4))
    with pytest.raises(ValueError, match=r"expected h0 of shape \(4, 2, 4\).*got \(2, 2, 4\)"):
        m(pe.randn(5, 2, 3), (pe.zeros(2, 2, 4), pe.zeros(4, 2, 4)))
    with pytest.raises(ValueError, match=r"expected c0 of shape \(4, 4\).*got \(4, 2, 4\)"):
        m(pe.randn(5, 3), (pe.zeros(4, 4), pe.zeros(4, 2, 4)))
    with pytest.raises(TypeError, match="hx must be a tuple"):
        m(pe.randn(5, 2, 3), pe.zeros(4, 2, 4))
    with pytest.raises(TypeError, match="input must be a pyengine.Tensor"):
        nn.RNN(3, 4)(np.zeros((5, 2, 3)))
    with pytest.raises(ValueError, match=r"RNNCell.*expected hx of shape \(2, 4\), got \(3, 4\)"):
        nn.RNNCell(3, 4)(pe.randn(2, 3), pe.zeros(3, 4))
    with pytest.raises(ValueError, match=r"LSTMCell.*expected input of shape \(N, 3\)"):
        nn.LSTMCell(3, 4)(pe.randn(2, 2, 3))


def test_dynamic_quantization_refuses_a_bidirectional_lstm():
    from pyengine.quantization import quantize_dynamic
    with pytest.raises(NotImplementedError, match="bidirectional"):
        quantize_dynamic(nn.Sequential(nn.LSTM(3, 4, bidirectional=True)))


def test_gru_float32_matches_torch_and_its_inference_forward_keeps_nothing(monkeypatch):
    """float32 at a moderate size (the vectorised gate pass, rows split between threads), with and
    without gradients: the inference path (no_grad) never calls the saving forward and gives the
    same values."""
    from pyengine.kernels import cpu
    torch.manual_seed(1)
    theirs = tnn.GRU(24, 40, num_layers=2, bidirectional=True)
    ours = nn.GRU(24, 40, num_layers=2, bidirectional=True)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = rn(30, 19, 24).astype(np.float32)
    y_train, h_train = ours(pe.tensor(x))
    assert y_train.grad_fn is not None
    with torch.no_grad():
        ty, th = theirs(torch.tensor(x))
    np.testing.assert_allclose(y_train.detach().numpy(), ty.numpy(), atol=2e-5, rtol=1e-4)
    np.testing.assert_allclose(h_train.detach().numpy(), th.numpy(), atol=2e-5, rtol=1e-4)

    def no_saving_forward(*args, **kwargs):
        raise AssertionError("the inference forward must not compute what a backward keeps")
    monkeypatch.setattr(cpu, "gru_forward", no_saving_forward)
    with pe.no_grad():
        y, h = ours(pe.tensor(x))
    assert y.grad_fn is None
    np.testing.assert_array_equal(y.numpy(), y_train.detach().numpy())
    np.testing.assert_array_equal(h.numpy(), h_train.detach().numpy())
