"""bench/gpu_check.sh and the tools it drives, checked without a GPU: the script parses and passes
shellcheck, its rehearsal runs every step, a step that hangs is cut at its own limit while the
others still run, the per-test watchdog ends a hung test, PYENGINE_REQUIRE_GPU turns the GPU tests'
skips into a failure, and gpu_bench.py / gpu_resources.py produce their tables. Runs on every
machine (the script's GPU steps are what the GPU machine runs)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "gpu_check.sh"
BENCH = ROOT / "bench"
STEPS = ["env", "build", "resources", "info", "tests", "train", "memcheck", "racecheck", "bench", "report"]

sys.path.insert(0, str(BENCH))
import gpu_bench  # noqa: E402
import gpu_resources  # noqa: E402

from cuda_support import spread  # noqa: E402
from support import child_env  # noqa: E402

pytestmark = pytest.mark.skipif(os.environ.get("GC_MODE") is not None, reason="inside a gpu_check run")


def _env(**extra):
    env = dict(os.environ)
    env.pop("PYTHONSAFEPATH", None)
    env.update(PYTHON=sys.executable, **extra)
    return env


def _summary(path):
    rows = {}
    for line in Path(path).read_text().splitlines()[1:]:
        step, status, rc, seconds, budget, note = (line.split("\t") + [""] * 6)[:6]
        rows[step] = dict(status=status, rc=rc, seconds=seconds, budget=budget, note=note)
    return rows


def test_script_parses():
    r = subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_script_passes_shellcheck():
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck)")
    r = subprocess.run(["shellcheck", str(SCRIPT)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_rehearsal_runs_every_step(tmp_path):
    out, work = tmp_path / "out", tmp_path / "work"
    r = subprocess.run(["bash", str(SCRIPT), "--rehearse", str(out)], capture_output=True, text=True, timeout=300,
                       env=_env(GPU_CHECK_WORK=str(work), GPU_CHECK_QUICK_REHEARSAL="1"))
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    rows = _summary(work / "logs" / "summary.tsv")
    assert list(rows) == STEPS
    for step, row in rows.items():
        # resources needs cuobjdump and a built _cuda; train is skipped in a quick rehearsal
        allowed = {"ok", "rehearsed"} | ({"skipped"} if step in ("resources", "train") else set())
        assert row["status"] in allowed, (step, row)
    for step in ("memcheck", "racecheck"):  # the sanitizer selections reach every kernel family
        assert "families:" in rows[step]["note"] and ":0 " not in rows[step]["note"] + " ", rows[step]
    assert r.stdout.rstrip().splitlines()[-1].startswith("gpu_check: no step failed")
    assert "| step | status |" in r.stdout.split("gpu_check:")[-2]  # the table comes last
    files = sorted(p.name for p in out.iterdir())
    assert len(files) <= 8, files  # the device tool brings back at most 8 files
    name = [f for f in files if f.startswith("rehearsal-") and f.endswith(".json")]
    assert {"summary.md", "logs.tar.gz"} <= set(files) and name, files
    doc = json.loads((out / name[0]).read_text())
    assert [s["step"] for s in doc["check"]] == STEPS[:-1]
    with tarfile.open(out / "logs.tar.gz") as tar:
        logs = {Path(m.name).name for m in tar.getmembers()}
    assert {f"{s}.log" for s in STEPS[:-1]} <= logs, logs
    assert "SGEMM 4096^3 fp32" in (work / "logs" / "bench.log").read_text()


def _source(body, tmp_path, **extra):
    script = f"source {SCRIPT}\ngc_init {tmp_path / 'out'} rehearse\n{textwrap.dedent(body)}"
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120,
                          env=_env(GPU_CHECK_WORK=str(tmp_path / "work"), **extra))


def test_a_hung_step_costs_only_its_own_limit(tmp_path):
    r = _source("""
        run_step hang 2 sleep 60
        run_step fails 5 false
        run_step fine 5 true
        gc_finish
    """, tmp_path, GPU_CHECK_MIN_STEP="1")
    assert r.returncode == 1, r.stdout + r.stderr
    rows = _summary(tmp_path / "work" / "logs" / "summary.tsv")
    assert rows["hang"]["status"] == "TIMEOUT" and int(rows["hang"]["seconds"]) < 15, rows
    assert rows["fails"]["status"] == "FAIL" and rows["fine"]["status"] == "ok", rows
    assert "---- hang: TIMEOUT" in r.stdout
    assert r.stdout.rstrip().splitlines()[-1].startswith("gpu_check: some step FAILED or timed out")
    assert "| hang | TIMEOUT |" in (tmp_path / "out" / "summary.md").read_text()


def test_steps_past_the_budget_are_skipped(tmp_path):
    r = _source("""
        run_step first 30 true
        run_step second 60 true
        run_step report 60 true
        gc_finish
    """, tmp_path, GPU_CHECK_BUDGET="33")  # 25 s are kept for the report: 8 s for the others
    assert r.returncode == 0, r.stdout + r.stderr
    rows = _summary(tmp_path / "work" / "logs" / "summary.tsv")
    assert rows["first"]["status"] == "skipped" and "no time left" in rows["first"]["note"], rows
    assert rows["report"]["status"] == "ok" and int(rows["report"]["budget"]) <= 33, rows


def test_watchdog_ends_a_hung_test(tmp_path):
    (tmp_path / "conftest.py").write_text(
        f"import sys\nsys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from cuda_watchdog import pytest_runtest_protocol  # noqa: F401\n")
    (tmp_path / "test_hang.py").write_text("import time\n\ndef test_hangs():\n    print('before the hang')\n"
                                           "    time.sleep(60)\n")
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:timeout",
                        str(tmp_path)], capture_output=True, text=True, timeout=60, cwd=tmp_path,
                       env=_env(PYENGINE_TEST_TIMEOUT="1"))
    assert r.returncode == 3, r.stdout + r.stderr
    assert "test_hang.py::test_hangs: over its 1 s limit" in r.stderr
    assert "before the hang" in r.stderr  # the captured output of the test
    assert 'test_hang.py", line 5 in test_hangs' in r.stderr  # and where it hung


def test_require_gpu_turns_skips_into_a_failure():
    from cuda_support import gpu_usable
    if gpu_usable()[0]:
        pytest.skip("a GPU is usable here")
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        str(Path(__file__).parent / "test_cuda_errors.py")], capture_output=True, text=True,
                       timeout=120, cwd=ROOT, env=child_env(dict(_env(), PYENGINE_REQUIRE_GPU="1")))
    assert r.returncode == 4, r.stdout + r.stderr  # pytest's usage error, never "all skipped"
    assert "PYENGINE_REQUIRE_GPU is set but the CUDA tests cannot run" in r.stdout + r.stderr


def test_spread_keeps_the_ends():
    s = list(range(10))
    assert spread(s, None) == s and spread(s, "") == s
    assert spread(s, "1") == [0]
    assert spread(s, "2") == [0, 9]
    assert spread(s, "4") == [0, 3, 6, 9]
    assert spread(s, "20") == s
    with pytest.raises(ValueError, match="PYENGINE_CUDA_SAMPLES"):
        spread(s, "0")


def test_bench_lists_its_cases_without_a_gpu():
    code = ("import runpy, sys; sys.modules['cupy'] = None; sys.modules['torch'] = None; "
            f"sys.argv = ['gpu_bench.py', '--list']; runpy.run_path({str(BENCH / 'gpu_bench.py')!r}, "
            "run_name='__main__')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=_env())
    assert r.returncode == 0, r.stderr
    groups = {line.split(":")[0].strip("| ") for line in r.stdout.splitlines()[2:]}
    assert groups == {"memory", "gemm", "conv", "pool", "lstm", "train"}, groups
    cases = {c.name: c for c in gpu_bench.build_cases()}
    sgemm = cases["SGEMM 4096^3 fp32"]
    assert sgemm.flops == 2 * 4096 ** 3 and sgemm.nbytes == 3 * 4 * 4096 ** 2
    assert abs(sgemm.floor_s(gpu_bench.DATASHEET) - 2 * 4096 ** 3 / 67e12) < 1e-9
    pool = cases["max 2x2/2 fwd (128, 64, 112, 112)"]
    assert pool.flops == 0 and pool.floor_s(gpu_bench.DATASHEET) == pool.nbytes / 4.3e12
    flops, nbytes, oh = gpu_bench.conv_counts(32, 64, 56, 64, 3, 1, 1)
    assert oh == 56 and flops == 3 * 2 * 32 * 64 * 64 * 9 * 56 * 56
    assert gpu_bench.conv_counts(128, 64, 56, 128, 3, 2, 1)[2] == 28


def test_bench_report_renders_rows_and_targets(tmp_path):
    case = [c for c in gpu_bench.build_cases() if c.name == "SGEMM 4096^3 fp32"][0]
    good = gpu_bench.row_of(case, {"ours_s": 2.5e-3, "ref_s": 2.2e-3, "ref": "cuBLAS"}, gpu_bench.DATASHEET)
    bad = gpu_bench.row_of(case, {"ours_s": 4.0e-3, "ref_s": 2.2e-3, "ref": "cuBLAS"}, gpu_bench.DATASHEET)
    assert good["met"] is True and bad["met"] is False
    assert abs(good["ratio"] - 0.88) < 1e-9 and abs(good["throughput"] - case.flops / 2.5e-3 / 1e12) < 1e-9
    pool = [c for c in gpu_bench.build_cases() if c.name.startswith("max 2x2/2 fwd (128, 64")][0]
    prow = gpu_bench.row_of(pool, {"ours_s": pool.nbytes / 2.0e12}, dict(gpu_bench.DATASHEET, bw=4.0e12))
    assert abs(prow["frac_of_copy"] - 0.5) < 1e-9 and prow["met"] is False
    doc = {"device": "NVIDIA H200", "date": "2026-12-01", "rows": [
        good, prow, {"group": "lstm", "name": "T=50 fwd", "status": "FAILED", "error": "AssertionError: x"}],
        "failures": ["lstm: T=50 fwd: AssertionError: x"], "measured": {"bw": 4.2e12}}
    (tmp_path / "h200-x.json").write_text(json.dumps(doc))
    (tmp_path / "summary.tsv").write_text("step\tstatus\trc\tseconds\tbudget\tnote\n"
                                          "tests\tok\t0\t41\t150\t300 passed\n")
    (tmp_path / "env.log").write_text("@ gpu: NVIDIA H200, 580.159, 143771 MiB\nnoise\n")
    assert gpu_bench.main(["--report", "--out", str(tmp_path), "--name", "h200-x", "--summary",
                           str(tmp_path / "summary.tsv"), "--env", str(tmp_path / "env.log")]) == 0
    md = (tmp_path / "h200-x.md").read_text()
    assert "| tests | ok | 41 | 300 passed |" in md
    assert "| gemm | SGEMM 4096^3 fp32 | 2.500 |" in md and "| 0.88 |" in md and "| yes |" in md
    assert "(50% of copy)" in md and "**no**" in md and "FAILED" in md
    assert "copy 4.20 TB/s" in md and "gpu NVIDIA H200, 580.159, 143771 MiB" in md
    back = json.loads((tmp_path / "h200-x.json").read_text())
    assert back["check"][0]["step"] == "tests" and back["rows"][0]["name"] == "SGEMM 4096^3 fp32"


PTXAS = """\
ptxas info    : Compiling entry function '_ZN8pyengine4cuda12_GLOBAL__N_111relu_kernelIfEEvPKfPfl' for 'sm_90'
ptxas info    : Function properties for _ZN8pyengine4cuda12_GLOBAL__N_111relu_kernelIfEEvPKfPfl
    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 18 registers, used 0 barriers, 380 bytes cmem[0]
ptxas info    : Compiling entry function '_ZN8pyengine4cuda12_GLOBAL__N_111tile_kernelIfEEvPKfPfl' for 'sm_90'
ptxas info    : Function properties for _ZN8pyengine4cuda12_GLOBAL__N_111tile_kernelIfEEvPKfPfl
    16 bytes stack frame, 20 bytes spill stores, 32 bytes spill loads
ptxas info    : Used 255 registers, used 1 barriers, 43008 bytes smem, 400 bytes cmem[0]
ptxas info    : Compiling entry function '_ZN8pyengine4cuda12_GLOBAL__N_111tile_kernelIfEEvPKfPfl' for 'sm_80'
ptxas info    : Function properties for _ZN8pyengine4cuda12_GLOBAL__N_111tile_kernelIfEEvPKfPfl
    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 200 registers, used 1 barriers, 43008 bytes smem, 400 bytes cmem[0]
"""
CUOBJ = """\
Fatbin elf code:
================
arch = sm_90
code version = [1,8]

Resource usage:
 Function _ZN8pyengine4cuda12_GLOBAL__N_111tile_kernelIfEEvPKfPfl:
  REG:255 STACK:16 SHARED:44032 LOCAL:0 CONSTANT[0]:400 TEXTURE:0 SURFACE:0 SAMPLER:0
 Function _ZN8pyengine4cuda12_GLOBAL__N_111relu_kernelIfEEvPKfPfl:
  REG:18 STACK:0 SHARED:0 LOCAL:0 CONSTANT[0]:380 TEXTURE:0 SURFACE:0 SAMPLER:0
"""


def test_resource_table_from_the_compiler_reports():
    rows = gpu_resources.merge(gpu_resources.parse_ptxas(PTXAS), gpu_resources.parse_cuobjdump(CUOBJ), "sm_90")
    by = {r["kernel"]: r for r in rows}
    if shutil.which("c++filt"):
        assert set(by) == {"relu_kernel<float>", "tile_kernel<float>"}, set(by)
        tile = by["tile_kernel<float>"]
    else:
        tile = [r for r in rows if "tile_kernel" in r["kernel"]][0]
    assert (tile["reg"], tile["smem"], tile["stack"], tile["spill_st"], tile["spill_ld"]) == (255, 44032, 16, 20, 32)
    md = gpu_resources.markdown(rows)
    assert "spills, stack frame, at the 255-register cap" in md
    assert len(gpu_resources.merge(gpu_resources.parse_ptxas(PTXAS), {}, "sm_80")) == 1


def test_resource_table_of_the_built_module():
    try:
        import pyengine._cuda as mod
    except ImportError:
        pytest.skip("pyengine._cuda is not built")
    tool = os.environ.get("CUOBJDUMP") or shutil.which("cuobjdump")
    if not tool:
        pytest.skip("no cuobjdump (set CUOBJDUMP)")
    rows = gpu_resources.merge({}, gpu_resources.parse_cuobjdump(gpu_resources.run_cuobjdump(mod.__file__)), "sm_90")
    names = {r["kernel"].split("<")[0] for r in rows}
    assert {"gemm_kernel", "gemm_tf32_kernel", "conv2d_direct_kernel", "im2col_kernel", "softmax_rows_kernel",
            "lstm_gates_forward_kernel", "batch_norm_stats_kernel", "sgd_step_kernel"} <= names, names
    assert all(r["local"] == 0 for r in rows), [r for r in rows if r["local"]]


def test_gpu_only_code_imports_what_exists():
    """The imports that run only on a GPU machine (inside the GPU tests and in gpu_bench.py) name pyengine
    modules and attributes that exist: a rename must not wait for the next GPU run to be noticed."""
    import ast
    import importlib
    import importlib.util
    files = sorted((ROOT / "tests" / "cuda").glob("*.py")) + [BENCH / "gpu_bench.py"]
    seen = 0
    for f in files:
        for node in ast.walk(ast.parse(f.read_text(), str(f))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name == "pyengine._cuda" and importlib.util.find_spec("pyengine._cuda") is None:
                        continue      # a CPU-only build (-DPYENGINE_CUDA=OFF) has no _cuda module to import
                    if alias.name.split(".")[0] == "pyengine":
                        importlib.import_module(alias.name)
                        seen += 1
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "pyengine":
                mod = importlib.import_module(node.module)
                for alias in node.names:
                    assert hasattr(mod, alias.name) or importlib.util.find_spec(f"{node.module}.{alias.name}"), (
                        f"{f.name}:{node.lineno}: from {node.module} import {alias.name}")
                seen += 1
    assert seen > 20
