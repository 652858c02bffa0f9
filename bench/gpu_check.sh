#!/usr/bin/env bash
# bench/gpu_check.sh — the whole CUDA check in one run of at most ~8 minutes on a GPU machine (the
# H200 lent through the device tool), and its rehearsal on a machine without a GPU.
#
#   bash bench/gpu_check.sh [--rehearse | --gpu] OUT
#
# Mode: --gpu when `nvidia-smi -L` lists a GPU, else --rehearse (forced by either flag). Steps, each
# in its own process under its own `timeout` (cap in seconds); the run as a whole ends by
# GPU_CHECK_BUDGET seconds (default 470): a step never gets more than what is left, less a reserve
# for the report, and one left with under 10 s is skipped.
#   step       on the GPU                                                     cap   rehearsal
#   env        versions, nvidia-smi, compilers, Python.h, pytest-timeout       20   the same
#   build      scripts/dev_build.sh -j$(nproc), sm_90 only, CUDA warnings     240   tools present, no build
#              as errors, -Xptxas -v (registers and spills in the log)
#   resources  cuobjdump --dump-resource-usage + the ptxas report → table      20   the same on the local
#              (bench/gpu_resources.py), OUT/resources-sm_90.md                      module, if cuobjdump is there
#   info       python -m pyengine info; the GPU must be usable by pyengine      30   info only
#   tests      tests/cuda -x, 60 s per test (pytest-timeout, else the          150   the same (GPU tests skip)
#              conftest watchdog), PYENGINE_REQUIRE_GPU=1: no GPU = failure
#   train      pyengine train --device cuda and --device cpu, same seed:         60   cpu only
#              validation accuracies within 1 point
#   memcheck   compute-sanitizer memcheck: 2 samples of every float32 op,      75   the selection collected,
#              the TF32 ops, odd-size GEMMs, chunked conv (CuPy's pool off)          every family in it
#   racecheck  compute-sanitizer racecheck: the shared-memory kernels            75   likewise
#              (GEMM f32/f64/TF32, conv, softmax, cross-entropy, batch norm, LSTM, sums)
#   bench      bench/gpu_bench.py, every case capped at a few seconds          150   --list (FLOPs, bytes, floors)
#   report     OUT/<gpu>-<date>.{json,md}: bench rows + this step table         20   OUT/rehearsal-<date>.*
# What OUT holds at every moment (at most 8 files, as the device tool brings back): summary.md (the
# step table, rewritten after each step), logs.tar.gz (every step's log, refreshed after each step),
# resources-sm_90.md, <gpu>-<date>.json and .md (ready to commit as bench/results/). The summary is
# printed last. Exit status: 0 when no step failed or timed out.
#
# Knobs (environment): GPU_CHECK_BUDGET (470), GPU_CHECK_TEST_TIMEOUT (60 s per test), PYTHON (python3),
# CUOBJDUMP, GPU_CHECK_WORK (the log folder; default a new one under /tmp), GPU_CHECK_QUICK_REHEARSAL=1
# (rehearsal only collects tests/cuda and skips training), GPU_CHECK_PTXAS_LOG (a local -Xptxas=-v
# build log for the rehearsal's resource table), GPU_CHECK_MIN_STEP (10 s: a step given less is skipped).
# Sourcing the file defines the functions without running anything (tests/cuda/test_gpu_check.py).
set -uo pipefail

GC_SELF=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
GC_ROOT=$(cd "$(dirname "$GC_SELF")/.." && pwd)
PY=${PYTHON:-python3}
PER_TEST_TIMEOUT=${GPU_CHECK_TEST_TIMEOUT:-60}
GC_REPORT_RESERVE=25

# pytest -k selections of the sanitizer runs (tests/cuda/test_cuda_parity.py, test_cuda_device.py)
# (the quantized ops have no CUDA kernel: they run on the host)
MEMCHECK_K="((test_cuda_matches_reference and float32) or test_cuda_tf32_matches_reference_loosely \
or (test_gemm_many_tiles_and_unaligned_views and float32) or test_conv_in_several_chunks) and not quantized"
RACECHECK_K="((test_cuda_matches_reference and (float32 or gemm-float64) and (gemm or linear or conv2d or softmax \
or cross_entropy or batch_norm or lstm)) or (test_cuda_tf32_matches_reference_loosely and gemm)) and not quantized"
# kernel families each selection must reach: name=pattern over the collected test ids
MEMCHECK_FAMILIES="gemm=gemm linear=linear conv=conv2d|im2col|col2im pool=pool lstm=lstm activation=relu|elu|sigmoid|tanh \
dropout=dropout softmax=softmax|cross_entropy batchnorm=batch_norm optim=sgd|adam|rmsprop|adagrad tf32=tf32"
RACECHECK_FAMILIES="gemm=gemm-float32 gemm64=gemm-float64 tf32=tf32 linear=linear conv=conv2d softmax=softmax \
cross_entropy=cross_entropy batchnorm=batch_norm lstm=lstm channel_sum=conv2d_backward_bias"
SANITIZE_FILES="tests/cuda/test_cuda_parity.py tests/cuda/test_cuda_device.py"

# ---- the run: state, one step, publishing ------------------------------------------------------------

gc_init() {  # gc_init OUT MODE: MODE is gpu or rehearse
  OUT=$1
  GC_MODE=$2
  mkdir -p "$OUT" || return 1
  OUT=$(cd "$OUT" && pwd)
  GC_WORK=${GPU_CHECK_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX")}
  GC_LOGS=$GC_WORK/logs
  mkdir -p "$GC_LOGS"
  GC_BUDGET=${GPU_CHECK_BUDGET:-470}
  GC_T0=$SECONDS
  GC_DATE=$(date -u +%Y-%m-%d)
  GC_FAILED=0
  printf 'step\tstatus\trc\tseconds\tbudget\tnote\n' >"$GC_LOGS/summary.tsv"
  GC_MIN_STEP=${GPU_CHECK_MIN_STEP:-10}
  export OUT GC_MODE GC_WORK GC_LOGS GC_DATE PY PER_TEST_TIMEOUT PYTHONUNBUFFERED=1
  # The source tree's pyengine once its modules are built for this Python (on the GPU machine, by the
  # build step); otherwise the installed one (a rehearsal in CI, after pip install), never an
  # unbuilt source tree: PYTHONSAFEPATH keeps `python -m` from putting the current folder first.
  local ext
  ext=$("$PY" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
  if [ "$GC_MODE" = gpu ] || [ -e "$GC_ROOT/pyengine/_C$ext" ]; then
    export PYTHONPATH=$GC_ROOT${PYTHONPATH:+:$PYTHONPATH}
  else
    export PYTHONSAFEPATH=1
  fi
}

gc_left() { echo $((GC_BUDGET - (SECONDS - GC_T0))); }

gc_record() {  # gc_record STEP STATUS RC SECONDS BUDGET NOTE
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "${6//$'\t'/ }" >>"$GC_LOGS/summary.tsv"
  case $2 in FAIL | TIMEOUT) GC_FAILED=1 ;; esac
  gc_publish
}

# run_step NAME CAP CMD...: CMD under `timeout` (cap cut to the time left), output to logs/NAME.log.
run_step() {
  local name=$1 cap=$2
  shift 2
  local reserve=$GC_REPORT_RESERVE
  [ "$name" = report ] && reserve=0
  local limit=$cap left
  left=$(($(gc_left) - reserve))
  ((left < limit)) && limit=$left
  if ((limit < GC_MIN_STEP)); then
    gc_record "$name" skipped - 0 "$cap" "no time left in the ${GC_BUDGET} s budget"
    echo "[gpu_check] $name: skipped (no time left)"
    return 0
  fi
  local t0=$SECONDS rc
  GC_STEP_LIMIT=$limit timeout --kill-after=10 "$limit" "$@" >"$GC_LOGS/$name.log" 2>&1 </dev/null
  rc=$?
  local dt=$((SECONDS - t0)) status=ok
  if ((rc == 124 || rc == 137)); then
    status=TIMEOUT
  elif ((rc == 75)); then  # a step that chose not to run (see gc_skip)
    status=skipped
    rc=0
  elif ((rc != 0)); then
    status=FAIL
  elif [ "$GC_MODE" = rehearse ] && grep -q '^\[rehearsal\]' "$GC_LOGS/$name.log"; then
    status=rehearsed
  fi
  local note
  note=$(gc_note "$name" "$status")
  gc_record "$name" "$status" "$rc" "$dt" "$limit" "$note"
  echo "[gpu_check] $name: $status (rc $rc, ${dt} s of ${limit})${note:+ — $note}"
  return 0
}

# A short note per step for the table, read off its log.
gc_note() {
  local log=$GC_LOGS/$1.log
  [ -f "$log" ] || return 0
  case $2 in
    TIMEOUT) echo "cut at its time limit; see logs/$1.log"; return 0 ;;
    skipped) tail -n 1 "$log" | cut -c1-120; return 0 ;;
  esac
  local n
  case $1 in
    tests | memcheck | racecheck)
      local parts=()
      n=$(grep -E '^(=+ )?[0-9]+ (passed|failed|error|skipped|deselected)|no tests ran' "$log" | tail -n 1)
      n=${n//=/}
      read -r n <<<"$n"
      [ -n "$n" ] && parts+=("$n")
      n=$(grep -hoE '(ERROR|RACECHECK) SUMMARY: .*' "$log" | tail -n 1)
      [ -n "$n" ] && parts+=("$n")
      n=$(grep -hE '^families:' "$log" | tail -n 1)
      [ -n "$n" ] && parts+=("$n")
      local IFS=';'
      echo "${parts[*]}" ;;
    train) grep -E '^accuracy' "$log" | tail -n 1 ;;
    build) grep -E '^(\[[0-9]+/[0-9]+\]|ninja: no work)' "$log" | tail -n 1 | cut -c1-80 ;;
    resources) grep -E '^kernels:' "$log" | tail -n 1 ;;
    info) n=$(grep -E 'GPU usable|^pyengine.cuda.is_available' "$log" | tail -n 1 | cut -c1-120); read -r n <<<"$n"; echo "$n" ;;
    bench) grep -E '^bench:' "$log" | tail -n 1 ;;
    *) : ;;
  esac
}

gc_summary_md() {
  local mode=$GC_MODE
  {
    echo "# gpu_check $GC_DATE — $mode${GC_DEVICE:+ — $GC_DEVICE}"
    echo
    echo "| step | status | rc | s | limit s | note |"
    echo "|---|---|---|---|---|---|"
    tail -n +2 "$GC_LOGS/summary.tsv" | while IFS=$'\t' read -r s st rc sec bud note; do
      echo "| $s | $st | $rc | $sec | $bud | $note |"
    done
    echo
    echo "total $((SECONDS - GC_T0)) s of a ${GC_BUDGET} s budget; logs in logs.tar.gz"
  } >"$OUT/summary.md"
}

gc_publish() {  # rewrite OUT/summary.md and OUT/logs.tar.gz from the work folder
  gc_summary_md
  cp "$OUT/summary.md" "$GC_LOGS/summary.md"
  tar -czf "$OUT/logs.tar.gz.tmp" -C "$GC_WORK" logs 2>/dev/null && mv -f "$OUT/logs.tar.gz.tmp" "$OUT/logs.tar.gz"
}

gc_finish() {  # the summary printed last, after the tail of every failed step's log
  gc_publish
  local s st rc sec bud note
  while IFS=$'\t' read -r s st rc sec bud note; do
    case $st in
      FAIL | TIMEOUT)
        echo
        echo "---- $s: $st — last lines of logs/$s.log"
        tail -n 25 "$GC_LOGS/$s.log" 2>/dev/null | cut -c1-300 ;;
    esac
  done < <(tail -n +2 "$GC_LOGS/summary.tsv")
  echo
  cat "$OUT/summary.md"
  if ((GC_FAILED)); then
    echo "gpu_check: some step FAILED or timed out (OUT: $OUT)"
    return 1
  fi
  echo "gpu_check: no step failed (OUT: $OUT)"
  return 0
}

# ---- the steps (each runs as `bash gpu_check.sh --step NAME`, with the variables exported above) ------

gc_rehearsal() { echo "[rehearsal] $*"; }
gc_skip() { echo "$*"; exit 75; }

# pytest-timeout's options when it is installed; without it tests/cuda/conftest.py arms its own watchdog
# (tests/cuda/cuda_watchdog.py) from PYENGINE_TEST_TIMEOUT.
gc_pytest_timeout_args() {
  if "$PY" -c "import pytest_timeout" 2>/dev/null; then
    echo "--timeout=$PER_TEST_TIMEOUT --timeout-method=thread"
  fi
}

step_env() {
  kv() { echo "@ $1: $2"; }
  kv mode "$GC_MODE"
  kv date "$(date -u +%FT%TZ)"
  kv host "$(uname -srm), $(nproc) cores"
  if command -v nvidia-smi >/dev/null; then
    kv gpu "$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -n 1)"
    nvidia-smi 2>&1 | head -n 20
    nvidia-smi --query-gpu=clocks.sm,clocks.max.sm,clocks.mem,power.draw,power.limit,temperature.gpu,persistence_mode \
      --format=csv 2>&1
  else
    kv gpu "none (no nvidia-smi)"
  fi
  kv python "$("$PY" -c 'import sys; print(sys.version.split()[0], sys.executable)' 2>&1)"
  local m
  for m in numpy cupy torch pytest pytest_timeout pybind11 safetensors; do
    kv "$m" "$("$PY" -c "import $m; print(getattr($m, '__version__', 'present'))" 2>/dev/null || echo missing)"
  done
  kv torch_cuda "$("$PY" -c 'import torch; print(torch.version.cuda, "cudnn", torch.backends.cudnn.version(), "gpu", torch.cuda.is_available())' 2>/dev/null || echo -)"
  kv Python.h "$("$PY" -c 'import os, sysconfig; p = os.path.join(sysconfig.get_paths()["include"], "Python.h"); print(p if os.path.exists(p) else "MISSING " + p)')"
  local t
  for t in nvcc cmake ninja compute-sanitizer "${CUOBJDUMP:-cuobjdump}" c++filt c++; do
    kv "${t##*/}" "$(command -v "$t" >/dev/null && ("$t" --version 2>&1 | grep -m1 -E '[0-9]+\.[0-9]+') || echo missing)"
  done
  return 0
}

step_build() {
  local args=(-DPYENGINE_CUDA=ON -DPYENGINE_CUDA_WERROR=ON -DCMAKE_CUDA_ARCHITECTURES=90 "-DCMAKE_CUDA_FLAGS=-Xptxas=-v")
  if [ "$GC_MODE" = rehearse ]; then
    gc_rehearsal "would run: PYENGINE_BUILD_DIR=build/gpu-check PYENGINE_BUILD_JOBS=$(nproc) scripts/dev_build.sh ${args[*]}"
    local t ok=0
    for t in cmake ninja nvcc; do command -v "$t" >/dev/null || { echo "missing: $t"; ok=1; }; done
    "$PY" -m pybind11 --cmakedir || ok=1
    bash -n "$GC_ROOT/scripts/dev_build.sh" || ok=1
    ls "$GC_ROOT"/pyengine/_C*.so "$GC_ROOT"/pyengine/_cuda*.so 2>&1
    return $ok
  fi
  cd "$GC_ROOT" || return 1
  PYENGINE_BUILD_DIR=build/gpu-check PYENGINE_BUILD_JOBS=$(nproc) scripts/dev_build.sh "${args[@]}" || return 1
  "$PY" -c "import pyengine._C, pyengine._cuda as m; print('built', m.__file__, 'for', m.built_architectures())"
}

gc_cuda_module() {
  "$PY" -c "import pyengine._cuda as m; print(m.__file__)" 2>/dev/null
}

step_resources() {
  local so tool=${CUOBJDUMP:-cuobjdump}
  so=$(gc_cuda_module) || gc_skip "no pyengine._cuda to read"
  command -v "$tool" >/dev/null || gc_skip "no cuobjdump (set CUOBJDUMP)"
  [ "$GC_MODE" = rehearse ] && gc_rehearsal "on the local build $so"
  "$tool" --dump-resource-usage "$so" >"$GC_LOGS/resource_usage.txt" || return 1
  local ptxas=()
  local log=$GC_LOGS/build.log
  [ "$GC_MODE" = rehearse ] && log=${GPU_CHECK_PTXAS_LOG:-$log}  # a local -Xptxas=-v build log, if any
  [ -f "$log" ] && grep -q 'ptxas info' "$log" && ptxas=(--ptxas "$log")
  "$PY" "$GC_ROOT/bench/gpu_resources.py" "${ptxas[@]}" --cuobjdump "$GC_LOGS/resource_usage.txt" --arch sm_90 \
    >"$OUT/resources-sm_90.md" || return 1
  echo "kernels: $(grep -c '^| `' "$OUT/resources-sm_90.md") for sm_90, $(grep -c 'spills' "$OUT/resources-sm_90.md")" \
    "spilling, $(grep -c 'stack frame' "$OUT/resources-sm_90.md") with a stack frame${ptxas[0]:+ (ptxas report read)}"
  cat "$OUT/resources-sm_90.md"
}

step_info() {
  "$PY" -m pyengine info || return 1
  if [ "$GC_MODE" = rehearse ]; then
    gc_rehearsal "the GPU check of pyengine.cuda.is_available() is skipped"
    return 0
  fi
  "$PY" - <<'EOF'
import sys
import cupy
import pyengine.cuda as c
import pyengine._cuda as m
print("pyengine.cuda.is_available:", c.is_available(), "devices:", c.device_count(), m.device_name(0),
      "cc", m.compute_capability(0), "built for", m.built_architectures())
print("cupy sees", cupy.cuda.runtime.getDeviceCount(), "device(s)")
sys.exit(0 if c.is_available() else 1)
EOF
}

step_tests() {
  cd "$GC_ROOT" || return 1
  local targs
  targs=$(gc_pytest_timeout_args)
  export PYENGINE_TEST_TIMEOUT=$PER_TEST_TIMEOUT
  [ "$GC_MODE" = gpu ] && export PYENGINE_REQUIRE_GPU=1
  local only=()
  if [ "$GC_MODE" = rehearse ]; then
    gc_rehearsal "tests/cuda without a GPU: the GPU tests skip"
    [ -n "${GPU_CHECK_QUICK_REHEARSAL:-}" ] && only=(--collect-only)
  fi
  # shellcheck disable=SC2086  # targs is a list of options
  "$PY" -m pytest -x -q -rs -p no:cacheprovider $targs "${only[@]}" tests/cuda \
    --ignore=tests/cuda/test_gpu_check.py --junitxml="$GC_LOGS/cuda_tests.xml"
}

gc_accuracy() {  # gc_accuracy DEVICE: the validation accuracy of pyengine train on DEVICE
  "$PY" -m pyengine train --device "$1" --no-plot --quiet --seed 0 --output "$GC_WORK/train-$1" \
    >"$GC_LOGS/train-$1.txt" 2>&1 || { tail -n 20 "$GC_LOGS/train-$1.txt"; return 1; }
  grep -oE 'validation accuracy: [0-9.]+' "$GC_LOGS/train-$1.txt" | grep -oE '[0-9.]+$' | tail -n 1
}

step_train() {
  local cpu gpu
  [ "$GC_MODE" = rehearse ] && [ -n "${GPU_CHECK_QUICK_REHEARSAL:-}" ] && gc_skip "quick rehearsal: no training"
  cpu=$(gc_accuracy cpu) || return 1
  if [ "$GC_MODE" = rehearse ]; then
    gc_rehearsal "pyengine train --device cuda skipped"
    echo "accuracy cpu ${cpu}%"
    return 0
  fi
  gpu=$(gc_accuracy cuda) || return 1
  echo "accuracy cuda ${gpu}% cpu ${cpu}%"
  "$PY" -c "import sys; a, b = float('$gpu'), float('$cpu'); sys.exit(0 if abs(a - b) <= 1.0 else 1)" || {
    echo "the accuracies differ by more than 1 point"
    return 1
  }
}

# Collects a sanitizer selection and checks that every family of FAMILIES has a test in it.
gc_check_selection() {  # gc_check_selection K FAMILIES
  local ids fam missing="" counts=""
  # shellcheck disable=SC2086  # SANITIZE_FILES is a list of paths
  ids=$("$PY" -m pytest --collect-only -q -p no:cacheprovider $SANITIZE_FILES -k "$1" 2>&1) || { echo "$ids"; return 1; }
  echo "$ids" | grep '::' >"$GC_LOGS/selection.txt"
  for fam in $2; do
    local n
    n=$(grep -cE -- "${fam#*=}" "$GC_LOGS/selection.txt")
    counts="$counts ${fam%%=*}:$n"
    ((n == 0)) && missing="$missing ${fam%%=*}"
  done
  echo "families:$counts ($(wc -l <"$GC_LOGS/selection.txt") tests)"
  [ -z "$missing" ] || { echo "no test selected for:$missing"; return 1; }
}

gc_sanitize() {  # gc_sanitize TOOL K FAMILIES
  cd "$GC_ROOT" || return 1
  gc_check_selection "$2" "$3" || return 1
  if [ "$GC_MODE" = rehearse ]; then
    gc_rehearsal "would run: compute-sanitizer --tool $1 on the selection above"
    return 0
  fi
  export PYENGINE_CUDA_SAMPLES=2 PYENGINE_CUDA_NO_POOL=1 PYENGINE_TEST_TIMEOUT=$PER_TEST_TIMEOUT
  local extra=() targs
  [ "$1" = memcheck ] && extra=(--leak-check no)
  targs=$(gc_pytest_timeout_args)
  # shellcheck disable=SC2086  # SANITIZE_FILES and targs are lists
  compute-sanitizer --tool "$1" "${extra[@]}" --error-exitcode 99 --print-limit 50 \
    "$PY" -m pytest -x -q -p no:cacheprovider $targs $SANITIZE_FILES -k "$2"
}

step_memcheck() { gc_sanitize memcheck "$MEMCHECK_K" "$MEMCHECK_FAMILIES"; }
step_racecheck() { gc_sanitize racecheck "$RACECHECK_K" "$RACECHECK_FAMILIES"; }

step_bench() {
  cd "$GC_ROOT" || return 1
  if [ "$GC_MODE" = rehearse ]; then
    gc_rehearsal "would run: bench/gpu_bench.py --out OUT --name $GC_RESULT --case-seconds 5"
    "$PY" bench/gpu_bench.py --list >"$GC_WORK/cases.md" || return 1
    cat "$GC_WORK/cases.md"
    echo "bench: $(grep -c '^| [a-z]*: ' "$GC_WORK/cases.md") cases listed"
    return 0
  fi
  local limit=$((${GC_STEP_LIMIT:-150} - 15)) rc
  "$PY" bench/gpu_bench.py --out "$OUT" --name "$GC_RESULT" --case-seconds 5 --time-limit "$limit"
  rc=$?
  "$PY" - "$OUT/$GC_RESULT.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
rows = d["rows"]
ok = sum(r["status"] == "ok" for r in rows)
met = [r for r in rows if r.get("met") is not None]
print(f"bench: {ok}/{len(rows)} cases ok, targets met {sum(r['met'] for r in met)}/{len(met)}, "
      f"{len(d['failures'])} failed")
EOF
  return $rc
}

step_report() {
  cd "$GC_ROOT" || return 1
  [ "$GC_MODE" = rehearse ] && gc_rehearsal "results named $GC_RESULT"
  "$PY" bench/gpu_bench.py --report --out "$OUT" --name "$GC_RESULT" --summary "$GC_LOGS/summary.tsv" \
    --env "$GC_LOGS/env.log" --device "${GC_DEVICE:-no GPU (rehearsal)}"
}

# ---- main ----------------------------------------------------------------------------------------------

gc_detect_mode() {
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q '^GPU '; then
    echo gpu
  else
    echo rehearse
  fi
}

gc_main() {
  local mode="" out=""
  while (($#)); do
    case $1 in
      --rehearse) mode=rehearse ;;
      --gpu) mode=gpu ;;
      --step)
        shift
        "step_$1"
        exit $? ;;
      -h | --help) sed -n '2,40p' "$GC_SELF"; return 0 ;;
      -*) echo "gpu_check: unknown option $1" >&2; return 2 ;;
      *) out=$1 ;;
    esac
    shift
  done
  [ -n "$out" ] || { echo "usage: bash bench/gpu_check.sh [--rehearse|--gpu] OUT" >&2; return 2; }
  mode=${mode:-$(gc_detect_mode)}
  gc_init "$out" "$mode" || return 1
  GC_DEVICE=""
  if [ "$mode" = gpu ]; then
    GC_DEVICE=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1)
    local slug
    slug=$(echo "${GC_DEVICE:-gpu}" | tr '[:upper:]' '[:lower:]' | sed -e 's/nvidia//' -e 's/[^a-z0-9]\+/-/g' -e 's/^-//' -e 's/-$//')
    GC_RESULT="${slug:-gpu}-$GC_DATE"
  else
    GC_RESULT="rehearsal-$GC_DATE"
  fi
  export GC_DEVICE GC_RESULT
  echo "[gpu_check] $mode run, budget ${GC_BUDGET} s, work folder $GC_WORK, results $OUT"
  local s=("$BASH" "$GC_SELF" --step)
  # A rehearsal runs on a shared CPU machine where starting Python and importing torch can take many
  # seconds under load: its short steps get three times the GPU run's caps (the budget still holds).
  local x=1
  [ "$mode" = rehearse ] && x=3
  run_step env $((20 * x)) "${s[@]}" env
  run_step build 240 "${s[@]}" build
  if [ "$mode" = gpu ] && ! awk -F'\t' '$1 == "build" && $2 == "ok" {found = 1} END {exit !found}' "$GC_LOGS/summary.tsv"; then
    local later
    for later in resources info tests train memcheck racecheck bench; do
      gc_record "$later" skipped - 0 - "the build failed"
    done
  else
    run_step resources $((20 * x)) "${s[@]}" resources
    run_step info $((30 * x)) "${s[@]}" info
    run_step tests 150 "${s[@]}" tests
    run_step train 60 "${s[@]}" train
    run_step memcheck 75 "${s[@]}" memcheck
    run_step racecheck 75 "${s[@]}" racecheck
    run_step bench 150 "${s[@]}" bench
  fi
  run_step report $((20 * x)) "${s[@]}" report
  gc_finish
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  gc_main "$@"
  exit $?
fi
