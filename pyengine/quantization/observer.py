"""Observers: record the range of a tensor during calibration and turn it into quantization parameters.

Activations are quantized per tensor, affine, to uint8: q = clamp(rint(r/scale) + zero_point, 0, 255).
From a recorded range [lo, hi] widened to contain 0 (so that the real 0 — ReLU's output, zero
padding — is exact):

    scale = (hi − lo) / 255,   zero_point = clamp(round(−lo / scale), 0, 255)

Weights are quantized per output channel, symmetric, to int8 in [−127, 127] (never −128: the AVX2
kernel relies on it): scale[k] = max|w[k]| / 127, zero_point 0.

* ``MinMaxObserver`` keeps the smallest and largest value seen.
* ``HistogramObserver`` keeps a 2048-bin histogram of everything seen (re-binned when the range
  grows) and chooses the range either at a percentile (``method='percentile'``, clipping the
  rarest outliers: 99.99% by default) or by minimising the expected quantization error over the
  histogram (``method='mse'``: clipping error of the values outside plus scale²/12 rounding error of
  those inside, searched over ranges that drop tail masses of 0 … 3% at either end).
* ``PerChannelMinMaxObserver`` gives the symmetric per-channel weight parameters.
"""
from __future__ import annotations

import numpy as np

from ..nn.module import Module
from ..tensor import Tensor

__all__ = ["MinMaxObserver", "HistogramObserver", "PerChannelMinMaxObserver", "affine_qparams",
           "symmetric_weight_qparams", "quantize_weight"]

_EPS = float(np.finfo(np.float32).eps)


def _arr(x):
    return x._data if isinstance(x, Tensor) else np.asarray(x)


def affine_qparams(lo: float, hi: float, qmin: int = 0, qmax: int = 255) -> tuple[float, int]:
    """(scale, zero_point) of the uint8 affine quantization of [lo, hi] (widened to contain 0)."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError(f"affine_qparams: the observed range [{lo}, {hi}] is not finite")
    scale = max((hi - lo) / (qmax - qmin), _EPS)
    zero_point = int(np.clip(round(qmin - lo / scale), qmin, qmax))
    return float(np.float32(scale)), zero_point


def symmetric_weight_qparams(w: np.ndarray) -> np.ndarray:
    """Per-output-channel scales max|w[k]|/127 (float64), for w of shape (K, ...)."""
    amax = np.abs(w.reshape(w.shape[0], -1).astype(np.float64)).max(axis=1) if w.size else np.zeros(w.shape[0])
    if not np.isfinite(amax).all():
        raise ValueError("symmetric_weight_qparams: the weights hold NaN or Inf")
    return np.maximum(amax / 127.0, _EPS)


def quantize_weight(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(int8 weights in [−127, 127], per-channel scales float64) of float weights w (K, ...)."""
    scale = symmetric_weight_qparams(w)
    q = np.clip(np.rint(w.astype(np.float64) / scale.reshape((-1,) + (1,) * (w.ndim - 1))), -127, 127)
    return q.astype(np.int8), scale


class _Observer(Module):
    """Observers are Modules (so prepare can attach them as ``activation_post_process``): calling
    one records its input and returns it unchanged."""

    def forward(self, x):
        self.observe(_arr(x))
        return x

    def calculate_qparams(self) -> tuple[float, int]:
        raise NotImplementedError


class MinMaxObserver(_Observer):
    """The running min and max of everything observed."""

    def __init__(self):
        super().__init__()
        self.min_val, self.max_val = np.inf, -np.inf

    def observe(self, a: np.ndarray):
        if a.size:
            finite = a[np.isfinite(a)] if not np.isfinite(a).all() else a
            if finite.size:
                self.min_val = min(self.min_val, float(finite.min()))
                self.max_val = max(self.max_val, float(finite.max()))

    def calculate_qparams(self):
        if self.min_val > self.max_val:
            raise RuntimeError("MinMaxObserver: nothing was observed; run calibration data through the "
                               "prepared model before convert")
        return affine_qparams(self.min_val, self.max_val)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}"


class HistogramObserver(_Observer):
    """A histogram of everything observed; the range at a percentile or of least expected error."""

    def __init__(self, bins: int = 2048, method: str = "percentile", percentile: float = 99.99):
        super().__init__()
        if method not in ("percentile", "mse"):
            raise ValueError(f"HistogramObserver: method must be 'percentile' or 'mse', got {method!r}")
        if not 50.0 < float(percentile) <= 100.0:
            raise ValueError(f"HistogramObserver: percentile must be in (50, 100], got {percentile}")
        self.bins, self.method, self.percentile = int(bins), method, float(percentile)
        self.hist = np.zeros(self.bins, np.float64)
        self.lo, self.hi = None, None

    def observe(self, a: np.ndarray):
        a = a[np.isfinite(a)].astype(np.float64, copy=False).reshape(-1)
        if not a.size:
            return
        lo, hi = float(a.min()), float(a.max())
        if self.lo is None:
            self.lo, self.hi = lo, hi if hi > lo else lo + _EPS
        elif lo < self.lo or hi > self.hi:
            # Grow the range and move the old counts into the new bins by their centres.
            new_lo, new_hi = min(lo, self.lo), max(hi, self.hi)
            centres = self.lo + (np.arange(self.bins) + 0.5) * (self.hi - self.lo) / self.bins
            idx = np.clip(((centres - new_lo) / (new_hi - new_lo) * self.bins).astype(np.int64), 0, self.bins - 1)
            grown = np.zeros(self.bins, np.float64)
            np.add.at(grown, idx, self.hist)
            self.hist, self.lo, self.hi = grown, new_lo, new_hi
        self.hist += np.histogram(a, bins=self.bins, range=(self.lo, self.hi))[0]

    def _edges(self):
        return np.linspace(self.lo, self.hi, self.bins + 1)

    def calculate_qparams(self):
        if self.lo is None:
            raise RuntimeError("HistogramObserver: nothing was observed; run calibration data through the "
                               "prepared model before convert")
        edges = self._edges()
        cdf = np.cumsum(self.hist)
        total = cdf[-1]
        if self.method == "percentile":
            tail = (100.0 - self.percentile) / 100.0 * total
            i_lo = int(np.searchsorted(cdf, tail, side="right"))
            i_hi = int(np.searchsorted(cdf, total - tail, side="left"))
            lo, hi = edges[min(i_lo, self.bins - 1)], edges[min(i_hi + 1, self.bins)]
            if self.lo >= 0:          # all non-negative (after ReLU): keep 0 as the bottom
                lo = self.lo
            return affine_qparams(lo, hi)
        return affine_qparams(*self._least_error_range(edges))

    def _least_error_range(self, edges):
        """The [lo, hi] minimising clipping error + rounding error over the histogram, searched over
        ranges that drop a tail mass of 0, 1e-7 … 3e-2 of the values at either end."""
        centres = (edges[:-1] + edges[1:]) / 2
        cdf = np.cumsum(self.hist)
        total = cdf[-1]
        tails = np.concatenate([[0.0], np.logspace(-7, np.log10(3e-2), 22)])
        los = [edges[min(int(np.searchsorted(cdf, t * total, side="right")), self.bins - 1)] for t in tails]
        his = [edges[min(int(np.searchsorted(cdf, total - t * total, side="left")) + 1, self.bins)] for t in tails]
        if self.lo >= 0:        # non-negative data (after ReLU): the bottom stays at 0
            los = [self.lo]
        best, best_range = np.inf, (edges[0], edges[-1])
        for lo in los:
            for hi in his:
                lo0, hi0 = min(lo, 0.0), max(hi, 0.0)
                if hi0 <= lo0:
                    continue
                scale = max((hi0 - lo0) / 255.0, _EPS)
                clipped = np.clip(centres, lo0, hi0)
                inside = (centres >= lo0) & (centres <= hi0)
                err = float((self.hist * (centres - clipped) ** 2).sum() + self.hist[inside].sum() * scale * scale / 12.0)
                if err < best:
                    best, best_range = err, (lo, hi)
        return best_range

    def extra_repr(self):
        return f"bins={self.bins}, method={self.method!r}, range=[{self.lo}, {self.hi}]"


class PerChannelMinMaxObserver(_Observer):
    """Symmetric per-output-channel int8 parameters of a weight (K, ...): scale[k] = max|w[k]|/127."""

    def __init__(self):
        super().__init__()
        self.scale = None

    def observe(self, a: np.ndarray):
        self.scale = symmetric_weight_qparams(a)

    def calculate_qparams(self):
        if self.scale is None:
            raise RuntimeError("PerChannelMinMaxObserver: no weight was observed")
        return self.scale, np.zeros(len(self.scale), np.int64)
