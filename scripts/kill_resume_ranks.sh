#!/usr/bin/env bash
# The long mode of tests/reliability/test_kill_resume_ranks.py: a 2-rank fit() killed with SIGKILL
# KILLS times (default 20: 8 at random instants on a random rank, 4 in the middle of a step's
# backward, 4 during rank 0's checkpoint writes — every phase of the atomic write —, 4 during a
# validation), resumed after each, both ranks' final weights and the History compared bit for bit
# with an uninterrupted run's. The last line gives the figure: kills by kind, finished runs, how
# many of them were bit-identical, launches and seconds.
# Usage: scripts/kill_resume_ranks.sh [KILLS] [SEED]   (needs MPI: pip install ".[distributed]")
set -euo pipefail
cd "$(dirname "$0")/.."
export PYENGINE_DIST_KILLS=${1:-20} PYENGINE_KILL_SEED=${2:-18}
export PYTHONPATH=$PWD:$PWD/tests${PYTHONPATH:+:$PYTHONPATH} OMP_NUM_THREADS=1
exec "${PYTHON:-python3}" -m pytest -q -s -p no:cacheprovider tests/reliability/test_kill_resume_ranks.py 2>&1 \
  | grep -E "^kill-resume|passed|failed|Error|assert"
