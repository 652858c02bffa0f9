"""Callbacks of the fit loop: Keras-style objects, MATLAB-style output functions, the verbose table,
and scalar loggers (CSV always, TensorBoard when a writer package is installed).

Two kinds of callback go in ``fit(..., callbacks=[...])``:

* an object with any of the methods of ``Callback`` (Keras's names): ``on_train_begin(logs)``,
  ``on_epoch_begin(epoch, logs)``, ``on_batch_begin(batch, logs)``, ``on_batch_end(batch, logs)``,
  ``on_validation_end(iteration, logs)``, ``on_epoch_end(epoch, logs)``, ``on_train_end(logs)``.
  ``epoch`` and ``batch`` (the index within the epoch) count from 0. ``logs`` is a dict of plain
  floats (see ``Dispatcher``). Before training, fit calls ``set_model(model)`` and
  ``set_history(history)`` where the callback has them. A method that returns True, or setting
  ``model.stop_training = True`` (as in Keras), stops training after the current iteration.
* a plain function, MATLAB's ``OutputFcn``: called as ``fn(info)`` with a ``TrainingInfo`` once with
  state "start", after every iteration with state "iteration", and at the end with state "done";
  returning True stops training after the current iteration (MATLAB: a function returning true).

When training is stopped this way, fit validates once more (when it has validation data and the
last validation was not at this iteration) and sets ``history.stop_reason = "callback"``.
"""
from __future__ import annotations

import csv
import math
import os
import sys
from dataclasses import dataclass

__all__ = ["Callback", "TrainingInfo", "CSVLogger", "TensorBoardLogger", "VerboseTable", "Dispatcher"]


class Callback:
    """Base class with every hook as a no-op; subclass and override what you need."""

    model = None
    history = None

    def set_model(self, model):
        self.model = model

    def set_history(self, history):
        self.history = history

    def on_train_begin(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_batch_begin(self, batch, logs=None):
        pass

    def on_batch_end(self, batch, logs=None):
        pass

    def on_validation_end(self, iteration, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass


@dataclass
class TrainingInfo:
    """What an output function sees (MATLAB's info structure, in snake case). ``epoch`` counts from
    0 like History.epoch; validation fields are None except at an iteration that validated."""
    state: str
    epoch: int
    iteration: int
    time_since_start: float
    training_loss: float | None = None
    training_accuracy: float | None = None
    base_learn_rate: float | None = None
    validation_loss: float | None = None
    validation_accuracy: float | None = None


class Dispatcher:
    """Calls every callback's hook and collects stop requests; built by fit.

    Batch logs: ``batch, epoch, iteration, loss, accuracy, lr, time`` and, at an iteration that
    validated, ``val_loss, val_accuracy``. Epoch logs: ``loss`` and ``accuracy`` (means over the
    epoch's iterations), ``lr``, ``time``, and the latest ``val_loss, val_accuracy``.
    """

    def __init__(self, callbacks, model, history):
        self.objects, self.functions = [], []
        for cb in callbacks:
            if any(hasattr(cb, h) for h in _HOOKS):
                self.objects.append(cb)
            elif callable(cb):
                self.functions.append(cb)
            else:
                raise TypeError(f"fit: a callback must have on_epoch_end/on_batch_end/... methods or be a "
                                f"function of TrainingInfo (an output function), got {type(cb).__name__}")
        self.model = model
        for cb in self.objects:
            for name, value in (("set_model", model), ("set_history", history)):
                fn = getattr(cb, name, None)
                if callable(fn):
                    fn(value)
        self.stop_requested = False

    def call(self, hook, *args) -> bool:
        for cb in self.objects:
            fn = getattr(cb, hook, None)
            if fn is not None and fn(*args) is True:
                self.stop_requested = True
        if getattr(self.model, "stop_training", False):
            self.stop_requested = True
        return self.stop_requested

    def output(self, info: TrainingInfo) -> bool:
        for fn in self.functions:
            if fn(info) is True:
                self.stop_requested = True
        return self.stop_requested


_HOOKS = ("on_train_begin", "on_epoch_begin", "on_batch_begin", "on_batch_end", "on_validation_end",
          "on_epoch_end", "on_train_end", "set_model")


def _fmt(v, spec):
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


class VerboseTable(Callback):
    """MATLAB's verbose output: a table row every ``frequency`` iterations, at every validation
    and at the last iteration (Epoch | Iteration | Time | Mini-batch acc/loss | Validation acc/loss |
    Base learning rate)."""

    COLUMNS = (("Epoch", 7), ("Iteration", 10), ("Time (s)", 9), ("Mini-batch acc", 15), ("Val acc", 8),
               ("Mini-batch loss", 16), ("Val loss", 9), ("Base LR", 9))

    def __init__(self, frequency: int = 50, total_iterations: int | None = None, file=None):
        if isinstance(frequency, bool) or not isinstance(frequency, int) or frequency < 1:
            raise ValueError(f"fit: verbose_frequency must be a positive int, got {frequency!r}")
        self.frequency, self.total, self.file = frequency, total_iterations, file

    def _print(self, text):
        print(text, file=self.file or sys.stdout, flush=True)

    def on_train_begin(self, logs=None):
        rule = "|" + "|".join("=" * (w + 2) for _, w in self.COLUMNS) + "|"
        self._print(rule)
        self._print("|" + "|".join(f" {name:^{w}} " for name, w in self.COLUMNS) + "|")
        self._print(rule)

    def on_batch_end(self, batch, logs=None):
        it = logs["iteration"]
        validated = "val_loss" in logs
        if it % self.frequency and not validated and it != self.total and it != 1:
            return
        acc = logs.get("accuracy")
        cells = (logs["epoch"] + 1, it, _fmt(logs["time"], ".2f"), _fmt(None if acc is None else 100 * acc, ".2f"),
                 _fmt(100 * logs["val_accuracy"] if validated else None, ".2f"), _fmt(logs["loss"], ".4f"),
                 _fmt(logs.get("val_loss"), ".4f"), _fmt(logs["lr"], ".4g"))
        self._print("|" + "|".join(f" {str(c):>{w}} " for c, (_, w) in zip(cells, self.COLUMNS)) + "|")

    def on_train_end(self, logs=None):
        self._print("|" + "|".join("=" * (w + 2) for _, w in self.COLUMNS) + "|")


class CSVLogger(Callback):
    """One CSV row per iteration: iteration, epoch, loss, accuracy, lr, time, val_loss, val_accuracy
    (the last two only on iterations that validated). Rows are flushed as they come, so a killed run
    keeps its log; ``append=True`` continues an existing file (a resumed run)."""

    FIELDS = ("iteration", "epoch", "loss", "accuracy", "lr", "time", "val_loss", "val_accuracy")

    def __init__(self, path, append: bool = False):
        self.path, self.append = os.fspath(path), append
        self._file = self._writer = None

    def on_train_begin(self, logs=None):
        folder = os.path.dirname(self.path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        fresh = not (self.append and os.path.exists(self.path) and os.path.getsize(self.path) > 0)
        self._file = open(self.path, "w" if fresh else "a", newline="", encoding="utf-8")
        self._writer = csv.writer(self._file)
        if fresh:
            self._writer.writerow(self.FIELDS)

    def on_batch_end(self, batch, logs=None):
        self._writer.writerow(["" if logs.get(k) is None else logs[k] for k in self.FIELDS])
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
            self._file = None

    def __del__(self):
        f = getattr(self, "_file", None)
        if f is not None:
            f.close()


def tensorboard_writer_class():
    """tensorboardX's SummaryWriter when that package is installed, else None (torch is never
    imported here: it is not a run-time dependency)."""
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter


class TensorBoardLogger(Callback):
    """Scalars as TensorBoard event files in ``log_dir`` (train/loss, train/accuracy, train/lr per
    iteration; val/loss, val/accuracy per validation). Needs ``pip install tensorboardX``."""

    def __init__(self, log_dir):
        writer = tensorboard_writer_class()
        if writer is None:
            raise ImportError("TensorBoardLogger needs a TensorBoard writer: pip install tensorboardX "
                              "(CSVLogger needs nothing)")
        self.log_dir, self._cls, self._writer = os.fspath(log_dir), writer, None

    def on_train_begin(self, logs=None):
        self._writer = self._cls(self.log_dir)

    def on_batch_end(self, batch, logs=None):
        it = logs["iteration"]
        for tag, key in (("train/loss", "loss"), ("train/accuracy", "accuracy"), ("train/lr", "lr"),
                         ("val/loss", "val_loss"), ("val/accuracy", "val_accuracy")):
            if logs.get(key) is not None:
                self._writer.add_scalar(tag, logs[key], it)

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None
