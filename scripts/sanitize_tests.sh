#!/usr/bin/env bash
# Runs the kernel and autograd tests, the bad-input matrix and the property tests against an
# AddressSanitizer + UndefinedBehaviorSanitizer build of pyengine._C with LeakSanitizer on (in the
# test process and in every child it starts); fails on any sanitizer report (also from
# subprocesses) or failing test.
#
# Usage: scripts/sanitize_tests.sh [pytest arguments...]
#   no test path: tests/kernels at 1 and 2 threads, then tests/autograd,
#   tests/reliability/test_bad_input_matrix.py, tests/reliability/test_properties.py and
#   tests/data/test_transforms_fused.py (the data loader's C++ image kernel; each where it exists)
#   at 1 thread. The kernel tests are where a thread's share of the work is cut and
#   combined in C++, so both counts run under the sanitizers; the autograd tests reach the same
#   kernels (their 2-thread run would repeat the kernel tests' ASan coverage and add only Python,
#   which is not instrumented), and their values at 2 threads are checked by the ordinary run.
#   PYENGINE_SANITIZE_THREADS=1,2 runs everything at both counts.
#   e.g. scripts/sanitize_tests.sh -k softmax
#        scripts/sanitize_tests.sh tests/kernels/test_parity.py -k "gemm or relu"
# Environment: PYENGINE_SANITIZE (default address,undefined), PYENGINE_SANITIZE_BUILD_DIR (default
# build/sanitize), PYENGINE_BUILD_JOBS (default 2), PYTHON (default python3), CXX (default g++:
# the compiler whose sanitizer runtimes are preloaded). .ci/run calls it after the main tests.
#
# How: CMake builds _C with -fsanitize=... into the build folder and writes the module into a
# staging copy of the Python package there (build/sanitize/stage/pyengine), never over the
# developer build in pyengine/. Python is not instrumented, so the ASan runtime of the compiler
# that built the module is preloaded; PYTHONMALLOC=malloc routes Python's allocations through it.
# Leaks: LeakSanitizer runs at exit with scripts/lsan.supp, which suppresses the allocations that
# the interpreter, NumPy, OpenMP and OpenBLAS keep until exit by design. LSan matches a suppression
# against every frame of an allocation's stack, and every allocation here has interpreter frames
# below it, so the stacks are cut to their top frames (malloc_context_size): a suppression then
# names only the code that allocated — a C++ buffer our kernels or bindings lose is reported, a
# Python object the interpreter keeps is not (Python-level leaks are what tests/reliability/
# test_leaks.py bounds). Reports go to files under the build folder and are printed at the end.
# Dynamic TLS (intercept_tls_get_addr=0): the sanitizer runtime of GCC <= 13 (LLVM <= 16) watches
# __tls_get_addr to learn each thread's dynamic TLS blocks (the thread_local data of dlopen'd
# modules: our _C's per-thread workspace, NumPy's, ...) so that LeakSanitizer can scan them. When a
# block happens to begin 16 bytes past a page boundary it takes it for a glibc 2.19-2.24 block with
# a header and reads the two words before it as the block's start and size; glibc >= 2.25 has no
# such header, so that "range" is the allocator's own header of the block (seen: start 0xf000005d4,
# size 0x4900001102), and at exit LeakSanitizer's stop-the-world tracer scans it and dies ("Tracer
# caught signal 11"). Whether a process is hit depends on where malloc put its blocks (a small
# fraction of them land there), so it came and went: a bad-input-matrix child now and then, never
# one op run alone; a process with 48 pool threads (48 blocks) died so in 8 runs of 8 with the
# interceptor on and in none of 8 with it off. Turning the interceptor off
# loses nothing on glibc >= 2.25: for every block it does not misparse it records a size of 0
# ("Can't guess glibc version"), i.e. it never scanned dynamic TLS here; a thread's blocks are
# ordinary malloc'd chunks that LeakSanitizer reaches through the thread's DTV, a chunk pointed to
# from the thread descriptor it scans with the thread's static TLS.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CALLER_PWD=$PWD
cd "$ROOT"
PYTHON=${PYTHON:-python3}
# the interpreter itself, not a launcher (a pyenv shim re-resolves the version from the working
# folder, and the tests run from the staging folder)
PYTHON=$("$PYTHON" -c 'import sys; print(sys.executable)')
SANITIZE=${PYENGINE_SANITIZE:-address,undefined}
BUILD_DIR=${PYENGINE_SANITIZE_BUILD_DIR:-build/sanitize}
mkdir -p "$BUILD_DIR"
BUILD_DIR=$(cd "$BUILD_DIR" && pwd)
STAGE=$BUILD_DIR/stage
REPORTS=$BUILD_DIR/reports
start=$(date +%s)

# The build tools pip's isolated build would bring: installed here only inside a virtual
# environment (as in CI after `pip install .[test]`), never into a system Python.
in_venv=$("$PYTHON" -c "import sys; print(int(sys.prefix != sys.base_prefix))")
if ! "$PYTHON" -c "import pybind11" 2>/dev/null || ! command -v cmake >/dev/null; then
  if [ "$in_venv" = 1 ]; then
    "$PYTHON" -m pip install --quiet pybind11 cmake ninja
  else
    echo "sanitize_tests.sh: needs pybind11 and cmake (pip install pybind11 cmake ninja)" >&2
    exit 2
  fi
fi
"$PYTHON" -c "import numpy, pytest" 2>/dev/null || {
  echo "sanitize_tests.sh: needs numpy and pytest in $PYTHON (pip install .[test])" >&2
  exit 2
}

# 1. The Python sources, staged (the module is built into this copy).
rm -rf "$STAGE"
mkdir -p "$STAGE"
(cd "$ROOT" && tar --exclude='__pycache__' --exclude='*.so' -cf - pyengine) | tar -xf - -C "$STAGE"

# 2. The instrumented build.
CXX_COMPILER=${CXX:-g++}
echo "== building pyengine._C with -fsanitize=$SANITIZE ($CXX_COMPILER) in $BUILD_DIR"
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S "$ROOT" -B "$BUILD_DIR" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER="$CXX_COMPILER" -DPYENGINE_CUDA=OFF -DPYENGINE_SANITIZE="$SANITIZE" \
  -DPYENGINE_MODULE_DIR="$STAGE/pyengine" -DPython_EXECUTABLE="$(command -v "$PYTHON")" \
  -Dpybind11_DIR="$("$PYTHON" -m pybind11 --cmakedir)" >/dev/null
cmake --build "$BUILD_DIR" --target _C -j "${PYENGINE_BUILD_JOBS:-2}"
built=$(date +%s)

# 3. The runtime environment.
preload=()
case ",$SANITIZE," in
  *,address,*) preload+=("$("$CXX_COMPILER" -print-file-name=libasan.so)") ;;
  *,undefined,*) preload+=("$("$CXX_COMPILER" -print-file-name=libubsan.so)") ;;
esac
# libstdc++ right after the ASan runtime: Python does not link it, and ASan's __cxa_throw
# interceptor must find the real one when it starts (else the first C++ exception aborts).
preload+=("$("$CXX_COMPILER" -print-file-name=libstdc++.so)")
for lib in "${preload[@]}"; do
  [ -f "$lib" ] || { echo "sanitize_tests.sh: sanitizer runtime $lib not found" >&2; exit 2; }
done
rm -rf "$REPORTS"
mkdir -p "$REPORTS"
export LD_PRELOAD="${preload[*]}"
export PYTHONMALLOC=malloc
export ASAN_OPTIONS="detect_leaks=${PYENGINE_DETECT_LEAKS:-1}:malloc_context_size=${PYENGINE_LSAN_CONTEXT:-2}:intercept_tls_get_addr=0:abort_on_error=1:log_path=$REPORTS/asan"
export LSAN_OPTIONS="suppressions=$ROOT/scripts/lsan.supp:print_suppressions=0:report_objects=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$REPORTS/ubsan"
# Children started by the tests (the bad-input matrix runs each op in its own process) inherit all
# of it, LeakSanitizer included.

# The staged package, not the source tree, must be imported: run from the stage (python -m puts
# the working folder first on sys.path) and check before testing. The source root comes after it
# on the path, for the tests' own imports (tests.support).
cd "$STAGE"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
module=$("$PYTHON" -c "import pyengine._C as m; print(m.__file__)")
case "$module" in
  "$STAGE"/*) ;;
  *) echo "sanitize_tests.sh: imported $module instead of the staged module" >&2; exit 2 ;;
esac
deps=$(LD_PRELOAD= ldd "$module")
[[ $deps == *libasan* || $deps == *libubsan* ]] || { echo "sanitize_tests.sh: $module is not instrumented" >&2; exit 2; }

# pytest runs from the stage: make path arguments (and node ids path::test) absolute; option
# values (-k EXPR, --deselect NODEID relative to the root) stay as they are.
args=()
prev=
for a in "$@"; do
  p=${a%%::*}
  if [[ $a != -* && -n $p && $prev != -k && $prev != -m && $prev != --deselect ]]; then
    if [ -e "$CALLER_PWD/$p" ]; then a="$(cd "$CALLER_PWD" && realpath "$p")${a#"$p"}"
    elif [ -e "$ROOT/$p" ]; then a="$ROOT/$a"
    fi
  fi
  args+=("$a")
  prev=$a
done
set -- "${args[@]+"${args[@]}"}"
pytest_run() {
  echo "== pytest $* (ASan/UBSan, LD_PRELOAD=$LD_PRELOAD, PYENGINE_TEST_THREADS=$PYENGINE_TEST_THREADS)"
  "$PYTHON" -m pytest -q -p no:cacheprovider -c "$ROOT/pyproject.toml" --rootdir "$ROOT" "$@"
}
set +e
status=0
if [ $# -eq 0 ] || [[ " $* " != *" $ROOT/"* ]]; then
  # no test path given (only options such as -k): the default selection
  rest=()
  [ -d "$ROOT/tests/autograd" ] && rest+=("$ROOT/tests/autograd")
  for f in "$ROOT"/tests/test_autograd*.py "$ROOT"/tests/test_functional*.py \
           "$ROOT"/tests/reliability/test_bad_input_matrix.py "$ROOT"/tests/reliability/test_properties.py \
           "$ROOT"/tests/data/test_transforms_fused.py; do
    [ -f "$f" ] && rest+=("$f")
  done
  # pytest's 5 (nothing selected, e.g. by -k) is fine for one of the two runs, not for both
  PYENGINE_TEST_THREADS=${PYENGINE_SANITIZE_THREADS:-1,2} pytest_run "$@" "$ROOT/tests/kernels"
  a=$?
  PYENGINE_TEST_THREADS=${PYENGINE_SANITIZE_THREADS:-1} pytest_run "$@" "${rest[@]}"
  b=$?
  if [ $a -eq 5 ] && [ $b -eq 5 ]; then status=1
  elif { [ $a -ne 0 ] && [ $a -ne 5 ]; } || { [ $b -ne 0 ] && [ $b -ne 5 ]; }; then status=1
  fi
else
  PYENGINE_TEST_THREADS=${PYENGINE_SANITIZE_THREADS:-${PYENGINE_TEST_THREADS:-1,2}} pytest_run "$@" || status=1
fi
set -e
end=$(date +%s)

if compgen -G "$REPORTS/*" >/dev/null; then
  echo "== sanitizer reports:"
  for f in "$REPORTS"/*; do echo "--- $f"; cat "$f"; done
  status=1
fi
echo "== sanitize_tests.sh: $([ $status -eq 0 ] && echo clean || echo FAILED) (build $((built - start)) s, tests $((end - built)) s)"
exit $status
