"""plot_filters: the weights of a convolution layer as a grid of small images.

A first layer (1 or 3 input channels) shows each filter as an image: gray (one channel) or colour
(three channels, each filter stretched to [0, 1] on its own, as MATLAB and torchvision show them).
A deeper layer shows one row per output filter and one column per input channel (up to
``max_filters`` × ``max_channels``), all on one diverging colour scale centred on 0 with a colour
bar, so positive and negative weights read the same everywhere.
"""
from __future__ import annotations

import numpy as np

from ._common import display_name, finish, find_layer, pyplot


def _weight(layer):
    w = getattr(layer, "weight", None)
    arr = getattr(w, "_data", w)
    if hasattr(arr, "get"):
        arr = arr.get()
    if arr is None or np.ndim(arr) != 4:
        raise ValueError(f"plot_filters needs a Conv2d layer (weight of shape (out, in, kh, kw)), got "
                         f"{type(layer).__name__}" + (f" with weight {np.shape(arr)}" if arr is not None else ""))
    return np.asarray(arr, np.float64)


def plot_filters(layer, path=None, model=None, title=None, max_filters: int = 64, max_channels: int = 16):
    """Draws the filters of a Conv2d ``layer`` (or ``model`` and a layer name); writes ``path`` (PNG)
    when given and returns the matplotlib Figure."""
    name = None
    if model is not None:
        name, layer = find_layer(model, layer)
    w = _weight(layer)
    O, I, kh, kw = w.shape
    _, plt = pyplot()
    label = f"{display_name(model, name) + ' ' if name else ''}({type(layer).__name__} {O}×{I}×{kh}×{kw})"
    if I in (1, 3):
        n = min(O, max_filters)
        cols = min(8, n)
        rows = int(np.ceil(n / cols))
        fig, axes = plt.subplots(rows, cols, figsize=(1.1 * cols + 1.2, 1.1 * rows + 0.9), squeeze=False)
        lim = float(np.abs(w).max()) or 1.0
        im = None
        for k, ax in enumerate(axes.flat):
            ax.set_xticks([])
            ax.set_yticks([])
            if k >= n:
                ax.axis("off")
                continue
            if I == 1:
                im = ax.imshow(w[k, 0], cmap="gray", vmin=-lim, vmax=lim, interpolation="nearest")
            else:
                f = w[k].transpose(1, 2, 0)
                lo, hi = f.min(), f.max()
                ax.imshow((f - lo) / (hi - lo) if hi > lo else np.zeros_like(f), interpolation="nearest")
            ax.set_title(f"{k}", fontsize=8, pad=2)
        if im is not None:
            cb = fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.8, pad=0.03)
            cb.set_label("weight", fontsize=8)
            cb.ax.tick_params(labelsize=7)
        fig.suptitle(title or f"Filters of {label}" + (f", first {n}" if n < O else ""), fontsize=10)
    else:
        n, c = min(O, max_filters), min(I, max_channels)
        cell = 0.42 if kh <= 3 else 0.6
        fig, axes = plt.subplots(n, c, figsize=(cell * c + 1.6, cell * n + 1.0), squeeze=False)
        sub = w[:n, :c]
        lim = float(np.abs(sub).max()) or 1.0
        for i in range(n):
            for j in range(c):
                ax = axes[i, j]
                im = ax.imshow(sub[i, j], cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
                ax.set_xticks([])
                ax.set_yticks([])
                if j == 0:
                    ax.set_ylabel(str(i), fontsize=7, rotation=0, labelpad=8, va="center")
                if i == 0:
                    ax.set_title(str(j), fontsize=7, pad=2)
        cb = fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.6, pad=0.02)
        cb.set_label("weight", fontsize=8)
        cb.ax.tick_params(labelsize=7)
        shown = (f"; first {n} filters" if n < O else "") + (f", first {c} input channels" if c < I else "")
        fig.suptitle(title or f"Filters of {label}\nrows: output filter, columns: input channel{shown}",
                     fontsize=9)
        fig.supxlabel("input channel", fontsize=8)
        fig.supylabel("output filter", fontsize=8)
    return finish(fig, path)
