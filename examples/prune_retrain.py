"""Pruning with retraining (Han et al. 2015) on the shipped digits: the digit CNN and LeNet-300-100.

For each network: train it; prune it one-shot to a range of sparsities without retraining; prune
it iteratively with retraining (pyengine.nn.utils.prune.prune_and_retrain: global L1 magnitude
pruning of every Conv2d/Linear weight, then a few epochs of training, step after step); draw both
curves (validation accuracy against the fraction of weights kept) into one PNG; save the pruned
network as a compressed sparse file and read it back. For the digit CNN also: prune half of the
channels of each convolution (prune_channels), retrain, shrink it (the channels are removed) and
time it against the dense network.

    PYTHONPATH=. python examples/prune_retrain.py [--out bench/results] [--quick]

Writes <out>/prune-tradeoff.png and <out>/prune-results.json and prints the figures.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import tempfile
import time

import numpy as np

import pyengine as pe
from pyengine import nn, optim
from pyengine.data import DataLoader, DigitsDataset, TensorDataset, load_digits, split_each_label
from pyengine.models import digit_cnn
from pyengine.nn.utils import prune
from pyengine.train import evaluate, fit


def lenet_300_100():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(),
                         nn.Linear(100, 10))


def data():
    images, labels, _ = load_digits()
    digits = DigitsDataset(images, labels)
    tr, va = split_each_label(digits, 0.75, seed=0)
    x, y = digits.arrays()
    return (x[tr.indices], y[tr.indices]), (x[va.indices], y[va.indices])


def train(model, train_set, epochs, lr, seed=0):
    opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    sched = optim.lr_scheduler.StepLR(opt, step_size=max(1, epochs * 2 // 3), gamma=0.1)
    fit(model, DataLoader(TensorDataset(*train_set), batch_size=32, shuffle=True, seed=seed), nn.CrossEntropyLoss(),
        opt, epochs=epochs, scheduler=sched, progress=False)
    return model.eval()


def accuracy(model, val):
    model.eval()
    return float(evaluate(model, val).accuracy)


def one_shot_curve(model, val, kept_fractions):
    """Accuracy after pruning the trained model to each fraction kept, without retraining."""
    out = []
    for kept in kept_fractions:
        m = copy.deepcopy(model)
        params = prune.prunable_parameters(m)
        total = sum(getattr(mod, n).numel() for mod, n in params)
        prune.global_unstructured(params, prune.L1Unstructured, amount=int(round((1 - kept) * total)))
        out.append({"kept": prune.count_nonzero(m)[0] / total, "accuracy": accuracy(m, val)})
    return out


def file_sizes(model):
    """(dense safetensors bytes, sparse file bytes) of the model, and whether the sparse one reloads exactly."""
    with tempfile.TemporaryDirectory() as d:
        dense, sparse = os.path.join(d, "dense.safetensors"), os.path.join(d, "sparse.safetensors")
        pe.io.save_file({k: v.numpy() for k, v in model.state_dict().items()}, dense)
        prune.save_sparse(model, sparse)
        back = prune.load_sparse(sparse)
        exact = all(np.array_equal(back[k].numpy(), v.numpy()) and back[k].numpy().dtype == v.numpy().dtype
                    for k, v in model.state_dict().items()) and set(back) == set(model.state_dict())
        return os.path.getsize(dense), os.path.getsize(sparse), exact


def median_ms(model, x, reps=30):
    with pe.inference_mode():
        model(x)
        ts = []
        for _ in range(reps):
            t = time.perf_counter()
            model(x)
            ts.append(time.perf_counter() - t)
    return 1e3 * float(np.median(ts))


def study(name, build, epochs, lr, train_set, val, schedule, retrain_epochs):
    pe.manual_seed(0)
    dense = train(build(), train_set, epochs, lr)
    acc0 = accuracy(dense, val)
    print(f"{name}: dense validation accuracy {100 * acc0:.2f}% ({prune.count_nonzero(dense)[1]:,} weights)")
    oneshot = one_shot_curve(dense, val, [0.5, 0.3, 0.2, 0.1, 0.07, 0.05, 0.03, 0.02])
    model = copy.deepcopy(dense)
    records = prune.prune_and_retrain(model, lambda m: train(m, train_set, retrain_epochs, lr / 2, seed=7),
                                      lambda m: accuracy(m, val), schedule=schedule)
    for r in records:
        print(f"  step {r['step']}: kept {100 * r['kept']:.1f}% — accuracy {100 * r['accuracy_pruned']:.2f}% after "
              f"pruning, {100 * r['accuracy']:.2f}% after retraining")
    best = [r for r in records if r["kept"] <= 0.1]
    tenx = max(best, key=lambda r: r["accuracy"]) if best else None
    for mod, n in prune.prunable_parameters(model):
        prune.remove(mod, n)
    dense_b, sparse_b, exact = file_sizes(model)
    print(f"  dense file {dense_b:,} B, sparse file {sparse_b:,} B ({dense_b / sparse_b:.1f}x smaller), "
          f"reloads exactly: {exact}")
    return {"name": name, "dense_accuracy": acc0, "weights": prune.count_nonzero(dense)[1], "one_shot": oneshot,
            "retrained": records, "at_10x": tenx, "file_dense_bytes": dense_b, "file_sparse_bytes": sparse_b,
            "sparse_file_exact": exact}, dense


def structured(dense, train_set, val, amount=0.5):
    """Half of every convolution's channels pruned, retrained, then physically removed by shrink."""
    model = copy.deepcopy(dense)
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    bns = [m for m in model.features if isinstance(m, nn.BatchNorm2d)]
    for conv, bn in zip(convs, bns):
        prune.prune_channels(conv, amount, n=1, bn=bn)
    acc_pruned = accuracy(model, val)
    train(model, train_set, 3, 0.005, seed=3)
    acc_retrained = accuracy(model, val)
    x1 = pe.tensor(val[0][:1])
    with pe.no_grad():
        before_out = model(pe.tensor(val[0][:64])).numpy()
    small, report = prune.shrink(model, x1)
    with pe.no_grad():
        after_out = small(pe.tensor(val[0][:64])).numpy()
    params = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    x64 = pe.tensor(val[0][:64])
    out = {"channels": {k: list(v) for k, v in report.items()}, "accuracy_after_pruning": acc_pruned,
           "accuracy_after_retraining": acc_retrained, "accuracy_shrunk": accuracy(small, val),
           "max_output_change_by_shrink": float(np.abs(after_out - before_out).max()),
           "params_dense": params(dense), "params_shrunk": params(small),
           "ms_batch1_dense": median_ms(dense, x1, 300), "ms_batch1_shrunk": median_ms(small, x1, 300),
           "ms_batch64_dense": median_ms(dense, x64), "ms_batch64_shrunk": median_ms(small, x64)}
    with tempfile.TemporaryDirectory() as d:
        for tag, m in (("dense", dense), ("shrunk", small)):
            p = os.path.join(d, tag + ".safetensors")
            pe.io.save(m, p)
            out[f"file_bytes_{tag}"] = os.path.getsize(p)
    print(f"digit CNN, {int(amount * 100)}% of the channels pruned: {report}; accuracy {100 * acc_pruned:.2f}% → "
          f"{100 * acc_retrained:.2f}% retrained, {100 * out['accuracy_shrunk']:.2f}% shrunk (outputs change by "
          f"{out['max_output_change_by_shrink']:.1e}); parameters {out['params_dense']:,} → {out['params_shrunk']:,}; "
          f"file {out['file_bytes_dense']:,} → {out['file_bytes_shrunk']:,} B; batch 1 {out['ms_batch1_dense']:.3f} → "
          f"{out['ms_batch1_shrunk']:.3f} ms, batch 64 {out['ms_batch64_dense']:.2f} → {out['ms_batch64_shrunk']:.2f} ms")
    return out


def plot(results, path):
    """One column per network: the whole accuracy range on top, the top 5 points of it below."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(2, len(results), figsize=(6 * len(results), 8), squeeze=False)
    for col, r in enumerate(results):
        dense = {"kept": 1.0, "accuracy": r["dense_accuracy"]}
        one = [dense] + sorted(r["one_shot"], key=lambda p: -p["kept"])
        ret = [dense] + r["retrained"]
        for row, ax in enumerate(axes[:, col]):
            ax.plot([100 * p["kept"] for p in one], [100 * p["accuracy"] for p in one], "o--", color="tab:red",
                    label="pruned, no retraining")
            ax.plot([100 * p["kept"] for p in ret], [100 * p["accuracy"] for p in ret], "s-", color="tab:blue",
                    label="pruned and retrained (iterative)")
            ax.axhline(100 * r["dense_accuracy"] - 0.5, color="gray", lw=0.8, ls=":", label="dense − 0.5 points")
            ax.axvline(10, color="gray", lw=0.8, ls="-.", label="10× fewer weights")
            ax.set_xscale("log")
            ax.invert_xaxis()
            ax.set_xticks([100, 50, 20, 10, 5, 2])
            ax.set_xticklabels(["100%", "50%", "20%", "10%", "5%", "2%"])
            ax.set_xlabel("fraction of weights kept (log scale)")
            ax.set_ylabel("validation accuracy (%)")
            ax.grid(True, which="both", alpha=0.3)
            if row == 0:
                ax.set_ylim(max(0, min(100 * p["accuracy"] for p in one + ret) - 5), 100)
                ax.set_title(f"{r['name']} ({r['weights']:,} weights), digits validation set")
                ax.legend(loc="lower left", fontsize=8)
            else:
                top = 100 * max(p["accuracy"] for p in one + ret)
                ax.set_ylim(top - 5, top + 0.5)
                ax.set_title(f"{r['name']}: the top 5 points", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=os.path.join("bench", "results"))
    p.add_argument("--quick", action="store_true", help="fewer epochs (a smoke run)")
    a = p.parse_args(argv)
    train_set, val = data()
    q = a.quick
    schedule = [0.25, 0.07] if q else [0.5, 0.3, 0.2, 0.14, 0.1, 0.07, 0.05, 0.03]
    cnn, dense_cnn = study("digit CNN", digit_cnn, 2 if q else 6, 0.01, train_set, val, schedule,
                           retrain_epochs=1 if q else 3)
    mlp, _ = study("LeNet-300-100", lenet_300_100, 2 if q else 10, 0.02, train_set, val, schedule,
                   retrain_epochs=1 if q else 3)
    st = structured(dense_cnn, train_set, val)
    os.makedirs(a.out, exist_ok=True)
    png = os.path.join(a.out, "prune-tradeoff.png")
    plot([cnn, mlp], png)
    with open(os.path.join(a.out, "prune-results.json"), "w") as f:
        json.dump({"digit_cnn": cnn, "lenet_300_100": mlp, "structured_digit_cnn": st,
                   "threads": pe.get_num_threads(), "load_average": os.getloadavg()}, f, indent=1)
    for r in (cnn, mlp):
        t = r["at_10x"]
        if t:
            print(f"{r['name']}: {1 / t['kept']:.1f}x fewer non-zero weights at {100 * t['accuracy']:.2f}% "
                  f"({100 * (t['accuracy'] - r['dense_accuracy']):+.2f} points)")
    print(f"plot: {png}")


if __name__ == "__main__":
    main()
