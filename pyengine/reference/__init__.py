"""pyengine.reference — pure-NumPy kernels, the oracle every other implementation is tested against.

Readable over fast; the maths is done in float64 and the result returned in the input's dtype.
Same function names and signatures as ``pyengine.kernels.cpu`` and ``pyengine.kernels.cuda``.
"""
from .gemm import *  # noqa: F401,F403
from .conv2d import *  # noqa: F401,F403
from .pool2d import *  # noqa: F401,F403
from .linear import *  # noqa: F401,F403
from .lstm import *  # noqa: F401,F403
from .activation import *  # noqa: F401,F403
from .softmax import *  # noqa: F401,F403
from .batch_norm import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .optim import *  # noqa: F401,F403
from .quantized import *  # noqa: F401,F403
from .interpolate import *  # noqa: F401,F403
