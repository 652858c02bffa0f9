"""Test-only fault injection for the kill -9 tests: with PYENGINE_TEST_KILL=MODE:N[:PHASE] in the
environment (and this folder first on PYTHONPATH), the process SIGKILLs itself N seconds (a float)
after fit() starts (MODE timer: a random instant of training, whatever it is doing then), at the
N-th checkpoint write (PHASE partial: half the temp file written; synced: temp file whole and fsynced,
not yet renamed; renamed: after the rename, before the folder's fsync) or during the N-th
validation (MODE validation: once its first batch is evaluated). Nothing happens without the variable."""
import os
import signal

_spec = os.environ.get("PYENGINE_TEST_KILL")
if _spec:
    import sys

    mode, n, *rest = _spec.split(":")
    n, phase = float(n), (rest[0] if rest else "partial")
    count = [0]

    def _die():
        os.kill(os.getpid(), signal.SIGKILL)

    import pyengine.io.safetensors_io as sio
    import pyengine.train
    import pyengine.train.fit  # noqa: F401

    fitmod = sys.modules["pyengine.train.fit"]     # the module (pyengine.train.fit is also the function)

    if mode == "checkpoint":
        original = sio._write_atomic

        def _write_atomic(path, data):
            if not os.path.basename(os.fspath(path)).startswith("checkpoint-"):
                return original(path, data)
            count[0] += 1
            if count[0] != n:
                return original(path, data)
            if phase == "renamed":
                real_replace = os.replace

                def replace_then_die_at_next_fsync(src, dst):
                    real_replace(src, dst)
                    os.fsync = lambda fd: _die()    # the folder's fsync comes after the rename
                os.replace = replace_then_die_at_next_fsync
                return original(path, data)
            import tempfile
            folder = os.path.dirname(os.path.abspath(os.fspath(path)))
            fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                f.write(data[:len(data) // 2] if phase == "partial" else data)
                f.flush()
                os.fsync(f.fileno())
            _die()
        sio._write_atomic = _write_atomic

    elif mode == "measure":     # records how long fit() takes (the timer kills are drawn from it)
        import time
        original_fit = fitmod.fit

        def fit(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return original_fit(*args, **kwargs)
            finally:
                with open(os.environ["PYENGINE_TEST_MEASURE_FILE"], "w") as f:
                    f.write(str(time.perf_counter() - t0))
        pyengine.train.fit = fit

    elif mode == "timer":
        import threading
        original_fit = fitmod.fit

        def fit(*args, **kwargs):
            t = threading.Timer(n, _die)
            t.daemon = True
            t.start()
            return original_fit(*args, **kwargs)
        pyengine.train.fit = fit

    elif mode == "validation":
        original_eval = fitmod.evaluate

        def evaluate(model, data, *args, **kwargs):
            count[0] += 1
            if count[0] != n:
                return original_eval(model, data, *args, **kwargs)

            import copy

            class Dying(type(data)):
                def __iter__(self):
                    for batch in super().__iter__():
                        yield batch
                        _die()      # once the first batch is evaluated
            dying = copy.copy(data)
            dying.__class__ = Dying
            return original_eval(model, dying, *args, **kwargs)
        fitmod.evaluate = evaluate
