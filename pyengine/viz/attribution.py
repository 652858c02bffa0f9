"""Which pixels a prediction depends on: saliency, Grad-CAM and occlusion sensitivity, each an
(H, W) map in [0, 1] over the input, and plot_heatmap to draw one over the image.

* saliency (Simonyan et al. 2014): |∂ score_target / ∂ input|, the largest over the channels;
* grad_cam (Selvaraju et al. 2017): with A (K, h, w) the output of a convolutional ``layer`` and
  α_k = mean over (h, w) of ∂ score_target / ∂ A_k, cam = ReLU(Σ_k α_k A_k), resized bilinearly to
  (H, W);
* occlusion_sensitivity (Zeiler & Fergus 2014): the drop of the target's probability when a
  ``size`` × ``size`` patch (filled with the image mean) covers each position, stepping by
  ``stride``, averaged where patches overlap.

``target`` is a class index; None means the class the model predicts. The score is the logit
(the model's output before softmax), as in both papers.
"""
from __future__ import annotations

import numpy as np

from ._common import as_input, finish, find_layer, layer_output, pyplot, show_image


def _np(t):
    a = t._data if hasattr(t, "_data") else np.asarray(t)
    return np.asarray(a.get() if hasattr(a, "get") else a)


def _target(logits, target):
    if target is None:
        return int(np.argmax(logits[0]))
    n = logits.shape[1]
    if isinstance(target, bool) or not isinstance(target, (int, np.integer)) or not 0 <= target < n:
        raise ValueError(f"target must be a class index in [0, {n}), got {target!r}")
    return int(target)


def _normalise(m):
    m = np.asarray(m, np.float64)
    lo, hi = m.min(), m.max()
    return ((m - lo) / (hi - lo) if hi > lo else np.zeros_like(m)).astype(np.float32)


def _score_backward(out, k):
    """Backward of out[0, k] alone (a one-hot upstream gradient)."""
    import pyengine
    g = np.zeros(out.shape, np.float32)
    g[0, k] = 1.0
    out.backward(pyengine.tensor(g.astype(_np(out).dtype)))


def saliency(model, image, target=None):
    """(H, W) map in [0, 1]: the gradient magnitude of the target's score with respect to the input."""
    import pyengine

    x = as_input(model, image)
    was = model.training
    model.eval()
    try:
        xt = pyengine.tensor(x, requires_grad=True)
        with pyengine.enable_grad():
            out = model(xt)
    finally:
        model.train(was)
    k = _target(_np(out), target)
    _score_backward(out, k)
    return _normalise(np.abs(_np(xt.grad)[0]).max(axis=0))


def resize_bilinear(m, shape):
    """Bilinear resize of a 2-D map (align_corners=False, as torch's and MATLAB's imresize)."""
    h, w = m.shape
    H, W = shape

    def weights(n_in, n_out):
        pos = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5
        pos = np.clip(pos, 0, n_in - 1)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, n_in - 1)
        t = pos - lo
        R = np.zeros((n_out, n_in))
        R[np.arange(n_out), lo] += 1 - t
        R[np.arange(n_out), hi] += t
        return R

    return weights(h, H) @ np.asarray(m, np.float64) @ weights(w, W).T


def grad_cam(model, image, target=None, layer=None):
    """(H, W) Grad-CAM map in [0, 1] of ``layer`` (a convolutional layer's name or module; default the
    last Conv2d) for the target class."""
    x = as_input(model, image)
    if layer is None:
        convs = [n for n, m in model.named_modules() if type(m).__name__ == "Conv2d"]
        if not convs:
            raise ValueError("grad_cam: the model has no Conv2d layer; pass layer=")
        layer = convs[-1]
    name, mod = find_layer(model, layer)
    _, out, act = layer_output(model, x, mod, grad=True)
    if act.ndim != 4:
        raise ValueError(f"grad_cam: layer {name} gives {tuple(act.shape)}; it needs a convolutional "
                         "feature map (1, K, h, w)")
    k = _target(_np(out), target)
    _score_backward(out, k)
    A, G = _np(act)[0].astype(np.float64), _np(act.grad)[0].astype(np.float64)
    alpha = G.mean(axis=(1, 2))
    cam = np.maximum((alpha[:, None, None] * A).sum(axis=0), 0)
    return _normalise(resize_bilinear(cam, x.shape[2:]))


def occlusion_sensitivity(model, image, target=None, size: int | None = None, stride: int | None = None,
                          batch_size: int = 64):
    """(H, W) map in [0, 1]: how much the target's probability drops when each region is covered."""
    import pyengine

    x = as_input(model, image)
    _, _, H, W = x.shape
    size = size or max(2, min(H, W) // 4)
    stride = stride or max(1, size // 2)
    if size < 1 or stride < 1 or size > min(H, W):
        raise ValueError(f"occlusion_sensitivity: need 1 <= size <= {min(H, W)} and stride >= 1, got size {size}, "
                         f"stride {stride}")
    was = model.training
    model.eval()

    def probs(batch):
        with pyengine.no_grad():
            z = _np(model(pyengine.tensor(batch))).astype(np.float64)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    try:
        base = probs(x)
        k = _target(base, target)
        fill = float(x.mean())
        ys = list(range(0, H - size + 1, stride))
        xs = list(range(0, W - size + 1, stride))
        if ys[-1] != H - size:
            ys.append(H - size)
        if xs[-1] != W - size:
            xs.append(W - size)
        spots = [(i, j) for i in ys for j in xs]
        drop = np.zeros((H, W))
        count = np.zeros((H, W))
        for s in range(0, len(spots), batch_size):
            chunk = spots[s:s + batch_size]
            batch = np.repeat(x, len(chunk), axis=0)
            for b, (i, j) in enumerate(chunk):
                batch[b, :, i:i + size, j:j + size] = fill
            p = probs(batch)[:, k]
            for (i, j), pk in zip(chunk, p):
                drop[i:i + size, j:j + size] += base[0, k] - pk
                count[i:i + size, j:j + size] += 1
    finally:
        model.train(was)
    return _normalise(np.maximum(drop / np.maximum(count, 1), 0))


def plot_heatmap(image, heatmap, path=None, title="", label="importance", alpha=0.5):
    """The image, the heatmap, and the heatmap laid over the image, side by side, with a colour bar."""
    _, plt = pyplot()
    x = as_input(None, image)[0]
    fig, axes = plt.subplots(1, 3, figsize=(9.6, 3.5))
    show_image(axes[0], x)
    axes[0].set_title("input", fontsize=9)
    im = axes[1].imshow(heatmap, cmap="jet", vmin=0, vmax=1)
    axes[1].set_title(label, fontsize=9)
    show_image(axes[2], x)
    axes[2].imshow(heatmap, cmap="jet", vmin=0, vmax=1, alpha=alpha)
    axes[2].set_title("overlay", fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    cb = fig.colorbar(im, ax=list(axes), shrink=0.85, pad=0.02)
    cb.set_label(f"{label} (0: none, 1: most)", fontsize=8)
    fig.suptitle(title, fontsize=10)
    return finish(fig, path)
