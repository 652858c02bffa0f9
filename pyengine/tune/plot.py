"""The picture of a search: validation accuracy against trial (with the best so far) and against
each parameter (log axis for log ranges, one column per value for a categorical one); pruned
trials drawn as grey crosses at their last reported accuracy, the best trial as a star."""
from __future__ import annotations

import math

from .space import Categorical, Float, Int


def plot_study(result, path=None, title="pyengine tune"):
    try:
        import matplotlib
        if path is not None:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("the search plot needs matplotlib: pip install \"pyengine[plot]\"") from None
    rows = [r for r in result.rows if r["value"] is not None]
    # a parameter held at one value is not searched: no panel for it
    names = [k for k, r in result.space.items() if not (isinstance(r, Categorical) and len(r.choices) == 1)]
    n = 1 + len(names)
    cols = 2 if n in (2, 4) else min(n, 3)
    nrows = math.ceil(n / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 3.4 * nrows), squeeze=False)
    flat = [ax for row in axes for ax in row]
    for ax in flat[n:]:
        ax.axis("off")
    done = [r for r in rows if r["state"] == "COMPLETE"]
    pruned = [r for r in rows if r["state"] == "PRUNED"]
    best = result.best

    def pct(rs):
        return [100 * r["value"] for r in rs]

    ax = flat[0]
    ax.scatter([r["trial"] for r in done], pct(done), color="#1f77b4", s=22, label="finished", zorder=3)
    if pruned:
        ax.scatter([r["trial"] for r in pruned], pct(pruned), color="0.55", marker="x", s=22,
                   label="pruned (last epoch reported)", zorder=3)
    by_trial = sorted(done, key=lambda r: r["trial"])
    running, xs, ys = -math.inf, [], []
    for r in by_trial:
        running = max(running, r["value"])
        xs.append(r["trial"])
        ys.append(100 * running)
    if xs:
        last = max(r["trial"] for r in rows)
        ax.step(xs + [last], ys + [ys[-1]], where="post", color="#e4572e", lw=1.5, label="best so far")
    if best is not None:
        ax.scatter([best["trial"]], [100 * best["value"]], marker="*", s=140, color="#f1c40f", edgecolor="k",
                   zorder=4, label=f"best: trial {best['trial']}")
    ax.set_xlabel("trial")
    ax.set_ylabel("validation accuracy (%)")
    ax.set_title("accuracy against trial", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")

    for ax, name in zip(flat[1:], names):
        r_ = result.space[name]
        if isinstance(r_, Categorical):
            pos = {v: i for i, v in enumerate(r_.choices)}
            # spread the points of one value a little sideways (by trial number) so they do not hide
            # each other
            x_done = [pos.get(r["params"].get(name), math.nan) + _jitter(r["trial"]) for r in done]
            x_pruned = [pos.get(r["params"].get(name), math.nan) + _jitter(r["trial"]) for r in pruned]
            ax.set_xticks(range(len(r_.choices)), [str(c) for c in r_.choices])
            ax.set_xlim(-0.5, len(r_.choices) - 0.5)
        else:
            x_done = [r["params"].get(name, math.nan) for r in done]
            x_pruned = [r["params"].get(name, math.nan) for r in pruned]
            if isinstance(r_, (Float, Int)) and r_.log:
                from matplotlib.ticker import NullFormatter
                ax.set_xscale("log")
                ax.xaxis.set_minor_formatter(NullFormatter())   # 2x10^-3 ... labels run into each other
            if isinstance(r_, (Float, Int)):                    # the whole searched range, ends labelled
                span = (r_.high / r_.low) ** 0.04 if r_.log else 0.04 * (r_.high - r_.low)
                ax.set_xlim(*((r_.low / span, r_.high * span) if r_.log else (r_.low - span, r_.high + span)))
        ax.scatter(x_done, pct(done), color="#1f77b4", s=22, zorder=3)
        if pruned:
            ax.scatter(x_pruned, pct(pruned), color="0.55", marker="x", s=22, zorder=3)
        if best is not None:
            bx = best["params"].get(name)
            if isinstance(r_, Categorical):
                bx = r_.choices.index(bx) + _jitter(best["trial"]) if bx in r_.choices else math.nan
            ax.scatter([bx], [100 * best["value"]], marker="*", s=140, color="#f1c40f", edgecolor="k",
                       zorder=4, label=f"best: {name} = {_short(best['params'].get(name))}")
            ax.legend(fontsize=7, loc="lower right")
        ax.set_xlabel(name + (" (log scale)" if getattr(r_, "log", False) else ""))
        ax.set_ylabel("validation accuracy (%)")
        ax.set_title(f"accuracy against {name}", fontsize=10)
        ax.grid(alpha=0.3)
    lo = min([100 * r["value"] for r in rows], default=0)
    hi = max([100 * r["value"] for r in rows], default=100)
    pad = max(0.5, 0.05 * (hi - lo))
    for ax in flat[:n]:
        ax.set_ylim(lo - pad, min(100.5, hi + pad))
    n_pruned = len(pruned)
    head = (f"{title}\n{len(result.rows)} trials ({n_pruned} pruned), {result.sampler} sampler, seed {result.seed}"
            + (f"; best {100 * best['value']:.2f}% (trial {best['trial']})" if best else ""))
    fig.suptitle(head, fontsize=11)
    fig.tight_layout()
    if path is not None:
        from ..train.history import _save_figure_atomic
        _save_figure_atomic(fig, path)
        plt.close(fig)
    return fig


def _jitter(k):
    return ((k * 0.618034) % 1.0 - 0.5) * 0.3


def _short(v):
    return f"{v:.3g}" if isinstance(v, float) else str(v)
