"""pyengine.optim — optimizers with PyTorch's names, arguments and update formulas, each parameter
updated by one fused C++ kernel per step; ``lr_scheduler`` holds the learning-rate schedules."""
from .optimizer import Optimizer
from .sgd import SGD
from .adam import Adam, AdamW
from .rmsprop import RMSprop
from .adagrad import Adagrad
from . import lr_scheduler

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "lr_scheduler"]
