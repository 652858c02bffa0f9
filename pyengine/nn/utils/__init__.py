"""pyengine.nn.utils — what torch.nn.utils holds: gradient clipping (``clip_grad_norm_``,
``clip_grad_value_``), pruning (``prune``), folding batch norm into convolution
(``fuse_conv_bn``, ``fuse_conv_bn_eval``) and parameter/vector conversion."""
from . import prune  # noqa: F401
from .clip_grad import clip_grad_norm_, clip_grad_value_
from .fusion import fuse_conv_bn, fuse_conv_bn_eval, fuse_conv_bn_weights
from .convert_parameters import parameters_to_vector, vector_to_parameters

__all__ = ["clip_grad_norm_", "clip_grad_value_", "prune", "fuse_conv_bn", "fuse_conv_bn_eval",
           "fuse_conv_bn_weights", "parameters_to_vector", "vector_to_parameters"]
