"""pyengine.tune: the search-space syntax, the samplers on a known objective, pruning, a seeded study
that repeats itself, SQLite resume (also of a trial cut off by a kill), the table and the plot, and
`pyengine tune` end to end on the digits. Skipped where Optuna is not installed."""
import os

import numpy as np
import pytest

optuna = pytest.importorskip("optuna")

from pyengine.tune import Categorical, Float, Int, grid_values, parse, parse_space, tune  # noqa: E402


def test_space_syntax():
    assert parse("1e-4:1e-1:log") == Float(1e-4, 1e-1, log=True)
    assert parse("0:1e-3") == Float(0.0, 1e-3)
    assert parse("16:128:int") == Int(16, 128)
    assert parse("16:128:int:log") == Int(16, 128, log=True)
    assert parse("32,64,128") == Categorical([32, 64, 128])
    assert parse("sgdm, adam") == Categorical(["sgdm", "adam"])
    assert parse("0.9") == Categorical([0.9])
    assert parse([1, 2]) == Categorical([1, 2]) and parse((0, 1)) == Float(0, 1)
    assert parse((1e-3, 1, "log")) == Float(1e-3, 1, log=True) and parse((2, 9, "int")) == Int(2, 9)
    for bad, match in [("1:0", "low < high"), ("0:1:log", "low > 0"), ("a:b", "must be numbers"),
                       ("1:2:cubic", "LOW:HIGH"), ("1.5:4:int", "integer bounds"), ("", "expected a range"),
                       ((1, 2, 3, 4), "tuple range")]:
        with pytest.raises(ValueError, match=match):
            parse(bad, "--x")
    with pytest.raises(ValueError, match="non-empty dict"):
        parse_space({})
    assert grid_values(Float(1e-3, 1e-1, log=True)) == [1e-3, 1e-2, 1e-1]
    assert grid_values(Float(0, 1), 5) == [0, 0.25, 0.5, 0.75, 1.0]
    assert grid_values(Int(1, 4), 4) == [1, 2, 3, 4] and grid_values(Categorical("ab")) == ["a", "b"]


def _objective(calls):
    """Accuracy peaks at lr = 1e-2 with adam; reported per 'epoch' rising to the final value."""
    def objective(params, trial):
        calls.append(dict(params))
        peak = 0.95 - 0.05 * (np.log10(params["lr"]) + 2) ** 2 + (0.02 if params["solver"] == "adam" else 0)
        for epoch in range(4):
            trial.report(peak - 0.1 * (3 - epoch), epoch)
        return peak
    return objective


SPACE = {"lr": "1e-4:1:log", "solver": "sgdm,adam"}


@pytest.mark.parametrize("sampler", ["tpe", "random"])
def test_search_finds_the_peak_and_repeats_with_its_seed(sampler):
    a, b = [], []
    ra = tune(_objective(a), SPACE, trials=30, sampler=sampler, seed=3, pruning=False)
    rb = tune(_objective(b), SPACE, trials=30, sampler=sampler, seed=3, pruning=False)
    assert a == b, "the same seed gives the same study"
    assert len(ra.rows) == 30 and all(r["state"] == "COMPLETE" for r in ra.rows)
    best = ra.best
    assert best["params"]["solver"] == "adam" and 10 ** -2.7 < best["params"]["lr"] < 10 ** -1.3
    values = [r["value"] for r in ra.rows]
    assert values == sorted(values, reverse=True), "table rows best first"
    c = []
    tune(_objective(c), SPACE, trials=30, sampler=sampler, seed=4, pruning=False)
    assert c != a


def test_grid_sampler_visits_every_combination_once():
    calls = []
    r = tune(_objective(calls), {"lr": "1e-3:1e-1:log", "solver": "sgdm,adam"}, trials=50, sampler="grid",
             grid_points=3, pruning=False)
    assert len(calls) == 6 and len(r.rows) == 6
    assert sorted((c["solver"], round(c["lr"], 6)) for c in calls) == sorted(
        (s, lr) for s in ("sgdm", "adam") for lr in (1e-3, 1e-2, 1e-1))
    assert r.best["params"] == {"lr": 1e-2, "solver": "adam"}


def test_median_pruner_stops_trials_below_the_median():
    def objective(params, trial):
        for epoch in range(5):
            trial.report(params["x"] * (epoch + 1) / 5, epoch)
        return params["x"]

    r = tune(objective, {"x": "0:1"}, trials=30, sampler="random", seed=0)
    pruned = [row for row in r.rows if row["state"] == "PRUNED"]
    done = [row for row in r.rows if row["state"] == "COMPLETE"]
    assert len(pruned) >= 5 and len(done) >= 5
    # pruned trials stopped early (after the warm-up epoch), and were the weak ones
    assert all(1 <= row["epochs"] < 5 for row in pruned)
    assert np.median([row["params"]["x"] for row in pruned]) < np.median([row["params"]["x"] for row in done])
    assert r.rows.index(pruned[0]) == len(done), "pruned trials come after the finished ones"


def test_enqueued_defaults_run_first():
    calls = []
    r = tune(_objective(calls), SPACE, trials=4, seed=0, enqueue=[{"lr": 0.5, "solver": "sgdm"}])
    assert calls[0] == {"lr": 0.5, "solver": "sgdm"} and len(r.rows) == 4
    calls = []
    tune(_objective(calls), SPACE, trials=2, seed=0, enqueue=[{"lr": 5.0, "solver": "sgdm"}])
    assert calls[0] != {"lr": 5.0, "solver": "sgdm"}, "defaults outside the space are not tried"


def test_sqlite_storage_resumes(tmp_path):
    db = tmp_path / "study.db"
    first = []
    r1 = tune(_objective(first), SPACE, trials=5, seed=0, storage=db, pruning=False)
    assert len(r1.rows) == 5 and db.exists()
    more = []
    r2 = tune(_objective(more), SPACE, trials=8, seed=0, storage=db, pruning=False)
    assert len(more) == 3 and len(r2.rows) == 8
    assert {r["trial"] for r in r2.rows} == set(range(8))
    again = []
    tune(_objective(again), SPACE, trials=8, seed=0, storage=db)
    assert again == [], "a finished study runs nothing more"


def test_resume_reruns_a_trial_cut_off(tmp_path):
    db = tmp_path / "study.db"
    # a process killed during trial 2 leaves it RUNNING in the file
    study = optuna.create_study(storage=f"sqlite:///{db}", study_name="pyengine-tune", direction="maximize")
    for lr in (0.1, 0.001):
        t = study.ask({"lr": optuna.distributions.FloatDistribution(1e-4, 1, log=True),
                       "solver": optuna.distributions.CategoricalDistribution(["sgdm", "adam"])})
        study.tell(t, 0.5)
    cut = study.ask({"lr": optuna.distributions.FloatDistribution(1e-4, 1, log=True),
                     "solver": optuna.distributions.CategoricalDistribution(["sgdm", "adam"])})
    calls = []
    r = tune(_objective(calls), SPACE, trials=4, seed=0, storage=db, pruning=False)
    assert calls[0] == cut.params, "the cut-off trial runs again first, with its parameters"
    assert len(calls) == 2 and len(r.rows) == 4 and cut.number not in {row["trial"] for row in r.rows}

    # Ctrl-C in a trial: marked, and run again by the next call
    calls2 = []

    def interrupted(params, trial):
        calls2.append(params)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        tune(interrupted, SPACE, trials=6, seed=0, storage=db)
    calls3 = []
    r = tune(_objective(calls3), SPACE, trials=5, seed=0, storage=db, pruning=False)
    assert calls3[0] == calls2[0] and len(calls3) == 1 and len(r.rows) == 5


def test_bad_arguments():
    with pytest.raises(ValueError, match="trials must be a positive int"):
        tune(_objective([]), SPACE, trials=0)
    with pytest.raises(ValueError, match="sampler must be one of"):
        tune(_objective([]), SPACE, sampler="bayes")
    with pytest.raises(ValueError, match="storage folder"):
        tune(_objective([]), SPACE, storage="/nonexistent/dir/x.db")


def _png(path):
    from PIL import Image
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).astype(int)


def test_table_and_plot(tmp_path):
    pytest.importorskip("matplotlib")
    pytest.importorskip("PIL")
    calls = []
    r = tune(_objective(calls), {**SPACE, "batch_size": "32,64", "fixed": "7"}, trials=12, seed=0)
    table = r.table().splitlines()
    assert table[0].split()[:4] == ["rank", "trial", "state", "val"] and len(table) == 13
    assert table[1].split()[1] == str(r.best["trial"]) and table[1].split()[3] == f"{100 * r.best['value']:.2f}%"
    path = tmp_path / "search.png"
    r.plot(path, title="test study")
    img = _png(path)
    assert img.shape[0] > 500 and img.shape[1] > 800
    yellow = (img[..., 0] > 200) & (img[..., 1] > 170) & (img[..., 2] < 80)       # the best-trial stars
    blue = (img[..., 0] < 60) & (np.abs(img[..., 1] - 119) < 30) & (img[..., 2] > 150)   # finished trials
    assert yellow.sum() > 100 and blue.sum() > 200
    fig = r.plot(None, title="test study")
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["accuracy against trial", "accuracy against lr", "accuracy against solver",
                      "accuracy against batch_size"], "a fixed parameter gets no panel"
    assert fig.axes[1].get_xscale() == "log"
    assert "12 trials" in fig._suptitle.get_text()


def test_cli_tune_end_to_end(tmp_path, capsys):
    from pyengine.cli import main
    from pyengine.data import DataError, load_digits
    try:
        load_digits()
    except DataError:
        pytest.skip("no offline digits installed")
    out, db = tmp_path / "tune", tmp_path / "study.db"
    argv = ["tune", "--trials", "3", "--epochs", "1", "--model", "mlp", "--lr", "1e-3:1e-1:log",
            "--batch-size", "64,128", "--solver", "sgdm,adam", "--output", str(out), "--storage", str(db)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "results (best first):" in text and "best model:" in text
    rows = (out / "results.txt").read_text().splitlines()
    assert len(rows) == 4 and rows[0].startswith("rank")
    # the defaults of pyengine train in the space are trial 0 (here lr 0.01, sgdm; batch 32 is not
    # in the space, so the defaults are not enqueued)
    assert os.path.getsize(out / "search.png") > 10_000
    assert main(["evaluate", str(out / "model.safetensors")]) == 0
    acc = float(capsys.readouterr().out.split("accuracy ")[1].split("%")[0])
    best = float(rows[1].split()[3].rstrip("%"))
    assert abs(acc - best) < 1e-6, "the saved model is the best trial's"
    # resume: two more trials in the same study
    assert main(argv[:2] + ["5"] + argv[3:]) == 0
    assert len((out / "results.txt").read_text().splitlines()) == 6
    capsys.readouterr()
    for bad, match in [(["--solver", "lbfgs"], "--solver lbfgs: 'lbfgs' is not accepted"),
                       (["--batch-size", "0,32"], "--batch-size 0,32: 0 is not accepted"),
                       (["--lr", "0:1"], "--lr 0:1: 0.0 is not accepted"),
                       (["--momentum", "0.5:1.5"], "is not accepted"),
                       (["--lr", "1:0"], "low < high"),
                       (["--storage", str(tmp_path / "none" / "x.db")], "does not exist")]:
        assert main(["tune", "--output", str(tmp_path / "o"), *bad]) == 2
        err = capsys.readouterr().err.strip()
        assert match in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "o").exists()
