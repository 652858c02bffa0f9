"""Timing: interleaved rounds of our kernel and the baselines, medians and spread.

Two threads' worth of OpenMP/OpenBLAS pools live in one process here (ours, OpenBLAS, PyTorch's
libgomp). A pool keeps spinning for a while after its call returns (OpenBLAS ≈ 2^28 cycles, libgomp
a few milliseconds), and on a 2-core machine a spinning pool halves whoever runs next. So each
implementation's block of calls starts after a pause long enough for the other pools to go to
sleep (PAUSE_S), and the order of implementations rotates between rounds. Each call is timed on
its own; the statistics are the median, the quartiles (spread) and the minimum. The CPU time of the
calling thread is recorded too: with one thread all three libraries compute on the calling thread,
so its median is a figure that other processes on a busy machine cannot inflate (a descheduled
thread accrues no CPU time).
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field

PAUSE_S = 0.12


class NotAvailable(Exception):
    """A kernel, an API or a baseline this case needs is missing: the case is reported, not run."""


@dataclass
class Timing:
    times: list = field(default_factory=list)
    cpu_times: list = field(default_factory=list)  # CPU time of the calling thread, per call
    round_medians: list = field(default_factory=list)  # median of each interleaved round (None: skipped)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu_times)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def minimum(self) -> float:
        return min(self.times)

    @property
    def spread(self) -> float:
        """Interquartile range over the median (0.05 = the middle half lies within 5 %)."""
        if len(self.times) < 4:
            return (max(self.times) - min(self.times)) / self.median
        q = statistics.quantiles(self.times, n=4)
        return (q[2] - q[0]) / self.median


def _calls(fn, n: int, out: list, cpu_out: list) -> None:
    perf, cpu = time.perf_counter, time.thread_time
    for _ in range(n):
        c0 = cpu()
        t0 = perf()
        fn()
        out.append(perf() - t0)
        cpu_out.append(cpu() - c0)


def time_interleaved(fns: dict, budget_s: float, rounds: int, threads: int, max_reps: int = 2000) -> dict:
    """Times each callable in ``fns`` (name → callable) for about ``budget_s`` seconds in total,
    split over ``rounds`` interleaved rounds. Returns name → Timing."""
    names = [k for k, f in fns.items() if f is not None]
    per_call = {}
    for k in names:  # warm-up: first-touch allocation, thread pools, caches
        time.sleep(PAUSE_S if threads > 1 else 0.0)
        t0 = time.perf_counter()
        fns[k]()
        first = time.perf_counter() - t0
        if first < budget_s / rounds / 4:  # cheap: a second warm-up call, the better estimate
            t0 = time.perf_counter()
            fns[k]()
            first = time.perf_counter() - t0
        per_call[k] = max(first, 1e-7)
    res = {k: Timing() for k in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)] if names else []
        for k in order:
            if r > 0 and per_call[k] > budget_s:
                res[k].round_medians.append(None)
                continue  # a slow baseline (the float64 NumPy reference on big layers): one round is enough
            reps = int(min(max_reps, max(1, budget_s / rounds / per_call[k])))
            if threads > 1:
                time.sleep(PAUSE_S)
            start = len(res[k].times)
            _calls(fns[k], reps, res[k].times, res[k].cpu_times)
            res[k].round_medians.append(statistics.median(res[k].times[start:]))
    return res


def ratio_moved(theirs: Timing, ours: Timing):
    """How far the ratio theirs/ours moved between rounds, against the spread within the rounds.

    Returns (moved, allowed, per-round ratios): moved = (max − min) / median of the per-round ratios;
    allowed = the two implementations' interquartile spreads added (what run-to-run noise alone
    explains), at least 5 %. moved > allowed flags a ratio that one interleaved run does not pin down
    (a pool still spinning, a burst of load, a first call that paid for a page fault)."""
    ratios = [t / o for t, o in zip(theirs.round_medians, ours.round_medians) if t and o]
    if len(ratios) < 2:
        return 0.0, 0.0, ratios
    mid = statistics.median(ratios)
    moved = (max(ratios) - min(ratios)) / mid
    allowed = max(0.05, theirs.spread + ours.spread)
    return moved, allowed, ratios
