"""History: what a training run recorded, per iteration and per validation, and its plot."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

__all__ = ["History"]


@dataclass
class History:
    """Per iteration: ``iteration``, ``epoch``, ``loss``, ``accuracy`` (of the mini-batch, None when
    not computed), ``lr``, ``time`` (seconds since the start). Per validation: ``val_iteration``,
    ``val_loss``, ``val_accuracy``. ``stopped_early`` and ``best_iteration`` when early stopping ran; ``stop_reason``
    "patience" or "callback" when training stopped before its last epoch."""

    iteration: list = field(default_factory=list)
    epoch: list = field(default_factory=list)
    loss: list = field(default_factory=list)
    accuracy: list = field(default_factory=list)
    lr: list = field(default_factory=list)
    time: list = field(default_factory=list)
    val_iteration: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_accuracy: list = field(default_factory=list)
    stopped_early: bool = False
    best_iteration: int | None = None
    stop_reason: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "History":
        known = {k: v for k, v in (d or {}).items() if k in cls.__dataclass_fields__}
        return cls(**known)

    @property
    def final_val_accuracy(self):
        return self.val_accuracy[-1] if self.val_accuracy else None

    def plot(self, path=None, title: str = "Training progress", dataset: str | None = None):
        """Training (per iteration, smoothed) and validation loss and accuracy against iteration, in
        two panels, like MATLAB's training-progress window: epochs shaded alternately and numbered,
        each drop of the learning rate marked by a dashed line with the new rate, the data set
        named under the title. Writes ``path`` (PNG, atomically) when given; returns the matplotlib
        Figure. Needs matplotlib (``pip install "pyengine[plot]"``)."""
        try:
            import matplotlib
            if path is not None:
                matplotlib.use("Agg", force=False)
            import matplotlib.pyplot as plt
        except ImportError:
            raise ImportError("History.plot needs matplotlib: pip install \"pyengine[plot]\"") from None
        fig, (ax_acc, ax_loss) = plt.subplots(2, 1, figsize=(8, 6.4), sharex=True)
        it = self.iteration
        acc = [100 * a if a is not None else math.nan for a in self.accuracy]
        for ax in (ax_acc, ax_loss):
            for k, (lo, hi, epoch) in enumerate(self.epoch_spans()):
                if k % 2:
                    ax.axvspan(lo, hi, color="0.93", lw=0, zorder=0)
            for at, old, new in self.lr_drops():
                ax.axvline(at, color="#8e44ad", ls="--", lw=1, zorder=1)
        ax_acc.plot(it, acc, color="#9ec5ea", lw=0.8, label="training (mini-batch)")
        ax_acc.plot(it, _smooth(acc), color="#1f77b4", lw=1.5, label="training (smoothed)")
        ax_loss.plot(it, self.loss, color="#f5b48a", lw=0.8, label="training (mini-batch)")
        ax_loss.plot(it, _smooth(self.loss), color="#e4572e", lw=1.5, label="training (smoothed)")
        if self.val_iteration:
            ax_acc.plot(self.val_iteration, [100 * a for a in self.val_accuracy], "k--o", ms=3, lw=1,
                        label="validation")
            ax_loss.plot(self.val_iteration, self.val_loss, "k--o", ms=3, lw=1, label="validation")
        if self.lr_drops():
            ax_loss.plot([], [], color="#8e44ad", ls="--", lw=1, label="learning-rate drop")
        ax_acc.set_ylabel("accuracy (%)")
        ax_loss.set_ylabel("loss")
        ax_loss.set_xlabel("iteration")
        spans = self.epoch_spans()
        if spans:
            top = ax_acc.secondary_xaxis("top")
            top.set_xticks([(lo + hi) / 2 for lo, hi, _ in spans],
                           labels=[f"epoch {e + 1}" if len(spans) <= 12 else str(e + 1) for *_, e in spans],
                           fontsize=8)
            top.tick_params(length=0)
        for at, old, new in self.lr_drops():
            ax_loss.annotate(f"lr {old:.3g} → {new:.3g}", xy=(at, 1), xycoords=("data", "axes fraction"), xytext=(3, -12),
                             textcoords="offset points", fontsize=8, color="#8e44ad")
        for ax in (ax_acc, ax_loss):
            ax.grid(alpha=0.3)
            ax.legend(loc="best", fontsize=8)
            if it:
                ax.set_xlim(0, it[-1] + 0.5)
        final = f" — validation accuracy {100 * self.val_accuracy[-1]:.2f}%" if self.val_accuracy else ""
        head = title + final + (f"\ndata: {dataset}" if dataset else "")
        fig.suptitle(head, fontsize=11)
        fig.tight_layout()
        if path is not None:
            _save_figure_atomic(fig, path)
            plt.close(fig)
        return fig

    def epoch_spans(self):
        """[(first iteration - 0.5, last iteration + 0.5, epoch)] for every epoch recorded."""
        spans = []
        for i, (n, e) in enumerate(zip(self.iteration, self.epoch)):
            if not spans or spans[-1][2] != e:
                spans.append([n - 0.5, n + 0.5, e])
            else:
                spans[-1][1] = n + 0.5
        return [tuple(s) for s in spans]

    def lr_drops(self):
        """[(iteration - 0.5, old rate, new rate)] wherever the learning rate went down."""
        out = []
        for k in range(1, len(self.lr)):
            if self.lr[k] < self.lr[k - 1] * (1 - 1e-9):
                out.append((self.iteration[k] - 0.5, self.lr[k - 1], self.lr[k]))
        return out


def _smooth(values, window: int = 10):
    """Trailing mean over the last ``window`` finite values."""
    out, hist = [], []
    for v in values:
        hist.append(v)
        if len(hist) > window:
            hist.pop(0)
        finite = [h for h in hist if h == h]
        out.append(sum(finite) / len(finite) if finite else math.nan)
    return out


def _save_figure_atomic(fig, path) -> None:
    import io
    import os

    from ..io.safetensors_io import _write_atomic

    buf = io.BytesIO()
    ext = os.path.splitext(os.fspath(path))[1].lstrip(".").lower() or "png"
    fig.savefig(buf, format=ext, dpi=110)
    _write_atomic(path, buf.getvalue())
