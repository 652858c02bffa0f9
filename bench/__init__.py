"""pyengine's benchmark suite: every kernel family and a training step against NumPy and PyTorch.

``python -m bench`` (or ``bench.main(argv)``, which the ``pyengine bench`` command calls) checks
each case once against the NumPy reference, then times our kernel, NumPy/OpenBLAS and PyTorch CPU
side by side in the same process (interleaved rounds, medians), at 1 and 2 threads, and reports
throughput, the fraction of the machine's measured FMA peak (or copy bandwidth) and the ratios.
See bench/NOTES.md for the method and the optimisation log. Never imported by the tests' code
paths except the one smoke test that runs the smallest case.
"""
from .runner import main

__all__ = ["main"]
