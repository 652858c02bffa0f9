"""The benchmark suite runs end to end on its smallest case (a smoke test of the code, no timing).

bench/ lives beside the package in a source checkout and is not installed, so the child process
appends the checkout to sys.path (after the installed pyengine, which it must not shadow)."""
import json
import os

import pytest

from support import run_python

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.skipif(not os.path.isdir(os.path.join(ROOT, "bench")), reason="bench/ is not in this checkout")
def test_bench_smallest_case_end_to_end(tmp_path):
    code = (
        "import sys; sys.path.append(%r)\n"
        "import bench\n"
        "sys.exit(bench.main(['--quick', '--filter', '^gemm 128x', '--threads', '1', '--budget', '0.005',\n"
        "                     '--rounds', '1', '--probe-seconds', '0.02', '--no-torch', '--out', %r, '--name', 'smoke']))\n"
    ) % (ROOT, str(tmp_path))
    r = run_python(code=code, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads((tmp_path / "smoke.json").read_text())
    (row,) = doc["cases"]
    assert row["status"] == "ok" and row["check"], row
    ours = row["results"]["1"]["ours"]
    assert ours["median_s"] > 0 and 0 < ours["fraction_of_peak"]
    assert "vs_numpy" in ours
    assert "| gemm 128x128x128 NN | 1 |" in (tmp_path / "smoke.md").read_text()
