"""Runs ONNX's backend node tests against pyengine and prints passed / failed / skipped per op.

    PYTHONPATH=. python tests/onnx/backend_report.py [--markdown]
"""
import collections
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
warnings.filterwarnings("ignore")


def main():
    from onnx.backend.test.runner import Runner, _normalize_tensor

    from backend_cases import main_op, node_cases, skip_reason
    from pyengine.onnx import importer
    from pyengine.onnx import import_ops  # noqa: F401
    from pyengine.onnx.backend import Backend

    counts = collections.defaultdict(lambda: [0, 0, 0])
    failures = []
    cases = node_cases()
    for name, case in sorted(cases.items()):
        op = main_op(case, cases)
        if skip_reason(case, importer.OP_IMPORTERS) is not None:
            counts[op][2] += 1
            continue
        try:
            rep = Backend.prepare(case.model)
            for inputs, outputs in case.data_sets:
                got = rep.run([_normalize_tensor(t) for t in inputs])
                Runner.assert_similar_outputs([_normalize_tensor(t) for t in outputs], got, rtol=case.rtol,
                                              atol=case.atol)
            counts[op][0] += 1
        except Exception as e:  # noqa: BLE001  (a report: every failure is listed)
            counts[op][1] += 1
            failures.append(f"{name}: {type(e).__name__}: {str(e).splitlines()[0][:160]}")
    covered = {k: v for k, v in counts.items() if v[0] or v[1]}
    md = "--markdown" in sys.argv
    if md:
        print("| op | passed | failed | skipped |\n|---|---:|---:|---:|")
    for op, (p, f, s) in sorted(covered.items()):
        print(f"| {op} | {p} | {f} | {s} |" if md else f"{op:28s} passed {p:4d}  failed {f:3d}  skipped {s:3d}")
    tot = [sum(v[i] for v in counts.values()) for i in range(3)]
    print(f"\ncovered ops: {len(covered)}; cases passed {tot[0]}, failed {tot[1]}, skipped {tot[2]} "
          f"(of which {sum(v[2] for k, v in counts.items() if k not in covered)} in ops pyengine does not cover)")
    for f in failures:
        print("FAILED", f)
    return 1 if tot[1] else 0


if __name__ == "__main__":
    sys.exit(main())
