#!/usr/bin/env bash
# Coverage-guided fuzzing of one reader of untrusted bytes (tests/fuzz/targets.py) with atheris.
#
# Usage: scripts/fuzz.sh TARGET SECONDS [extra libFuzzer arguments]
#   TARGET: safetensors | checkpoint | architecture | idx | image_folder | cli | onnx (when present)
#   e.g. scripts/fuzz.sh safetensors 3600
# The committed corpus tests/fuzz/corpus/TARGET (seeds made from real files by
# tests/fuzz/make_seeds.py, plus the regression input of every finding) is read; what the run
# grows goes to build/fuzz/TARGET/corpus (not committed), findings to build/fuzz/TARGET/ as
# crash-*/timeout-*/oom-*. Bounds: 2 GiB of memory, 10 s per input. The run is niced (19) so
# that it does not starve whatever else the machine does. The last lines of the log give the
# number of executions ("Done N runs in S second(s)"), then the process's wall and CPU seconds (from
# /usr/bin/time, also in build/fuzz/TARGET/time.txt: on a shared machine a niced run's CPU time
# is far below its wall time); the log is build/fuzz/TARGET/log.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: scripts/fuzz.sh TARGET SECONDS [libFuzzer args]" >&2; exit 2; }
target=$1 seconds=$2
shift 2
PYTHON=${PYTHON:-python3}
out=build/fuzz/$target
mkdir -p "$out/corpus" "tests/fuzz/corpus/$target"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
export OMP_NUM_THREADS=1
set +e
echo "fuzz.sh: $target start $(date -u +%FT%TZ)" >&2
nice -n 19 /usr/bin/time -o "$out/time.txt" -f "wall_s=%e user_s=%U sys_s=%S max_rss_kib=%M" \
  "$PYTHON" tests/fuzz/fuzz.py "$target" "$out/corpus" "tests/fuzz/corpus/$target" \
  -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10 \
  -artifact_prefix="$out/" -print_final_stats=1 "$@" 2>&1 | tee "$out/log.txt" | grep -E "^(#[0-9]+.*(pulse|REDUCE|NEW)|Done|==|stat::|.*(ERROR|Error|Traceback|crash))" | tail -n 40
status=${PIPESTATUS[0]}
set -e
echo "fuzz.sh: $target end $(date -u +%FT%TZ)" >&2
grep -E "^Done [0-9]+ runs" "$out/log.txt" | tail -1 || true
cat "$out/time.txt" 2>/dev/null || true
ls "$out" | grep -E "^(crash|timeout|oom|leak)-" && echo "fuzz.sh: findings in $out (add each, minimised, to tests/fuzz/corpus/$target and fix)"
exit $status
