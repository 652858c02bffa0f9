"""pyengine.tune — hyperparameter search on Optuna (grid, random, TPE; median pruning; SQLite resume).

    from pyengine.tune import tune
    result = tune(objective, {"lr": "1e-4:1e-1:log", "batch_size": [32, 64, 128]}, trials=20)
    print(result.table()); result.plot("search.png")

``pyengine tune`` runs the same search over the digit CNN's training options. Needs the ``tune``
extra (Optuna); the space syntax is in pyengine.tune.space.
"""
from .search import SAMPLERS, TrialContext, TuneResult, tune
from .space import Categorical, Float, Int, grid_values, parse, parse_space

__all__ = ["tune", "TuneResult", "TrialContext", "SAMPLERS", "Float", "Int", "Categorical", "parse", "parse_space",
           "grid_values"]
