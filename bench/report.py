"""The results as a markdown table (one row per case and thread count) and a PNG of the ratios."""
from __future__ import annotations


def _fmt_ratio(v, unstable=None):
    """The ratio; a † when it moved between the interleaved rounds more than their spread explains."""
    if v is None:
        return ""
    return f"{v:.2f}†" if unstable else f"{v:.2f}"


def _frac(row, o, l3):
    """% of peak; a bandwidth case whose bytes fit in the last-level cache is labelled instead (its
    GB/s measure the cache, not the DRAM bandwidth that the percentage is of)."""
    if "fraction_of_peak" not in o:
        return ""
    if row.get("unit") == "GB/s" and (row.get("work", 0) <= l3 or o["fraction_of_peak"] > 1.0):
        return "in cache"
    return f"{o['fraction_of_peak'] * 100:.0f}%"


def markdown(doc: dict) -> str:
    peaks = ", ".join(f"{t} thread(s) {v:.0f}" for t, v in doc["fma_peak_gflops"].items())
    bw = ", ".join(f"{t} thread(s) {v:.1f}" for t, v in doc["copy_bandwidth_gbs"].items())
    v = doc["versions"]
    lines = [
        f"# pyengine benchmark — {doc['cpu']} ({doc['cores']} cores), ISA {doc['isa']}, {doc['date']}",
        "",
        f"Measured FMA peak (fp32 GFLOP/s): {peaks}. Copy bandwidth (GB/s): {bw}.",
        f"NumPy {v.get('numpy')} ({v.get('numpy_blas')}), PyTorch {v.get('torch') or 'not installed'}. "
        f"Load average at the end: {doc['loadavg_end']}. {'Quick run. ' if doc['quick'] else ''}"
        f"Time per call: median of interleaved rounds (± interquartile spread). "
        f"×NumPy / ×PyTorch = their median time / ours (> 1: ours is faster). "
        f"NumPy is np.matmul for GEMM and the NumPy reference kernel elsewhere. "
        f"% peak: of the FMA peak (GFLOP/s cases) or of the copy bandwidth (GB/s cases). "
        f"The cpu columns (1 thread only) compare CPU time of the calling thread, which a busy machine "
        f"does not inflate. \"in cache\": a bandwidth case whose bytes fit in the "
        f"{doc.get('l3_bytes', 32 << 20) >> 20} MiB last-level cache (its GB/s are not DRAM's). "
        f"†: the ratio moved between the interleaved rounds by more than the two spreads added, or a "
        f"spread exceeds 50% (the JSON's \"unstable\"); rerun before quoting it.",
        "",
        "| case | thr | ours ms | ± | throughput | % peak | ×NumPy | ×PyTorch | 2T/1T | ×NumPy cpu | ×PyTorch cpu |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    l3 = doc.get("l3_bytes", 32 << 20)
    for row in doc["cases"]:
        if row["status"] != "ok":
            lines.append(f"| {row['name']} | | {row['status']} | | | | | | | | |")
            continue
        one = row["results"].get("1", {}).get("ours")
        for t, res in row["results"].items():
            o = res["ours"]
            scaling = ""
            if t != "1" and one:
                scaling = f"{one['median_s'] / o['median_s']:.2f}"
            frac = _frac(row, o, l3)
            un = o.get("unstable", {})
            lines.append(
                f"| {row['name']} | {t} | {o['median_s'] * 1e3:.3f} | {o['spread'] * 100:.0f}% | "
                f"{o['throughput']:.1f} {row['unit']} | {frac} | {_fmt_ratio(o.get('vs_numpy'), un.get('numpy'))} | "
                f"{_fmt_ratio(o.get('vs_torch'), un.get('torch'))} | {scaling} | {_fmt_ratio(o.get('vs_numpy_cpu'))} | "
                f"{_fmt_ratio(o.get('vs_torch_cpu'))} |")
    for r in doc["cases"]:
        if r.get("note"):
            lines.append("")
            lines.append(f"{r['name']}: {r['note']}.")
    extra = [r for r in doc["cases"] if "peak_traced_mb" in r]
    for r in extra:
        lines.append("")
        lines.append(f"{r['name']}: peak traced memory of one step {r['peak_traced_mb']:.1f} MiB (tracemalloc).")
    return "\n".join(lines) + "\n"


def plot(doc: dict, path: str):
    """Bar chart of ×NumPy and ×PyTorch per case at the largest thread count; None without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    t = str(max(int(x) for x in doc["threads"]))
    names, vn, vt = [], [], []
    for row in doc["cases"]:
        o = row.get("results", {}).get(t, {}).get("ours")
        if not o:
            continue
        names.append(row["name"])
        vn.append(o.get("vs_numpy") or 0.0)
        vt.append(o.get("vs_torch") or 0.0)
    if not names:
        return None
    fig, ax = plt.subplots(figsize=(10, 0.28 * len(names) + 1.5))
    ys = range(len(names))
    ax.barh([y - 0.2 for y in ys], vn, height=0.4, label="× NumPy")
    ax.barh([y + 0.2 for y in ys], vt, height=0.4, label="× PyTorch")
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set_yticks(list(ys))
    ax.set_yticklabels(names, fontsize=7)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel(f"speed-up of pyengine ({t} threads; > 1 = faster)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def headline(doc: dict) -> str:
    """The README's table: ratios only (absolute times drift between runs and machines)."""
    t = str(max(int(x) for x in doc["threads"]))
    lines = [f"| case ({t} threads) | × NumPy | × PyTorch | % of peak | 2 threads / 1 |", "|---|---|---|---|---|"]
    for row in doc["cases"]:
        res = row.get("results", {})
        o = res.get(t, {}).get("ours")
        if not o:
            continue
        one = res.get("1", {}).get("ours")
        scaling = f"{one['median_s'] / o['median_s']:.2f}" if one and t != "1" else ""
        frac = _frac(row, o, doc.get("l3_bytes", 32 << 20))
        un = o.get("unstable", {})
        lines.append(f"| {row['name']} | {_fmt_ratio(o.get('vs_numpy'), un.get('numpy'))} | "
                     f"{_fmt_ratio(o.get('vs_torch'), un.get('torch'))} | {frac} | {scaling} |")
    return "\n".join(lines) + "\n"
