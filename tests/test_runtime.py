"""Version, instruction-set choice, threads, info() and the CLI's info command."""
import pytest

import pyengine
from pyengine import _C
from support import run_python


def test_info_reports_the_essentials(capsys):
    d = pyengine.info()
    out = capsys.readouterr().out
    assert d["version"] == pyengine.__version__ and d["version"]
    assert d["cpu_isa"] in ("avx512", "avx2", "generic")
    assert d["cpu_isa"] in out and "CUDA built" in out and " thread" in out
    assert isinstance(d["cuda_available"], bool)


def test_threads_round_trip():
    before = pyengine.get_num_threads()
    try:
        pyengine.set_num_threads(1)
        assert pyengine.get_num_threads() == 1
    finally:
        pyengine.set_num_threads(before)
    with pytest.raises(ValueError, match="n must be >= 1, got 0"):
        pyengine.set_num_threads(0)
    with pytest.raises(TypeError, match="n must be an int"):
        pyengine.set_num_threads(1.5)


def _run(code, *args, **env):
    return run_python(*args, code=code, env=env)


def test_omp_num_threads_is_respected():
    r = _run("import pyengine; print(pyengine.get_num_threads())", OMP_NUM_THREADS="1")
    assert r.returncode == 0, r.stderr
    if _C.openmp_enabled():
        assert r.stdout.strip() == "1"


@pytest.mark.parametrize("isa", list(_C.supported_cpu_isas()))
def test_cpu_isa_override(isa):
    r = _run("import pyengine; print(pyengine.cpu_isa())", PYENGINE_CPU_ISA=isa)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == isa


def test_bad_isa_override_is_a_clear_error():
    r = _run("import pyengine", PYENGINE_CPU_ISA="sse9")
    assert r.returncode != 0
    assert "isa must be one of 'avx512', 'avx2', 'generic', got 'sse9'" in r.stderr
    with pytest.raises(ValueError, match="isa must be one of"):
        _C.set_cpu_isa("neon")


def test_cli_info_runs():
    r = _run(None, "-m", "pyengine", "info")
    assert r.returncode == 0, r.stderr
    assert "CPU ISA" in r.stdout and pyengine.__version__ in r.stdout


def test_cuda_module_reports_without_a_gpu():
    mod = pytest.importorskip("pyengine._cuda")
    n = mod.device_count()
    assert n >= 0
    assert pyengine.cuda.is_available() == (n > 0)
