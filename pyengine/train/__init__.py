"""pyengine.train — the fit loop (validation, early stopping, checkpoints, progress, plot, callbacks), evaluate,
predict, the History, and the networks the command line trains."""
from .history import History
from .callbacks import Callback, CSVLogger, TensorBoardLogger, TrainingInfo
from .fit import Evaluation, evaluate, fit, predict
from .models import MODELS, DigitCNN, DigitMLP, build_model

__all__ = ["Callback", "CSVLogger", "TensorBoardLogger", "TrainingInfo", "fit", "evaluate", "predict", "Evaluation", "History", "DigitCNN", "DigitMLP", "MODELS", "build_model"]
