"""PyTorch parity: every layer and loss loaded with the same weights (through load_state_dict from the
torch model's state dict) gives the same forward output, input gradients and parameter gradients in
float64. Skipped where torch is not installed."""
import numpy as np
import pytest

import pyengine as pe
from pyengine import nn
from pyengine.testing.registry import all_layer_parity

torch = pytest.importorskip("torch")
tnn = torch.nn

ATOL, RTOL = 1e-8, 1e-6


def _flat(o):
    if isinstance(o, (tuple, list)):
        return [x for item in o for x in _flat(item)]
    return [o]


def _check(name, ours, theirs):
    theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else np.asarray(theirs)
    ours = np.asarray(ours.numpy() if hasattr(ours, "numpy") else ours)
    assert ours.shape == theirs.shape, f"{name}: shape {ours.shape} vs torch {theirs.shape}"
    np.testing.assert_allclose(ours, theirs, atol=ATOL, rtol=RTOL, err_msg=name)


def compare(ours, theirs, inputs, *, grad=None, call=None):
    """inputs: NumPy arrays (float arrays get gradients unless grad says otherwise)."""
    theirs = theirs.double()
    ours.double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    grad = grad if grad is not None else [np.asarray(a).dtype.kind == "f" for a in inputs]
    p_in = [pe.tensor(np.asarray(a, np.float64) if g else a, requires_grad=g) for a, g in zip(inputs, grad)]
    t_in = [torch.tensor(np.asarray(a, np.float64) if g else a, requires_grad=g) for a, g in zip(inputs, grad)]
    call = call or (lambda m, *xs: m(*xs))
    p_out, t_out = _flat(call(ours, *p_in)), _flat(call(theirs, *t_in))
    assert len(p_out) == len(t_out)
    rng = np.random.default_rng(0)
    gs = [rng.standard_normal(tuple(o.shape)) for o in t_out]
    for i, (a, b) in enumerate(zip(p_out, t_out)):
        _check(f"output {i}", a, b)
    pe.autograd.backward([o for o in p_out if o.requires_grad], [pe.tensor(g) for g, o in zip(gs, p_out)
                                                                  if o.requires_grad])
    torch.autograd.backward([o for o in t_out if o.requires_grad],
                            [torch.tensor(g) for g, o in zip(gs, t_out) if o.requires_grad])
    for i, (a, b) in enumerate(zip(p_in, t_in)):
        if b.requires_grad and b.grad is not None:
            _check(f"grad of input {i}", a.grad, b.grad)
    tp = dict(theirs.named_parameters())
    for k, p in ours.named_parameters():
        if tp[k].grad is not None:
            _check(f"grad of {k}", p.grad, tp[k].grad)
    for k, b in theirs.named_buffers():
        _check(f"buffer {k}", ours.state_dict()[k], b)


def rn(*shape, seed=0):
    return np.random.default_rng(seed + len(shape)).standard_normal(shape)


def _affine(m):
    """A torch normalisation layer with random (not the default 1 and 0) weight and bias."""
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
    return m


LAYERS = [
    ("Linear", lambda: (nn.Linear(5, 3), tnn.Linear(5, 3)), [rn(4, 5)]),
    ("Linear 3-D input", lambda: (nn.Linear(5, 3), tnn.Linear(5, 3)), [rn(2, 4, 5)]),
    ("Conv2d pad 1", lambda: (nn.Conv2d(3, 4, 3, padding=1), tnn.Conv2d(3, 4, 3, padding=1)), [rn(2, 3, 6, 5)]),
    ("Conv2d stride 2 dilation 2 groups 2 no bias",
     lambda: (nn.Conv2d(4, 6, 3, stride=2, dilation=2, groups=2, bias=False),
              tnn.Conv2d(4, 6, 3, stride=2, dilation=2, groups=2, bias=False)), [rn(1, 4, 9, 8)]),
    ("Conv2d padding same", lambda: (nn.Conv2d(2, 3, (2, 3), padding="same"), tnn.Conv2d(2, 3, (2, 3), padding="same")),
     [rn(1, 2, 5, 5)]),
    ("MaxPool2d", lambda: (nn.MaxPool2d(2), tnn.MaxPool2d(2)), [rn(2, 3, 6, 6)]),
    ("MaxPool2d 3 s2 p1 ceil", lambda: (nn.MaxPool2d(3, 2, 1, ceil_mode=True), tnn.MaxPool2d(3, 2, 1, ceil_mode=True)),
     [rn(1, 2, 7, 6)]),
    ("AvgPool2d", lambda: (nn.AvgPool2d(3, 2, 1, count_include_pad=False), tnn.AvgPool2d(3, 2, 1, count_include_pad=False)),
     [rn(2, 2, 7, 6)]),
    ("AvgPool2d include pad", lambda: (nn.AvgPool2d(2, 1, 1), tnn.AvgPool2d(2, 1, 1)), [rn(1, 2, 4, 4)]),
    ("AdaptiveAvgPool2d (3, 2)", lambda: (nn.AdaptiveAvgPool2d((3, 2)), tnn.AdaptiveAvgPool2d((3, 2))), [rn(2, 2, 7, 5)]),
    ("AdaptiveAvgPool2d 1", lambda: (nn.AdaptiveAvgPool2d(1), tnn.AdaptiveAvgPool2d(1)), [rn(2, 2, 4, 5)]),
    ("BatchNorm1d", lambda: (nn.BatchNorm1d(3), tnn.BatchNorm1d(3)), [rn(5, 3)]),
    ("BatchNorm1d (N, C, L)", lambda: (nn.BatchNorm1d(3), tnn.BatchNorm1d(3)), [rn(4, 3, 2)]),
    ("BatchNorm2d", lambda: (nn.BatchNorm2d(3), tnn.BatchNorm2d(3)), [rn(2, 3, 4, 4)]),
    ("BatchNorm2d eval", lambda: (nn.BatchNorm2d(3).eval(), _bn_eval(tnn.BatchNorm2d(3))), [rn(2, 3, 4, 4)]),
    ("Dropout eval", lambda: (nn.Dropout(0.3).eval(), tnn.Dropout(0.3).eval()), [rn(3, 4)]),
    ("Flatten", lambda: (nn.Flatten(), tnn.Flatten()), [rn(2, 3, 4)]),
    ("ReLU", lambda: (nn.ReLU(), tnn.ReLU()), [rn(3, 4)]),
    ("LeakyReLU", lambda: (nn.LeakyReLU(0.2), tnn.LeakyReLU(0.2)), [rn(3, 4)]),
    ("PReLU per channel", lambda: (nn.PReLU(3), tnn.PReLU(3)), [rn(2, 3, 4)]),
    ("ELU", lambda: (nn.ELU(0.7), tnn.ELU(0.7)), [rn(3, 4)]),
    ("Sigmoid", lambda: (nn.Sigmoid(), tnn.Sigmoid()), [rn(3, 4)]),
    ("Tanh", lambda: (nn.Tanh(), tnn.Tanh()), [rn(3, 4)]),
    ("Softmax", lambda: (nn.Softmax(1), tnn.Softmax(1)), [rn(3, 4)]),
    ("LogSoftmax", lambda: (nn.LogSoftmax(-1), tnn.LogSoftmax(-1)), [rn(3, 4)]),
    ("LSTM 2 layers batch_first (h0, c0)",
     lambda: (nn.LSTM(3, 4, num_layers=2, batch_first=True), tnn.LSTM(3, 4, num_layers=2, batch_first=True)),
     [rn(2, 5, 3), rn(2, 2, 4), rn(2, 2, 4)]),
    ("LSTM default state", lambda: (nn.LSTM(3, 4), tnn.LSTM(3, 4)), [rn(6, 2, 3)]),
    ("LSTMCell", lambda: (nn.LSTMCell(3, 4), tnn.LSTMCell(3, 4)), [rn(2, 3), rn(2, 4), rn(2, 4)]),
    ("RNN tanh 2 layers", lambda: (nn.RNN(3, 4, num_layers=2), tnn.RNN(3, 4, num_layers=2)), [rn(5, 2, 3)]),
    ("digit CNN", lambda: (_cnn(nn), _cnn(tnn)), [rn(3, 1, 28, 28)]),
]


def _pair(p):
    """(ours, torch's) for a registry LayerParity entry."""
    theirs = getattr(tnn, p.layer)(*p.args, **p.kwargs)
    return getattr(nn, p.layer)(*p.args, **p.kwargs), _affine(theirs) if p.random_affine else theirs


REGISTRY_LAYERS = all_layer_parity()           # the families' own entries (pyengine/testing/ops/<family>.py)
LAYERS += [(p.name, lambda p=p: _pair(p), [rn(*s) for s in p.inputs]) for p in REGISTRY_LAYERS]


def _bn_eval(m):
    with torch.no_grad():
        m.running_mean.copy_(torch.tensor([0.2, -0.1, 0.4]))
        m.running_var.copy_(torch.tensor([1.3, 0.5, 2.2]))
    return m.eval()


def _cnn(lib):
    return lib.Sequential(
        lib.Conv2d(1, 8, 3, padding=1), lib.BatchNorm2d(8), lib.ReLU(), lib.MaxPool2d(2, 2),
        lib.Conv2d(8, 16, 3, padding=1), lib.BatchNorm2d(16), lib.ReLU(), lib.MaxPool2d(2, 2),
        lib.Conv2d(16, 32, 3, padding=1), lib.BatchNorm2d(32), lib.ReLU(), lib.Flatten(), lib.Linear(32 * 7 * 7, 10))


@pytest.mark.filterwarnings("ignore:Using padding=.same.")
@pytest.mark.parametrize("name,make,inputs", LAYERS, ids=[n for n, _, _ in LAYERS])
def test_layer_matches_torch(name, make, inputs):
    ours, theirs = make()
    call = None
    if name.startswith("LSTM 2") or name == "LSTMCell":
        call = lambda m, x, h, c: m(x, (h, c))  # noqa: E731
    compare(ours, theirs, inputs, call=call)


def _idx(n, c, seed=0):
    return np.random.default_rng(seed).integers(0, c, n).astype(np.int64)


def _prob(*shape):
    p = np.exp(rn(*shape, seed=3))
    return p / p.sum(1, keepdims=True)


W4 = np.array([0.5, 2.0, 1.0, 1.5])
LOSSES = [
    ("CrossEntropyLoss mean", lambda: (nn.CrossEntropyLoss(), tnn.CrossEntropyLoss()), [rn(6, 4), _idx(6, 4)]),
    ("CrossEntropyLoss sum", lambda: (nn.CrossEntropyLoss(reduction="sum"), tnn.CrossEntropyLoss(reduction="sum")),
     [rn(6, 4), _idx(6, 4)]),
    ("CrossEntropyLoss none", lambda: (nn.CrossEntropyLoss(reduction="none"), tnn.CrossEntropyLoss(reduction="none")),
     [rn(6, 4), _idx(6, 4)]),
    ("CrossEntropyLoss weight ignore_index label_smoothing",
     lambda: (nn.CrossEntropyLoss(weight=pe.tensor(W4), ignore_index=2, label_smoothing=0.15),
              tnn.CrossEntropyLoss(weight=torch.tensor(W4), ignore_index=2, label_smoothing=0.15)),
     [rn(8, 4), np.array([0, 2, 1, 3, 2, 0, 1, 3])]),
    ("CrossEntropyLoss probability target smoothing",
     lambda: (nn.CrossEntropyLoss(label_smoothing=0.1), tnn.CrossEntropyLoss(label_smoothing=0.1)),
     [rn(5, 4), _prob(5, 4)]),
    ("CrossEntropyLoss (N, C, d) targets",
     lambda: (nn.CrossEntropyLoss(), tnn.CrossEntropyLoss()), [rn(3, 4, 2), _idx(6, 4).reshape(3, 2)]),
    ("NLLLoss weighted", lambda: (nn.NLLLoss(weight=pe.tensor(W4)), tnn.NLLLoss(weight=torch.tensor(W4))),
     [rn(6, 4), _idx(6, 4)]),
    ("MSELoss", lambda: (nn.MSELoss(), tnn.MSELoss()), [rn(3, 4), rn(3, 4, seed=1)]),
    ("L1Loss sum", lambda: (nn.L1Loss(reduction="sum"), tnn.L1Loss(reduction="sum")), [rn(3, 4), rn(3, 4, seed=1)]),
    ("SmoothL1Loss beta", lambda: (nn.SmoothL1Loss(beta=0.5), tnn.SmoothL1Loss(beta=0.5)), [rn(3, 4), rn(3, 4, seed=1)]),
    ("BCELoss", lambda: (nn.BCELoss(), tnn.BCELoss()),
     [1 / (1 + np.exp(-rn(3, 4))), np.random.default_rng(1).uniform(0, 1, (3, 4))]),
    ("BCEWithLogitsLoss pos_weight weight",
     lambda: (nn.BCEWithLogitsLoss(weight=pe.tensor(W4), pos_weight=pe.tensor(W4[::-1].copy())),
              tnn.BCEWithLogitsLoss(weight=torch.tensor(W4), pos_weight=torch.tensor(W4[::-1].copy()))),
     [rn(3, 4) * 4, np.random.default_rng(1).uniform(0, 1, (3, 4))]),
    ("MultiMarginLoss", lambda: (nn.MultiMarginLoss(), tnn.MultiMarginLoss()), [rn(5, 4), _idx(5, 4)]),
    ("MultiMarginLoss p2 margin weight",
     lambda: (nn.MultiMarginLoss(p=2, margin=0.5, weight=pe.tensor(W4)),
              tnn.MultiMarginLoss(p=2, margin=0.5, weight=torch.tensor(W4))), [rn(5, 4), _idx(5, 4)]),
    ("HingeEmbeddingLoss", lambda: (nn.HingeEmbeddingLoss(margin=0.8), tnn.HingeEmbeddingLoss(margin=0.8)),
     [rn(3, 4), np.where(rn(3, 4, seed=2) > 0, 1.0, -1.0)]),
    ("KLDivLoss batchmean", lambda: (nn.KLDivLoss(reduction="batchmean"), tnn.KLDivLoss(reduction="batchmean")),
     [np.log(_prob(3, 4)) + 0.1 * rn(3, 4), _prob(3, 4)]),
    ("KLDivLoss log_target", lambda: (nn.KLDivLoss(reduction="sum", log_target=True),
                                      tnn.KLDivLoss(reduction="sum", log_target=True)),
     [rn(3, 4), np.log(_prob(3, 4))]),
]


@pytest.mark.parametrize("name,make,inputs", LOSSES, ids=[n for n, _, _ in LOSSES])
def test_loss_matches_torch(name, make, inputs):
    ours, theirs = make()
    compare(ours, theirs, inputs)


def test_state_dict_moves_both_ways_and_gives_the_same_outputs():
    pe.manual_seed(0)
    ours = _cnn(nn)
    theirs = _cnn(tnn).eval()
    ours.eval()
    # pyengine -> torch
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in ours.state_dict().items()})
    x = rn(2, 1, 28, 28).astype(np.float32)
    np.testing.assert_allclose(ours(pe.tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(),
                               atol=1e-4, rtol=1e-4)
    # torch -> pyengine, straight from torch tensors
    fresh = _cnn(nn).eval()
    fresh.load_state_dict(theirs.state_dict())
    np.testing.assert_allclose(fresh(pe.tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(),
                               atol=1e-4, rtol=1e-4)


def test_training_step_float32_matches_torch():
    torch.manual_seed(0)
    ours, theirs = _cnn(nn), _cnn(tnn)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = rn(8, 1, 28, 28).astype(np.float32)
    t = _idx(8, 10)
    lp = nn.CrossEntropyLoss()(ours(pe.tensor(x)), pe.tensor(t))
    lt = tnn.CrossEntropyLoss()(theirs(torch.tensor(x)), torch.tensor(t))
    lp.backward()
    lt.backward()
    assert abs(lp.item() - lt.item()) < 1e-5
    tp = dict(theirs.named_parameters())
    for k, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tp[k].grad.numpy(), atol=1e-4, rtol=1e-3, err_msg=k)


@pytest.mark.parametrize("p", REGISTRY_LAYERS, ids=[p.name for p in REGISTRY_LAYERS])
def test_registry_layer_defaults_names_and_repr_match_torch(p):
    ours, theirs = getattr(nn, p.layer)(*p.args, **p.kwargs), getattr(tnn, p.layer)(*p.args, **p.kwargs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    if p.same_init:
        for k, v in theirs.state_dict().items():
            mine = ours.state_dict()[k]
            np.testing.assert_array_equal(np.asarray(mine.numpy() if hasattr(mine, "numpy") else mine), v.numpy())
    for attr in ("normalized_shape", "eps", "elementwise_affine"):
        if hasattr(theirs, attr):
            assert getattr(ours, attr) == getattr(theirs, attr), attr
    assert repr(ours) == repr(theirs)
