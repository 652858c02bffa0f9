"""Runs the bad-input matrix (bad_input_matrix.py, its table of cases at the top) for every kernel,
each op in its own process so that a segfault fails this test instead of killing the suite."""
import json
import os

import pytest

from pyengine.testing.registry import all_ops
from support import run_python

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bad_input_matrix.py")


@pytest.mark.parametrize("op_name", [op.name for op in all_ops()])
def test_bad_input_matrix(op_name):
    r = run_python(SCRIPT, op_name)
    assert r.returncode == 0, f"{op_name}: the process died with status {r.returncode}\n{r.stderr[-3000:]}"
    report = json.loads(r.stdout.strip().splitlines()[-1])
    assert report["cases"] > 0
    assert not report["failures"], "\n".join(report["failures"])


def test_layer_bad_input_matrix():
    """The layer matrix (layer_matrix.py, its table at the top) in one fresh process."""
    r = run_python(os.path.join(os.path.dirname(SCRIPT), "layer_matrix.py"))
    assert r.returncode == 0, f"the process died with status {r.returncode}\n{r.stderr[-3000:]}"
    report = json.loads(r.stdout.strip().splitlines()[-1])
    assert report["cases"] > 150
    assert not report["failures"], "\n".join(report["failures"])
