"""The pyengine command line: `pyengine info`, `pyengine demo`.

A user mistake ends with one line on stderr naming what was wrong and exit status 2.
"""
from __future__ import annotations

import argparse
import sys
import time


def _cmd_info(args) -> int:
    from . import info
    info()
    return 0


def _cmd_demo(args) -> int:
    """A short tour of the kernel API: each CPU kernel against the NumPy reference."""
    import numpy as np

    from . import info, reference
    from .kernels import cpu

    info()
    rng = np.random.default_rng(args.seed)
    a = rng.standard_normal((512, 384), dtype=np.float32)
    b = rng.standard_normal((384, 256), dtype=np.float32)
    t0 = time.perf_counter()
    c = cpu.gemm(a, b)
    dt = time.perf_counter() - t0
    err = np.abs(c - reference.gemm(a.astype(np.float64), b.astype(np.float64))).max()
    print(f"gemm 512x384 @ 384x256: {2 * 512 * 384 * 256 / dt / 1e9:.1f} GFLOP/s, max |cpu - reference| = {err:.2e}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pyengine", description="pyengine: a deep-learning tensor engine")
    sub = p.add_subparsers(dest="command")
    sub.add_parser("info", help="version, CPU instruction set, threads, CUDA").set_defaults(func=_cmd_info)
    d = sub.add_parser("demo", help="run each CPU kernel once against the NumPy reference")
    d.add_argument("--seed", type=int, default=0)
    d.set_defaults(func=_cmd_demo)
    return p


class _UsageError(Exception):
    pass


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, TypeError, FileNotFoundError, _UsageError) as exc:
        print(f"pyengine {args.command}: error: {exc}", file=sys.stderr)
        return 2
