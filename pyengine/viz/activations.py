"""activations and plot_activations: a layer's feature maps for one input, as a tile grid.

Like MATLAB's ``activations`` example: every channel of the layer's output (1, C, h, w) is one
tile, all on one colour scale (so a bright tile is a strongly responding channel), the input shown
first, and the strongest channel — the one with the largest activation anywhere, as MATLAB's
example picks it — framed in red and named in the title.
A fully connected or sequence layer's output (1, F) is shown as a bar chart instead.
"""
from __future__ import annotations

import numpy as np

from ._common import as_input, display_name, finish, find_layer, grid_shape, layer_output, pyplot, show_image


def activations(model, image, layer) -> np.ndarray:
    """The output of ``layer`` for one image (C, H, W): an array (C', h, w) (or (F,))."""
    _, m = find_layer(model, layer)
    _, _, out = layer_output(model, as_input(model, image), m, stop=True)
    arr = out._data if hasattr(out, "_data") else np.asarray(out)
    return np.asarray(arr.get() if hasattr(arr, "get") else arr)[0]


def strongest_channel(act) -> int:
    """The channel holding the largest activation (ties: the lowest index)."""
    a = np.asarray(act)
    return int(np.argmax(a.reshape(a.shape[0], -1).max(axis=1))) if a.ndim >= 2 else int(np.argmax(a))


def plot_activations(model, image, layer, path=None, title=None, max_channels: int = 64):
    """Draws the feature maps of ``layer`` for ``image``; writes ``path`` (PNG) when given and returns
    the Figure (its ``strongest_channel`` attribute holds the marked channel)."""
    name, _ = find_layer(model, layer)
    name = display_name(model, name)
    act = activations(model, image, layer)
    x = as_input(model, image)[0]
    _, plt = pyplot()
    best = strongest_channel(act)
    if act.ndim == 1:
        fig, (ax_in, ax) = plt.subplots(1, 2, figsize=(9, 3.2), gridspec_kw={"width_ratios": [1, 4]})
        show_image(ax_in, x)
        ax_in.set_title("input", fontsize=9)
        colors = ["#c0392b" if k == best else "#1f77b4" for k in range(len(act))]
        ax.bar(np.arange(len(act)), act, color=colors)
        ax.set_xlabel("unit")
        ax.set_ylabel("activation")
        ax.grid(alpha=0.3, axis="y")
        fig.suptitle(title or f"Activations of {name} ({len(act)} units); strongest: unit {best}", fontsize=10)
        fig.tight_layout()
        fig.strongest_channel = best
        return finish(fig, path)
    if act.ndim == 3 and act.shape[0] > 0:
        C = act.shape[0]
        n = min(C, max_channels)
        shown = list(range(n)) if best < n else list(range(n - 1)) + [best]
        rows, cols = grid_shape(n + 1)
        fig, axes = plt.subplots(rows, cols, figsize=(1.25 * cols + 1.3, 1.3 * rows + 1.0), squeeze=False)
        flat = list(axes.flat)
        show_image(flat[0], x)
        flat[0].set_title("input", fontsize=8, pad=2)
        lo, hi = float(act.min()), float(act.max())
        im = None
        for ax, k in zip(flat[1:], shown):
            im = ax.imshow(act[k], cmap="viridis", vmin=lo, vmax=hi if hi > lo else lo + 1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{k}", fontsize=8, pad=2, color="#c0392b" if k == best else "black",
                         fontweight="bold" if k == best else "normal")
            if k == best:
                for side in ax.spines.values():
                    side.set_edgecolor("#e74c3c")
                    side.set_linewidth(3)
        for ax in flat[1 + len(shown):]:
            ax.axis("off")
        cb = fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.8, pad=0.02)
        cb.set_label("activation", fontsize=8)
        cb.ax.tick_params(labelsize=7)
        more = f", first {n} of {C} shown" if n < C else ""
        fig.suptitle(title or f"Activations of {name}: {C} channels of {act.shape[1]}×{act.shape[2]}{more}\n"
                              f"strongest (largest activation): channel {best}, framed in red", fontsize=9)
        fig.strongest_channel = best
        return finish(fig, path)
    raise ValueError(f"plot_activations: cannot draw the output of {name} of shape {act.shape}")
