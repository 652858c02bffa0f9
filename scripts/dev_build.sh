#!/usr/bin/env bash
# Developer build: compiles pyengine._C (and _cuda when nvcc is there) in ./build/dev and puts the
# modules next to the sources, so `PYTHONPATH=. pytest` runs against the working tree.
# Usage: scripts/dev_build.sh [extra cmake -D options]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${PYENGINE_BUILD_DIR:-build/dev}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DPython_EXECUTABLE="$(command -v python3)" \
  -Dpybind11_DIR="$(python3 -m pybind11 --cmakedir)" "$@" >/dev/null
cmake --build "$BUILD_DIR" -j "${PYENGINE_BUILD_JOBS:-2}"
