#!/usr/bin/env bash
# One call on a GPU machine checks the CUDA backend and writes everything under OUT:
#   build      scripts/dev_build.sh with CUDA warnings as errors; register/spill report (cuobjdump)
#   tests      pyengine info; the CUDA tests (parity, gradients, errors, device behaviour); the full suite
#   sanitize   compute-sanitizer memcheck and racecheck over a short kernel test run (CuPy's memory
#              pool off, so an out-of-bounds access hits unallocated memory instead of a pooled block)
#   bench      bench/gpu_bench.py: our kernels against cuBLAS (CuPy) and cuDNN (PyTorch), as ratios
# Usage: bench/gpu_check.sh OUT [build] [tests] [sanitize] [bench]   (no step names: all of them)
# Each step's log is OUT/<step>.log; OUT/summary.txt lists every step's exit status. The exit status
# is non-zero when any step failed. The device machine allows 10 minutes per command: run the steps
# in separate calls there if together they take longer (the build stays between calls).
set -uo pipefail
OUT=${1:?usage: bench/gpu_check.sh OUT [build] [tests] [sanitize] [bench]}
shift
STEPS=${*:-build tests sanitize bench}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
PY=${PYTHON:-python3}
status=0

run() {  # run NAME TIMEOUT_S CMD...: log to OUT/NAME.log, record the exit status
  local name=$1 limit=$2
  shift 2
  local t0=$SECONDS
  timeout "$limit" "$@" >"$OUT/$name.log" 2>&1
  local rc=$?
  echo "$name rc=$rc ($((SECONDS - t0)) s)" | tee -a "$OUT/summary.txt"
  [ "$rc" -eq 0 ] || status=1
  tail -n 5 "$OUT/$name.log"
}

{
  date -u
  nvidia-smi || true
  $PY -c "import sys, numpy; print(sys.version); print('numpy', numpy.__version__)"
  $PY -c "import cupy; print('cupy', cupy.__version__)" || true
  $PY -c "import torch; print('torch', torch.__version__, torch.version.cuda, torch.backends.cudnn.version())" || true
  nvcc --version | tail -n 2 || true
} >"$OUT/env.txt" 2>&1

for step in $STEPS; do
  case $step in
    build)
      run build 900 env PYENGINE_BUILD_JOBS="$(nproc)" scripts/dev_build.sh -DPYENGINE_CUDA_WERROR=ON
      cuobjdump --dump-resource-usage pyengine/_cuda*.so >"$OUT/resource_usage.txt" 2>&1 || true
      ;;
    tests)
      run info 120 "$PY" -m pyengine info
      run cuda_tests 900 "$PY" -m pytest -q -rs tests/cuda --junitxml="$OUT/cuda_tests.xml"
      run all_tests 1800 "$PY" -m pytest -q -x tests --junitxml="$OUT/all_tests.xml"
      ;;
    sanitize)
      export PYENGINE_CUDA_QUICK=1 PYENGINE_CUDA_NO_POOL=1
      run memcheck 1200 compute-sanitizer --tool memcheck --error-exitcode 99 --print-limit 50 \
        "$PY" -m pytest -q -x -p no:cacheprovider tests/cuda/test_cuda_parity.py -k "float32 and not tf32"
      run racecheck 1200 compute-sanitizer --tool racecheck --error-exitcode 99 --print-limit 50 \
        "$PY" -m pytest -q -x -p no:cacheprovider tests/cuda/test_cuda_parity.py \
        -k "float32 and (gemm or conv or linear or lstm or softmax or cross_entropy or batch_norm or global_avg)"
      unset PYENGINE_CUDA_QUICK PYENGINE_CUDA_NO_POOL
      ;;
    bench)
      run bench 1200 "$PY" bench/gpu_bench.py --out "$OUT"
      ;;
    *)
      echo "unknown step $step (build, tests, sanitize, bench)" | tee -a "$OUT/summary.txt"
      status=1
      ;;
  esac
done
echo "gpu_check: $( [ $status -eq 0 ] && echo all steps passed || echo some step FAILED ) — see $OUT/summary.txt"
exit $status
