"""The pyengine command line: `info`, `demo`, and the training workflow `train`, `evaluate`, `predict`.

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
MODEL_FILE = "model.safetensors"
PLOT_FILE = "training-progress.png"


class UsageError(Exception):
    """A user mistake: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad option as one line (no usage block) and exits with status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


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
    """A short tour of the kernel API: each CPU kernel against the NumPy reference."""
    import numpy as np

    from . import info, reference
    from .kernels import cpu

    info()
    rng = np.random.default_rng(args.seed)
    a = rng.standard_normal((512, 384), dtype=np.float32)
    b = rng.standard_normal((384, 256), dtype=np.float32)
    t0 = time.perf_counter()
    c = cpu.gemm(a, b)
    dt = time.perf_counter() - t0
    err = np.abs(c - reference.gemm(a.astype(np.float64), b.astype(np.float64))).max()
    print(f"gemm 512x384 @ 384x256: {2 * 512 * 384 * 256 / dt / 1e9:.1f} GFLOP/s, max |cpu - reference| = {err:.2e}")
    return 0


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


def _machine_is_busy() -> bool:
    try:
        return os.getloadavg()[0] > (os.cpu_count() or 1)
    except (AttributeError, OSError):
        return False


def _cmd_train(args) -> int:
    import numpy as np

    import pyengine
    from . import nn
    from .data import DataLoader, TensorDataset
    from .io import save
    from .train import build_model, fit

    t0 = time.perf_counter()
    if args.threads:
        pyengine.set_num_threads(args.threads)
    elif _machine_is_busy() and pyengine.get_num_threads() > 1:
        # OpenMP teams on an oversubscribed CPU spend their time waiting for descheduled threads
        # (10x slower measured at load 15 on 2 cores); one thread keeps the run fast.
        pyengine.set_num_threads(1)
        if not args.quiet:
            print("pyengine train: the machine is busy (load average above the core count): using 1 thread; "
                  "--threads N overrides", flush=True)
    if args.device == "cuda" and not pyengine.cuda.is_available():
        raise UsageError("--device cuda: no usable CUDA GPU (needs the CUDA build of pyengine, CuPy and a "
                         "driver); accepted here: --device cpu")
    out_dir = args.output
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise UsageError(f"--output {out_dir} exists and is not a folder")
    (x, y), (vx, vy), classes, data_meta = _load_data(args)
    pyengine.manual_seed(args.seed)
    np.random.seed(args.seed)
    c, h, w = x.shape[1:]
    if args.model == "digit-cnn" and (h % 4 or w % 4):
        raise UsageError(f"--model digit-cnn needs image sides divisible by 4, the data has {h}x{w}; "
                         "pass --image-size")
    model = build_model(args.model, in_channels=c, num_classes=len(classes), image_size=(h, w))
    if args.device != "cpu":
        model.to(args.device)
    opt = _optimizer(args, model.parameters())
    sched = _scheduler(args, opt)
    loader = DataLoader(TensorDataset(x, y), batch_size=args.batch_size, shuffle=True, seed=args.seed)
    if not args.quiet:
        print(f"pyengine train: {args.model} on {data_meta.get('description', data_meta['source'])}: "
              f"{len(x)} training / {len(vx)} validation images, {len(classes)} classes; "
              f"{args.solver} lr {args.lr}, {args.epochs} epochs, mini-batch {args.batch_size}", flush=True)
    history = fit(model, loader, nn.CrossEntropyLoss(), opt, epochs=args.epochs, batch_size=args.batch_size,
                  validation_data=(vx, vy), validation_frequency=args.validation_frequency,
                  patience=args.patience, scheduler=sched, grad_clip=args.grad_clip,
                  callbacks=[_EpochPrinter(args.epochs, args.quiet)],
                  progress="auto" if not args.quiet else False, seed=args.seed,
                  device=None if args.device == "cpu" else args.device)
    train_s = time.perf_counter() - t0
    val_acc = history.val_accuracy[-1]
    os.makedirs(out_dir, exist_ok=True)
    model_path = os.path.join(out_dir, MODEL_FILE)
    meta = {"classes": classes, "data": data_meta, "solver": args.solver, "lr": args.lr, "epochs": args.epochs,
            "batch_size": args.batch_size, "val_accuracy": val_acc, "train_seconds": round(train_s, 2)}
    save(model, model_path, metadata=meta)
    plot_note = ""
    if not args.no_plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            plot_note = "training-progress plot skipped: matplotlib is not installed (pip install \"pyengine[plot]\")"
        else:
            history.plot(os.path.join(out_dir, PLOT_FILE), title=f"{args.model}, {args.solver}")
    print(f"validation accuracy: {100 * val_acc:.2f}% ({len(vx)} images)")
    print(f"model: {model_path}")
    if not args.no_plot:
        print(plot_note or f"training progress: {os.path.join(out_dir, PLOT_FILE)}")
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
    if arch not in known:
        raise UsageError(f"{path} holds a {arch or 'model of unknown architecture'}; accepted: models written "
                         f"by `pyengine train` ({', '.join(MODELS)})")
    try:
        config = json.loads(meta.get("config", "{}"))
        model = build_model(arch, **config)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{path}: its model configuration is invalid ({exc})") from None
    from .io.safetensors_io import load_into
    load_into(model, arrays, meta, path)
    model.eval()
    return model, meta


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


def _prepare_image(path, channels, size):
    """An image file as the network's input: grayscale (or RGB), resized, white-on-black like MNIST."""
    import numpy as np

    from .data.datasets import read_image
    from .data.transforms import Resize

    if not os.path.exists(path):
        raise UsageError(f"image file {path} does not exist")
    if path.endswith(".npy"):
        try:
            img = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise UsageError(f"{path}: not a readable .npy image ({exc})") from None
        if img.dtype != np.uint8:
            img = np.clip(img * (255.0 if img.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    else:
        img = read_image(path, grayscale=channels == 1)
    img = Resize(tuple(size))(img)
    if img.ndim == 2 and img.mean() > 127:      # dark digit on a light background: invert
        img = 255 - img
    x = img.astype(np.float32) / 255.0
    return x[None] if x.ndim == 2 else x.transpose(2, 0, 1)


def _cmd_predict(args) -> int:
    import numpy as np

    from .train import predict

    model, meta = _load_model(args.model_file)
    classes = json.loads(meta.get("classes", "null")) or [str(i) for i in range(model.config["num_classes"])]
    cfg = model.config
    xs = np.stack([_prepare_image(p, cfg["in_channels"], cfg["image_size"]) for p in args.images])
    probs, labels = predict(model, xs)
    for path, p, k in zip(args.images, probs, labels):
        top = np.argsort(p)[::-1][:3]
        alts = ", ".join(f"{classes[i]} {100 * p[i]:.1f}%" for i in top[1:])
        print(f"{path}: {classes[k]} ({100 * p[k]:.1f}%; next: {alts})")
    return 0


# Parser ------------------------------------------------------------------------------------------

def _add_data_options(p, default_data):
    p.add_argument("--data", choices=DATASETS, default=default_data,
                   help="digits: the embedded MNIST sample (default); sklearn: 8x8 digits; mnist: full MNIST "
                        "from IDX files in --root; folder: one sub-folder of images per label in --root")
    p.add_argument("--root", default=None, help="data folder for --data mnist or folder")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="pyengine", description="pyengine: a deep-learning tensor engine")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)
    sub.add_parser("info", help="version, CPU instruction set, threads, CUDA").set_defaults(func=_cmd_info)
    d = sub.add_parser("demo", help="run each CPU kernel once against the NumPy reference")
    d.add_argument("--seed", type=int, default=0)
    d.set_defaults(func=_cmd_demo)

    t = sub.add_parser("train", help="train the digit CNN (the main job)",
                       description="Trains a network and writes model.safetensors and training-progress.png "
                                   "into --output. With no options: the digit CNN, sgdm, lr 0.01, on the "
                                   "embedded MNIST sample split 75/25 per class.")
    t.add_argument("--model", choices=("digit-cnn", "mlp"), default="digit-cnn")
    t.add_argument("--solver", choices=SOLVERS, default="sgdm")
    t.add_argument("--lr", type=_positive_float, default=0.01, help="initial learning rate (default 0.01)")
    t.add_argument("--momentum", type=_non_negative_float, default=0.9, help="sgdm momentum (default 0.9)")
    t.add_argument("--epochs", type=_positive_int, default=6)
    t.add_argument("--batch-size", type=_positive_int, default=32)
    t.add_argument("--l2", type=_non_negative_float, default=0.0, help="L2 regularisation (weight decay)")
    t.add_argument("--grad-clip", type=_positive_float, default=None, help="gradient threshold (L2 norm)")
    t.add_argument("--lr-schedule", choices=SCHEDULES, default="piecewise",
                   help="piecewise (default): multiply the rate by --lr-drop-factor every --lr-drop-period "
                        "epochs; cosine; none")
    t.add_argument("--lr-drop-period", type=_positive_int, default=4, help="epochs between drops (default 4)")
    t.add_argument("--lr-drop-factor", type=_fraction, default=0.1, help="factor per drop (default 0.1)")
    t.add_argument("--validation-frequency", type=_positive_int, default=None,
                   help="validate every N iterations (default: every epoch)")
    t.add_argument("--patience", type=_positive_int, default=None, help="early-stopping patience (validations)")
    t.add_argument("--val-fraction", type=_fraction, default=0.25, help="held out per class (default 0.25)")
    _add_data_options(t, "digits")
    t.add_argument("--download", action="store_true", help="fetch MNIST into --root when missing")
    t.add_argument("--image-size", type=_positive_int, nargs=2, metavar=("H", "W"), default=None,
                   help="resize --data folder images to H W")
    t.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    t.add_argument("--threads", type=_positive_int, default=None,
                   help="CPU threads (default: all, or 1 when the load average exceeds the core count)")
    t.add_argument("--output", default="pyengine-output", help="folder for the model file and the plot")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--no-plot", action="store_true", help="do not write training-progress.png")
    t.add_argument("--quiet", action="store_true", help="print only the results")
    t.set_defaults(func=_cmd_train)

    e = sub.add_parser("evaluate", help="loss, accuracy and confusion matrix of a saved model")
    e.add_argument("model_file")
    _add_data_options(e, None)
    e.add_argument("--seed", type=int, default=None, help="split seed (default: the one used in training)")
    e.set_defaults(func=_cmd_evaluate)

    r = sub.add_parser("predict", help="classify image files (PNG/JPEG through Pillow, or .npy)")
    r.add_argument("model_file")
    r.add_argument("images", nargs="+")
    r.set_defaults(func=_cmd_predict)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
    except (UsageError, DataError, CorruptFileError, ValueError, TypeError, OSError, ImportError,
            FloatingPointError) as exc:
        if os.environ.get("PYENGINE_DEBUG"):
            raise
        print(f"pyengine {args.command}: error: {exc}", file=sys.stderr)
        return 2
