"""Test-only fault injection for the kill -9 tests: with PYENGINE_TEST_KILL=MODE:N[:PHASE] in the
environment (and this folder first on PYTHONPATH), the process SIGKILLs itself N seconds (a float)
after fit() starts (MODE timer: a random instant of training, whatever it is doing then), at the
N-th checkpoint write (PHASE partial: half the temp file written; synced: temp file whole and fsynced,
not yet renamed; renamed: after the rename, before the folder's fsync) or during the N-th
validation (MODE validation: once its first batch is evaluated), or in the middle of the N-th
training step's backward (MODE step: once the first parameter's gradient of that step is accumulated;
in a data-parallel run the peers are then waiting in the step's allreduce). Nothing happens without
the variable. With PYENGINE_TEST_KILL_RANK=R as well, only rank R of an MPI job (the rank mpiexec
announces in PMI_RANK / OMPI_COMM_WORLD_RANK) arms the hook: every other process, the launcher
included, runs untouched."""
import os
import signal


def _armed_here():
    want = os.environ.get("PYENGINE_TEST_KILL_RANK")
    if want is None:
        return True
    for var in ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "MV2_COMM_WORLD_RANK"):
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var]) == int(want)
    return False      # not a rank (the launcher, mpiexec's helpers)


_spec = os.environ.get("PYENGINE_TEST_KILL") if _armed_here() else None
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

    elif mode == "step":
        original_fit = fitmod.fit

        def fit(model, *args, **kwargs):
            def count_step(param):
                count[0] += 1
                if count[0] == n:
                    _die()
            params = [p for p in model.parameters() if p.requires_grad]
            handle = params[0].register_post_accumulate_grad_hook(count_step)
            try:
                return original_fit(model, *args, **kwargs)
            finally:
                handle.remove()
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
