"""The pyengine command line: `info`, `demo`, and the training workflow `train`, `evaluate`, `predict`,
`export` (ONNX, and int8 model files that `evaluate` and `predict` run too).

`pyengine train` with no arguments trains the digit CNN with sgdm (learning rate 0.01, dropped
×0.1 after 4 epochs; 6 epochs of mini-batches of 32) on the embedded MNIST sample split 75/25
per class, validates every epoch, prints the validation accuracy, and writes the model file and
the training-progress plot into ./pyengine-output.

A user mistake (an unknown option value, a missing folder, a corrupt file, a model file of
another network) ends with one line on stderr naming what was wrong and what is accepted, and
exit status 2; nothing is written before training has finished.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

SOLVERS = ("sgdm", "sgd", "adam", "adamw", "rmsprop", "adagrad")
DATASETS = ("digits", "sklearn", "mnist", "folder")
SCHEDULES = ("none", "piecewise", "cosine")
ENVIRONMENTS = ("auto", "cpu", "gpu", "multi-gpu", "parallel")
MODEL_FILE = "model.safetensors"
PLOT_FILE = "training-progress.png"


class UsageError(Exception):
    """A user mistake: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad option as one line (no usage block) and exits with status 2,
    and shows every option's default in --help."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


class _Formatter(argparse.HelpFormatter):
    """Appends "(default: X)" to an option's help unless the help already states its default; a
    flag (store_true) or an option whose default is None says what it means in its help text."""

    def _get_help_string(self, action):
        text = action.help or ""
        d = action.default
        if (action.option_strings and d is not None and d is not False and d != argparse.SUPPRESS
                and "default" not in text
                and not isinstance(action, (argparse._StoreTrueAction, argparse._VersionAction))):
            d = " ".join(map(str, d)) if isinstance(d, (list, tuple)) else d
            text += f" (default: {str(d).replace('%', '%%')})"
        return text


def _positive_int(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {v}")
    return v


def _positive_float(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not v > 0 or v != v or v == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return v


def _non_negative_float(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}") from None
    if not v >= 0 or v == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text}")
    return v


def _unit_interval(text):
    """A number in [0, 1) (sgdm's momentum: 1 or more never converges)."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}") from None
    if not 0 <= v < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return v


def _fraction(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1, got {text!r}") from None
    if not 0 < v < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (exclusive), got {text}")
    return v


# Commands ----------------------------------------------------------------------------------------

def _cmd_info(args) -> int:
    from . import info
    info()
    return 0


def _cmd_demo(args) -> int:
    """Each CPU kernel once, on the largest sample input the op registry gives it, against the
    float64 NumPy reference: time of the call and the largest difference, within the tolerance."""
    import numpy as np

    from . import info, reference
    from .kernels import cpu
    from .testing.registry import all_ops, to_float64

    info()
    print()
    f32 = np.dtype(np.float32)
    rows, bad = [], 0
    for op in all_ops():
        dtype = f32 if f32 in op.dtypes else op.dtypes[0]
        samples = op.samples(np.random.default_rng(args.seed), dtype)
        s = max(samples, key=lambda smp: sum(a.size for a in smp.args if isinstance(a, np.ndarray)))
        t0 = time.perf_counter()
        got = op.comparable(op.run(cpu, s))
        dt = time.perf_counter() - t0
        want = op.comparable(op.run(reference, type(s)(to_float64(s.args), to_float64(s.kwargs), s.desc)))
        atol, rtol = op.tol[dtype]
        err, ok = 0.0, True
        for g, w in zip(got, want):
            g, w = np.asarray(g, np.float64), np.asarray(w, np.float64)
            if g.size:
                err = max(err, float(np.abs(g - w).max()))
                ok = ok and bool(np.allclose(g, w, atol=atol, rtol=rtol, equal_nan=True))
        bad += not ok
        rows.append((op.family, op.name, s.desc, f"{1e3 * dt:.3f}", f"{err:.1e}", "ok" if ok else "MISMATCH"))
    head = ("family", "kernel", "sample (the largest in the op registry)", "ms", "max |cpu-ref|", "")
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    for r in [head] + rows:
        print("  ".join(f"{c:<{w}}" if i < 3 or i == 5 else f"{c:>{w}}" for i, (c, w) in enumerate(zip(r, widths))))
    print(f"\n{len(rows)} kernels run once each against the NumPy reference ({dtype.name}); "
          f"{len(rows) - bad} within tolerance" + (f", {bad} NOT" if bad else ""))
    return 1 if bad else 0


def _load_data(args):
    """(train (x, y), validation (x, y), classes, description) as float32 (N, C, H, W) in [0, 1]."""
    from .data import MNIST, DigitsDataset, ImageFolder, load_digits, split_each_label

    if args.data in ("digits", "sklearn"):
        if args.root is not None:
            raise UsageError(f"--root is only used with --data mnist or --data folder, not --data {args.data}")
        images, labels, source = load_digits("auto" if args.data == "digits" else "sklearn")
        ds = DigitsDataset(images, labels)
        desc = {"mnist-sample": "the embedded MNIST sample (5,000 digits, 28x28)",
                "sklearn": "scikit-learn's 8x8 digits (1,797)"}[source]
    elif args.data == "mnist":
        root = args.root or os.path.join(".", "mnist")
        if not args.download and not os.path.isdir(root):
            raise UsageError(f"data folder {root} does not exist; pass --download to fetch MNIST into it, "
                             "or --root DIR with the four IDX files")
        train, test = MNIST(root, train=True, download=args.download), MNIST(root, train=False)
        x, y = train.arrays()
        vx, vy = test.arrays()
        return (x, y), (vx, vy), [str(i) for i in range(10)], {"source": "mnist", "root": os.path.abspath(root)}
    else:
        if args.root is None:
            raise UsageError("--data folder needs --root DIR (one sub-folder of images per label)")
        if not os.path.isdir(args.root):
            raise UsageError(f"data folder {args.root} does not exist")
        ds = ImageFolder(args.root, size=tuple(args.image_size) if args.image_size else None)
        source, desc = "folder", f"images under {args.root}"
    x, y = ds.arrays()
    train, val = split_each_label(ds, 1.0 - args.val_fraction, seed=args.seed)
    meta = {"source": source if args.data != "folder" else "folder", "description": desc,
            "val_fraction": args.val_fraction, "seed": args.seed}
    if args.data == "folder":
        meta["root"] = os.path.abspath(args.root)
    classes = getattr(ds, "classes", None) or [str(i) for i in range(int(y.max()) + 1)]
    return (x[train.indices], y[train.indices]), (x[val.indices], y[val.indices]), classes, meta


def _optimizer(args, params):
    from . import optim

    wd = args.l2
    if args.solver == "sgdm":
        return optim.SGD(params, lr=args.lr, momentum=args.momentum, weight_decay=wd)
    if args.solver == "sgd":
        return optim.SGD(params, lr=args.lr, weight_decay=wd)
    if args.solver == "adam":
        return optim.Adam(params, lr=args.lr, weight_decay=wd)
    if args.solver == "adamw":
        return optim.AdamW(params, lr=args.lr, weight_decay=wd or 1e-2)
    if args.solver == "rmsprop":
        return optim.RMSprop(params, lr=args.lr, weight_decay=wd)
    return optim.Adagrad(params, lr=args.lr, weight_decay=wd)


def _scheduler(args, opt):
    from .optim import lr_scheduler

    if args.lr_schedule == "piecewise":
        return lr_scheduler.StepLR(opt, step_size=args.lr_drop_period, gamma=args.lr_drop_factor)
    if args.lr_schedule == "cosine":
        return lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs)
    return None


class _EpochPrinter:
    """One line per epoch on stdout (the tqdm bar, on a terminal, shows the iterations)."""

    def __init__(self, epochs, quiet):
        self.epochs, self.quiet, self.t = epochs, quiet, time.perf_counter()

    def on_epoch_end(self, epoch, logs):
        if self.quiet:
            return
        line = f"epoch {epoch + 1:>2}/{self.epochs}  loss {logs['loss']:.4f}"
        if logs.get("accuracy") is not None:
            line += f"  train acc {100 * logs['accuracy']:5.2f}%"
        if logs.get("val_accuracy") is not None:
            line += f"  val loss {logs['val_loss']:.4f}  val acc {100 * logs['val_accuracy']:5.2f}%"
        line += f"  lr {logs['lr']:.3g}  {time.perf_counter() - self.t:5.1f} s"
        print(line, flush=True)


def _set_threads(args, command="train"):
    """--threads N, else pyengine's default (all cores). There is no drop to one thread on a busy
    machine: with pyengine's own pool (a parked worker never holds the others up) 2 threads stayed
    faster than 1 at load 15-20 on 2 cores, with and without a competing busy process
    (bench/threads_busy.py; bench/NOTES.md)."""
    import pyengine

    if args.threads:
        pyengine.set_num_threads(args.threads)


def _check_device(args):
    """The device fit trains on (None: CPU), checked before any data is read."""
    import pyengine
    from .train import environment

    if args.execution_environment is not None and args.device != "cpu":
        raise UsageError("give --device or --execution-environment, not both")
    if args.device == "cuda" and not pyengine.cuda.is_available():
        raise UsageError("--device cuda: no usable CUDA GPU (needs the CUDA build of pyengine, CuPy and a "
                         "driver); accepted here: --device cpu")
    if args.execution_environment is not None:
        try:
            return environment.resolve(args.execution_environment)[0]
        except ValueError as exc:
            raise UsageError(str(exc).replace("fit: execution_environment=", "--execution-environment ")) from None
    return None if args.device == "cpu" else args.device


def _prepare_output(out_dir, option="--output"):
    """Checks before training that the results can be written into out_dir: creates the folder
    when missing and writes and removes a probe file. Returns the folders it created, which
    _discard_output removes again (when still empty) if the run fails."""
    import tempfile

    path = os.path.abspath(out_dir)
    if os.path.exists(path) and not os.path.isdir(path):
        raise UsageError(f"{option} {out_dir} exists and is not a folder")
    created, q = [], path
    while not os.path.exists(q) and os.path.dirname(q) != q:
        created.append(q)
        q = os.path.dirname(q)
    try:
        os.makedirs(path, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".pyengine-probe-")
        os.close(fd)
        os.remove(probe)
    except OSError as exc:
        _discard_output(created)
        raise UsageError(f"{option} {out_dir}: cannot write there ({exc.strerror or exc})") from None
    return created


def _discard_output(created):
    for folder in created:                      # deepest first
        try:
            os.rmdir(folder)
        except OSError:
            return


def _train_model(args, data, device, callbacks=(), quiet=False, progress="auto"):
    """Builds the network and optimizer that args describe and trains it on data with fit.
    Returns (model, history)."""
    import numpy as np

    import pyengine
    from . import nn
    from .data import DataLoader, TensorDataset
    from .train import build_model, fit

    (x, y), (vx, vy), classes, _ = data
    pyengine.manual_seed(args.seed)
    np.random.seed(args.seed)
    c, h, w = x.shape[1:]
    if args.model in ("digit-cnn", "mlp"):
        if getattr(args, "pretrained", None) or getattr(args, "freeze_body", False):
            raise UsageError("--pretrained and --freeze-body take a zoo model (--model resnet18, ...), "
                             f"not --model {args.model}")
        model = build_model(args.model, in_channels=c, num_classes=len(classes), image_size=(h, w))
        params = model.parameters()
    else:
        model, params = _zoo_model(args, c, h, w, len(classes))
    if device is not None:
        model.to(device)
    opt = _optimizer(args, params)
    sched = _scheduler(args, opt)
    loader = DataLoader(TensorDataset(x, y), batch_size=args.batch_size, shuffle=args.shuffle != "never",
                        seed=args.seed)
    history = fit(model, loader, nn.CrossEntropyLoss(), opt, epochs=args.epochs, batch_size=args.batch_size,
                  validation_data=(vx, vy), validation_frequency=args.validation_frequency,
                  patience=args.patience, scheduler=sched, grad_clip=args.grad_clip, callbacks=list(callbacks),
                  progress=progress if not quiet else False, seed=args.seed, shuffle=args.shuffle, device=device,
                  checkpoint_dir=getattr(args, "checkpoint_dir", None),
                  checkpoint_frequency=getattr(args, "checkpoint_frequency", 1),
                  checkpoint_frequency_unit=getattr(args, "checkpoint_frequency_unit", "epoch"),
                  resume_from=args.checkpoint_dir if getattr(args, "resume", False) else None,
                  execution_environment=args.execution_environment
                  if args.execution_environment in ("parallel", "multi-gpu") else None)
    return model, history


def _zoo_model(args, c, h, w, num_classes):
    """A zoo network for `pyengine train --model NAME` (optionally --pretrained FILE, --freeze-body,
    --body-lr-factor), wrapped so it takes the data's channels and size; returns (model, param groups)."""
    from . import models

    kw = {"in_channels": c, "image_size": (h, w)} if args.model == "lenet5" else {}
    pretrained, freeze = getattr(args, "pretrained", None), getattr(args, "freeze_body", False)
    if pretrained:
        if not os.path.exists(pretrained):
            raise UsageError(f"--pretrained {pretrained} does not exist")
        arrays, meta = models.read_weights(pretrained)
        if arrays and all(k.startswith("net.") for k in arrays):      # a model file of `pyengine train`
            arrays = {k[len("net."):]: v for k, v in arrays.items()}
        probe = models.get_model(args.model, **kw)
        head = models.transfer.head_name(probe) + ".weight"
        n_file = int(arrays[head].shape[0]) if head in arrays else num_classes
        net = models.get_model(args.model, num_classes=n_file, **kw)
        try:
            models.load_weights(net, None, _read=(arrays, meta))
        except ValueError as exc:
            raise UsageError(f"--pretrained {pretrained} does not fit --model {args.model}: {exc}") from None
        if n_file != num_classes:
            models.replace_head(net, num_classes)
    else:
        net = models.get_model(args.model, num_classes=num_classes, **kw)
    head = models.transfer.head_name(net)
    if freeze:
        models.freeze_body(net)
    rgb = args.model not in ("lenet5", "digit_cnn")
    model = models.Adapted(net, in_channels=c, net_channels=3 if rgb else c,
                           min_side=models.transfer.MIN_SIDE.get(args.model))
    model.config = {"in_channels": c, "num_classes": num_classes, "image_size": [h, w], "model": args.model}
    factor = 0.0 if freeze else getattr(args, "body_lr_factor", 1.0)
    return model, models.param_groups(model, args.lr, {"net." + head: 1.0}, default=factor)


def _check_model_fits_data(args, data):
    h, w = data[0][0].shape[2:]
    if args.model == "digit-cnn" and (h % 4 or w % 4):
        raise UsageError(f"--model digit-cnn needs image sides divisible by 4, the data has {h}x{w}; "
                         "pass --image-size")


def _dataset_name(data_meta) -> str:
    return data_meta.get("description", data_meta.get("source", "data"))


def _cmd_train(args) -> int:
    from .distributed import launch
    from .io import save
    from .train.callbacks import CSVLogger, TensorBoardLogger, tensorboard_writer_class

    world = launch.world_size_from_env()
    if args.nproc > 1 and args.execution_environment not in (None, "parallel", "multi-gpu"):
        raise UsageError(f"--nproc {args.nproc} is data-parallel training: --execution-environment must be "
                         f"parallel or multi-gpu (or left out), not {args.execution_environment}")
    if args.nproc > 1 and world == 1:               # start the ranks: this command again, N times
        env = [] if args.execution_environment else ["--execution-environment", "parallel"]
        return launch.relaunch(args.nproc, getattr(args, "argv", sys.argv[1:]), env)
    main_rank = launch.rank_from_env() == 0
    if world > 1:                                   # one rank of `mpiexec -n N pyengine train`
        if args.execution_environment is None:
            args.execution_environment = "multi-gpu" if args.device == "cuda" else "parallel"
            args.device = "cpu"
        if not main_rank:                           # rank 0 alone prints and writes
            args.quiet, args.no_plot, args.log_dir = True, True, None
    t0 = time.perf_counter()
    if args.resume and args.checkpoint_dir is None:
        raise UsageError("--resume needs --checkpoint-dir DIR (the folder of the checkpoints to continue from)")
    _set_threads(args)
    device = _check_device(args)
    created = _prepare_output(args.output) if main_rank else []
    done = False
    try:
        if args.log_dir is not None:
            created = _prepare_output(args.log_dir, "--log-dir") + created
        data = _load_data(args)
        _check_model_fits_data(args, data)
        (x, _), (vx, _), classes, data_meta = data
        if not args.quiet:
            print(f"pyengine train: {args.model} on {_dataset_name(data_meta)}: "
                  f"{len(x)} training / {len(vx)} validation images, {len(classes)} classes; "
                  f"{args.solver} lr {args.lr}, {args.epochs} epochs, mini-batch {args.batch_size}", flush=True)
        callbacks = []
        if args.verbose_frequency and not args.quiet:
            from .train.callbacks import VerboseTable
            callbacks.append(VerboseTable(args.verbose_frequency, args.epochs * -(-len(x) // args.batch_size)))
        else:
            callbacks.append(_EpochPrinter(args.epochs, args.quiet))
        if args.log_dir is not None:
            callbacks.append(CSVLogger(os.path.join(args.log_dir, "scalars.csv")))
            if tensorboard_writer_class() is not None:
                callbacks.append(TensorBoardLogger(args.log_dir))
        model, history = _train_model(args, data, device, callbacks, args.quiet,
                                      progress=False if args.verbose_frequency else "auto")
        train_s = time.perf_counter() - t0
        val_acc = history.val_accuracy[-1]
        model_path = os.path.join(args.output, MODEL_FILE)
        meta = {"classes": classes, "data": data_meta, "solver": args.solver, "lr": args.lr, "epochs": args.epochs,
                "batch_size": args.batch_size, "val_accuracy": val_acc, "train_seconds": round(train_s, 2)}
        if not main_rank:
            return 0
        save(model, model_path, metadata=meta)
        plot_note = ""
        if not args.no_plot:
            try:
                import matplotlib  # noqa: F401
            except ImportError:
                plot_note = ("training-progress plot skipped: matplotlib is not installed "
                             "(pip install \"pyengine[plot]\")")
            else:
                history.plot(os.path.join(args.output, PLOT_FILE), title=f"{args.model}, {args.solver}",
                             dataset=_dataset_name(data_meta))
        done = True
    finally:
        if not done:
            _discard_output(created)
    print(f"validation accuracy: {100 * val_acc:.2f}% ({len(vx)} images)")
    print(f"model: {model_path}")
    if not args.no_plot:
        print(plot_note or f"training progress: {os.path.join(args.output, PLOT_FILE)}")
    if args.log_dir is not None:
        print(f"scalars: {os.path.join(args.log_dir, 'scalars.csv')}")
    print(f"time: {time.perf_counter() - t0:.1f} s")
    return 0


TUNE_SPACE = {"lr": "1e-3:1e-1:log", "batch_size": "32,64,128", "solver": "sgdm,adam", "l2": "0:1e-3",
              "momentum": "0.9"}
TUNE_DEFAULTS = {"lr": 0.01, "batch_size": 32, "solver": "sgdm", "l2": 0.0, "momentum": 0.9}


def _tune_space(args):
    """The search space from the --lr/--batch-size/--solver/--l2/--momentum specs, checked."""
    from .tune import space as sp

    out = {}
    for name in TUNE_SPACE:
        text = getattr(args, name)
        opt = "--" + name.replace("_", "-")
        try:
            r = sp.parse(text, opt)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        values = list(r.choices) if isinstance(r, sp.Categorical) else [r.low, r.high]
        bad = {"solver": lambda v: v not in SOLVERS,
               "batch_size": lambda v: not isinstance(v, int) or v < 1,
               "lr": lambda v: isinstance(v, str) or not v > 0,
               "l2": lambda v: isinstance(v, str) or not v >= 0,
               "momentum": lambda v: isinstance(v, str) or not 0 <= v < 1}[name]
        wrong = [v for v in values if bad(v)]
        if wrong or (name == "batch_size" and isinstance(r, sp.Float)):
            accepted = {"solver": ", ".join(SOLVERS), "batch_size": "positive integers (a list or LOW:HIGH:int)",
                        "lr": "positive numbers", "l2": "numbers >= 0", "momentum": "numbers in [0, 1)"}[name]
            raise UsageError(f"{opt} {text}: {wrong[0] if wrong else text!r} is not accepted; expected {accepted}")
        out[name] = r
    return out


def _cmd_tune(args) -> int:
    import copy

    from .io import save
    from .io.safetensors_io import _write_atomic
    from .train.callbacks import Callback
    from .tune import tune

    t0 = time.perf_counter()
    space = _tune_space(args)
    if args.timeout is not None and not args.timeout > 0:
        raise UsageError(f"--timeout must be a positive number of seconds, got {args.timeout}")
    if args.storage is not None:
        folder = os.path.dirname(os.path.abspath(args.storage))
        if not os.path.isdir(folder):
            raise UsageError(f"--storage {args.storage}: folder {folder} does not exist")
    try:
        import optuna  # noqa: F401
    except ImportError:
        raise UsageError("pyengine tune needs Optuna: pip install \"pyengine[tune]\"") from None
    _set_threads(args, "tune")
    device = _check_device(args)
    created = _prepare_output(args.output)
    done = False
    try:
        data = _load_data(args)
        _check_model_fits_data(args, data)
        (x, _), (vx, _), classes, data_meta = data
        searched = {k: str(r) for k, r in space.items() if not (hasattr(r, "choices") and len(r.choices) == 1)}
        print(f"pyengine tune: {args.model} on {_dataset_name(data_meta)}: {len(x)} training / {len(vx)} "
              f"validation images; {args.sampler} search over " + ", ".join(f"{k} {v}" for k, v in searched.items())
              + f"; {args.trials} trials of {args.epochs} epochs" + ("" if args.no_pruning else ", median pruning"),
              flush=True)
        model_path = os.path.join(args.output, MODEL_FILE)
        best = {"value": None}

        class Report(Callback):
            def __init__(self, trial):
                self.trial = trial

            def on_epoch_end(self, epoch, logs=None):
                self.trial.report(logs["val_accuracy"], epoch)

        def objective(params, trial):
            run = copy.copy(args)
            for k, v in params.items():
                setattr(run, k, v)
            prior = [t.value for t in trial._trial.study.get_trials(deepcopy=False) if t.value is not None]
            model, history = _train_model(run, data, device, [Report(trial)], quiet=True)
            value = history.val_accuracy[-1]
            if not prior or value > max(prior):
                meta = {"classes": classes, "data": data_meta, "solver": run.solver, "lr": run.lr,
                        "epochs": run.epochs, "batch_size": run.batch_size, "val_accuracy": value,
                        "tuned": {"trial": trial.number, "params": params}}
                save(model, model_path, metadata=meta)
            return value

        def progress(row, result):
            v = row["value"]
            what = {"COMPLETE": f"val acc {100 * v:.2f}%" if v is not None else "",
                    "PRUNED": f"pruned after epoch {row['epochs']} ({100 * v:.2f}%)" if v is not None else "pruned",
                    "FAIL": "failed (diverged)"}.get(row["state"], row["state"].lower())
            ps = ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in row["params"].items())
            b = result.best
            print(f"trial {row['trial']:>3}: {what:<34} {ps}  ({row['seconds'] or 0:.1f} s)"
                  + (f"  best {100 * b['value']:.2f}%" if b else ""), flush=True)

        try:
            result = tune(objective, space, trials=args.trials, timeout=args.timeout, sampler=args.sampler,
                          seed=args.seed, storage=args.storage, study_name=args.study_name,
                          pruning=not args.no_pruning, grid_points=args.grid_points,
                          enqueue=[{k: v for k, v in TUNE_DEFAULTS.items() if k in space}], on_trial_end=progress)
        except KeyboardInterrupt:
            done = os.path.exists(model_path)        # keep the best model of the finished trials
            print("pyengine tune: interrupted; " + (f"the study is kept in {args.storage}: run the same command "
                  "again to continue it" if args.storage else "pass --storage FILE to be able to continue a study"),
                  file=sys.stderr)
            return 130
        table = result.table()
        _write_atomic(os.path.join(args.output, "results.txt"), (table + "\n").encode())
        plot_note = ""
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            plot_note = "search plot skipped: matplotlib is not installed"
        else:
            result.plot(os.path.join(args.output, "search.png"),
                        title=f"pyengine tune: {args.model} on {_dataset_name(data_meta)}")
        done = True
    finally:
        if not done:
            _discard_output(created)
    print("\nresults (best first):")
    print(table)
    b = result.best
    if b is not None:
        defaults = next((r for r in result.rows if r["trial"] == 0), None)
        print(f"\nbest: trial {b['trial']}, validation accuracy {100 * b['value']:.2f}%"
              + (f" (the defaults, trial 0: {100 * defaults['value']:.2f}%)"
                 if defaults and defaults["value"] is not None and defaults["params"] == {
                     k: v for k, v in TUNE_DEFAULTS.items() if k in space} else ""))
        print(f"best model: {model_path}")
    print(f"table: {os.path.join(args.output, 'results.txt')}")
    print(plot_note or f"search plot: {os.path.join(args.output, 'search.png')}")
    if args.storage:
        print(f"study: {args.storage} (run the same command again to continue it)")
    print(f"time: {time.perf_counter() - t0:.1f} s")
    return 0


def _load_model(path):
    """The network stored in a model file written by `pyengine train` (architecture from its header)."""
    from .io import load_file
    from .train import MODELS, build_model

    if not os.path.exists(path):
        raise UsageError(f"model file {path} does not exist")
    arrays, meta = load_file(path, with_metadata=True)
    arch = meta.get("architecture")
    known = {cls.__name__: key for key, cls in MODELS.items()}
    from .quantization import is_quantized_file
    if is_quantized_file(meta) and arch in known:     # an int8 model written by `pyengine export --int8`
        from .quantization import load_quantized
        try:
            model, meta = load_quantized(path)
            model.config = json.loads(meta.get("config", "{}"))
        except (TypeError, ValueError) as exc:
            raise UsageError(f"{path}: its int8 model is unreadable ({exc})") from None
        return model, meta
    if arch not in known:
        return _load_saved_module(path, arch, meta)
    try:
        config = json.loads(meta.get("config", "{}"))
        model = build_model(arch, **config)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{path}: its model configuration is invalid ({exc})") from None
    from .io.safetensors_io import load_into
    load_into(model, arrays, meta, path)
    model.eval()
    return model, meta


def _load_saved_module(path, arch, meta):
    """A model file of another network (a zoo model trained by `pyengine train --model resnet18`),
    rebuilt from the architecture in its header; its input description comes from the "config"."""
    from .io import load
    from .io.architecture import META_KEY
    from .train import MODELS

    if META_KEY not in meta:
        raise UsageError(f"{path} holds a {arch or 'model of unknown architecture'}; accepted: models written "
                         f"by `pyengine train` ({', '.join(MODELS)}, or a zoo model)")
    try:
        model = load(path)
        config = json.loads(meta.get("config", "null"))
    except (ValueError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path}: cannot rebuild its {arch or 'model'} ({exc}); accepted: models written "
                         "by `pyengine train`") from None
    if not hasattr(model, "eval") or not isinstance(config, dict) or \
            not {"in_channels", "num_classes", "image_size"} <= set(config):
        raise UsageError(f"{path} holds a {arch or 'model of unknown architecture'} without the input "
                         "description `pyengine train` writes; accepted: models written by `pyengine train`")
    model.config = config
    model.eval()
    return model, meta


def _cmd_convert(args) -> int:
    """`pyengine convert model.pth model.safetensors`: a PyTorch state dict (read with
    torch.load(weights_only=True), which runs no code from the file) as a weights file."""
    import numpy as np

    from .models import IMAGENET_MEAN, IMAGENET_STD, get_model, load_weights, save_weights

    src, dst = args.source, args.destination
    if not os.path.isfile(src):
        raise UsageError(f"{src} does not exist")
    if os.path.abspath(src) == os.path.abspath(dst):
        raise UsageError("the destination must differ from the source")
    folder = os.path.dirname(os.path.abspath(dst))
    if not os.path.isdir(folder):
        raise UsageError(f"folder {folder} does not exist")
    try:
        import torch
    except ImportError:
        raise UsageError("pyengine convert reads PyTorch files and needs torch for that (pip install torch); "
                         "nothing else in pyengine does") from None
    try:
        obj = torch.load(src, map_location="cpu", weights_only=True)
    except Exception as exc:            # pickle errors of every kind, and files that are not PyTorch's
        raise UsageError(f"{src}: not a PyTorch weights file torch.load(weights_only=True) accepts "
                         f"({type(exc).__name__}: {str(exc).splitlines()[0][:200]})") from None
    state = obj
    if args.key:
        if not isinstance(obj, dict) or args.key not in obj:
            raise UsageError(f"{src} has no entry {args.key!r}")
        state = obj[args.key]
    elif isinstance(obj, dict) and not any(torch.is_tensor(v) for v in obj.values()):
        for key in ("state_dict", "model_state_dict", "model"):
            if isinstance(obj.get(key), dict):
                state = obj[key]
                break
    if not isinstance(state, dict) or not state or not all(torch.is_tensor(v) for v in state.values()):
        raise UsageError(f"{src} does not hold a state dict (name -> tensor); pass --key for a checkpoint's entry")
    prefix = args.strip_prefix
    arrays = {}
    for k, v in state.items():
        k = k[len(prefix):] if prefix and k.startswith(prefix) else k
        t = v.detach().cpu()
        if t.dtype == torch.bfloat16:
            t = t.float()
        arrays[k] = t.contiguous().numpy().copy()        # (np.ascontiguousarray would make 0-d arrays 1-d)
    meta = {}
    if args.imagenet:
        meta = {"mean": IMAGENET_MEAN, "std": IMAGENET_STD, "size": (224, 224), "resize": 256}
    if args.mean:
        meta["mean"] = args.mean
    if args.std:
        meta["std"] = args.std
    if args.size:
        meta["size"] = args.size
    if args.model:
        from .models.transfer import head_name
        try:
            head = head_name(get_model(args.model)) + ".weight"
            n = {"num_classes": int(arrays[head].shape[0])} if head in arrays else {}
            load_weights(get_model(args.model, **n), None, _read=(arrays, {}))
        except ValueError as exc:
            raise UsageError(f"{src} does not fit --model {args.model}: {exc}") from None
    save_weights(arrays, dst, **meta)
    n = sum(int(a.size) for a in arrays.values())
    print(f"{dst}: {len(arrays)} tensors, {n:,} values" + (f", checked against {args.model}" if args.model else ""))
    return 0


def _cmd_evaluate(args) -> int:
    from .train import evaluate

    model, meta = _load_model(args.model_file)
    data_meta = json.loads(meta.get("data", "{}"))
    if args.data is None:
        args.data = {"mnist-sample": "digits", "sklearn": "sklearn"}.get(data_meta.get("source"),
                                                                          data_meta.get("source", "digits"))
        if args.root is None and args.data in ("mnist", "folder"):
            args.root = data_meta.get("root")
    args.seed = data_meta.get("seed", 0) if args.seed is None else args.seed
    args.val_fraction = data_meta.get("val_fraction", 0.25)
    args.download, args.image_size = False, None
    _, (vx, vy), classes, _ = _load_data(args)
    cfg = model.config
    if tuple(vx.shape[1:]) != (cfg["in_channels"], *cfg["image_size"]):
        raise UsageError(f"{args.model_file} takes {cfg['in_channels']}x{cfg['image_size'][0]}x"
                         f"{cfg['image_size'][1]} images, --data {args.data} has "
                         f"{vx.shape[1]}x{vx.shape[2]}x{vx.shape[3]}")
    ev = evaluate(model, (vx, vy), batch_size=256, num_classes=cfg["num_classes"])
    print(f"{args.model_file}: {ev.n} validation images, loss {ev.loss:.4f}, accuracy {100 * ev.accuracy:.2f}%")
    print("confusion matrix (rows: true class, columns: predicted):")
    width = max(4, len(str(int(ev.confusion.max(initial=0)))) + 1)
    print(" " * 6 + "".join(f"{c:>{width}}" for c in classes[:cfg["num_classes"]]))
    for c, row in zip(classes, ev.confusion):
        print(f"{c:>5} " + "".join(f"{v:>{width}}" for v in row))
    return 0


def _npy_images(path, channels):
    """The images of a .npy file as a list of (H, W) or (H, W, C) arrays: (H, W), (1, H, W) or
    (N, H, W) for grayscale models, (N, 1, H, W) or (N, C, H, W) channel-first batches, (H, W, C)."""
    import numpy as np

    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise UsageError(f"{path}: not a readable .npy image ({exc})") from None
    if arr.dtype.kind not in "uif" or arr.size == 0:
        raise UsageError(f"{path}: expected a non-empty numeric array, got dtype {arr.dtype} shape {arr.shape}")
    if arr.dtype != np.uint8:
        arr = np.nan_to_num(arr.astype(np.float64))
        arr = np.clip(arr * (255.0 if arr.max() <= 1.0 else 1.0), 0, 255).round().astype(np.uint8)
    shape = arr.shape
    if arr.ndim == 2:
        return [arr]
    if arr.ndim == 3:
        if channels > 1 and shape[-1] == channels:
            return [arr]                                      # one (H, W, C) image
        if channels > 1 and shape[0] == channels:
            return [arr.transpose(1, 2, 0)]                   # one (C, H, W) image
        return list(arr)                                      # (N, H, W) grayscale images
    if arr.ndim == 4 and shape[1] == channels:
        return [a[0] if channels == 1 else a.transpose(1, 2, 0) for a in arr]
    if arr.ndim == 4 and shape[-1] == channels:
        return [a[..., 0] if channels == 1 else a for a in arr]
    raise UsageError(f"{path}: array of shape {shape} is not an image or a batch for a {channels}-channel "
                     "model; accepted: (H, W), (N, H, W), (N, 1, H, W), (N, H, W, 1)"
                     + ("" if channels == 1 else f", (H, W, {channels}), (N, {channels}, H, W)"))


def _prepare_images(path, channels, size):
    """An image file (PNG/JPEG, or .npy with one image or a batch) as the network's inputs
    (n, C, H, W): grayscale (or RGB), resized to the model's size (with a warning on stderr),
    white-on-black like MNIST. Returns (inputs, labels for the output lines)."""
    import numpy as np

    from .data.datasets import read_image
    from .data.transforms import Resize

    if not os.path.exists(path):
        raise UsageError(f"image file {path} does not exist")
    imgs = _npy_images(path, channels) if path.endswith(".npy") else [read_image(path, grayscale=channels == 1)]
    out = []
    for i, img in enumerate(imgs):
        if img.ndim == 3 and img.shape[-1] != channels:
            raise UsageError(f"{path}: image has {img.shape[-1]} channels, the model takes {channels}")
        if tuple(img.shape[:2]) != tuple(size):
            where = f"{path}[{i}]" if len(imgs) > 1 else path
            print(f"pyengine predict: warning: {where} is {img.shape[0]}x{img.shape[1]}, resized to the model's "
                  f"{size[0]}x{size[1]}", file=sys.stderr)
            img = Resize(tuple(size))(img)
        if img.ndim == 2 and img.mean() > 127:      # dark digit on a light background: invert
            img = 255 - img
        x = img.astype(np.float32) / 255.0
        out.append(x[None] if x.ndim == 2 else x.transpose(2, 0, 1))
    names = [path] if len(out) == 1 else [f"{path}[{i}]" for i in range(len(out))]
    return out, names


def _cmd_predict(args) -> int:
    import numpy as np

    from .train import predict

    model, meta = _load_model(args.model_file)
    classes = json.loads(meta.get("classes", "null")) or [str(i) for i in range(model.config["num_classes"])]
    cfg = model.config
    xs, names = [], []
    for p in args.images:
        x, n = _prepare_images(p, cfg["in_channels"], cfg["image_size"])
        xs += x
        names += n
    probs, labels = predict(model, np.stack(xs))
    for name, p, k in zip(names, probs, labels):
        top = np.argsort(p)[::-1][:3]
        alts = ", ".join(f"{classes[i]} {100 * p[i]:.1f}%" for i in top[1:])
        print(f"{name}: {classes[k]} ({100 * p[k]:.1f}%; next: {alts})")
    return 0


def _cmd_export(args) -> int:
    """--int8: quantize (calibrated on training images) and write an int8 model file; --onnx: write
    ONNX (the int8 QDQ graph with --int8, else the float graph)."""
    import numpy as np

    from . import quantization as Q
    from .io import load_file
    from .tensor import tensor

    if not args.int8 and not args.onnx:
        raise UsageError("export: say what to write: --int8 (an int8 model file) and/or --onnx PATH")
    _, meta = load_file(args.model_file, with_metadata=True) if os.path.exists(args.model_file) else (None, {})
    if Q.is_quantized_file(meta):
        raise UsageError(f"{args.model_file} is already an int8 model; export the float model it came from")
    model, meta = _load_model(args.model_file)
    cfg = model.config
    shape = (cfg["in_channels"], *cfg["image_size"])
    stem = os.path.splitext(args.model_file)[0]
    if args.int8:
        data_meta = json.loads(meta.get("data", "{}"))
        args.data = {"mnist-sample": "digits", "sklearn": "sklearn"}.get(data_meta.get("source"),
                                                                          data_meta.get("source", "digits"))
        args.root = data_meta.get("root") if args.data in ("mnist", "folder") else None
        args.seed, args.val_fraction = data_meta.get("seed", 0), data_meta.get("val_fraction", 0.25)
        args.download, args.image_size = False, None
        (tx, _), (vx, vy), _, _ = _load_data(args)
        qmodel = Q.quantize(model, tx[:args.calibration], Q.get_default_qconfig(args.observer))
        from .autograd.grad_mode import inference_mode
        with inference_mode():
            acc_f = float((model(tensor(vx)).numpy().argmax(1) == vy).mean())
            acc_q = float((qmodel(tensor(vx)).numpy().argmax(1) == vy).mean())
        out = args.output or stem + "-int8.safetensors"
        extra = {k: meta[k] for k in ("data", "classes") if k in meta}
        Q.save_quantized(qmodel, model, out, shape, extra)
        print(f"validation accuracy: float32 {100 * acc_f:.2f}%, int8 {100 * acc_q:.2f}% ({len(vy)} images; "
              f"calibrated on {min(args.calibration, len(tx))} training images, {args.observer} observer)")
        print(f"int8 model: {out} ({os.path.getsize(out):,} bytes; float32 {os.path.getsize(args.model_file):,})")
        if args.onnx:
            Q.export_onnx(qmodel, tensor(np.zeros((1, *shape), np.float32)), args.onnx)
            print(f"ONNX (int8, QDQ): {args.onnx}")
        return 0
    try:
        from .onnx import export
    except ImportError:
        raise UsageError("export --onnx of a float model needs pyengine.onnx, which this installation lacks; "
                         "export --int8 --onnx PATH writes the int8 graph") from None
    export(model, (tensor(np.zeros((1, *shape), np.float32)),), args.onnx)
    print(f"ONNX (float32): {args.onnx}")
    return 0


VIEWS = ("filters", "activations", "grad_cam", "saliency", "occlusion", "deep_dream", "graph")


def _cmd_visualize(args) -> int:
    """The pictures of pyengine.viz for a saved model and one image."""
    try:
        import matplotlib
    except ImportError:
        raise UsageError("pyengine visualize needs matplotlib: pip install \"pyengine[plot]\"") from None
    matplotlib.use("Agg")

    from . import viz

    model, meta = _load_model(args.model_file)
    classes = json.loads(meta.get("classes", "null")) or [str(i) for i in range(model.config["num_classes"])]
    cfg = model.config
    chosen = [v for v in VIEWS if getattr(args, v)] or ["filters", "activations", "grad_cam", "graph"]
    if args.layer is not None:
        try:
            viz.find_layer(model, args.layer)
        except ValueError as exc:
            raise UsageError(f"--layer {exc}".replace("--layer layer ", "--layer ")) from None
    if args.target is not None and not 0 <= args.target < cfg["num_classes"]:
        raise UsageError(f"--target must be a class index in [0, {cfg['num_classes']}), got {args.target}")
    xs, names = _prepare_images(args.image, cfg["in_channels"], cfg["image_size"])
    if len(xs) > 1:
        print(f"pyengine visualize: {args.image} holds {len(xs)} images; using the first", file=sys.stderr)
    x = xs[0]
    created = _prepare_output(args.output)
    # the short names (conv1, conv3) make the default file names and titles read like --layer
    short = {}
    for a, (n, _) in viz.layer_aliases(model).items():
        short.setdefault(n, a)
    convs = [short.get(n, n) for n, m in model.named_modules() if type(m).__name__ == "Conv2d"]
    layer = args.layer or (convs[0] if convs else None)
    from .train import predict
    probs, label = predict(model, x[None])
    target = int(label[0]) if args.target is None else args.target
    what = f"class {classes[target]} ({100 * probs[0, target]:.1f}%)"
    title_img = os.path.basename(args.image)
    written = []
    try:
        def out(name):
            path = os.path.join(args.output, name)
            written.append(path)
            return path

        lname = (layer or "").replace(".", "-")
        if "filters" in chosen:
            flayer = layer if layer and type(viz.find_layer(model, layer)[1]).__name__ == "Conv2d" else None
            if flayer is None:
                raise UsageError(f"--filters needs a Conv2d --layer; {layer} is not one")
            viz.plot_filters(flayer, out(f"filters-{flayer.replace('.', '-')}.png"), model=model)
        if "activations" in chosen:
            if layer is None:
                raise UsageError("--activations needs --layer (the model has no Conv2d)")
            viz.plot_activations(model, x, layer, out(f"activations-{lname}.png"),
                                 title=None)
        if "grad_cam" in chosen:
            glayer = args.layer if args.layer and viz.activations(model, x, args.layer).ndim == 3 else \
                (convs[-1] if convs else None)
            if glayer is None:
                raise UsageError("--grad-cam needs a convolutional layer")
            cam = viz.grad_cam(model, x, target, glayer)
            viz.plot_heatmap(x, cam, out(f"grad-cam-{glayer.replace('.', '-')}.png"), label="Grad-CAM",
                             title=f"Grad-CAM of {viz.display_name(model, viz.find_layer(model, glayer)[0])} "
                                   f"for {what}, {title_img}")
        if "saliency" in chosen:
            viz.plot_heatmap(x, viz.saliency(model, x, target), out("saliency.png"), label="saliency |d score / d pixel|",
                             title=f"Saliency for {what}, {title_img}")
        if "occlusion" in chosen:
            viz.plot_heatmap(x, viz.occlusion_sensitivity(model, x, target), out("occlusion.png"),
                             label="probability drop when covered",
                             title=f"Occlusion sensitivity for {what}, {title_img}")
        if "deep_dream" in chosen:
            act = viz.activations(model, x, layer)
            channels = list(range(min(args.channels, act.shape[0])))
            viz.plot_deep_dream(model, layer, channels, out(f"deep-dream-{lname}.png"),
                                input_shape=x.shape, seed=args.seed)
        if "graph" in chosen:
            viz.plot_graph(model, (1, *x.shape), out("graph.png"),
                           title=f"{meta.get('architecture', type(model).__name__)}: layer graph")
    except BaseException:
        for p in written:
            if os.path.exists(p):
                os.remove(p)
        _discard_output(created)
        raise
    print(f"{args.image}: predicted {what}" + (f"; pictures for class {classes[target]}" if args.target is not None
                                               else ""))
    for p in written:
        print(p)
    return 0


# Parser ------------------------------------------------------------------------------------------

def _add_data_options(p, default_data):
    p.add_argument("--data", choices=DATASETS, default=default_data,
                   help="digits: the embedded MNIST sample; sklearn: 8x8 digits; mnist: full MNIST "
                        "from IDX files in --root; folder: one sub-folder of images per label in --root"
                        + (" (default: the data the model was trained on)" if default_data is None else ""))
    p.add_argument("--root", default=None,
                   help="data folder for --data mnist (default: ./mnist) or --data folder")


def build_parser() -> argparse.ArgumentParser:
    from ._runtime import __version__

    p = _Parser(prog="pyengine", description="pyengine: a deep-learning tensor engine")
    p.add_argument("--version", action="version", version=f"pyengine {__version__}")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)
    sub.add_parser("info", help="version, CPU instruction set, threads, CUDA").set_defaults(func=_cmd_info)
    d = sub.add_parser("demo", help="run each CPU kernel once against the NumPy reference",
                       description="Runs each CPU kernel of the op registry once, on its largest sample input, "
                                   "and compares it with the float64 NumPy reference.")
    d.add_argument("--seed", type=int, default=0, help="seed of the sample inputs")
    d.set_defaults(func=_cmd_demo)

    t = sub.add_parser("train", help="train the digit CNN (the main job)",
                       description="Trains a network and writes model.safetensors and training-progress.png "
                                   "into --output. With no options: the digit CNN, sgdm, lr 0.01, on the "
                                   "embedded MNIST sample split 75/25 per class.")
    _add_training_options(t)
    t.add_argument("--output", default="pyengine-output", help="folder for the model file and the plot")
    t.add_argument("--no-plot", action="store_true", help="do not write training-progress.png")
    t.add_argument("--checkpoint-dir", default=None,
                   help="write checkpoints (everything training depends on, atomically) into DIR "
                        "(default: no checkpoints)")
    t.add_argument("--checkpoint-frequency", type=_positive_int, default=1,
                   help="a checkpoint every N epochs (or iterations, with --checkpoint-frequency-unit)")
    t.add_argument("--checkpoint-frequency-unit", choices=("epoch", "iteration"), default="epoch",
                   help="unit of --checkpoint-frequency")
    t.add_argument("--resume", action="store_true",
                   help="continue from the latest checkpoint in --checkpoint-dir (to the same result as an "
                        "uninterrupted run; a fresh start when there is none yet)")
    t.add_argument("--verbose-frequency", type=_positive_int, default=None,
                   help="print a progress table row every N iterations (default: one line per epoch)")
    t.add_argument("--log-dir", default=None,
                   help="write the scalars per iteration to DIR/scalars.csv, and TensorBoard event files "
                        "when tensorboardX is installed (default: no log)")
    t.add_argument("--quiet", action="store_true", help="print only the results")
    t.set_defaults(func=_cmd_train)

    u = sub.add_parser("tune", help="hyperparameter search (Optuna: TPE, random or grid)",
                       description="Searches the training options of the network for the best validation accuracy. "
                                   "A range is LOW:HIGH (uniform), LOW:HIGH:log, LOW:HIGH:int, or a list A,B,C; "
                                   "a single value fixes the option. The defaults of pyengine train are tried "
                                   "first. Writes the best model, results.txt and search.png into --output.")
    for name, spec in TUNE_SPACE.items():
        u.add_argument("--" + name.replace("_", "-"), default=spec, metavar="RANGE",
                       help={"lr": "learning rate", "batch_size": "mini-batch size", "solver": "optimizers",
                             "l2": "L2 regularisation", "momentum": "sgdm momentum"}[name])
    u.add_argument("--trials", type=_positive_int, default=20, help="trials to finish (completed or pruned)")
    u.add_argument("--timeout", type=_positive_float, default=None,
                   help="seconds after which no new trial starts (default: none)")
    u.add_argument("--sampler", choices=("tpe", "random", "grid"), default="tpe",
                   help="tpe (Bayesian), random, or grid (every combination)")
    u.add_argument("--grid-points", type=_positive_int, default=3, help="values per range for --sampler grid")
    u.add_argument("--no-pruning", action="store_true",
                   help="run every trial to the end (default: the median pruner stops trials below the median)")
    u.add_argument("--storage", default=None,
                   help="SQLite file keeping the study; the same command continues it (default: in memory)")
    u.add_argument("--study-name", default="pyengine-tune", help="study name inside --storage")
    _add_training_options(u, tuning=True)
    u.add_argument("--output", default="pyengine-tune", help="folder for the best model, the table and the plot")
    u.add_argument("--quiet", action="store_true", help=argparse.SUPPRESS)
    u.set_defaults(func=_cmd_tune)

    v = sub.add_parser("visualize", help="pictures of a trained network: filters, activations, Grad-CAM, graph",
                       description="Writes PNGs that show what a trained network does with one image. With no "
                                   "picture option: --filters --activations --grad-cam --graph.")
    v.add_argument("model_file", help="a model file written by pyengine train")
    v.add_argument("image", help="an image file (.png, .jpg, or .npy)")
    v.add_argument("--layer", default=None,
                   help="layer to look at: a name from the graph (features.4) or kind and position (conv2, relu1) "
                        "(default: the first Conv2d; Grad-CAM: the last)")
    v.add_argument("--filters", action="store_true", help="the layer's filters")
    v.add_argument("--activations", action="store_true", help="the layer's feature maps, strongest channel marked")
    v.add_argument("--grad-cam", dest="grad_cam", action="store_true", help="Grad-CAM heatmap over the image")
    v.add_argument("--saliency", action="store_true", help="gradient saliency heatmap over the image")
    v.add_argument("--occlusion", action="store_true", help="occlusion-sensitivity heatmap over the image")
    v.add_argument("--deep-dream", dest="deep_dream", action="store_true",
                   help="inputs that excite the layer's first --channels channels")
    v.add_argument("--graph", action="store_true", help="the layer graph with shapes and parameter counts")
    v.add_argument("--target", type=int, default=None, help="class to explain (default: the predicted one)")
    v.add_argument("--channels", type=_positive_int, default=8, help="channels for --deep-dream")
    v.add_argument("--seed", type=int, default=0, help="seed of --deep-dream's starting noise")
    v.add_argument("--output", default="pyengine-viz", help="folder for the PNG files")
    v.set_defaults(func=_cmd_visualize)

    e = sub.add_parser("evaluate", help="loss, accuracy and confusion matrix of a saved model")
    e.add_argument("model_file", help="a model file written by pyengine train")
    _add_data_options(e, None)
    e.add_argument("--seed", type=int, default=None, help="split seed (default: the one used in training)")
    e.set_defaults(func=_cmd_evaluate)

    r = sub.add_parser("predict", help="classify image files (PNG/JPEG through Pillow, or .npy)",
                       description="Classifies images: PNG/JPEG files, or .npy arrays holding one image (H, W) "
                                   "or a batch (N, H, W) / (N, 1, H, W). Images of another size are resized "
                                   "to the model's, with a warning.")
    r.add_argument("model_file", help="a model file written by pyengine train (or its int8 export)")
    r.add_argument("images", nargs="+", help="image files (.png, .jpg, .npy)")
    r.set_defaults(func=_cmd_predict)

    x = sub.add_parser("export", help="write an int8 model (--int8) and/or ONNX (--onnx) of a trained model",
                       description="--int8: post-training static quantization (int8 weights per channel, uint8 "
                                   "activations calibrated on training images), written as an int8 model file "
                                   "that evaluate and predict run; --onnx PATH: the ONNX graph (int8 QDQ with "
                                   "--int8, else float32).")
    x.add_argument("model_file", help="a model file written by pyengine train")
    x.add_argument("--int8", action="store_true", help="quantize to int8")
    x.add_argument("--onnx", default=None, metavar="PATH", help="also write ONNX to PATH (default: no ONNX)")
    x.add_argument("--output", default=None,
                   help="the int8 model file (default: MODEL-int8.safetensors next to the model)")
    x.add_argument("--calibration", type=_positive_int, default=256, help="training images to calibrate on")
    x.add_argument("--observer", choices=("minmax", "histogram", "mse"), default="histogram",
                   help="how activation ranges are chosen")
    x.set_defaults(func=_cmd_export)

    c = sub.add_parser("convert", help="a PyTorch .pth state dict as a safetensors weights file",
                       description="Converts a PyTorch state dict (read with torch.load(weights_only=True), so no "
                                   "code in the file runs; needs torch) to a safetensors file that "
                                   "pyengine.models.<name>(weights=FILE) and --pretrained read.")
    c.add_argument("source", help="the .pth / .pt file")
    c.add_argument("destination", help="the .safetensors file to write")
    c.add_argument("--key", default=None, help="the checkpoint entry that holds the state dict "
                                               "(default: the file itself, or its state_dict/model entry)")
    c.add_argument("--strip-prefix", default="module.", help="removed from names (DataParallel's 'module.')")
    c.add_argument("--model", default=None, help="check the names and shapes against this zoo model "
                                                 "(default: no check)")
    c.add_argument("--imagenet", action="store_true",
                   help="record ImageNet's normalisation (mean, std, 224 crop of a 256 resize) with the weights")
    c.add_argument("--mean", type=float, nargs="+", default=None,
                   help="per-channel mean to record (default: none, or ImageNet's with --imagenet)")
    c.add_argument("--std", type=float, nargs="+", default=None,
                   help="per-channel std to record (default: none, or ImageNet's with --imagenet)")
    c.add_argument("--size", type=_positive_int, nargs=2, metavar=("H", "W"), default=None,
                   help="input size to record (default: none, or 224 224 with --imagenet)")
    c.set_defaults(func=_cmd_convert)
    return p


def _add_training_options(t, tuning=False):
    """The options of `pyengine train` (and the fixed ones of `pyengine tune`)."""
    from .models import list_models
    t.add_argument("--model", choices=("digit-cnn", "mlp") + tuple(n for n in list_models() if n != "digit_cnn"),
                   default="digit-cnn", help="network to train (a zoo model takes the 1-channel digits "
                                             "repeated to 3 channels)")
    if not tuning:
        t.add_argument("--pretrained", default=None, metavar="FILE",
                       help="start a zoo model from these weights (safetensors; a torchvision .pth converted "
                            "by `pyengine convert`, or a model file of `pyengine train`); a head of another "
                            "size is replaced (default: random initial weights)")
        t.add_argument("--freeze-body", action="store_true",
                       help="train only the zoo model's head; the rest keeps its weights and batch-norm "
                            "statistics")
        t.add_argument("--body-lr-factor", type=_non_negative_float, default=1.0,
                       help="learning-rate factor of every layer but the head (MATLAB's "
                            "WeightLearnRateFactor; default 1)")
    if not tuning:
        t.add_argument("--solver", choices=SOLVERS, default="sgdm", help="optimizer")
        t.add_argument("--lr", type=_positive_float, default=0.01, help="initial learning rate")
        t.add_argument("--momentum", type=_unit_interval, default=0.9, help="sgdm momentum, in [0, 1)")
        t.add_argument("--batch-size", type=_positive_int, default=32, help="mini-batch size")
        t.add_argument("--l2", type=_non_negative_float, default=0.0, help="L2 regularisation (weight decay)")
    t.add_argument("--epochs", type=_positive_int, default=6, help="passes over the training data")
    t.add_argument("--grad-clip", type=_positive_float, default=None,
                   help="gradient threshold, L2 norm of all gradients (default: no clipping)")
    t.add_argument("--lr-schedule", choices=SCHEDULES, default="piecewise",
                   help="piecewise: multiply the rate by --lr-drop-factor every --lr-drop-period epochs; "
                        "cosine; none")
    t.add_argument("--lr-drop-period", type=_positive_int, default=4, help="epochs between drops")
    t.add_argument("--lr-drop-factor", type=_fraction, default=0.1, help="factor per drop, in (0, 1)")
    t.add_argument("--validation-frequency", type=_positive_int, default=None,
                   help="validate every N iterations (default: every epoch)")
    t.add_argument("--patience", type=_positive_int, default=None,
                   help="stop when the validation loss has not improved for N validations (default: never)")
    t.add_argument("--shuffle", choices=("every-epoch", "once", "never"), default="every-epoch",
                   help="order of the training data: reshuffled every epoch, shuffled once, or as stored")
    t.add_argument("--val-fraction", type=_fraction, default=0.25, help="held out per class for validation")
    _add_data_options(t, "digits")
    t.add_argument("--download", action="store_true", help="fetch MNIST into --root when missing")
    t.add_argument("--image-size", type=_positive_int, nargs=2, metavar=("H", "W"), default=None,
                   help="resize --data folder images to H W (default: their own size)")
    t.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where to train")
    t.add_argument("--execution-environment", choices=ENVIRONMENTS, default=None,
                   help="MATLAB's ExecutionEnvironment: auto (the GPU when usable, else the CPU), cpu, gpu, "
                        "multi-gpu or parallel (data-parallel; started by a launcher) (default: --device)")
    t.add_argument("--threads", type=_positive_int, default=None,
                   help="CPU threads (default: all cores, also on a busy machine)")
    t.add_argument("--nproc", type=_positive_int, default=1,
                   help="data-parallel ranks on this machine, started through mpiexec (the distributed extra); "
                        "the mini-batch is divided among them (default 1)")
    t.add_argument("--seed", type=int, default=0, help="seed of the initial weights, the split and the shuffling")


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from .data import DataError
    from .io import CorruptFileError

    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"pyengine {args.command}: interrupted; nothing was written", file=sys.stderr)
        return 130
    except BrokenPipeError:                     # e.g. `pyengine info | head -1`
        sys.stdout = open(os.devnull, "w")
        return 0
    except (UsageError, DataError, CorruptFileError, ValueError, TypeError, OSError, ImportError,
            FloatingPointError) as exc:
        if os.environ.get("PYENGINE_DEBUG"):
            raise
        print(f"pyengine {args.command}: error: {exc}", file=sys.stderr)
        return 2
