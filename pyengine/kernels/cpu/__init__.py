"""pyengine.kernels.cpu — the C++ kernels (pyengine._C) with the reference's names and signatures.

Arrays in, new arrays out. Views are made contiguous here before the binding sees them; the
binding checks again, so calling pyengine._C directly with bad input also raises, never crashes.
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
