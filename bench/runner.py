"""`python -m bench`: measure the machine, run every case at each thread count, write the results.

Per case: build (or skip as "not available"), check once against the reference, then time ours,
NumPy and PyTorch interleaved at 1 and 2 threads (harness.py). Results go to
bench/results/<machine>-<date>[-quick].json and .md (and .png with --plot).
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import os
import re
import sys
import time
import traceback

import numpy as np

from . import machine
from .cases import all_cases
from .harness import NotAvailable, ratio_moved, time_interleaved

# A ratio is flagged (†) when it moved between the rounds more than the spreads explain, or when
# either side's interquartile spread exceeds this: such a run does not pin the ratio down.
NOISY_SPREAD = 0.5
from .report import headline, markdown, plot

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def _parse(argv):
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a smoke run in under a minute (fewer, smaller cases)")
    p.add_argument("--threads", default=None, help="comma-separated thread counts (default: 1,2 full, max quick)")
    p.add_argument("--filter", default=None, help="only cases whose name matches this regular expression")
    p.add_argument("--isa", default=None, help="run our kernels on this ISA (avx512, avx2, generic)")
    p.add_argument("--budget", type=float, default=None, help="seconds of timed calls per implementation and case")
    p.add_argument("--rounds", type=int, default=None, help="interleaved rounds per case")
    p.add_argument("--no-torch", action="store_true", help="leave PyTorch out even when it is installed")
    p.add_argument("--out", default=None, help="folder for the results (default bench/results)")
    p.add_argument("--name", default=None, help="file name stem of the results (default <machine>-<date>)")
    p.add_argument("--plot", action="store_true", help="also draw the ratios as a PNG bar chart (matplotlib)")
    p.add_argument("--probe-seconds", type=float, default=None, help="seconds for each peak/bandwidth probe")
    p.add_argument("--list", action="store_true", help="list the cases and exit")
    return p.parse_args(argv)


@contextlib.contextmanager
def _threads(n: int, torch):
    """n threads for ours, OpenBLAS (threadpoolctl, when installed) and PyTorch."""
    import pyengine
    before = pyengine.get_num_threads()
    pyengine.set_num_threads(n)
    t_before = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(n)
    try:
        from threadpoolctl import threadpool_limits
        ctx = threadpool_limits(limits=n, user_api="blas")
    except ImportError:
        ctx = contextlib.nullcontext()
    try:
        with ctx:
            yield
    finally:
        pyengine.set_num_threads(before)
        if torch is not None:
            torch.set_num_threads(t_before)


def _torch(no_torch):
    if no_torch:
        return None
    try:
        import torch
    except ImportError:
        return None
    return torch


def main(argv=None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    cases = all_cases(args.quick)
    if args.filter:
        rx = re.compile(args.filter)
        cases = [c for c in cases if rx.search(c.name)]
    if args.list:
        for c in cases:
            print(f"{c.family:10s} {c.name}")
        return 0
    import pyengine
    from pyengine import _C
    if args.isa:
        _C.set_cpu_isa(args.isa)
    torch = _torch(args.no_torch)
    if torch is None and not args.no_torch:
        print("bench: PyTorch is not installed; its column stays empty", file=sys.stderr)
    max_threads = os.cpu_count() or 1
    if args.threads:
        thread_counts = [int(t) for t in args.threads.split(",")]
    else:
        thread_counts = [min(2, max_threads)] if args.quick else sorted({1, min(2, max_threads)})
    budget = args.budget if args.budget is not None else (0.04 if args.quick else 0.6)
    rounds = args.rounds if args.rounds is not None else (2 if args.quick else 4)
    isa = _C.cpu_isa()
    t_start = time.perf_counter()

    print(f"bench: {machine.cpu_model()}, {max_threads} cores, ISA {isa}, load {machine.loadavg()}")
    probe_s = args.probe_seconds if args.probe_seconds is not None else (0.3 if args.quick else 1.5)
    copy_mb = 16 if probe_s < 0.1 else (128 if args.quick else 512)
    peaks = {t: machine.fma_peak(t, isa, probe_s) for t in thread_counts}
    bandwidth = {t: machine.copy_bandwidth(t, probe_s / 3, copy_mb) for t in thread_counts}
    for t in thread_counts:
        print(f"bench: {t} thread(s): FMA peak {peaks[t]:.1f} GFLOP/s, copy {bandwidth[t]:.1f} GB/s")

    rng = np.random.default_rng(0)
    rows = []
    for case in cases:
        row = {"name": case.name, "family": case.family, "status": "ok", "results": {}}
        rows.append(row)
        try:
            built = case.build(rng)
        except NotAvailable as e:
            row["status"] = "not available"
            row["detail"] = str(e)
            print(f"  {case.name:55s} not available: {e}")
            continue
        if args.no_torch:
            built.torch = None
        row["unit"], row["work"] = built.unit, built.work
        try:
            ok, detail = built.check() if built.check else (True, "no check")
        except NotAvailable as e:
            row["status"], row["detail"] = "not available", str(e)
            print(f"  {case.name:55s} not available: {e}")
            continue
        except Exception as e:  # noqa: BLE001 - a failing kernel is a result, not a crash of the suite
            ok, detail = False, f"{type(e).__name__}: {e}"
            traceback.print_exc(limit=3)
        row["check"], row["check_detail"] = bool(ok), detail
        if not ok:
            row["status"] = "check failed"
            print(f"  {case.name:55s} CHECK FAILED: {detail}")
            continue
        if built.extra.get("note"):
            row["note"] = built.extra["note"]
        if "peak_memory" in built.extra:
            try:
                row["peak_traced_mb"] = built.extra["peak_memory"]() / 2**20
            except Exception:  # noqa: BLE001 - optional figure
                pass
        for t in thread_counts:
            with _threads(t, torch):
                fns = {"ours": built.ours, "numpy": built.numpy, "torch": built.torch}
                try:
                    timings = time_interleaved(fns, budget, rounds, t)
                except Exception as e:  # noqa: BLE001
                    row["status"], row["detail"] = "error", f"{type(e).__name__}: {e}"
                    print(f"  {case.name:55s} ERROR: {row['detail']}")
                    break
            res = {}
            for impl, tm in timings.items():
                res[impl] = {"median_s": tm.median, "min_s": tm.minimum, "spread": tm.spread, "n": len(tm.times),
                             "cpu_median_s": tm.cpu_median}
            ours = res["ours"]
            scale = 1e9 if built.unit in ("GFLOP/s", "GB/s") else 1.0
            ours["throughput"] = built.work / ours["median_s"] / scale
            if built.unit == "GFLOP/s":
                ours["fraction_of_peak"] = ours["throughput"] / peaks[t]
            elif built.unit == "GB/s":
                ours["fraction_of_peak"] = ours["throughput"] / bandwidth[t]
            for impl in ("numpy", "torch"):
                if impl in res:
                    moved, allowed, per_round = ratio_moved(timings[impl], timings["ours"])
                    noisy = max(timings[impl].spread, timings["ours"].spread) > NOISY_SPREAD
                    if moved > allowed or noisy:
                        ours.setdefault("unstable", {})[impl] = {
                            "moved": moved, "allowed": allowed, "per_round": per_round, "noisy": noisy}
                    ours[f"vs_{impl}"] = res[impl]["median_s"] / ours["median_s"]
                    ours[f"vs_{impl}_min"] = res[impl]["min_s"] / ours["min_s"]
                    if t == 1:  # all the work on the calling thread: CPU time is load-proof
                        ours[f"vs_{impl}_cpu"] = res[impl]["cpu_median_s"] / max(ours["cpu_median_s"], 1e-12)
            row["results"][str(t)] = res
            r = ours
            print(f"  {case.name:55s} {t}T {r['median_s']*1e3:9.3f} ms ±{r['spread']*100:4.1f}% "
                  f"{r['throughput']:8.1f} {built.unit:7s}"
                  + (f" {r['fraction_of_peak']*100:5.1f}% peak" if "fraction_of_peak" in r else "")
                  + (f"  x{r['vs_numpy']:.2f} numpy" if "vs_numpy" in r else "")
                  + (f"  x{r['vs_torch']:.2f} torch" if "vs_torch" in r else "")
                  + ("  (cpu time:" + "".join(f" x{r[f'vs_{k}_cpu']:.2f} {k}" for k in ("numpy", "torch")
                                              if f"vs_{k}_cpu" in r) + ")" if t == 1 else "")
                  + "".join(f"  UNSTABLE x{k}: " + (f"ratio moved {u['moved']*100:.0f}% between rounds (spreads "
                            f"allow {u['allowed']*100:.0f}%)" if u["moved"] > u["allowed"] else "")
                            + (" spread over 50%" if u["noisy"] else "")
                            for k, u in r.get("unstable", {}).items()), flush=True)

    # Probe again at the end and keep the better figure: load from other processes only ever
    # lowers a probe, and "fraction of peak" must not flatter us by a peak measured in a busy moment.
    for t in thread_counts:
        peaks[t] = max(peaks[t], machine.fma_peak(t, isa, probe_s))
        bandwidth[t] = max(bandwidth[t], machine.copy_bandwidth(t, probe_s / 3, copy_mb))
    for row in rows:
        for t, res in row.get("results", {}).items():
            o = res["ours"]
            if "fraction_of_peak" in o:
                o["fraction_of_peak"] = o["throughput"] / (peaks[int(t)] if row["unit"] == "GFLOP/s" else bandwidth[int(t)])
    elapsed = time.perf_counter() - t_start
    doc = {
        "machine": machine.machine_slug(), "cpu": machine.cpu_model(), "cores": max_threads,
        "isa": isa, "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "quick": args.quick, "threads": thread_counts, "budget_s": budget, "rounds": rounds,
        "fma_peak_gflops": {str(t): v for t, v in peaks.items()},
        "copy_bandwidth_gbs": {str(t): v for t, v in bandwidth.items()},
        "loadavg_end": machine.loadavg(), "elapsed_s": elapsed, "versions": machine.versions(),
        "l3_bytes": machine.l3_bytes(),
        "ratio_definition": "vs_X = median time of X / median time of ours (> 1: ours is faster); "
                            "vs_X_min: the same with minima; vs_X_cpu (1 thread): with the calling thread's CPU time",
        "cases": rows,
    }
    out_dir = args.out or RESULTS_DIR
    os.makedirs(out_dir, exist_ok=True)
    stem = args.name or f"{doc['machine']}-{_dt.date.today().isoformat()}" + ("-quick" if args.quick else "")
    path = os.path.join(out_dir, stem)
    with open(path + ".json", "w") as f:
        json.dump(doc, f, indent=1)
    with open(path + ".md", "w") as f:
        f.write(markdown(doc))
        f.write("\n## Headline (ratios)\n\n" + headline(doc))
    print(f"bench: {len(rows)} cases in {elapsed:.0f} s; wrote {path}.json and .md")
    if args.plot:
        png = plot(doc, path + ".png")
        print(f"bench: wrote {png}" if png else "bench: matplotlib not installed, no plot")
    failed = [r["name"] for r in rows if r["status"] in ("check failed", "error")]
    if failed:
        print(f"bench: {len(failed)} case(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0
