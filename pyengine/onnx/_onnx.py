"""The optional onnx / onnxruntime packages, imported only when an ONNX function is called."""
from __future__ import annotations

import numpy as np


def require_onnx(what: str):
    try:
        import onnx
    except ImportError:
        raise ImportError(f"{what} needs the onnx package: pip install \"pyengine[onnx]\"") from None
    return onnx


# ONNX TensorProto element types <-> NumPy dtypes, for the types pyengine's tensors take.
ONNX_OF_NUMPY = {np.dtype(np.float32): 1, np.dtype(np.uint8): 2, np.dtype(np.int8): 3, np.dtype(np.uint16): 4,
                 np.dtype(np.int16): 5, np.dtype(np.int32): 6, np.dtype(np.int64): 7, np.dtype(np.bool_): 9,
                 np.dtype(np.float16): 10, np.dtype(np.float64): 11, np.dtype(np.uint32): 12,
                 np.dtype(np.uint64): 13}
NUMPY_OF_ONNX = {v: k for k, v in ONNX_OF_NUMPY.items()}
