"""Backend switches, as in torch.backends: ``pyengine.backends.cuda.allow_tf32``."""
from . import cuda  # noqa: F401
