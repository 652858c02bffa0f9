"""The launcher: ``python -m pyengine.distributed.launch --nproc N -- COMMAND...`` (and
``pyengine train --nproc N``) starts N ranks on this machine through mpiexec and reports which rank
failed when the job does.

What it takes out of the user's hands:
- which mpiexec: the one beside this Python (the ``mpich`` wheel of the ``distributed`` extra puts
  it in the environment's bin/), else the first on PATH; MPICH's Hydra and Open MPI are told apart
  by ``mpiexec --version``.
- Open MPI refuses to run as root without --allow-run-as-root and OMPI_ALLOW_RUN_AS_ROOT(_CONFIRM);
  it refuses more ranks than cores without --oversubscribe; its CMA single-copy transport fails in
  containers without ptrace rights (turned off). MPICH needs none of this; local runs use Hydra's
  fork launcher (no ssh) and, when this machine's host name does not resolve, localhost. Without a
  writable /dev/shm, MPICH is told to use its network path for local ranks too (MPIR_CVAR_NOLOCAL)
  and Open MPI to keep its shared-memory files in the temporary folder.
- OMP_NUM_THREADS: the cores divided among the ranks (unless set), so N ranks do not each start
  a team of all cores and wait for each other.
- Reporting: every rank writes its state (running / done / failed with its exception) into a run
  folder (PYENGINE_DIST_RUNDIR). When mpiexec ends badly, the launcher names the rank that raised,
  or — for a rank killed by a signal, which cannot speak for itself and whose peers mpiexec kills at
  once — the rank whose pid mpiexec reported, with the signal.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

__all__ = ["launch", "find_mpiexec", "mpiexec_command", "record_status", "world_size_from_env", "rank_from_env",
           "relaunch", "main"]

# What MPICH's Hydra (PMI_*), Open MPI (OMPI_COMM_WORLD_*) and MVAPICH (MV2_*) tell each rank.
_SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE", "PYENGINE_DIST_NPROC")
_RANK_VARS = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "MV2_COMM_WORLD_RANK")


def world_size_from_env() -> int:
    """The job's size as mpiexec announced it to this process (1 outside an MPI job); reads no MPI."""
    for v in _SIZE_VARS:
        s = os.environ.get(v, "")
        if s.isdigit() and int(s) > 0:
            return int(s)
    return 1


def rank_from_env() -> int:
    for v in _RANK_VARS:
        s = os.environ.get(v, "")
        if s.isdigit():
            return int(s)
    return 0


def relaunch(nproc: int, argv, add=()) -> int:
    """Runs ``python -m pyengine ARGV`` (less any --nproc option, plus ``add``) as ``nproc`` ranks."""
    rest, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a == "--nproc":
            skip = True
            continue
        if a.startswith("--nproc="):
            continue
        rest.append(a)
    return launch(nproc, [sys.executable, "-m", "pyengine", *rest, *add])


def record_status(rank: int, state: str, message: str = "") -> None:
    """Writes this rank's state into the launcher's run folder (nothing when there is none)."""
    d = os.environ.get("PYENGINE_DIST_RUNDIR")
    if not d or not os.path.isdir(d):
        return
    info = {"rank": int(rank), "pid": os.getpid(), "host": socket.gethostname(), "state": state,
            "message": message, "time": time.time()}
    path = os.path.join(d, f"rank-{int(rank)}.json")
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w") as f:
            json.dump(info, f)
        os.replace(tmp, path)
    except OSError:
        pass


def find_mpiexec():
    """(path, flavour) of the mpiexec to use; flavour is 'mpich', 'openmpi' or 'unknown'."""
    here = os.path.dirname(os.path.abspath(sys.executable))
    path = None
    for cand in (os.path.join(here, "mpiexec"), shutil.which("mpiexec"), shutil.which("mpirun")):
        if cand and os.path.isfile(cand) and os.access(cand, os.X_OK):
            path = cand
            break
    if path is None:
        raise FileNotFoundError('no mpiexec found beside this Python or on PATH; '
                                'pip install "pyengine[distributed]" installs MPICH with its mpiexec')
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
        text = out.stdout + out.stderr
    except (OSError, subprocess.TimeoutExpired):
        text = ""
    if "HYDRA" in text or "MPICH" in text or "Intel(R) MPI" in text:
        flavour = "mpich"
    elif "Open MPI" in text or "OpenRTE" in text or "prte" in text.lower():
        flavour = "openmpi"
    else:
        flavour = "unknown"
    return path, flavour


def _resolves(host):
    try:
        socket.getaddrinfo(host, None)
        return True
    except OSError:
        return False


def mpiexec_command(nproc: int, argv, env=None):
    """(command list, environment) that runs ``argv`` as ``nproc`` ranks on this machine."""
    path, flavour = find_mpiexec()
    env = dict(os.environ if env is None else env)
    cores = os.cpu_count() or 1
    env.setdefault("OMP_NUM_THREADS", str(max(1, cores // nproc)))
    env["PYENGINE_DIST_NPROC"] = str(nproc)
    cmd = [path]
    shm_ok = os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK)
    if not shm_ok:                      # containers without a writable /dev/shm: no shared-memory transport
        if flavour == "openmpi":
            env.setdefault("OMPI_MCA_btl_sm_backing_directory", tempfile.gettempdir())
        else:
            env.setdefault("MPIR_CVAR_NOLOCAL", "1")
    if flavour == "openmpi":
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
            env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
            cmd.append("--allow-run-as-root")
        if nproc > cores:
            cmd.append("--oversubscribe")
        env.setdefault("OMPI_MCA_btl_vader_single_copy_mechanism", "none")
        env.setdefault("OMPI_MCA_smsc", "^cma")
        cmd += ["-n", str(nproc)]
    else:
        if flavour == "mpich":
            cmd += ["-launcher", "fork"]
            if not _resolves(socket.gethostname()):
                cmd += ["-hosts", "localhost"]
        cmd += ["-n", str(nproc)]
    return cmd + list(argv), env


_PID_LINE = re.compile(r"PID (\d+)")                                      # MPICH's Hydra
_EXIT_CODE = re.compile(r"EXIT CODE: (\d+)")
_OMPI_LINE = re.compile(r"rank (\d+) with PID (\d+) on node (\S+) exited on\s+signal (\d+)")   # Open MPI


def _pump(src, dst, keep):
    for line in iter(src.readline, b""):
        keep.append(line.decode(errors="replace"))
        del keep[:-200]
        try:
            dst.write(line)
            dst.flush()
        except (OSError, ValueError):
            pass
    src.close()


def _signal_name(code):
    try:
        return signal.Signals(code).name
    except ValueError:
        return f"signal {code}"


def _report(run_dir, nproc, rc, launcher_text):
    """What went wrong, one clause per failed rank: a rank that raised (not merely because a peer
    failed) first; else the ranks mpiexec saw killed by a signal; else what the survivors said."""
    states = {}
    for r in range(nproc):
        try:
            with open(os.path.join(run_dir, f"rank-{r}.json")) as f:
                states[r] = json.load(f)
        except (OSError, ValueError):
            pass
    by_pid = {s["pid"]: r for r, s in states.items()}
    raised = [r for r, s in states.items() if s["state"] == "failed"]
    primary = [r for r in raised if not s_is_peer(states[r])]
    lines = [f"rank {r} (pid {states[r]['pid']} on {states[r]['host']}) raised {states[r]['message']}"
             for r in primary]
    if lines:
        return lines
    seen = set()
    for m in _OMPI_LINE.finditer(launcher_text):
        r, code = int(m.group(1)), int(m.group(4))
        seen.add(r)
        lines.append(f"rank {r} (pid {m.group(2)} on {m.group(3)}) was killed by signal {code} ({_signal_name(code)})")
    codes = _EXIT_CODE.findall(launcher_text)
    for i, pid in enumerate(dict.fromkeys(int(p) for p in _PID_LINE.findall(launcher_text))):
        r = by_pid.get(pid)
        if r is None or r in seen:
            continue
        seen.add(r)
        code = int(codes[i]) if i < len(codes) else None
        how = f"was killed by signal {code} ({_signal_name(code)})" if code and 0 < code < 64 else \
            f"exited with code {code}"
        lines.append(f"rank {r} (pid {pid} on {states[r]['host']}) {how}")
    if lines:
        return lines
    lines = [f"rank {r} (pid {states[r]['pid']} on {states[r]['host']}) raised {states[r]['message']}" for r in raised]
    missing = [r for r in range(nproc) if r not in states]
    if missing:
        lines.append(f"rank(s) {', '.join(map(str, missing))} never started (see the output above)")
    return lines or ["no rank reported an error (see mpiexec's output above)"]


def s_is_peer(state):
    return state.get("message", "").startswith("PeerFailedError")


def launch(nproc: int, argv, timeout: float | None = None, env=None, quiet: bool = False) -> int:
    """Runs ``argv`` as ``nproc`` ranks; returns the job's exit status (0 when every rank succeeded).
    timeout: seconds for the whole job, after which it is killed (None: no limit)."""
    if isinstance(nproc, bool) or not isinstance(nproc, int) or nproc < 1:
        raise ValueError(f"launch: nproc must be a positive int, got {nproc!r}")
    if not argv:
        raise ValueError("launch: no command to run")
    run_dir = tempfile.mkdtemp(prefix="pyengine-dist-")
    cmd, env = mpiexec_command(nproc, argv, env)
    env["PYENGINE_DIST_RUNDIR"] = run_dir
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    kept_out, kept_err = [], []
    pumps = [threading.Thread(target=_pump, args=(proc.stdout, sys.stdout.buffer, kept_out), daemon=True),
             threading.Thread(target=_pump, args=(proc.stderr, sys.stderr.buffer, kept_err), daemon=True)]
    for t in pumps:
        t.start()

    def kill_job():
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass

    prev = {}

    def forward(signum, frame):
        try:
            os.killpg(proc.pid, signum)
        except OSError:
            pass
    if threading.current_thread() is threading.main_thread():
        for s in (signal.SIGINT, signal.SIGTERM):
            prev[s] = signal.signal(s, forward)
    timed_out = False
    try:
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            kill_job()
            rc = proc.wait()
    finally:
        for s, h in prev.items():
            signal.signal(s, h)
    for t in pumps:
        t.join(timeout=5)
    kill_job()                          # nothing of the job outlives it
    if rc != 0 or timed_out:
        lines = _report(run_dir, nproc, rc, "".join(kept_out + kept_err))
        if timed_out:
            lines.insert(0, f"the job did not finish within {timeout:g} s and was killed")
        if not quiet:
            sys.stderr.write("pyengine: the distributed job failed: " + "; ".join(lines) +
                             "; the other ranks were stopped\n")
            sys.stderr.flush()
    shutil.rmtree(run_dir, ignore_errors=True)
    return rc if rc != 0 else (124 if timed_out else 0)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m pyengine.distributed.launch",
                                description="Runs a command as N ranks of one MPI job on this machine.")
    p.add_argument("--nproc", type=int, required=True, help="number of ranks")
    p.add_argument("--timeout", type=float, default=None, help="kill the whole job after this many seconds")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- python script.py args...")
    a = p.parse_args(argv)
    cmd = a.command[1:] if a.command[:1] == ["--"] else a.command
    if a.nproc < 1:
        p.error(f"--nproc must be a positive integer, got {a.nproc}")
    if not cmd:
        p.error("no command given (python -m pyengine.distributed.launch --nproc 2 -- python train.py)")
    try:
        return launch(a.nproc, cmd, timeout=a.timeout)
    except FileNotFoundError as e:
        print(f"pyengine: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
