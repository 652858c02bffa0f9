"""Loads pyengine._C, and when it cannot, says which of three reasons it is and what to do:

1. PYENGINE_CPU_ISA names an instruction set that is unknown, or not supported by this CPU or build
   (the extension checks it when it loads);
2. the pyengine being imported is a source checkout with no compiled module next to it, while an
   installed pyengine exists elsewhere: the current folder (first on sys.path) shadows the install;
3. nothing was built at all.

When the process is the ``pyengine`` command line (``pyengine ...`` or ``python -m pyengine ...``),
the reason is printed as one line on stderr and the process exits with status 2: the command line's
own error handling cannot run, because the failure happens while its package is being imported.
Everywhere else the reason is an ImportError, chained to the original one.
"""
try:
    from ... import _C  # noqa: F401
except ImportError as exc:
    from ..._diagnose import explain_import_failure
    explain_import_failure(exc)
    raise  # explain_import_failure always raises; this keeps linters and readers sure of it
