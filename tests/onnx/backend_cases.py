"""ONNX's backend node test cases (generated in memory by the installed onnx package, nothing
downloaded) sorted into what pyengine runs and what it skips, with the reason."""
import re

from backend_exclusions import EXCLUDED, NOT_COVERED


def node_cases():
    import warnings
    from onnx.backend.test.loader import load_model_tests
    with warnings.catch_warnings():       # onnx's case generators overflow casts on purpose
        warnings.simplefilter("ignore")
        return {c.name: c for c in load_model_tests(kind="node")}


def ops_of(case):
    return sorted({n.op_type for n in case.model.graph.node})


def skip_reason(case, importers):
    missing = [o for o in ops_of(case) if o not in importers]
    if missing:
        return f"uses {', '.join(missing)}: {NOT_COVERED.get(missing[0], 'not covered by pyengine')}"
    for pattern, why in EXCLUDED.items():
        if re.search(pattern, case.name):
            return why
    return None


def main_op(case, cases=None):
    """The op a node test is about: its node for single-node tests, the op of the test it expands
    (``<name>_expanded[_verN]`` runs the function body of ``<name>``'s op), else the op the name starts with."""
    ops = ops_of(case)
    if len(ops) == 1:
        return ops[0]
    if cases is not None and "_expanded" in case.name:
        base = cases.get(case.name.split("_expanded")[0])
        if base is not None and len(ops_of(base)) == 1:
            return ops_of(base)[0]
    name = case.name[len("test_"):].replace("_", "").lower()
    for op in sorted(ops, key=len, reverse=True):
        if name.startswith(op.lower()):
            return op
    return "(other: multi-node tests of ops not named in the test)"
