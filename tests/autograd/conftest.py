"""Every test here runs at 1 and at 2 kernel threads (the thread_count fixture of tests/conftest.py)."""
import pytest


@pytest.fixture(autouse=True)
def _every_thread_count(thread_count):
    yield
