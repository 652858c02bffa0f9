"""A kernel family that has not landed yet on this branch makes its tests skip (with the kernel's name
in the reason) instead of failing: the autograd layer calls ``pyengine.kernels.cpu.<name>`` and the
missing attribute surfaces as an AttributeError naming it."""
import re

import pytest

_MISSING = re.compile(r"module 'pyengine\.kernels\.cpu' has no attribute '(\w+)'")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    outcome = yield
    exc = outcome.excinfo
    if exc is not None and issubclass(exc[0], AttributeError):
        m = _MISSING.search(str(exc[1]))
        if m:
            outcome.force_exception(pytest.skip.Exception(f"CPU kernel {m.group(1)} not available yet"))
