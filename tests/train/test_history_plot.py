"""The training-progress plot: epochs shaded and numbered, every learning-rate drop marked with the
new rate, the data set named under the title; checked on the figure and in the PNG."""
import numpy as np
import pytest

from pyengine.train import History

pytest.importorskip("matplotlib")


def _history():
    h = History()
    lr = 0.01
    for it in range(1, 61):                 # 3 epochs of 20 iterations, the rate x0.1 after epoch 2
        epoch = (it - 1) // 20
        if epoch == 2:
            lr = 0.001
        h.iteration.append(it)
        h.epoch.append(epoch)
        h.loss.append(2.0 / it)
        h.accuracy.append(min(1.0, 0.5 + it / 100))
        h.lr.append(lr)
        h.time.append(it * 0.01)
    h.val_iteration, h.val_loss, h.val_accuracy = [20, 40, 60], [0.5, 0.3, 0.25], [0.8, 0.9, 0.93]
    return h


def test_epoch_spans_and_lr_drops():
    h = _history()
    assert h.epoch_spans() == [(0.5, 20.5, 0), (20.5, 40.5, 1), (40.5, 60.5, 2)]
    assert h.lr_drops() == [(40.5, 0.01, 0.001)]
    assert History().lr_drops() == [] and History().epoch_spans() == []


def test_plot_marks_epochs_drops_and_names_the_data(tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    h = _history()
    path = tmp_path / "progress.png"
    h.plot(path, title="digit-cnn, sgdm", dataset="the embedded MNIST sample")
    fig = h.plot(None, title="digit-cnn, sgdm", dataset="the embedded MNIST sample")
    head = fig._suptitle.get_text()
    assert head.startswith("digit-cnn, sgdm — validation accuracy 93.00%") and "data: the embedded MNIST sample" in head
    ax_acc, ax_loss = fig.axes[0], fig.axes[1]
    # every other epoch shaded (epoch 2 of 3), in both panels
    for ax in (ax_acc, ax_loss):
        spans = [p for p in ax.patches if type(p).__name__ in ("Polygon", "Rectangle")]
        assert len(spans) == 1
        box = spans[0].get_bbox() if hasattr(spans[0], "get_bbox") else spans[0].get_path().get_extents()
        assert np.isclose(box.x0, 20.5) and np.isclose(box.x1, 40.5)
        drops = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--" and len(ln.get_xdata())
                 and np.allclose(ln.get_xdata(), 40.5)]
        assert len(drops) == 1, "a dashed line at the drop"
    assert any("lr 0.01 → 0.001" in t.get_text() for t in ax_loss.texts)
    fig.canvas.draw()
    tops = [[t.get_text() for t in a.get_xticklabels()] for a in ax_acc.child_axes]
    assert ["epoch 1", "epoch 2", "epoch 3"] in tops, tops
    from PIL import Image
    with Image.open(path) as im:
        img = np.asarray(im.convert("RGB")).astype(int)
    purple = (np.abs(img[..., 0] - 0x8e) < 30) & (np.abs(img[..., 1] - 0x44) < 30) & (np.abs(img[..., 2] - 0xad) < 30)
    assert purple.sum() > 50, "the drop line is in the file"
