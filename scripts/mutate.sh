#!/usr/bin/env bash
# Mutation run: plants each known kernel bug of scripts/mutate.py in a copy of the tree, rebuilds,
# runs the kernel/autograd/layer tests at 1 and 2 threads, and reports the catch rate (every
# planted bug must be caught). Usage: scripts/mutate.sh [--only NAME[,NAME...]] [--skip-baseline]. Exit 0: all caught.
set -euo pipefail
cd "$(dirname "$0")/.."
exec nice -n 10 "${PYTHON:-python3}" scripts/mutate.py "$@"
