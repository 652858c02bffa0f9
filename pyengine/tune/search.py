"""Hyperparameter search on Optuna: samplers, median pruning, SQLite resume, results table and plot.

``tune(objective, space, ...)`` runs an Optuna study that maximises ``objective(params, trial)``:

* sampler "tpe" (Bayesian: a tree-structured Parzen estimator), "random", or "grid" (every
  combination of each range's ``grid_values``, in a seeded random order);
* the objective reports its validation accuracy once per epoch with ``trial.report(value, epoch)``;
  with pruning on, Optuna's median pruner stops a trial whose accuracy at that epoch is below the
  median of the earlier trials at the same epoch (after 5 trials and 1 epoch of warm-up);
* ``seed`` seeds the sampler (and the objective should seed its training from it), so the same
  command gives the same study; ``storage`` (a file name, or an SQLAlchemy URL) keeps the study in
  SQLite: run the same command again after an interruption and it continues, re-running the trial
  that was cut off, until ``trials`` trials have finished;
* ``enqueue``: parameter sets to try first (the CLI puts the defaults there, so the search can only
  end at least as good as them on the validation data).

Optuna is an optional extra: ``pip install "pyengine[tune]"``.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field

from .space import contains, grid_values, parse_space

__all__ = ["tune", "TuneResult", "TrialContext", "SAMPLERS"]

SAMPLERS = ("tpe", "random", "grid")


def _optuna():
    try:
        import optuna
    except ImportError:
        raise ImportError("hyperparameter tuning needs Optuna: pip install \"pyengine[tune]\" (or pip install optuna)") \
            from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


class TrialContext:
    """What the objective sees of its trial: ``number``, ``params``, ``seed``, ``report(value, step)``
    (which raises optuna.TrialPruned when the pruner stops the trial; let it propagate)."""

    def __init__(self, trial, params, seed, pruning):
        self._trial, self.params, self.seed, self._pruning = trial, params, seed, pruning
        self.number = trial.number
        self.steps = 0

    def report(self, value: float, step: int) -> None:
        self._trial.report(float(value), int(step))
        self.steps = int(step) + 1
        if self._pruning and self._trial.should_prune():
            raise _optuna().TrialPruned(f"pruned at step {step} (value {value:.4f})")

    def set(self, key, value):
        """Keeps a JSON-able value with the trial (shown by TuneResult.rows)."""
        self._trial.set_user_attr(key, value)


@dataclass
class TuneResult:
    study: object
    space: dict
    sampler: str
    seed: int
    rows: list = field(default_factory=list)

    @property
    def best(self):
        done = [r for r in self.rows if r["state"] == "COMPLETE"]
        return done[0] if done else None

    def table(self, percent: bool = True) -> str:
        """Every trial, best first (finished by value, then pruned by their last value, then failed)."""
        names = list(self.space)
        head = ["rank", "trial", "state", "val acc", *names, "epochs", "time (s)"]
        lines = []
        for k, r in enumerate(self.rows, 1):
            v = r["value"]
            val = "" if v is None else (f"{100 * v:.2f}%" if percent else f"{v:.4f}")
            cells = [str(k), str(r["trial"]), r["state"].lower(), val]
            cells += [_fmt_param(r["params"].get(n)) for n in names]
            cells += [str(r.get("epochs", "")), "" if r.get("seconds") is None else f"{r['seconds']:.1f}"]
            lines.append(cells)
        widths = [max(len(c) for c in col) for col in zip(head, *lines)]
        out = ["  ".join(h.ljust(w) for h, w in zip(head, widths))]
        out += ["  ".join(c.ljust(w) for c, w in zip(cells, widths)) for cells in lines]
        return "\n".join(out)

    def plot(self, path=None, title: str = "pyengine tune"):
        from .plot import plot_study
        return plot_study(self, path, title)


def _fmt_param(v):
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


def _storage_url(storage):
    if storage is None:
        return None
    text = os.fspath(storage)
    if "://" in text:
        return text
    folder = os.path.dirname(os.path.abspath(text))
    if not os.path.isdir(folder):
        raise ValueError(f"tune: storage folder {folder} does not exist")
    return "sqlite:///" + os.path.abspath(text)


def _sampler(name, space, seed, grid_points):
    optuna = _optuna()
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "grid":
        return optuna.samplers.GridSampler({k: grid_values(r, grid_points) for k, r in space.items()}, seed=seed)
    raise ValueError(f"tune: sampler must be one of {', '.join(SAMPLERS)}, got {name!r}")


def _finished(study):
    optuna = _optuna()
    return [t for t in study.get_trials(deepcopy=False)
            if t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)]


def _recover_interrupted(study):
    """Trials cut off by the last run — left RUNNING by a killed process, or failed with the
    ``interrupted`` mark by Ctrl-C — are queued again with the same parameters (once each)."""
    optuna = _optuna()
    S = optuna.trial.TrialState
    done = set(study.user_attrs.get("requeued", []))
    again = []
    for t in study.get_trials(deepcopy=False):
        cut = t.state == S.RUNNING or (t.state == S.FAIL and t.user_attrs.get("interrupted"))
        if not cut or t.number in done:
            continue
        if t.state == S.RUNNING:
            study._storage.set_trial_state_values(t._trial_id, S.FAIL)
        if t.params:
            study.enqueue_trial(dict(t.params), skip_if_exists=False)
        again.append(t.number)
    if again:
        study.set_user_attr("requeued", sorted(done | set(again)))
    return again


def tune(objective, space: dict, *, trials: int = 20, timeout: float | None = None, sampler: str = "tpe",
         seed: int = 0, storage=None, study_name: str = "pyengine-tune", pruning: bool = True, enqueue=(),
         grid_points: int = 3, on_trial_end=None) -> TuneResult:
    """Maximises ``objective(params: dict, trial: TrialContext) -> float`` over ``space`` (see
    pyengine.tune.space) and returns the TuneResult with every trial, best first.

    trials: how many trials should have finished (completed or pruned) when it returns, counting
    those a resumed study already has; timeout: seconds after which no new trial starts.
    on_trial_end(row, result): called after each trial (the CLI prints a line)."""
    optuna = _optuna()
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise ValueError(f"tune: trials must be a positive int, got {trials!r}")
    if timeout is not None and not (timeout > 0):
        raise ValueError(f"tune: timeout must be a positive number of seconds, got {timeout!r}")
    space = parse_space(space)
    if sampler not in SAMPLERS:
        raise ValueError(f"tune: sampler must be one of {', '.join(SAMPLERS)}, got {sampler!r}")
    study = optuna.create_study(
        storage=_storage_url(storage), study_name=study_name, direction="maximize", load_if_exists=True,
        sampler=_sampler(sampler, space, seed, grid_points),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1) if pruning
        else optuna.pruners.NopPruner())
    _recover_interrupted(study)
    result = TuneResult(study=study, space=space, sampler=sampler, seed=seed)
    if not study.trials:
        for params in enqueue or ():
            if params and all(k in space and contains(space[k], v) for k, v in params.items()):
                study.enqueue_trial(dict(params))

    def run(trial):
        params = {name: r.suggest(trial, name) for name, r in space.items()}
        ctx = TrialContext(trial, params, seed, pruning)
        t0 = time.perf_counter()
        try:
            value = float(objective(params, ctx))
        except KeyboardInterrupt:
            trial.set_user_attr("interrupted", True)
            raise
        finally:
            trial.set_user_attr("seconds", round(time.perf_counter() - t0, 3))
            trial.set_user_attr("epochs", ctx.steps)
        if not math.isfinite(value):
            raise ValueError(f"trial {trial.number}: the objective returned {value}")
        return value

    def after(study_, frozen):
        result.rows = _rows(study_)
        if on_trial_end is not None:
            row = next((r for r in result.rows if r["trial"] == frozen.number), None)
            if row is not None:
                on_trial_end(row, result)

    remaining = trials - len(_finished(study))
    if remaining > 0:
        if sampler == "grid":
            size = math.prod(len(grid_values(r, grid_points)) for r in space.values())
            remaining = min(remaining, max(0, size - len(_finished(study))))
        study.optimize(run, n_trials=remaining, timeout=timeout, callbacks=[after], catch=(FloatingPointError,),
                       gc_after_trial=False)
    result.rows = _rows(study)
    return result


def _rows(study):
    optuna = _optuna()
    S = optuna.trial.TrialState
    rows = []
    for t in study.get_trials(deepcopy=False):
        if t.state == S.RUNNING or t.state == S.WAITING:
            continue
        value = t.value if t.state == S.COMPLETE else (
            t.intermediate_values[max(t.intermediate_values)] if t.intermediate_values else None)
        rows.append({"trial": t.number, "state": t.state.name, "value": value, "params": dict(t.params),
                     "epochs": t.user_attrs.get("epochs"), "seconds": t.user_attrs.get("seconds"),
                     "intermediate": dict(t.intermediate_values)})
    order = {"COMPLETE": 0, "PRUNED": 1, "FAIL": 2}
    requeued = set(study.user_attrs.get("requeued", []))
    rows = [r for r in rows if r["trial"] not in requeued]            # ran again under a new number
    rows.sort(key=lambda r: (order.get(r["state"], 3), -(r["value"] if r["value"] is not None else -math.inf),
                             r["trial"]))
    return rows
