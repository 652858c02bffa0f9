"""The training loop: fit (with validation, early stopping, checkpoints, resume, progress and the
training-progress plot), evaluate and predict.

One iteration: forward, loss, ``optimizer.zero_grad()``, ``loss.backward()``, optional gradient
clipping, ``optimizer.step()``. Mini-batch accuracy is read from the logits already computed.
Validation runs every ``validation_frequency`` iterations (else at the end of every epoch) and at
the last iteration, in ``model.eval()`` under ``no_grad``; the model is put back in training mode
afterwards. The scheduler steps once per epoch (ReduceLROnPlateau on the last validation loss).
Submodules that are in eval mode when fit starts, while the model itself is in training mode (a
frozen body, ``pyengine.models.transfer.freeze``), stay in eval mode: their batch norm keeps its
running statistics.
"""
from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass

import numpy as np

from ..data import DataLoader, TensorDataset
from ..io.safetensors_io import load_checkpoint, save_checkpoint
from . import environment
from .callbacks import Dispatcher, TrainingInfo, VerboseTable
from .checkpoint import latest_checkpoint, remove_stale_temp_files, rng_state, set_rng_state
from .history import History

__all__ = ["fit", "evaluate", "predict", "Evaluation"]


def _np(t):
    """A Tensor's (or array's) values as a NumPy array (copying from the GPU when needed)."""
    arr = t._data if hasattr(t, "_data") else t
    if not isinstance(arr, np.ndarray):
        get = getattr(arr, "get", None)
        arr = get() if get is not None else np.asarray(arr)
    return arr


def _loader(data, batch_size, shuffle, seed, what):
    """A DataLoader over data: a DataLoader (used as is), a Dataset, or an (inputs, targets) pair."""
    if data is None or isinstance(data, DataLoader):
        return data
    if isinstance(data, (tuple, list)) and len(data) == 2:
        data = TensorDataset(*data)
    if not (hasattr(data, "__len__") and hasattr(data, "__getitem__")):
        raise TypeError(f"fit: {what} must be a Dataset, a DataLoader or an (inputs, targets) pair, "
                        f"got {type(data).__name__}")
    return DataLoader(data, batch_size=batch_size, shuffle=shuffle, seed=seed)


def _to_device(x, device):
    if device is None or not hasattr(x, "to"):
        return x
    return x.to(device)


def _show_progress(progress) -> bool:
    if progress == "auto" or progress is True:
        return sys.stderr.isatty() if progress == "auto" else True
    return bool(progress)


SHUFFLE = ("every-epoch", "once", "never")


def _shuffle_mode(shuffle):
    """MATLAB's Shuffle option ('once', 'every-epoch', 'never'; True/False mean every-epoch/never)."""
    if shuffle is True or shuffle is None:
        return "every-epoch"
    if shuffle is False:
        return "never"
    if shuffle not in SHUFFLE:
        raise ValueError(f"fit: shuffle must be one of {', '.join(map(repr, SHUFFLE))} (or True/False), "
                         f"got {shuffle!r}")
    return shuffle


def _clip(model, grad_clip):
    from ..nn.utils import clip_grad_norm_, clip_grad_value_
    params = list(model.parameters())
    if isinstance(grad_clip, (tuple, list)) and grad_clip and grad_clip[0] == "value":
        clip_grad_value_(params, grad_clip[1])
    else:
        value = grad_clip[1] if isinstance(grad_clip, (tuple, list)) else grad_clip
        clip_grad_norm_(params, value)


def _snapshot(model) -> dict:
    return {k: _np(v).copy() for k, v in model.state_dict().items()}


def fit(model, train_data, loss_fn, optimizer, epochs: int = 10, batch_size: int = 128, validation_data=None,
        validation_frequency: int | None = None, patience: int | None = None, scheduler=None, grad_clip=None,
        metrics=("accuracy",), checkpoint_dir=None, callbacks=(), progress="auto", plot=None, resume_from=None,
        shuffle="every-epoch", seed: int | None = None, device=None, restore_best: bool = True,
        verbose: bool = False, verbose_frequency: int = 50, execution_environment: str | None = None,
        checkpoint_frequency: int = 1, checkpoint_frequency_unit: str = "epoch") -> History:
    """Trains ``model`` and returns its History.

    train_data, validation_data: Dataset, DataLoader or (inputs (N, ...), targets (N,)) pair.
    validation_frequency: validate every this many iterations (None: at the end of each epoch).
    patience: stop when the validation loss has not improved for this many validations, then
    restore the best weights (restore_best). grad_clip: max L2 norm of all gradients, or
    ("value", v) to clamp each element. checkpoint_dir: write a checkpoint there every
    checkpoint_frequency epochs or iterations (checkpoint_frequency_unit "epoch" or "iteration",
    MATLAB's CheckpointFrequency/CheckpointFrequencyUnit) and at the end, atomically; it holds
    everything the rest of the run depends on (see pyengine.train.checkpoint), so resume_from — a
    checkpoint file, or a folder to take its latest checkpoint from (none there: a fresh start) —
    continues to the same bits as the uninterrupted run, even after a kill -9 mid-epoch.
    progress: "auto" (a tqdm bar when stderr is a terminal), True or False. plot: path of the
    training-progress PNG.

    callbacks: Keras-style objects and MATLAB-style output functions (see pyengine.train.callbacks);
    either can stop training. verbose: print MATLAB's progress table every verbose_frequency
    iterations (and at each validation). shuffle: 'every-epoch' (a new order each epoch),
    'once' (one shuffled order, reused every epoch) or 'never'. execution_environment: 'auto',
    'cpu', 'gpu', 'multi-gpu' or 'parallel' (see pyengine.train.environment); the model is moved
    to the device it names.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"fit: epochs must be a positive int, got {epochs!r}")
    if validation_frequency is not None and (not isinstance(validation_frequency, int) or validation_frequency < 1):
        raise ValueError(f"fit: validation_frequency must be a positive int or None, got {validation_frequency!r}")
    if patience is not None and (not isinstance(patience, int) or patience < 1):
        raise ValueError(f"fit: patience must be a positive int or None, got {patience!r}")
    if isinstance(checkpoint_frequency, bool) or not isinstance(checkpoint_frequency, int) or checkpoint_frequency < 1:
        raise ValueError(f"fit: checkpoint_frequency must be a positive int, got {checkpoint_frequency!r}")
    if checkpoint_frequency_unit not in ("epoch", "iteration"):
        raise ValueError(f"fit: checkpoint_frequency_unit must be 'epoch' or 'iteration', got "
                         f"{checkpoint_frequency_unit!r}")
    seed = int(np.random.randint(0, 2**31 - 1)) if seed is None else int(seed)
    shuffle_mode = _shuffle_mode(shuffle)
    device, data_parallel = environment.resolve(execution_environment, device)
    if isinstance(train_data, DataLoader) and shuffle not in (None, True, "every-epoch") \
            and train_data.shuffle != (shuffle_mode != "never"):
        raise ValueError(f"fit: shuffle={shuffle!r} contradicts the DataLoader given (shuffle={train_data.shuffle}); "
                         "pass the data as a Dataset or (inputs, targets), or a DataLoader that matches")
    if shuffle_mode == "once" and getattr(train_data, "generator", None) is not None:
        raise ValueError("fit: shuffle='once' needs a DataLoader shuffled from a seed (seed=...), not from a Generator")
    train_loader = _loader(train_data, batch_size, shuffle_mode != "never", seed, "train_data")
    par = None
    if data_parallel:                   # N ranks × B/N, averaged metrics, rank 0 writes (distributed.training)
        from ..distributed.training import DataParallelFit
        par = DataParallelFit(str(execution_environment).lower())
        train_loader = par.shard(train_loader)
    is_main = par is None or par.is_main
    val_loader = _loader(validation_data, max(batch_size, 256), False, seed, "validation_data")
    want_acc = "accuracy" in tuple(metrics or ())
    callbacks = list(callbacks) if isinstance(callbacks, (list, tuple)) else [callbacks] if callbacks else []
    if execution_environment is not None and device is not None:
        model.to(device)

    history, start_epoch, start_batch = History(), 0, 0
    best = {"loss": math.inf, "weights": None, "bad": 0, "iteration": None}
    resumed = None     # the saved train state when continuing from a checkpoint that has one
    stop = False
    if resume_from is not None:
        as_folder = os.path.isdir(os.fspath(resume_from)) or not (os.path.exists(os.fspath(resume_from))
                                                                  or os.fspath(resume_from).endswith(".safetensors"))
        path = latest_checkpoint(resume_from) if as_folder else resume_from
        if path is not None:
            info = load_checkpoint(path, model, optimizer, scheduler)
            start_epoch = int(info["epoch"]) + 1
            history = History.from_dict(info["history"] or {})
            extra = info["extra"] or {}
            best.update(loss=float(extra.get("best_loss", math.inf)), bad=int(extra.get("bad", 0)),
                        iteration=extra.get("best_iteration"))
            resumed = extra.get("train_state")
            best_weights = {k[len("best/"):]: v for k, v in info["tensors"].items() if k.startswith("best/")}
            if resumed is not None:
                start_epoch, start_batch = int(resumed["position"]["epoch"]), int(resumed["position"]["batch"])
                best["weights"] = best_weights or None
                stop = bool(resumed.get("stop"))
            else:   # a checkpoint written at an epoch's end by an earlier version
                best_path = os.path.join(os.path.dirname(os.fspath(path)), "best.safetensors")
                if os.path.exists(best_path):
                    from ..io import load_file
                    best["weights"] = load_file(best_path)
    if checkpoint_dir is not None and is_main:
        os.makedirs(checkpoint_dir, exist_ok=True)
        remove_stale_temp_files(checkpoint_dir)
    step_model = par.wrap(model) if par is not None else model

    iteration = history.iteration[-1] if history.iteration else 0
    if resumed is not None:
        iteration = int(resumed["iteration"])
    t_start = time.perf_counter() - (history.time[-1] if history.time else 0.0)
    batches = len(train_loader)
    total_iters = epochs * batches
    show = _show_progress(progress) and not verbose and is_main
    if verbose and is_main:
        callbacks.insert(0, VerboseTable(verbose_frequency, total_iters))
    cbs = Dispatcher(callbacks, model, history)
    cbs.call("on_train_begin", {})

    def training_info(state, **kw):
        return TrainingInfo(state=state, epoch=history.epoch[-1] if history.epoch else start_epoch,
                            iteration=iteration, time_since_start=time.perf_counter() - t_start,
                            training_loss=history.loss[-1] if history.loss else None,
                            training_accuracy=history.accuracy[-1] if history.accuracy else None,
                            base_learn_rate=float(optimizer.param_groups[0]["lr"]), **kw)

    cbs.output(training_info("start"))

    def save_state(name, epoch_now, batch_now, last_val_loss):
        """A checkpoint from which training continues at (epoch_now, batch_now): batch_now batches
        of epoch_now are done (batch_now == len(loader): all, its end not yet). Called on every
        rank of a data-parallel run: each rank's random state (its dropout stream is its own) is
        gathered, and rank 0 writes."""
        in_epoch = 0 < batch_now < batches
        rng = rng_state()
        state = {"position": {"epoch": epoch_now, "batch": batch_now}, "iteration": iteration,
                 "loader": train_loader.state_dict() if in_epoch else None, "rng": rng,
                 "stop": stop, "stop_reason": history.stop_reason, "last_val_loss": last_val_loss}
        if par is not None and par.world_size > 1:
            state["rank_rng"] = par.all_ranks(rng)
        if not is_main:
            return
        path = os.path.join(checkpoint_dir, name + ".safetensors")
        try:
            save_checkpoint(path, model, optimizer, scheduler, epoch=epoch_now - 1, history=history,
                            extra={"best_loss": best["loss"], "bad": best["bad"], "best_iteration": best["iteration"],
                                   "train_state": state},
                            tensors={f"best/{k}": v for k, v in (best["weights"] or {}).items()})
        except OSError as exc:   # disk full, read-only folder...: the earlier checkpoints are untouched
            raise OSError(exc.errno, f"fit: cannot write the checkpoint {path} ({exc.strerror or exc}); training "
                                     f"stopped at iteration {iteration}, the earlier checkpoints in {checkpoint_dir} "
                                     "are intact (resume from them once there is room)") from exc

    if resumed is not None:
        # last: everything above may draw random numbers the uninterrupted run drew before this point.
        # A data-parallel checkpoint holds every rank's state; resumed on as many ranks, each takes
        # its own (on another count the run cannot be the same anyway: rank 0's for all).
        rank_rng = resumed.get("rank_rng")
        own = par is not None and rank_rng and len(rank_rng) == par.world_size
        set_rng_state(rank_rng[par.rank] if own else resumed["rng"])

    def validate():
        nonlocal stop
        if par is not None:
            par.before_validation()
        ev = evaluate(model, val_loader, loss_fn, device=device)
        history.val_iteration.append(iteration)
        history.val_loss.append(ev.loss)
        history.val_accuracy.append(ev.accuracy)
        cbs.call("on_validation_end", iteration, {"iteration": iteration, "val_loss": ev.loss,
                                                  "val_accuracy": ev.accuracy})
        if patience is not None:
            if ev.loss < best["loss"]:
                best.update(loss=ev.loss, bad=0, iteration=iteration, weights=_snapshot(model))
                if checkpoint_dir is not None and is_main:
                    from ..io import save_file
                    save_file(best["weights"], os.path.join(checkpoint_dir, "best.safetensors"))
            else:
                best["bad"] += 1
                if best["bad"] >= patience:
                    stop = True
        return ev

    # Submodules the caller put in eval mode while the model itself is in training mode (a frozen
    # body's batch norm, for transfer learning) stay in eval mode whenever fit switches to training.
    keep_eval = [m for m in model.modules() if not m.training] if model.training else []

    def train_mode():
        model.train()
        for m in keep_eval:
            m.train(False)

    for epoch in range(start_epoch, epochs if not stop else start_epoch):
        mid_epoch = resumed is not None and epoch == start_epoch and start_batch > 0
        train_loader.set_epoch(0 if shuffle_mode == "once" else epoch)
        if mid_epoch and resumed.get("loader") is not None:
            train_loader.load_state_dict(resumed["loader"])
        train_mode()
        if not mid_epoch:
            cbs.call("on_epoch_begin", epoch, {})
        bar = None
        if show:
            from tqdm.auto import tqdm
            bar = tqdm(total=len(train_loader), desc=f"epoch {epoch + 1}/{epochs}", unit="batch", leave=False,
                       dynamic_ncols=True, file=sys.stderr)
        seen, t_epoch, epoch_loss, epoch_acc, last_val_loss = 0, time.perf_counter(), [], [], None
        first_batch = start_batch if mid_epoch else 0
        if mid_epoch:    # what the killed run had gathered of this epoch
            epoch_loss = [l for l, e in zip(history.loss, history.epoch) if e == epoch]
            epoch_acc = [a for a, e in zip(history.accuracy, history.epoch) if e == epoch and a is not None]
            last_val_loss = resumed.get("last_val_loss")
        for batch_index, (x, y) in enumerate(train_loader if first_batch < batches else (), start=first_batch):
            if cbs.objects:
                cbs.call("on_batch_begin", batch_index, {"batch": batch_index, "epoch": epoch})
            x, y = _to_device(x, device), _to_device(y, device)
            out = step_model(x)
            loss = loss_fn(out, y)
            optimizer.zero_grad()
            loss.backward()
            if grad_clip is not None:
                _clip(model, grad_clip)
            optimizer.step()
            iteration += 1
            n = len(_np(y))
            seen += n
            loss_v = float(loss.item())
            acc = float((_np(out).argmax(axis=1) == _np(y)).mean()) if want_acc and n else None
            if par is not None:
                loss_v, acc = par.metrics(loss_v, acc, n)
            history.iteration.append(iteration)
            history.epoch.append(epoch)
            history.loss.append(loss_v)
            history.accuracy.append(acc)
            history.lr.append(float(optimizer.param_groups[0]["lr"]))
            history.time.append(time.perf_counter() - t_start)
            epoch_loss.append(loss_v)
            if acc is not None:
                epoch_acc.append(acc)
            validated = None
            # every validation_frequency iterations, else at each epoch's last batch; always at the end
            if val_loader is not None and ((validation_frequency and iteration % validation_frequency == 0)
                                           or (not validation_frequency and batch_index == batches - 1)
                                           or iteration == total_iters):
                validated = validate()
                last_val_loss = validated.loss
                train_mode()
            if cbs.objects or cbs.functions:
                logs = {"batch": batch_index, "epoch": epoch, "iteration": iteration, "loss": loss_v,
                        "accuracy": acc, "lr": history.lr[-1], "time": history.time[-1]}
                vkw = {}
                if validated is not None:
                    logs.update(val_loss=validated.loss, val_accuracy=validated.accuracy)
                    vkw = {"validation_loss": validated.loss, "validation_accuracy": validated.accuracy}
                cbs.call("on_batch_end", batch_index, logs)
                if cbs.output(training_info("iteration", **vkw)) and not stop:
                    stop = True
                    history.stop_reason = "callback"
            if bar is not None:
                post = {"loss": f"{loss_v:.3f}", "img/s": f"{seen / max(1e-9, time.perf_counter() - t_epoch):.0f}"}
                if acc is not None:
                    post["acc"] = f"{100 * acc:.1f}%"
                if history.val_accuracy:
                    post["val"] = f"{100 * history.val_accuracy[-1]:.1f}%"
                bar.set_postfix(post, refresh=False)
                bar.update(1)
            if not math.isfinite(loss_v):
                if bar is not None:
                    bar.close()
                raise FloatingPointError(f"fit: the training loss became {loss_v} at iteration {iteration} "
                                         "(learning rate too high?)")
            if stop:
                break
            if checkpoint_dir is not None and checkpoint_frequency_unit == "iteration" and \
                    iteration % checkpoint_frequency == 0:
                save_state(f"checkpoint-iter{iteration:07d}", epoch, batch_index + 1, last_val_loss)
        if bar is not None:
            bar.close()
        if val_loader is not None and (not validation_frequency and not stop or history.stop_reason == "callback") \
                and (not history.val_iteration or history.val_iteration[-1] != iteration):
            last_val_loss = validate().loss
        if scheduler is not None:
            if hasattr(scheduler, "step") and type(scheduler).__name__ == "ReduceLROnPlateau":
                scheduler.step(last_val_loss if last_val_loss is not None else float(np.mean(epoch_loss)))
            else:
                scheduler.step()
        epoch_logs = {"loss": float(np.mean(epoch_loss)) if epoch_loss else None,
                      "accuracy": float(np.mean(epoch_acc)) if epoch_acc else None,
                      "lr": history.lr[-1] if history.lr else float(optimizer.param_groups[0]["lr"]),
                      "time": time.perf_counter() - t_start}
        if history.val_loss:
            epoch_logs.update(val_loss=history.val_loss[-1], val_accuracy=history.val_accuracy[-1])
        if cbs.call("on_epoch_end", epoch, epoch_logs) and not stop:
            stop = True
            history.stop_reason = "callback"
        if stop:
            history.stopped_early = True
            history.stop_reason = history.stop_reason or "patience"
        if checkpoint_dir is not None and \
                ((epoch + 1) % checkpoint_frequency == 0 or epoch == epochs - 1 or stop) \
                and (checkpoint_frequency_unit == "epoch" or epoch == epochs - 1 or stop):
            save_state(f"checkpoint-epoch{epoch + 1:03d}", epoch + 1, 0, None)
        if stop:
            break

    if patience is not None and restore_best and best["weights"] is not None:
        model.load_state_dict(best["weights"])
        history.best_iteration = best["iteration"]
    cbs.output(training_info("done"))
    cbs.call("on_train_end", {"iteration": iteration, "stop_reason": history.stop_reason})
    if plot is not None and is_main:
        history.plot(plot)
    return history


@dataclass
class Evaluation:
    """loss (mean over samples), accuracy in [0, 1], confusion (C, C): rows true, columns predicted."""
    loss: float
    accuracy: float
    confusion: np.ndarray
    n: int


def evaluate(model, data, loss_fn=None, batch_size: int = 256, num_classes: int | None = None,
             device=None) -> Evaluation:
    """Loss, accuracy and confusion matrix of ``model`` on data (Dataset, DataLoader or (x, y)),
    in eval mode under no_grad; the model's previous mode is restored."""
    from .. import no_grad
    from ..nn import CrossEntropyLoss

    loader = _loader(data, batch_size, False, 0, "data")
    loss_fn = loss_fn or CrossEntropyLoss()
    was_training = getattr(model, "training", True)
    model.eval()
    total, correct, loss_sum = 0, 0, 0.0
    preds, trues = [], []
    try:
        with no_grad():
            for x, y in loader:
                out = model(_to_device(x, device))
                yt = _to_device(y, device)
                n = len(_np(y))
                loss_sum += float(loss_fn(out, yt).item()) * n
                p = _np(out).argmax(axis=1)
                t = _np(y).astype(np.int64)
                correct += int((p == t).sum())
                total += n
                preds.append(p)
                trues.append(t)
                if num_classes is None:
                    num_classes = _np(out).shape[1]
    finally:
        model.train(was_training)
    k = int(num_classes or 0)
    confusion = np.zeros((k, k), np.int64)
    if preds:
        np.add.at(confusion, (np.concatenate(trues), np.concatenate(preds)), 1)
    return Evaluation(loss=loss_sum / max(total, 1), accuracy=correct / max(total, 1), confusion=confusion, n=total)


def predict(model, x, batch_size: int = 256, device=None):
    """Class probabilities (N, C) and labels (N,) for inputs x (N, C, H, W), or one (C, H, W) input."""
    from .. import from_numpy, no_grad

    arr = _np(x)
    if arr.ndim == 3:
        arr = arr[None]
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    was_training = getattr(model, "training", True)
    model.eval()
    probs = []
    try:
        with no_grad():
            for s in range(0, len(arr), batch_size):
                logits = _np(model(_to_device(from_numpy(arr[s:s + batch_size]), device))).astype(np.float64)
                e = np.exp(logits - logits.max(axis=1, keepdims=True))
                probs.append((e / e.sum(axis=1, keepdims=True)).astype(np.float32))
    finally:
        model.train(was_training)
    p = np.concatenate(probs) if probs else np.zeros((0, 0), np.float32)
    return p, p.argmax(axis=1) if len(p) else np.zeros(0, np.int64)
