"""pyengine.nn — Module, Parameter, containers, layers, losses, ``functional`` and ``init``.

Names, arguments, parameter names and shapes follow PyTorch, so state dicts move between the two.
"""
from . import functional, init
from .layers import *  # noqa: F401,F403
from .layers import __all__ as _layers_all
from .activation import *  # noqa: F401,F403
from .activation import __all__ as _activation_all
from .normalization import *  # noqa: F401,F403
from .normalization import __all__ as _normalization_all
from .sparse import *  # noqa: F401,F403
from .sparse import __all__ as _sparse_all
from .attention import MultiheadAttention  # noqa: F401
from .shape import Unflatten  # noqa: F401
from .loss import *  # noqa: F401,F403
from .loss import __all__ as _loss_all
from .module import Module, ModuleDict, ModuleList, Parameter, Sequential
from .spatial import *  # noqa: F401,F403
from .spatial import __all__ as _spatial_all

try:   # clip_grad_norm_ and friends belong to the training work; absent until it lands
    from . import utils  # noqa: F401
except ImportError:
    pass

__all__ = ["Module", "Parameter", "Sequential", "ModuleList", "ModuleDict", "functional", "init"] + \
    list(_layers_all) + list(_spatial_all) + list(_activation_all) + list(_normalization_all) + list(_sparse_all) + ["MultiheadAttention", "Unflatten"] + list(_loss_all)
