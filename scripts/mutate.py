"""Mutation testing of the kernels: plants one known bug at a time in a copy of the tree, rebuilds
the extension and runs the kernel, autograd and layer tests (at 1 and 2 threads, the suite's
thread_count fixture); a mutation is caught when some test fails. Every planted bug must be
caught — a surviving one names a hole in the tests.

    python scripts/mutate.py [--only NAME[,NAME...]] [--skip-baseline]     (scripts/mutate.sh runs this)

The copy lives in build/mutate/tree (the first build there takes as long as a normal build; each
mutation then recompiles only its file). The report (caught / survived, the first failing test)
is printed and written to build/mutate/report.json.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(ROOT, "build", "mutate")
TREE = os.path.join(WORK, "tree")
TESTS = ["tests/kernels", "tests/autograd", "tests/nn"]

# name, file, the code as it is, the planted bug, what it models
MUTATIONS = [
    ("conv-bw-weight-drops-partial-sums", "csrc/cpu/isa/conv_s1_isa.cpp",
     "for (int t = 0; t < threads; ++t) sum += partial[t * psize + j * Kp + k];",
     "for (int t = 0; t < 1; ++t) sum += partial[t * psize + j * Kp + k];",
     "conv backward-weight keeps only thread 0's partial sums (right at 1 thread, wrong at 2)"),
    ("lstm-output-gate-derivative-flipped", "csrc/cpu/isa/lstm_isa.cpp",
     "store_n(dg + 3 * H + j, dh * tc * o * (one - o), n);",
     "store_n(dg + 3 * H + j, dh * tc * o * (one + o), n);",
     "sigmoid'(o) written o(1 + o) in the LSTM backward"),
    ("gemm-edge-tile-off-by-one", "csrc/cpu/isa/gemm_kernel.h",
     "    for (int j = 0; j < n; ++j) {\n      T r = alpha * tile[i * W + j];",
     "    for (int j = 0; j < n - 1; ++j) {\n      T r = alpha * tile[i * W + j];",
     "the last column of a partial GEMM tile is not stored"),
    ("pool-window-off-by-one", "csrc/cpu/isa/pool2d_isa.cpp",
     "    i1 = imin(k, size - start);",
     "    i1 = imin(k, size - start - 1);",
     "pooling windows lose their last tap at the border"),
    ("leaky-relu-kink", "csrc/cpu/isa/activation_isa.cpp",
     "[=](vec g, vec x) { return x > zero ? g : g * param; }",
     "[=](vec g, vec x) { return x >= zero ? g : g * param; }",
     "leaky ReLU's gradient at exactly 0 takes the positive side (torch takes the slope)"),
    ("batchnorm-biased-running-var", "csrc/cpu/isa/batch_norm_isa.cpp",
     "static_cast<double>(M) / static_cast<double>(M - 1)",
     "static_cast<double>(M) / static_cast<double>(M)",
     "batch norm keeps the biased variance as its running variance"),
]


def _sync_tree():
    os.makedirs(TREE, exist_ok=True)
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split("\n")
    for rel in filter(None, files):
        src, dst = os.path.join(ROOT, rel), os.path.join(TREE, rel)
        if not os.path.isfile(src):
            continue
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if not os.path.exists(dst) or open(src, "rb").read() != open(dst, "rb").read():
            shutil.copy2(src, dst)
    # Sources the checkout no longer has go from the copy too: a stale test left there from an older
    # tree fails on its own and would be counted as catching the planted bug.
    keep = {os.path.normpath(rel) for rel in files if rel}
    for top in ("csrc", "pyengine", "tests", "cmake", "scripts"):
        for dirpath, _, names in os.walk(os.path.join(TREE, top)):
            for name in names:
                rel = os.path.normpath(os.path.relpath(os.path.join(dirpath, name), TREE))
                if rel not in keep and name.endswith((".py", ".cpp", ".h", ".cu", ".cmake", ".txt", ".pyx", ".pxd")):
                    os.remove(os.path.join(TREE, rel))


def _build():
    env = dict(os.environ, PYENGINE_BUILD_DIR=os.path.join(TREE, "build", "dev"))
    r = subprocess.run(["bash", "scripts/dev_build.sh", "-DPYENGINE_CUDA=OFF"], cwd=TREE, env=env,
                       capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError("build failed:\n" + r.stdout[-3000:] + r.stderr[-3000:])


def _tests():
    env = dict(os.environ, PYTHONPATH=TREE, PYENGINE_TEST_THREADS="1,2")
    t0 = time.time()
    r = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *TESTS], cwd=TREE,
                       env=env, capture_output=True, text=True)
    failed = [l for l in r.stdout.splitlines() if l.startswith("FAILED") or l.startswith("ERROR")]
    return r.returncode, failed[:1], time.time() - t0, r.stdout.strip().splitlines()[-1:] if r.stdout else []


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default=None, help="comma-separated mutation names (default: all)")
    ap.add_argument("--skip-baseline", action="store_true",
                    help="do not run the tests on the unmutated copy first (only when this very tree has just "
                         "passed them, e.g. in the whole suite: a failure would otherwise count as a catch)")
    args = ap.parse_args()
    _sync_tree()
    print("mutate: building the unmutated copy", flush=True)
    _build()
    if not args.skip_baseline:
        rc, failed, secs, tail = _tests()
        if rc:
            print(f"mutate: the unmutated tree already fails its tests: {failed or tail}")
            return 2
        print(f"mutate: unmutated tests pass ({secs:.0f} s)", flush=True)
    results = []
    only = set(args.only.split(",")) if args.only else None
    unknown = only - {m[0] for m in MUTATIONS} if only else set()
    if unknown:
        print(f"mutate: no mutation named {', '.join(sorted(unknown))}; known: {', '.join(m[0] for m in MUTATIONS)}")
        return 2
    for name, rel, old, new, what in MUTATIONS:
        if only and name not in only:
            continue
        path = os.path.join(TREE, rel)
        src = open(path).read()
        if src.count(old) != 1:
            results.append({"name": name, "status": "not applied (the code changed)", "what": what})
            print(f"mutate: {name}: NOT APPLIED — '{old[:50]}' is not in {rel} exactly once", flush=True)
            continue
        try:
            open(path, "w").write(src.replace(old, new))
            _build()
            rc, failed, secs, tail = _tests()
        finally:
            open(path, "w").write(src)
        status = "caught" if rc else "SURVIVED"
        results.append({"name": name, "file": rel, "what": what, "status": status, "first_failure": failed,
                        "seconds": round(secs)})
        print(f"mutate: {name}: {status} ({secs:.0f} s){' by ' + failed[0] if failed else ''}", flush=True)
    _build()    # leave the copy unmutated
    caught = sum(r["status"] == "caught" for r in results)
    applied = sum(r["status"] in ("caught", "SURVIVED") for r in results)
    print(f"mutate: caught {caught} of {applied} planted bugs")
    with open(os.path.join(WORK, "report.json"), "w") as f:
        json.dump({"caught": caught, "applied": applied, "results": results}, f, indent=1)
    return 0 if caught == applied == len([m for m in MUTATIONS if not only or m[0] in only]) else 1


if __name__ == "__main__":
    sys.exit(main())
