"""Runs one fuzz target under atheris (libFuzzer for Python), coverage-guided over pyengine's code.

    python tests/fuzz/fuzz.py TARGET [libFuzzer arguments: corpus folders, -max_total_time=S, ...]

scripts/fuzz.sh is the usual way in (it picks the corpus folders, the bounds and nice). The
pyengine modules are instrumented for coverage as they are imported; a finding is written by
libFuzzer as crash-*/timeout-*/oom-* under -artifact_prefix.
"""
import os
import sys

import atheris

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

with atheris.instrument_imports(include=["pyengine"]):
    import pyengine  # noqa: F401
    import pyengine.cli  # noqa: F401
    import pyengine.data  # noqa: F401
    import pyengine.io  # noqa: F401
    import pyengine.io.architecture  # noqa: F401
    try:
        import pyengine.onnx  # noqa: F401
        import pyengine.onnx.importer  # noqa: F401
        import pyengine.onnx.import_ops  # noqa: F401
    except ImportError:
        pass

import targets  # noqa: E402

_STAGE = os.environ.get("PYENGINE_FUZZ_NATIVE_STAGE")
if _STAGE and not os.path.abspath(pyengine.__file__).startswith(os.path.abspath(_STAGE)):
    sys.exit(f"fuzz.py: PYENGINE_FUZZ_NATIVE: imported {pyengine.__file__}, not the instrumented stage {_STAGE}")


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in targets.available():
        print(f"usage: fuzz.py TARGET [libFuzzer args]; targets: {', '.join(targets.available())}", file=sys.stderr)
        return 2
    fn = targets.available()[sys.argv[1]]
    atheris.Setup([sys.argv[0]] + sys.argv[2:], fn)
    try:
        atheris.Fuzz()
    finally:
        targets.cleanup()


if __name__ == "__main__":
    sys.exit(main())
