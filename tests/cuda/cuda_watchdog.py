"""A per-test time limit for the CUDA tests when pytest-timeout is not installed.

With PYENGINE_TEST_TIMEOUT=S set (bench/gpu_check.sh sets it), every test gets S seconds: past them a
watchdog thread prints the test's name, its captured output and every thread's stack to the real
stderr, and ends the process with status 3, so that a hung kernel or a test waiting forever on the
device ends the pytest run at once, naming the test, instead of using up the whole step's budget.
A thread and not SIGALRM: the hang is usually inside a C call (a device wait) that a Python signal
handler would never interrupt. Stands down when pytest-timeout's --timeout is active.
"""
from __future__ import annotations

import faulthandler
import os
import sys
import threading

import pytest

EXIT_STATUS = 3


def _limit() -> float:
    try:
        return float(os.environ.get("PYENGINE_TEST_TIMEOUT", "") or 0)
    except ValueError:
        return 0.0


def _expire(item, seconds):
    capman = item.config.pluginmanager.getplugin("capturemanager")
    out = err = ""
    if capman is not None:
        capman.suspend_global_capture(in_=True)
        out, err = capman.read_global_capture()
    stream = sys.stderr
    stream.write(f"\n+++ {item.nodeid}: over its {seconds:g} s limit (PYENGINE_TEST_TIMEOUT); "
                 f"stopping the run +++\n")
    if out:
        stream.write(f"--- captured stdout ---\n{out}\n")
    if err:
        stream.write(f"--- captured stderr ---\n{err}\n")
    stream.write("--- stacks ---\n")
    stream.flush()
    faulthandler.dump_traceback(file=stream, all_threads=True)
    stream.flush()
    os._exit(EXIT_STATUS)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    seconds = _limit()
    if seconds <= 0 or item.config.getoption("timeout", None):
        yield
        return
    timer = threading.Timer(seconds, _expire, (item, seconds))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
