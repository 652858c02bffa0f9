"""One rank of the 2-rank tests (started by test_distributed.py through the launcher):
``python dist_worker.py SCENARIO OUTDIR``. Each scenario writes what the test compares into
OUTDIR/rank<R>-<scenario>.npz; the single-process references are computed by the test itself.

The data of every scenario comes from fixed seeds shared with the tests (see ``batches``), so
rank r trains on its half of the very batches the single process sees whole.
"""
import os
import signal
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import pyengine as pe  # noqa: E402
from pyengine import nn, optim  # noqa: E402
from pyengine import distributed as dist  # noqa: E402

STEPS, BATCH = 20, 8


def batches(kind, dtype, steps=STEPS, batch=BATCH):
    """(inputs (steps, batch, ...), targets (steps, batch)) of a model kind, from a fixed seed."""
    rng = np.random.default_rng(42)
    if kind == "cnn":
        x = rng.random((steps, batch, 1, 28, 28))
        y = rng.integers(0, 10, (steps, batch))
    else:
        x = rng.standard_normal((steps, batch, 6, 5))       # (step, N, T, I): batch-first sequences
        y = rng.integers(0, 4, (steps, batch))
    return x.astype(dtype), y


class SeqClassifier(nn.Module):
    """LSTM(5 → 12) over (N, T, 5), the last hidden state → Linear(12 → 4)."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(5, 12, batch_first=True)
        self.head = nn.Linear(12, 4)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


def make_model(kind, dtype, seed):
    """The model of a kind, initialised from ``seed``; the CNN's BatchNorms made SyncBatchNorm."""
    from pyengine.train import DigitCNN
    pe.manual_seed(seed)
    m = DigitCNN() if kind == "cnn" else SeqClassifier()
    m = m.to(dtype)
    return m


def train(model, step_fn, xs, ys, steps, lr=0.05):
    opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    first = None
    for it in range(steps):
        out = step_fn(pe.tensor(xs[it]))
        loss = loss_fn(out, pe.tensor(ys[it]))
        opt.zero_grad()
        loss.backward()
        if first is None:
            first = {n: p.grad._data.copy() for n, p in model.named_parameters()}
        opt.step()
    return first


def _save(out, rank, name, **arrays):
    np.savez(os.path.join(out, f"rank{rank}-{name}.npz"), **arrays)


def scenario_equivalence(out):
    """DDP over both ranks, each on its half of every batch, for the CNN (SyncBatchNorm) and the
    LSTM in float64 and float32; every rank starts from its own seed."""
    r, n = dist.get_rank(), dist.get_world_size()
    res = {}
    for kind in ("cnn", "lstm"):
        for dtype in (np.float64, np.float32):
            tag = f"{kind}-{np.dtype(dtype).name}"
            model = make_model(kind, dtype, seed=100 + r)
            if kind == "cnn":
                model = dist.convert_sync_batchnorm(model)
            caps = dict(bucket_cap_mb=0.004, first_bucket_cap_mb=0.001) if dtype == np.float64 else {}
            ddp = dist.DistributedDataParallel(model, **caps)
            res[f"{tag}.buckets"] = np.array(ddp.bucket_sizes)
            for k, v in model.state_dict().items():
                res[f"{tag}.init.{k}"] = v._data.copy()
            xs, ys = batches(kind, dtype)
            h = BATCH // n
            first = train(model, ddp, xs[:, r * h:(r + 1) * h], ys[:, r * h:(r + 1) * h], STEPS)
            for k, v in first.items():
                res[f"{tag}.grad.{k}"] = v
            for k, v in model.state_dict().items():
                res[f"{tag}.final.{k}"] = v._data.copy()
    _save(out, r, "equivalence", **res)


def scenario_buffers(out):
    """Plain BatchNorm (not synchronised): with broadcast_buffers every forward starts from rank 0's
    running statistics; without, each rank keeps its own. Snapshot taken between the first conv and
    the first BatchNorm of the 4th forward (after the broadcast, before this forward's update)."""
    r, n = dist.get_rank(), dist.get_world_size()
    res = {}
    for bb in (True, False):
        model = make_model("cnn", np.float64, seed=3)
        ddp = dist.DistributedDataParallel(model, broadcast_buffers=bb)
        snap = []
        model.features[0].register_forward_hook(
            lambda m, a, o: snap.append(model.features[1].running_mean._data.copy()))
        xs, ys = batches("cnn", np.float64, steps=4)
        h = BATCH // n
        train(model, ddp, xs[:, r * h:(r + 1) * h], ys[:, r * h:(r + 1) * h], 4)
        res[f"bb{int(bb)}"] = snap[-1]
    _save(out, r, "buffers", **res)


def scenario_rebuild(out):
    """Registered head first, run last: the buckets are remade in the order gradients arrived."""
    r = dist.get_rank()

    class HeadFirst(nn.Module):
        def __init__(self):
            super().__init__()
            self.head = nn.Linear(6, 2)
            self.body = nn.Linear(3, 6)

        def forward(self, x):
            return self.head(self.body(x))

    pe.manual_seed(0)
    model = HeadFirst().double()
    ddp = dist.DistributedDataParallel(model, bucket_cap_mb=1e-6, first_bucket_cap_mb=1e-6)
    names = {id(p): n for n, p in model.named_parameters()}
    before = [names[id(b.params[0])] for b in ddp._buckets]
    x = pe.tensor(np.random.default_rng(r).standard_normal((4, 3)))
    for _ in range(3):
        ddp(x).sum().backward()
    after = [names[id(b.params[0])] for b in ddp._buckets]
    _save(out, r, "rebuild", before=np.array(before), after=np.array(after),
          grad=model.body.weight.grad._data)


def scenario_no_sync(out):
    """k = 3 micro-batches: two backward passes inside no_sync, the third synchronised."""
    r, n = dist.get_rank(), dist.get_world_size()
    model = make_model("lstm", np.float64, seed=7)
    ddp = dist.DistributedDataParallel(model)
    xs, ys = batches("lstm", np.float64, steps=3)
    h = BATCH // n
    loss_fn = nn.CrossEntropyLoss()
    res = {}
    for j in range(3):
        x, y = pe.tensor(xs[j, r * h:(r + 1) * h]), pe.tensor(ys[j, r * h:(r + 1) * h])
        if j < 2:
            with ddp.no_sync():
                loss_fn(ddp(x), y).backward()
            for k, p in model.named_parameters():      # still local: differs between ranks
                res[f"local{j}.{k}"] = p.grad._data.copy()
        else:
            loss_fn(ddp(x), y).backward()
    for k, p in model.named_parameters():
        res[f"grad.{k}"] = p.grad._data.copy()
    _save(out, r, "no_sync", **res)


def scenario_sync_bn(out):
    """SyncBatchNorm over unequal local batches (rank 0: 3 samples, rank 1: 5) in float64."""
    r = dist.get_rank()
    rng = np.random.default_rng(5)
    x_all = rng.standard_normal((8, 3, 4, 5)) * 2 + 1
    g_all = rng.standard_normal((8, 3, 4, 5))
    lo, hi = (0, 3) if r == 0 else (3, 8)
    bn = dist.SyncBatchNorm(3, dtype=np.float64)
    bn.weight._data[...] = [0.5, 1.5, -2.0]
    bn.bias._data[...] = [0.1, -0.2, 0.3]
    x = pe.tensor(x_all[lo:hi], requires_grad=True)
    y = bn(x)
    (y * pe.tensor(g_all[lo:hi])).sum().backward()
    _save(out, r, "sync_bn", y=y._data, gx=x.grad._data, gw=bn.weight.grad._data, gb=bn.bias.grad._data,
          rm=bn.running_mean._data, rv=bn.running_var._data)


def scenario_sampler(out):
    """Each rank's DistributedSampler indices for epochs 0 and 1 (23 items: padding needed)."""
    r = dist.get_rank()
    ds = list(range(23))
    res = {}
    for drop in (False, True):
        s = dist.DistributedSampler(ds, shuffle=True, seed=3, drop_last=drop)
        for e in (0, 1):
            s.set_epoch(e)
            res[f"drop{int(drop)}.epoch{e}"] = np.array(list(s))
    from pyengine.data import DataLoader, TensorDataset
    tds = TensorDataset(np.arange(23, dtype=np.float32)[:, None], np.arange(23))
    loader = DataLoader(tds, batch_size=4, sampler=dist.DistributedSampler(tds, seed=3))
    loader.set_epoch(1)
    res["loader.epoch1"] = np.concatenate([y._data for _, y in loader])
    _save(out, r, "sampler", **res)


def scenario_collectives(out):
    r, n = dist.get_rank(), dist.get_world_size()
    res = {}
    for dt in (np.float32, np.float64, np.int64, np.int32):
        a = (np.arange(7) + 10 * r).astype(dt)
        for op in ("sum", "max", "min", "avg"):
            b = a.copy()
            dist.all_reduce(b, op=op)
            res[f"all_reduce.{op}.{np.dtype(dt).name}"] = b
    t = pe.tensor(np.full((2, 3), float(r + 1), np.float32))
    work = dist.all_reduce(t, op="sum", async_op=True)
    work.wait()
    res["async_tensor"] = t._data
    b = np.full(4, r, np.int64)
    dist.broadcast(b, src=1)
    res["broadcast_from1"] = b
    parts = [np.zeros((2, 2), np.float64) for _ in range(n)]
    dist.all_gather(parts, np.full((2, 2), r + 0.5))
    res["all_gather"] = np.stack(parts)
    res["objects"] = np.array(dist.all_gather_object(r * 3))
    res["big"] = np.full(3 << 20, r + 1, np.float32)      # 12 MiB
    dist.all_reduce(res["big"])
    dist.barrier()
    _save(out, r, "collectives", **res)


def scenario_unused(out):
    """A model whose second head is used only on rank 1: with find_unused_parameters the head's
    gradient is rank 1's divided by 2 on both ranks; a head no rank uses keeps .grad None; without
    it the next forward raises naming the parameter."""
    r = dist.get_rank()

    class TwoHeads(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Linear(4, 4)
            self.a = nn.Linear(4, 2)
            self.b = nn.Linear(4, 2)
            self.never = nn.Linear(4, 2)

        def forward(self, x, use_b):
            h = self.body(x)
            return self.b(h) if use_b else self.a(h)

    pe.manual_seed(0)
    model = TwoHeads().double()
    ddp = dist.DistributedDataParallel(model, find_unused_parameters=True)
    x = pe.tensor(np.random.default_rng(r).standard_normal((3, 4)))
    ddp(x, use_b=(r == 1)).sum().backward()
    res = {f"grad.{k}": (p.grad._data.copy() if p.grad is not None else np.array(np.nan))
           for k, p in model.named_parameters()}
    res["x"] = x._data
    pe.manual_seed(0)
    plain = dist.DistributedDataParallel(TwoHeads().double())
    plain(x, use_b=False).sum().backward()
    try:
        plain(x, use_b=False)
        res["error"] = np.array("no error")
    except RuntimeError as e:
        res["error"] = np.array(str(e))
    _save(out, r, "unused", **res)


def scenario_fault(out, how):
    """Trains the LSTM; at step 3 rank 1 raises / kills itself in the middle of backward / stops."""
    r, n = dist.get_rank(), dist.get_world_size()
    model = make_model("lstm", np.float32, seed=1)
    ddp = dist.DistributedDataParallel(model)
    xs, ys = batches("lstm", np.float32, steps=50)
    loss_fn = nn.CrossEntropyLoss()
    opt = optim.SGD(model.parameters(), lr=0.01)

    def die(p):
        if step[0] == 3 and r == 1:
            if how == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            elif how == "stop":
                os.kill(os.getpid(), signal.SIGSTOP)
            else:
                raise ValueError("rank 1 gave up on purpose")
    step = [0]
    model.head.weight.register_post_accumulate_grad_hook(die)
    with open(os.path.join(out, f"rank{r}.started"), "w") as f:
        f.write(str(time.time()))
    for step[0] in range(50):
        h = BATCH // n
        loss = loss_fn(ddp(pe.tensor(xs[step[0], r * h:(r + 1) * h])), pe.tensor(ys[step[0], r * h:(r + 1) * h]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    with open(os.path.join(out, f"rank{r}.finished"), "w") as f:
        f.write("finished")


def scenario_fit(out):
    """fit(execution_environment='parallel') of a small MLP with a checkpoint per epoch.
    PYE_RESUME: a checkpoint to resume from; PYE_KILL_EPOCH: rank 1 kills itself in that epoch."""
    from pyengine.train import DigitMLP, fit
    r = dist.get_rank()
    rng = np.random.default_rng(3)
    x = rng.random((72, 1, 8, 8)).astype(np.float32)
    y = rng.integers(0, 10, 72)
    pe.manual_seed(11 + r)
    model = DigitMLP(image_size=8, hidden=16)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    kill = int(os.environ.get("PYE_KILL_EPOCH", "-1"))

    class Killer:
        def on_batch_begin(self, batch, logs):
            if r == 1 and logs["epoch"] == kill and batch == 2:
                os.kill(os.getpid(), signal.SIGKILL)

    hist = fit(model, (x, y), nn.CrossEntropyLoss(), opt, epochs=3, batch_size=16, validation_data=(x[:20], y[:20]),
               checkpoint_dir=os.path.join(out, "ckpt"), callbacks=[Killer()], progress=False, seed=0,
               execution_environment="parallel", resume_from=os.environ.get("PYE_RESUME") or None)
    _save(out, r, "fit", loss=np.array(hist.loss), val=np.array(hist.val_loss),
          **{k: v._data for k, v in model.state_dict().items()})


def scenario_nccl_fake(out):
    """The NCCL path on the stand-in CuPy/NCCL of fake_nccl.py: collectives and DDP buckets."""
    import fake_nccl
    cp = fake_nccl.install()
    dist.destroy_process_group()
    dist.init_process_group(backend="nccl")
    r, n = dist.get_rank(), dist.get_world_size()
    res = {}
    a = fake_nccl.device(np.arange(6, dtype=np.float32) + r)
    dist.all_reduce(a, op="avg")
    res["avg"] = cp.asnumpy(a)
    b = fake_nccl.device(np.full(3, r, np.int64))
    dist.broadcast(b, src=1)
    res["bcast"] = cp.asnumpy(b)
    parts = [fake_nccl.device(np.zeros(2, np.float64)) for _ in range(n)]
    dist.all_gather(parts, fake_nccl.device(np.full(2, r + 0.25)))
    res["gather"] = np.stack([cp.asnumpy(p) for p in parts])
    res["uid_same"] = np.array(len({str(c.uid) for c in fake_nccl.FakeNcclCommunicator.instances}) == 1)

    from pyengine.autograd import Function

    class Affine(Function):
        @staticmethod
        def forward(ctx, x, w, b):
            ctx.x, ctx.w = x, w
            return x @ w + b

        @staticmethod
        def backward(ctx, g):
            return g @ ctx.w.T, ctx.x.T @ g, g.sum(axis=0)

    class HalfMeanSquare(Function):
        @staticmethod
        def forward(ctx, y):
            ctx.y = y
            return (0.5 * (y * y).sum() / y.shape[0]).reshape(())

        @staticmethod
        def backward(ctx, g):
            return g * ctx.y / ctx.y.shape[0]

    class Net(nn.Module):
        def __init__(self, w1, b1, w2, b2):
            super().__init__()
            self.w1, self.b1, self.w2, self.b2 = (nn.Parameter(np.zeros(1)) for _ in range(4))
            for p, v in ((self.w1, w1), (self.b1, b1), (self.w2, w2), (self.b2, b2)):
                p._data = fake_nccl.device(v)

        def forward(self, x):
            h = Affine.apply(x, self.w1, self.b1)
            return Affine.apply(h, self.w2, self.b2)

    rng = np.random.default_rng(9 + r)          # rank 1 starts from other weights: DDP broadcasts rank 0's
    init = [rng.standard_normal(s) for s in ((5, 7), (7,), (7, 3), (3,))]
    net = Net(*init)
    ddp = dist.DistributedDataParallel(net, first_bucket_cap_mb=1e-4, bucket_cap_mb=1e-4)
    res["nbuckets"] = np.array(len(ddp.bucket_sizes))
    x_all = np.random.default_rng(1).standard_normal((6, 5))
    fake_nccl.LOG.clear()
    loss = HalfMeanSquare.apply(ddp(pe.tensor(fake_nccl.device(x_all[r * 3:(r + 1) * 3]))))
    loss.backward()
    for name, p in net.named_parameters():
        res[f"grad.{name}"] = cp.asnumpy(p.grad._data)
        res[f"param.{name}"] = cp.asnumpy(p._data)
        res[f"is_device.{name}"] = np.array(isinstance(p.grad._data, fake_nccl.FakeCudaArray))
    res["log_kinds"] = np.array([e[0] for e in fake_nccl.LOG])
    res["x_all"] = x_all
    # backend "mpi" with device arrays: staged through host copies, NCCL never called
    dist.destroy_process_group()
    dist.init_process_group(backend="mpi")
    fake_nccl.LOG.clear()
    c = fake_nccl.device(np.arange(4, dtype=np.float64) * (r + 1))
    dist.all_reduce(c)
    res["staged"] = cp.asnumpy(c)
    res["staged_is_device"] = np.array(isinstance(c, fake_nccl.FakeCudaArray))
    res["staged_log"] = np.array(len([e for e in fake_nccl.LOG if e[0] == "allReduce"]))
    _save(out, r, "nccl_fake", **res)


def main():
    scenario, out = sys.argv[1], sys.argv[2]
    dist.init_process_group()
    assert dist.get_world_size() == 2, f"started with {dist.get_world_size()} ranks"
    if scenario.startswith("fault-"):
        scenario_fault(out, scenario.split("-", 1)[1])
    else:
        for name in scenario.split(","):
            globals()[f"scenario_{name}"](out)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
