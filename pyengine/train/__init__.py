"""pyengine.train — the fit loop (validation, early stopping, checkpoints, progress, plot), evaluate,
predict, the History, and the networks the command line trains."""
from .history import History
from .fit import Evaluation, evaluate, fit, predict
from .models import MODELS, DigitCNN, DigitMLP, build_model

__all__ = ["fit", "evaluate", "predict", "Evaluation", "History", "DigitCNN", "DigitMLP", "MODELS", "build_model"]
