"""Helpers shared by tests: running Python in a fresh process against the same pyengine."""
import os
import subprocess
import sys

import pyengine


def child_env(env=None):
    """The environment for a child Python that must import the same pyengine as this process: its
    folder first on PYTHONPATH and PYTHONSAFEPATH set, so that neither ``python -c`` nor ``python -m``
    puts the current folder (a source checkout without compiled kernels) in front of it."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(pyengine.__file__)))
    full = dict(os.environ, **(env or {}))
    full["PYTHONPATH"] = os.pathsep.join([root] + [p for p in [os.environ.get("PYTHONPATH")] if p])
    full["PYTHONSAFEPATH"] = "1"
    return full


def run_python(*args, code=None, env=None, timeout=300, input=None):
    """Runs ``python -c code`` or ``python ARGS`` in a fresh process that imports the same pyengine
    as this one, from a neutral folder (a source checkout's pyengine/ must not shadow the installed
    package). A crash (segfault) shows as a negative return code instead of killing the suite."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(pyengine.__file__)))
    full = child_env(env)
    cmd = [sys.executable, *(["-c", code] if code is not None else args)]
    return subprocess.run(cmd, capture_output=True, text=True, env=full, timeout=timeout, input=input,
                          cwd=os.path.dirname(root))
