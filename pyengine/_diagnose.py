"""Why pyengine._C did not load, in one sentence with the fix (see kernels/cpu/_ext.py).

``explain_import_failure(exc)`` classifies the ImportError of ``from pyengine import _C``:
a bad PYENGINE_CPU_ISA, a source checkout shadowing an installed pyengine, or no build. It raises
ImportError with that sentence, or — when the process is the pyengine command line — prints the
sentence on stderr and exits with status 2.
"""
from __future__ import annotations

import os
import sys

ISAS = ("avx512", "avx2", "generic")


def _package_dir() -> str:
    return os.path.dirname(os.path.abspath(__file__))


def _is_source_checkout(pkg_dir: str) -> bool:
    root = os.path.dirname(pkg_dir)
    return os.path.exists(os.path.join(root, "pyproject.toml")) and os.path.isdir(os.path.join(root, "csrc"))


def installed_copy(pkg_dir: str | None = None) -> str | None:
    """The folder of an installed pyengine whose compiled module is not under ``pkg_dir``, or None.
    Read from the installed distribution's file list, so it works while the import is failing."""
    pkg_dir = os.path.normcase(os.path.realpath(pkg_dir or _package_dir()))
    try:
        from importlib import metadata
        dist = metadata.distribution("pyengine")
    except Exception:
        return None
    for f in dist.files or ():
        name = getattr(f, "name", str(f).rsplit("/", 1)[-1])
        if name.startswith("_C.") and str(f).replace("\\", "/").startswith("pyengine/"):
            where = os.path.realpath(os.path.dirname(str(dist.locate_file(f))))
            if os.path.normcase(where) != pkg_dir and os.path.exists(os.path.join(where, name)):
                return where
    return None


def describe(exc: BaseException, env: dict | None = None, pkg_dir: str | None = None,
             installed: str | None = None) -> str:
    """The one-line reason and fix for an ImportError of pyengine._C."""
    env = os.environ if env is None else env
    pkg_dir = pkg_dir or _package_dir()
    text = str(exc)
    isa = env.get("PYENGINE_CPU_ISA")
    if isa and ("PYENGINE_CPU_ISA" in text or "set_cpu_isa" in text):
        if isa.strip().lower() not in ISAS:
            return (f"PYENGINE_CPU_ISA={isa} is not an instruction set pyengine knows; "
                    f"accepted: {', '.join(ISAS)} (or unset it to let the CPU decide)")
        return (f"PYENGINE_CPU_ISA={isa} is not supported by this CPU or build; use a lower one "
                f"({', '.join(ISAS[ISAS.index(isa.strip().lower()) + 1:])}) or unset it")
    installed = installed if installed is not None else installed_copy(pkg_dir)
    if installed and _is_source_checkout(pkg_dir):
        return (f"the source folder {os.path.dirname(pkg_dir)} shadows the installed pyengine ({installed}): "
                f"Python imports {pkg_dir}, which has no compiled kernels. Run from another folder, or install "
                "in editable mode (pip install -e .) so that this folder is the one installed")
    return ("pyengine._C (the compiled CPU kernels) is not built: install with `pip install .` (or `pip install "
            f"-e .` in a source checkout, or run scripts/dev_build.sh and set PYTHONPATH to it) ({text})")


def running_cli(argv=None, orig_argv=None) -> bool:
    """True when this process is the pyengine command line (console script or python -m pyengine)."""
    argv = sys.argv if argv is None else argv
    orig = getattr(sys, "orig_argv", None) if orig_argv is None else orig_argv
    if orig and len(orig) >= 3 and orig[1:3] == ["-m", "pyengine"]:
        return True
    return bool(argv) and os.path.basename(argv[0]) in ("pyengine", "pyengine.exe")


def explain_import_failure(exc: ImportError):
    message = describe(exc)
    if running_cli():
        print(f"pyengine: error: {message}", file=sys.stderr)
        raise SystemExit(2)
    raise ImportError(message) from exc
