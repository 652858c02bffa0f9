"""Loads pyengine._C with a message that says how to build it when it is missing."""
try:
    from ... import _C  # noqa: F401
except ImportError as exc:  # pragma: no cover - only without a build
    raise ImportError(
        "pyengine._C (the compiled CPU kernels) is not built: install with `pip install .` or run "
        f"scripts/dev_build.sh in a source checkout ({exc})") from exc
