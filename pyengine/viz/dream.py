"""deep_dream: an input that excites chosen channels of a layer, by gradient ascent over an image
pyramid (MATLAB's deepDreamImage, after Mordvintsev et al.'s DeepDream).

For each channel c, the objective is the mean of the layer's output in channel c (or unit c of a
fully connected layer). Starting from ``image`` (or seeded noise), the pyramid runs from the
coarsest of ``pyramid_levels`` octaves (each ``pyramid_scale`` times smaller than the next) to the
full size: at each level the image is optimised at that resolution for ``iterations`` steps
x ← x + lr · g / mean|g|, with g smoothed by a Gaussian of ``smooth`` pixels (high-frequency
noise is what plain gradient ascent finds first), where the network sees the level's image resized bilinearly to its
input size (so fixed-size networks work too) and g is the gradient carried back through the resize;
then the result is enlarged to the next level. Coarse levels shape the large structures, fine ones
the detail. Values are kept within the range the data had (``value_range``).
"""
from __future__ import annotations

import numpy as np

from ._common import display_name, finish, find_layer, grid_shape, layer_output, pyplot, show_image


def _resize_matrix(n_in, n_out):
    pos = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, n_in - 1)
    t = pos - lo
    R = np.zeros((n_out, n_in))
    R[np.arange(n_out), lo] += 1 - t
    R[np.arange(n_out), hi] += t
    return R


def _resize(img, shape):
    """img (C, h, w) → (C, H, W) bilinear."""
    Rh, Rw = _resize_matrix(img.shape[1], shape[0]), _resize_matrix(img.shape[2], shape[1])
    return np.einsum("Hh,chw,Ww->cHW", Rh, img, Rw)


def _blur(g, sigma):
    """Gaussian blur of each channel (separable, reflect at the edges); sigma 0 leaves g alone."""
    if not sigma:
        return g
    r = max(1, int(np.ceil(2 * sigma)))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    p = np.pad(g, ((0, 0), (r, r), (r, r)), mode="reflect")
    p = sum(k[i] * p[:, i:i + g.shape[1], :] for i in range(2 * r + 1))
    return sum(k[i] * p[:, :, i:i + g.shape[2]] for i in range(2 * r + 1))


def deep_dream(model, layer, channels, image=None, input_shape=None, pyramid_levels: int = 3,
               pyramid_scale: float = 1.4, iterations: int = 10, lr: float = 0.02, value_range=(0.0, 1.0),
               seed: int = 0, smooth: float = 0.5):
    """Images (len(channels), C, H, W) that maximise each channel's mean activation at ``layer``.
    input_shape (C, H, W) is needed when no image is given (else the image's shape is used)."""
    import pyengine

    name, mod = find_layer(model, layer)
    channels = [int(c) for c in (channels if np.ndim(channels) else [channels])]
    if image is not None:
        start = np.asarray(image._data if hasattr(image, "_data") else image, np.float64)
        start = start[0] if start.ndim == 4 else start[None] if start.ndim == 2 else start
    elif input_shape is not None:
        rng = np.random.default_rng(seed)
        lo, hi = value_range
        start = lo + (hi - lo) * (0.5 + 0.1 * rng.standard_normal(tuple(input_shape)))
    else:
        raise ValueError("deep_dream needs an image or input_shape=(C, H, W)")
    if pyramid_levels < 1 or iterations < 1 or not pyramid_scale > 1 or not lr > 0:
        raise ValueError(f"deep_dream: need pyramid_levels >= 1, iterations >= 1, pyramid_scale > 1, lr > 0; got "
                         f"{pyramid_levels}, {iterations}, {pyramid_scale}, {lr}")
    C, H, W = start.shape
    sizes = [(max(4, round(H / pyramid_scale ** k)), max(4, round(W / pyramid_scale ** k)))
             for k in reversed(range(pyramid_levels))]
    out = []
    for c in channels:
        img = _resize(start, sizes[0])
        for size in sizes:
            img = _resize(img, size)
            Rh, Rw = _resize_matrix(size[0], H), _resize_matrix(size[1], W)
            for _ in range(iterations):
                full = np.einsum("Hh,chw,Ww->cHW", Rh, img, Rw)[None].astype(np.float32)
                xt, _, act = layer_output(model, full, mod, grad=True, stop=True)
                if act.ndim < 2 or not 0 <= c < act.shape[1]:
                    raise ValueError(f"deep_dream: channel {c} is out of range for {name}, whose output is "
                                     f"{tuple(act.shape)}")
                g = np.zeros(act.shape, np.float32)
                g[0, c] = 1.0 / max(1, int(np.prod(act.shape[2:])))
                act.backward(pyengine.tensor(g))
                gx = np.asarray(xt.grad._data, np.float64)[0]
                g_low = _blur(np.einsum("Hh,cHW,Ww->chw", Rh, gx, Rw), smooth)
                img = np.clip(img + lr * g_low / (np.abs(g_low).mean() + 1e-12), *value_range)
        out.append(img.astype(np.float32))
    return np.stack(out)


def plot_deep_dream(model, layer, channels, path=None, title=None, **kwargs):
    """deep_dream for each channel, drawn as a grid (one panel per channel)."""
    name, _ = find_layer(model, layer)
    name = display_name(model, name)
    imgs = deep_dream(model, layer, channels, **kwargs)
    _, plt = pyplot()
    rows, cols = grid_shape(len(imgs), 6)
    fig, axes = plt.subplots(rows, cols, figsize=(1.7 * cols + 0.4, 1.8 * rows + 0.9), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, img, c in zip(axes.flat, imgs, channels):
        ax.axis("on")
        show_image(ax, img)
        ax.set_title(f"channel {c}", fontsize=8)
    levels = kwargs.get("pyramid_levels", 3)
    fig.suptitle(title or f"Deep dream: inputs that excite channels of {name}\n"
                          f"({levels}-level image pyramid, {kwargs.get('iterations', 10)} steps per level; "
                          "each image stretched to its own range)",
                 fontsize=9)
    fig.tight_layout()
    return finish(fig, path)
