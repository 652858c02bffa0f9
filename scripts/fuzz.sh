#!/usr/bin/env bash
# Coverage-guided fuzzing of one reader of untrusted bytes (tests/fuzz/targets.py) with atheris.
#
# Usage: scripts/fuzz.sh TARGET SECONDS [extra libFuzzer arguments]
#   TARGET: safetensors | checkpoint | architecture | idx | image_folder | cli | onnx (when present)
#   e.g. scripts/fuzz.sh safetensors 3600
# The committed corpus tests/fuzz/corpus/TARGET (seeds made from real files by
# tests/fuzz/make_seeds.py, plus the regression input of every finding) is read; what the run
# grows goes to build/fuzz/TARGET/corpus (not committed), findings to build/fuzz/TARGET/ as
# crash-*/timeout-*/oom-*. Bounds: 2 GiB of memory, 10 s per input. The run is niced (19), its
# scheduler autogroup too (see below), so that it does not starve whatever else the machine does. The last lines of the log give the
# number of executions ("Done N runs in S second(s)"), then the process's wall and CPU seconds (from
# /usr/bin/time, also in build/fuzz/TARGET/time.txt: on a shared machine a niced run's CPU time
# is far below its wall time); the log is build/fuzz/TARGET/log.txt.
#
# PYENGINE_FUZZ_NATIVE=1: the C++ extension is instrumented too, for the targets whose bytes reach
# it (onnx: the file's attributes drive the kernels of the forward pass; image_folder: decoded
# images go through the fused crop/flip/normalise kernel). pyengine._C is built with clang
# (CLANG, default clang++-14 or clang++; `apt-get install clang libclang-rt-dev`; the one GCC
# extension the kernels use that clang lacks is supplied by tests/fuzz/clang_compat.h) and
# -fsanitize=address,undefined,fuzzer-no-link into build/fuzz-native, in a staged copy of the
# package (build/fuzz-native/stage: the developer build in pyengine/ is never replaced). libFuzzer
# then sees the C++ branches as coverage and compares (not only the Python ones), and ASan/UBSan
# turn an out-of-bounds access or undefined behaviour in a kernel into a finding. A Python
# extension is not an executable, so the sanitizer and libFuzzer runtimes are one shared library
# preloaded into Python (build/fuzz-native/asan_with_fuzzer.so, linked here from clang's
# compiler-rt archives, what atheris's own asan_with_fuzzer.so is when atheris is built from
# source): with it preloaded atheris uses that libFuzzer, so the counters the module registers at
# load reach the fuzzer. Findings go to build/fuzz/TARGET-native. Python's allocations go through
# ASan (PYTHONMALLOC=malloc); leak detection is off (the interpreter keeps its allocations), and the
# memory bound is 4 GiB (ASan's shadow and quarantine count in the RSS). Only the generic copy of
# the ISA kernels is built (PYENGINE_FUZZ_ISAS, default "generic"), so the fuzzed kernels are the
# portable ones: clang 14 does not build the avx512 copy (quantized_isa.cpp's VNNI/VBMI intrinsics
# sit in lambdas, which do not inherit GCC-style target attributes in clang), and the build is
# quicker (about 20 minutes at load 15 on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: scripts/fuzz.sh TARGET SECONDS [libFuzzer args]" >&2; exit 2; }
target=$1 seconds=$2
shift 2
PYTHON=${PYTHON:-python3}
PYTHON=$("$PYTHON" -c 'import sys; print(sys.executable)')
out=build/fuzz/$target
rss_mb=2048
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
if [ "${PYENGINE_FUZZ_NATIVE:-0}" = 1 ]; then
  out=build/fuzz/$target-native
  rss_mb=4096
  CLANG=${CLANG:-$(command -v clang++-14 || command -v clang++ || true)}
  [ -n "$CLANG" ] || { echo "fuzz.sh: PYENGINE_FUZZ_NATIVE=1 needs clang++ (apt-get install clang libclang-rt-dev)" >&2; exit 2; }
  nb=$PWD/build/fuzz-native
  mkdir -p "$nb/stage"
  rm -rf "$nb/stage/pyengine"
  tar --exclude='__pycache__' --exclude='*.so' -cf - pyengine | tar -xf - -C "$nb/stage"
  echo "fuzz.sh: building pyengine._C with $CLANG -fsanitize=address,undefined,fuzzer-no-link in $nb/build" >&2
  cmake -S . -B "$nb/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER="$CLANG" \
    -DCMAKE_CXX_FLAGS="-include $PWD/tests/fuzz/clang_compat.h" -DPYENGINE_ISAS="${PYENGINE_FUZZ_ISAS:-generic}" \
    -DPYENGINE_CUDA=OFF -DPYENGINE_SANITIZE=address,undefined,fuzzer-no-link -DPYENGINE_MODULE_DIR="$nb/stage/pyengine" \
    -DPython_EXECUTABLE="$PYTHON" -Dpybind11_DIR="$("$PYTHON" -m pybind11 --cmakedir)" >/dev/null
  cmake --build "$nb/build" --target _C -j "${PYENGINE_BUILD_JOBS:-2}" >&2
  rt=$("$CLANG" -print-resource-dir)/lib/linux
  if [ ! -f "$nb/asan_with_fuzzer.so" ] || [ "$rt/libclang_rt.asan-x86_64.a" -nt "$nb/asan_with_fuzzer.so" ]; then
    # ASan's runtime has weak no-op __sanitizer_cov_* callbacks; libFuzzer's strong ones win the link.
    # Its .preinit_array member (initialisation for executables) is not allowed in a shared library,
    # and the preload initialises the runtime early enough without it.
    cp "$rt/libclang_rt.asan-x86_64.a" "$nb/asan-nopreinit.a"
    ar d "$nb/asan-nopreinit.a" asan_preinit.cpp.o
    "$CLANG" -shared -o "$nb/asan_with_fuzzer.so" -Wl,--whole-archive "$nb/asan-nopreinit.a" \
      "$rt/libclang_rt.asan_cxx-x86_64.a" "$rt/libclang_rt.fuzzer_no_main-x86_64.a" -Wl,--no-whole-archive \
      -lpthread -ldl -lrt -lm -lstdc++
  fi
  syms=$(nm -D "$nb/stage/pyengine/"_C*.so)   # (not piped into grep -q: pipefail and SIGPIPE)
  [[ $syms == *__sanitizer_cov_8bit_counters_init* ]] || { echo "fuzz.sh: the module has no coverage instrumentation" >&2; exit 2; }
  # libstdc++ right after the runtime: ASan's __cxa_throw interceptor must find the real one.
  export LD_PRELOAD="$nb/asan_with_fuzzer.so $("$CLANG" -print-file-name=libstdc++.so)"
  export PYTHONMALLOC=malloc
  export ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1:intercept_tls_get_addr=0:handle_abort=1"
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
  export PYTHONPATH=$nb/stage:$PYTHONPATH
  export PYENGINE_FUZZ_NATIVE_STAGE=$nb/stage
fi
mkdir -p "$out/corpus" "tests/fuzz/corpus/$target"
export OMP_NUM_THREADS=1
set +e
echo "fuzz.sh: $target start $(date -u +%FT%TZ)" >&2
# Low priority for real: where the kernel groups processes by session (autogroup, Linux's default
# for desktops and many VMs, /proc/sys/kernel/sched_autogroup_enabled), nice only ranks processes
# within their session, and a session started with setsid (a background run) competes with every
# other session as an equal, nice 19 or not. So the fuzzer gets a session of its own whose
# autogroup is niced too (/proc/self/autogroup; nothing else is in it).
setsid -w bash -c 'echo 19 > /proc/self/autogroup 2>/dev/null; exec "$@"' fuzz-lowprio \
  nice -n 19 /usr/bin/time -o "$out/time.txt" -f "wall_s=%e user_s=%U sys_s=%S max_rss_kib=%M" \
  "$PYTHON" tests/fuzz/fuzz.py "$target" "$out/corpus" "tests/fuzz/corpus/$target" \
  -max_total_time="$seconds" -rss_limit_mb=$rss_mb -malloc_limit_mb=$rss_mb -timeout=10 \
  -artifact_prefix="$out/" -print_final_stats=1 "$@" 2>&1 | tee "$out/log.txt" | grep -E "^(#[0-9]+.*(pulse|REDUCE|NEW)|Done|==|stat::|.*(ERROR|Error|Traceback|crash))" | tail -n 40
status=${PIPESTATUS[0]}
set -e
echo "fuzz.sh: $target end $(date -u +%FT%TZ)" >&2
grep -E "^Done [0-9]+ runs" "$out/log.txt" | tail -1 || true
cat "$out/time.txt" 2>/dev/null || true
ls "$out" | grep -E "^(crash|timeout|oom|leak)-" && echo "fuzz.sh: findings in $out (add each, minimised, to tests/fuzz/corpus/$target and fix)"
exit $status
