"""pyengine.distributed at 2 ranks on this machine, started by the tests through the launcher
(mpiexec from the ``mpich`` wheel that the test extra installs).

Each 2-rank run (dist_worker.py) writes its results; the single-process references — one process,
the whole batch, the same seeds — are computed here, in this process, with no MPI at all.
"""
import os
import subprocess
import sys
import time

import numpy as np
import pytest

import pyengine as pe
from pyengine import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import dist_worker as W  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(pe.__file__)))


def _mpi_reason():
    """None when 2 ranks can be started here, else why not (checked in a child: no MPI in this process)."""
    code = "from mpi4py import MPI; import pyengine.distributed.launch as l; print(l.find_mpiexec())"
    try:
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                           env=_env(), cwd=ROOT)
    except subprocess.TimeoutExpired:
        return "checking for MPI timed out"
    if p.returncode != 0:
        return "MPI is not installed (pip install \".[distributed]\"; the test extra includes it): " + \
            (p.stderr.strip().splitlines() or ["?"])[-1]
    return None


def _env(**extra):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([ROOT] + [p for p in [os.environ.get("PYTHONPATH")] if p])
    env.setdefault("OMP_NUM_THREADS", "1")
    env.update(extra)
    return env


REASON = _mpi_reason()
pytestmark = pytest.mark.skipif(REASON is not None, reason=str(REASON))
# DistributedDataParallel runs on the engine's post-accumulate-grad hooks (PyTorch 2.1's API).
HOOKS = hasattr(pe.Tensor, "register_post_accumulate_grad_hook")
needs_hooks = pytest.mark.skipif(not HOOKS, reason="this engine has no Tensor.register_post_accumulate_grad_hook "
                                 "yet, which DistributedDataParallel needs")


def launch(scenario, out, timeout=240, **env):
    """Runs dist_worker.py SCENARIO at 2 ranks; returns (returncode, stderr, seconds)."""
    cmd = [sys.executable, "-m", "pyengine.distributed.launch", "--nproc", "2", "--timeout", str(timeout - 10),
           "--", sys.executable, os.path.join(HERE, "dist_worker.py"), scenario, str(out)]
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_env(**env), cwd=ROOT)
    return p.returncode, p.stdout + p.stderr, time.monotonic() - t0


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    scenarios = "sync_bn,sampler,collectives" + (",equivalence,no_sync,unused,buffers,rebuild" if HOOKS else "")
    rc, text, _ = launch(scenarios, out)
    assert rc == 0, text
    return lambda name, rank: np.load(out / f"rank{rank}-{name}.npz")


# ---- the single-process references --------------------------------------------------------------

def _reference(kind, dtype):
    model = W.make_model(kind, dtype, seed=100)          # rank 0's seed
    xs, ys = W.batches(kind, dtype)
    first = W.train(model, model, xs, ys, W.STEPS)
    return model, first


def _assert_close(got, want, tol, what):
    err = np.abs(got.astype(np.float64) - want.astype(np.float64)).max() if want.size else 0.0
    scale = max(1.0, float(np.abs(want).max())) if want.size else 1.0
    assert err <= tol * scale, f"{what}: max |2 ranks - 1 process| = {err:.3e} > {tol:g} x {scale:.3g}"


# float32, calibrated: the ranks sum their halves and add the two, one process sums the whole batch
# in another order, SyncBatchNorm keeps its statistics in float64 where the BatchNorm kernel uses
# float32, and 20 momentum steps (lr 0.05) carry the rounding along. Measured worst difference
# relative to max(1, |p|): CNN 3.4e-5 (features.0.weight), LSTM 3e-8. A real fault is far above:
# training on one half without averaging misses by 10.6 (CNN) and 0.14 (LSTM).
TOL = {("cnn", np.float64): 1e-12, ("lstm", np.float64): 1e-12, ("cnn", np.float32): 1e-4,
       ("lstm", np.float32): 1e-6}


@needs_hooks
@pytest.mark.parametrize("kind", ["cnn", "lstm"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_two_ranks_equal_one_process(results, kind, dtype):
    tag = f"{kind}-{np.dtype(dtype).name}"
    model, first = _reference(kind, dtype)
    for rank in (0, 1):
        res = results("equivalence", rank)
        for k, g in first.items():
            _assert_close(res[f"{tag}.grad.{k}"], g, TOL[kind, dtype], f"{tag} rank {rank} first gradient of {k}")
        for k, v in model.state_dict().items():
            _assert_close(res[f"{tag}.final.{k}"], v._data, TOL[kind, dtype],
                          f"{tag} rank {rank} {k} after {W.STEPS} SGD-momentum steps")


@needs_hooks
def test_float64_run_uses_several_buckets(results):
    assert len(results("equivalence", 0)["cnn-float64.buckets"]) > 3
    assert len(results("equivalence", 0)["lstm-float64.buckets"]) > 1


@needs_hooks
@pytest.mark.parametrize("kind", ["cnn", "lstm"])
def test_construction_takes_rank0_parameters(results, kind):
    want = W.make_model(kind, np.float64, seed=100)      # rank 1 was built from seed 101
    other = W.make_model(kind, np.float64, seed=101)
    for rank in (0, 1):
        res = results("equivalence", rank)
        for k, v in want.state_dict().items():
            np.testing.assert_array_equal(res[f"{kind}-float64.init.{k}"], v._data, err_msg=f"rank {rank} {k}")
    assert any(not np.array_equal(v._data, want.state_dict()[k]._data)
               for k, v in other.state_dict().items() if v._data.dtype.kind == "f")


@needs_hooks
def test_no_sync_accumulates_like_one_batch_of_k_times_b(results):
    model = W.make_model("lstm", np.float64, seed=7)
    xs, ys = W.batches("lstm", np.float64, steps=3)
    x = pe.tensor(xs.reshape(-1, *xs.shape[2:]))
    y = pe.tensor(ys.reshape(-1))
    nn.CrossEntropyLoss()(model(x), y).backward(pe.tensor(np.array(3.0)))   # mean over k·B, times k micro-batches
    r0, r1 = results("no_sync", 0), results("no_sync", 1)
    for k, p in model.named_parameters():
        _assert_close(r0[f"grad.{k}"], p.grad._data, 1e-12, f"rank 0 accumulated gradient of {k}")
        _assert_close(r1[f"grad.{k}"], p.grad._data, 1e-12, f"rank 1 accumulated gradient of {k}")
        assert not np.allclose(r0[f"local0.{k}"], r1[f"local0.{k}"]), f"{k}: no_sync still communicated"


@needs_hooks
def test_buckets_follow_the_order_gradients_arrive_in(results):
    for rank in (0, 1):
        r = results("rebuild", rank)
        assert list(r["before"]) == ["body.bias", "body.weight", "head.bias", "head.weight"]   # reversed registration
        assert list(r["after"][:2]) == ["head.bias", "head.weight"] or \
            list(r["after"][:2]) == ["head.weight", "head.bias"], list(r["after"])             # backward's order
    np.testing.assert_array_equal(results("rebuild", 0)["grad"], results("rebuild", 1)["grad"])


@needs_hooks
def test_broadcast_buffers(results):
    r0, r1 = results("buffers", 0), results("buffers", 1)
    np.testing.assert_array_equal(r0["bb1"], r1["bb1"])          # rank 0's running statistics everywhere
    assert np.abs(r0["bb0"] - r1["bb0"]).max() > 1e-6             # each rank its own without it


def test_sync_batchnorm_equals_batchnorm_on_the_whole_batch(results):
    rng = np.random.default_rng(5)
    x_all = rng.standard_normal((8, 3, 4, 5)) * 2 + 1
    g_all = rng.standard_normal((8, 3, 4, 5))
    bn = nn.BatchNorm2d(3, dtype=np.float64)
    bn.weight._data[...] = [0.5, 1.5, -2.0]
    bn.bias._data[...] = [0.1, -0.2, 0.3]
    x = pe.tensor(x_all, requires_grad=True)
    y = bn(x)
    (y * pe.tensor(g_all)).sum().backward()
    r0, r1 = results("sync_bn", 0), results("sync_bn", 1)
    _assert_close(np.concatenate([r0["y"], r1["y"]]), y._data, 1e-12, "output")
    _assert_close(np.concatenate([r0["gx"], r1["gx"]]), x.grad._data, 1e-12, "input gradient")
    # Parameter gradients are local sums; DDP averages them, the whole batch's are their sum.
    _assert_close(r0["gw"] + r1["gw"], bn.weight.grad._data, 1e-12, "weight gradient")
    _assert_close(r0["gb"] + r1["gb"], bn.bias.grad._data, 1e-12, "bias gradient")
    for r in (r0, r1):
        _assert_close(r["rm"], bn.running_mean._data, 1e-12, "running mean")
        _assert_close(r["rv"], bn.running_var._data, 1e-12, "running variance (unbiased)")


def test_sampler_shards_disjoint_covering_same_order(results):
    r0, r1 = results("sampler", 0), results("sampler", 1)
    for e in (0, 1):
        a, b = r0[f"drop0.epoch{e}"], r1[f"drop0.epoch{e}"]
        assert len(a) == len(b) == 12
        assert set(a) | set(b) == set(range(23))                      # covering
        assert len(set(a) & set(b)) == 1                             # one index repeated as padding
        a, b = r0[f"drop1.epoch{e}"], r1[f"drop1.epoch{e}"]
        assert len(a) == len(b) == 11 and not set(a) & set(b)          # disjoint, the tail dropped
    assert not np.array_equal(r0["drop0.epoch0"], r0["drop0.epoch1"])  # set_epoch reshuffles
    sampler = __import__("pyengine.distributed", fromlist=["x"]).DistributedSampler
    for r, res in ((0, r0), (1, r1)):       # the same permutation on every rank: rebuildable anywhere
        s = sampler(list(range(23)), num_replicas=2, rank=r, seed=3)
        s.set_epoch(1)
        np.testing.assert_array_equal(res["drop0.epoch1"], list(s))
        np.testing.assert_array_equal(res["loader.epoch1"], list(s))   # DataLoader(sampler=) follows it


def test_collectives(results):
    r0, r1 = results("collectives", 0), results("collectives", 1)
    a0, a1 = np.arange(7), np.arange(7) + 10
    for dt in ("float32", "float64", "int64", "int32"):
        for r in (r0, r1):
            np.testing.assert_array_equal(r[f"all_reduce.sum.{dt}"], a0 + a1)
            np.testing.assert_array_equal(r[f"all_reduce.max.{dt}"], a1)
            np.testing.assert_array_equal(r[f"all_reduce.min.{dt}"], a0)
            want = (a0 + a1) / 2 if dt.startswith("float") else (a0 + a1) // 2
            np.testing.assert_array_equal(r[f"all_reduce.avg.{dt}"], want)
            assert r[f"all_reduce.sum.{dt}"].dtype == np.dtype(dt)
    for r in (r0, r1):
        np.testing.assert_array_equal(r["async_tensor"], np.full((2, 3), 3.0))
        np.testing.assert_array_equal(r["broadcast_from1"], [1, 1, 1, 1])
        np.testing.assert_array_equal(r["all_gather"], [np.full((2, 2), 0.5), np.full((2, 2), 1.5)])
        np.testing.assert_array_equal(r["objects"], [0, 3])
        assert (r["big"] == 3).all()


@needs_hooks
def test_unused_parameters(results):
    r0, r1 = results("unused", 0), results("unused", 1)
    for r in (r0, r1):
        # head a is used by rank 0 only, b by rank 1 only: each gets half of the user's gradient
        assert np.isnan(r["grad.never.weight"]).all(), "a parameter no rank used must keep .grad None"
        np.testing.assert_allclose(r["grad.a.bias"], [1.5, 1.5])      # d(sum)/d bias = 3 rows, halved
        np.testing.assert_allclose(r["grad.b.bias"], [1.5, 1.5])
    np.testing.assert_array_equal(r0["grad.body.weight"], r1["grad.body.weight"])
    for r in (r0, r1):
        msg = str(r["error"])
        assert "find_unused_parameters" in msg and "b.weight" in msg, msg


# ---- faults --------------------------------------------------------------------------------------

@needs_hooks
@pytest.mark.parametrize("how", ["raise", "kill"])
def test_a_failing_rank_ends_the_job_with_its_name(tmp_path, how):
    rc, text, seconds = launch(f"fault-{how}", tmp_path, timeout=120)
    assert rc != 0
    assert seconds < 60, f"the job took {seconds:.0f} s to end after rank 1 failed"
    assert "rank 1" in text, text
    if how == "raise":
        assert "ValueError: rank 1 gave up on purpose" in text, text
        # rank 0 saw the notice itself and said so
        assert "[rank 0]" in text and "PeerFailedError" in text and "rank 1 (pid" in text, text
    else:
        assert "killed by signal 9" in text, text
    assert not (tmp_path / "rank0.finished").exists()
    assert (tmp_path / "rank0.started").exists() and (tmp_path / "rank1.started").exists()


@needs_hooks
def test_a_stopped_rank_times_out_with_its_state(tmp_path):
    rc, text, seconds = launch("fault-stop", tmp_path, timeout=120, PYENGINE_DIST_TIMEOUT="5")
    assert rc != 0
    assert seconds < 60, f"{seconds:.0f} s"
    assert "DistributedTimeoutError" in text and "rank 1" in text and "is stopped" in text, text


# ---- fit(execution_environment='parallel'): checkpoints and resume ------------------------------

@needs_hooks
def test_fit_parallel_checkpoints_survive_a_killed_rank_and_resume(tmp_path):
    from pyengine.io import load_file
    whole = tmp_path / "whole"
    whole.mkdir()
    rc, text, _ = launch("fit", whole)
    assert rc == 0, text
    w0, w1 = np.load(whole / "rank0-fit.npz"), np.load(whole / "rank1-fit.npz")
    for k in w0.files:
        np.testing.assert_array_equal(w0[k], w1[k], err_msg=f"{k}: ranks disagree")   # averaged metrics too
    # rank 0 alone wrote the checkpoints
    assert sorted(os.listdir(whole / "ckpt")) == [f"checkpoint-epoch00{e}.safetensors" for e in (1, 2, 3)]

    cut = tmp_path / "cut"
    cut.mkdir()
    rc, text, seconds = launch("fit", cut, PYE_KILL_EPOCH="1")
    assert rc != 0 and "rank 1" in text and "killed by signal 9" in text, text
    assert seconds < 60
    files = sorted(os.listdir(cut / "ckpt"))
    assert files[:1] == ["checkpoint-epoch001.safetensors"], files
    for f in files:                       # whatever is there is whole: a torn file would not load
        if f.endswith(".safetensors"):
            load_file(str(cut / "ckpt" / f))
    assert "checkpoint-epoch003.safetensors" not in files
    rc, text, _ = launch("fit", cut, PYE_RESUME=str(cut / "ckpt" / "checkpoint-epoch001.safetensors"))
    assert rc == 0, text
    resumed, ref = np.load(cut / "rank0-fit.npz"), w0
    for k in ref.files:
        np.testing.assert_array_equal(resumed[k], ref[k], err_msg=f"{k}: the resumed run differs")


@needs_hooks
def test_cli_nproc_and_mpiexec(tmp_path):
    from pyengine.distributed.launch import find_mpiexec
    args = ["train", "--model", "mlp", "--epochs", "1", "--batch-size", "64", "--no-plot"]
    p = subprocess.run([sys.executable, "-m", "pyengine", *args, "--nproc", "2", "--output", str(tmp_path / "a")],
                       capture_output=True, text=True, timeout=240, env=_env(), cwd=ROOT)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.count("validation accuracy:") == 1, p.stdout       # rank 0 alone prints
    assert os.listdir(tmp_path / "a") == ["model.safetensors"]
    mpiexec, _ = find_mpiexec()
    cmd = [mpiexec, "-n", "2", sys.executable, "-m", "pyengine", *args, "--output", str(tmp_path / "b")]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=_env(), cwd=ROOT)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.count("validation accuracy:") == 1, p.stdout
    assert os.listdir(tmp_path / "b") == ["model.safetensors"]
    acc = [line for line in p.stdout.splitlines() if line.startswith("validation accuracy")]
    assert acc and float(acc[0].split()[2].rstrip("%")) > 50, p.stdout


@needs_hooks
def test_readme_example_runs_at_two_ranks(tmp_path):
    import re
    readme = os.path.join(ROOT, "README.md")
    if not os.path.exists(readme):
        pytest.skip("README.md not next to the tests (installed package)")
    with open(readme, encoding="utf-8") as f:
        section = f.read().split("## Data-parallel training", 1)[1]
    script = tmp_path / "readme_example.py"
    script.write_text(re.search(r"```python\n(.*?)```", section, re.S).group(1))
    p = subprocess.run([sys.executable, "-m", "pyengine.distributed.launch", "--nproc", "2", "--timeout", "200", "--",
                        sys.executable, str(script)], capture_output=True, text=True, timeout=240, env=_env(),
                       cwd=str(tmp_path))
    assert p.returncode == 0, p.stdout + p.stderr
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("epoch")]
    assert len(lines) == 2 and all(ln.endswith("on 2 ranks") for ln in lines), p.stdout


# ---- the NCCL path on a stand-in GPU -------------------------------------------------------------

@needs_hooks
def test_nccl_path_on_fake_gpu(tmp_path):
    rc, text, _ = launch("nccl_fake", tmp_path)
    assert rc == 0, text
    r0, r1 = np.load(tmp_path / "rank0-nccl_fake.npz"), np.load(tmp_path / "rank1-nccl_fake.npz")
    for r in (r0, r1):
        np.testing.assert_allclose(r["avg"], np.arange(6) + 0.5)
        np.testing.assert_array_equal(r["bcast"], [1, 1, 1])
        np.testing.assert_array_equal(r["gather"], [[0.25, 0.25], [1.25, 1.25]])
        assert r["uid_same"]
        assert int(r["nbuckets"]) >= 2
        kinds = list(r["log_kinds"])
        assert kinds.count("allReduce") == int(r["nbuckets"]), kinds
        # each bucket's allreduce is enqueued after the side stream waited for the caller's stream,
        # and the caller's stream waits for it before the gradients are used
        first = kinds.index("allReduce")
        assert "wait_event" in kinds[:first] and kinds[-1] == "wait_event", kinds
    # the reference: one process, the whole batch, rank 0's initial weights
    rng = np.random.default_rng(9)
    w1, b1, w2, b2 = (rng.standard_normal(s) for s in ((5, 7), (7,), (7, 3), (3,)))
    x = r0["x_all"]
    h = x @ w1 + b1
    y = h @ w2 + b2
    gy = y / len(x)
    want = {"w2": h.T @ gy, "b2": gy.sum(0), "w1": x.T @ (gy @ w2.T), "b1": (gy @ w2.T).sum(0)}
    for r in (r0, r1):
        for k, v in want.items():
            np.testing.assert_allclose(r[f"grad.{k}"], v, rtol=1e-12, atol=1e-12, err_msg=k)
            assert r[f"is_device.{k}"], f"{k}: .grad left the (fake) device"
        np.testing.assert_array_equal(r["param.w1"], w1)
        np.testing.assert_array_equal(r["staged"], np.arange(4) * 3.0)     # backend mpi: through the host
        assert r["staged_is_device"] and int(r["staged_log"]) == 0
