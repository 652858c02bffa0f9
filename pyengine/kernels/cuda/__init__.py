"""pyengine.kernels.cuda — the CUDA kernels (pyengine._cuda) with the reference's names and signatures.

Arrays in, new arrays out, on the GPU: inputs are CuPy arrays or any device array with
``__cuda_array_interface__`` or DLPack; outputs are CuPy arrays on the inputs' device. Every launch
goes on CuPy's current stream and nothing waits for the device, except cross-entropy's check that the
targets are valid class indices. Importing this package needs neither CuPy nor a GPU; the first call
says which is missing. ``pyengine.backends.cuda.allow_tf32 = True`` lets float32 GEMMs and
convolutions use TF32 tensor cores.
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
