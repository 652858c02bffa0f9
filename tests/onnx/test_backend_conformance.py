"""ONNX's own backend node tests (onnx.backend.test.BackendTest) against pyengine.onnx: every case
whose ops pyengine covers must pass; the rest are skipped with the reviewed reason from
backend_exclusions.py. ``python tests/onnx/backend_report.py`` prints the counts per op."""
import unittest

import pytest

onnx = pytest.importorskip("onnx")

import onnx.backend.test  # noqa: E402

from backend_cases import node_cases, skip_reason  # noqa: E402
from backend_exclusions import EXCLUDED, NOT_COVERED  # noqa: E402
from pyengine.onnx import importer  # noqa: E402
from pyengine.onnx import import_ops  # noqa: E402,F401
from pyengine.onnx.backend import Backend  # noqa: E402

_CASES = node_cases()
_backend_test = onnx.backend.test.BackendTest(Backend, __name__)
OnnxBackendNodeModelTest = _backend_test.test_cases["OnnxBackendNodeModelTest"]

for _attr in [a for a in dir(OnnxBackendNodeModelTest) if a.startswith("test_")]:
    _case = _CASES.get(_attr.rsplit("_", 1)[0])
    _why = skip_reason(_case, importer.OP_IMPORTERS) if _case is not None else "not a generated node test"
    if _why is not None:
        setattr(OnnxBackendNodeModelTest, _attr, unittest.skip(_why)(lambda self: None))


def test_not_covered_is_exact():
    used = {n.op_type for c in _CASES.values() for n in c.model.graph.node}
    uncovered = used - set(importer.OP_IMPORTERS)
    assert uncovered <= set(NOT_COVERED), f"ops without an importer and without a reason: {sorted(uncovered - set(NOT_COVERED))}"
    stale = set(NOT_COVERED) & set(importer.OP_IMPORTERS)
    assert not stale, f"ops listed as not covered that have an importer now: {sorted(stale)}"


def test_every_exclusion_matches_a_case():
    import re
    for pattern in EXCLUDED:
        assert any(re.search(pattern, name) for name in _CASES), f"stale exclusion {pattern!r}"


def test_a_healthy_share_of_cases_runs():
    runnable = [c for c in _CASES.values() if skip_reason(c, importer.OP_IMPORTERS) is None]
    assert len(runnable) >= 850, len(runnable)
