"""Arithmetic between a loss and backward — loss·0.5, loss + loss, loss / k, a weighted sum of two — for
every loss and reduction: backward must work (every gradient that reaches a kernel is an array of the
loss's dtype, never a NumPy scalar) and give PyTorch's gradient (fixed scaling identities always)."""
import numpy as np
import pytest

import pyengine as pe
from pyengine import nn

try:
    import torch
except ImportError:
    torch = None

pytestmark = pytest.mark.filterwarnings("ignore:reduction. .mean. divides the total loss")

N, C = 5, 4


def _inputs(rng):
    logits = rng.standard_normal((N, C)).astype(np.float32)
    idx = rng.integers(0, C, N).astype(np.int64)
    probs = rng.dirichlet(np.ones(C), N).astype(np.float32)
    target = rng.standard_normal((N, C)).astype(np.float32)
    unit = rng.uniform(0.05, 0.95, (N, C)).astype(np.float32)
    binary = rng.integers(0, 2, (N, C)).astype(np.float32)
    signs = rng.choice([-1.0, 1.0], (N, C)).astype(np.float32)
    return dict(logits=logits, idx=idx, probs=probs, target=target, unit=unit, binary=binary, signs=signs,
                logp=np.log(probs))


# name -> (module factory given the library, input key, target key, transform of the input)
LOSSES = {
    "CrossEntropyLoss": (lambda lib, r: lib.nn.CrossEntropyLoss(reduction=r), "logits", "idx"),
    "CrossEntropyLoss probs": (lambda lib, r: lib.nn.CrossEntropyLoss(reduction=r), "logits", "probs"),
    "CrossEntropyLoss smoothing": (lambda lib, r: lib.nn.CrossEntropyLoss(reduction=r, label_smoothing=0.1),
                                   "logits", "idx"),
    "NLLLoss": (lambda lib, r: lib.nn.NLLLoss(reduction=r), "logits", "idx"),
    "MSELoss": (lambda lib, r: lib.nn.MSELoss(reduction=r), "logits", "target"),
    "L1Loss": (lambda lib, r: lib.nn.L1Loss(reduction=r), "logits", "target"),
    "SmoothL1Loss": (lambda lib, r: lib.nn.SmoothL1Loss(reduction=r), "logits", "target"),
    "BCELoss": (lambda lib, r: lib.nn.BCELoss(reduction=r), "unit", "binary"),
    "BCEWithLogitsLoss": (lambda lib, r: lib.nn.BCEWithLogitsLoss(reduction=r), "logits", "binary"),
    "MultiMarginLoss": (lambda lib, r: lib.nn.MultiMarginLoss(reduction=r), "logits", "idx"),
    "HingeEmbeddingLoss": (lambda lib, r: lib.nn.HingeEmbeddingLoss(reduction=r), "logits", "signs"),
    "KLDivLoss": (lambda lib, r: lib.nn.KLDivLoss(reduction=r), "logp", "probs"),
}
ARITH = {
    "x0.5": lambda loss: loss * 0.5,
    "0.5x": lambda loss: 0.5 * loss,
    "loss+loss": lambda loss: loss + loss,
    "loss/3": lambda loss: loss / 3,
    "2loss-loss/4": lambda loss: 2 * loss - loss / 4,
}
SCALE = {"x0.5": 0.5, "0.5x": 0.5, "loss+loss": 2.0, "loss/3": 1 / 3, "2loss-loss/4": 1.75}


def _grad(lib, name, reduction, arith):
    make, xk, tk = LOSSES[name]
    data = _inputs(np.random.default_rng(0))
    if lib is torch:
        x = torch.tensor(data[xk], requires_grad=True)
        t = torch.tensor(data[tk])
    else:
        x = pe.tensor(data[xk], requires_grad=True)
        t = pe.tensor(data[tk])
    loss = make(lib, reduction)(x, t)
    if reduction == "none":
        loss = loss.sum()
    out = ARITH[arith](loss) if arith else loss
    out.backward()
    return np.array(x.grad.numpy(), dtype=np.float64)


@pytest.mark.parametrize("arith", list(ARITH))
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", list(LOSSES))
def test_arithmetic_on_a_loss_backpropagates(name, reduction, arith):
    base = _grad(pe, name, reduction, None)
    got = _grad(pe, name, reduction, arith)
    np.testing.assert_allclose(got, SCALE[arith] * base, rtol=1e-5, atol=1e-7)
    if torch is not None:
        np.testing.assert_allclose(got, _grad(torch, name, reduction, arith), rtol=2e-4, atol=1e-6)


def test_the_cross_entropy_kernel_receives_a_0d_array(monkeypatch):
    from pyengine.autograd import softmax as sm
    seen = []
    K = pe.autograd.kernels_for("cpu")
    real = K.cross_entropy_backward

    class Spy:
        def __getattr__(self, name):
            return getattr(K, name)

        def cross_entropy_backward(self, g, *args):
            seen.append((type(g), g.dtype, g.shape))
            return real(g, *args)
    monkeypatch.setattr(sm, "kernels_of", lambda a: Spy())
    logits = pe.randn(3, 4, requires_grad=True)
    loss = nn.CrossEntropyLoss()(logits, pe.tensor([0, 1, 3]))
    (loss * 0.5 + loss).backward()
    assert seen == [(np.ndarray, np.dtype(np.float32), ())]
