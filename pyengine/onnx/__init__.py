"""pyengine.onnx — ONNX in and out (needs the optional ``onnx`` package: pip install "pyengine[onnx]").

``export(model, args, path, opset_version=17, input_names=, output_names=, dynamic_axes=,
fold_batchnorm=)`` traces a pyengine Module into an ONNX model checked by onnx.checker.
``load(path_or_bytes_or_ModelProto) -> nn.Module`` turns an ONNX graph (opsets 11–21) into a
trainable pyengine Module running on pyengine's kernels. Both are registries keyed by layer type /
ONNX op: ``register_layer_exporter``, ``register_op_exporter``, ``register_op_importer``.
Importing this package does not import onnx; calling these functions does.
"""
from .export import (LAYER_EXPORTERS, MAX_OPSET, MIN_OPSET, OP_EXPORTERS, ExportContext, UnsupportedOperatorError,
                     export, register_layer_exporter, register_op_exporter)


def load(model, **kwargs):
    """An ONNX model (a path, bytes or an onnx.ModelProto) as a trainable pyengine Module; see
    pyengine.onnx.importer.load."""
    from .importer import load as _load
    return _load(model, **kwargs)


def __getattr__(name):
    if name in ("register_op_importer", "OP_IMPORTERS", "OnnxModule", "Backend"):
        from . import importer
        if name == "Backend":
            from .backend import Backend
            return Backend
        return getattr(importer, name)
    raise AttributeError(f"module 'pyengine.onnx' has no attribute {name!r}")


__all__ = ["export", "load", "UnsupportedOperatorError", "register_layer_exporter", "register_op_exporter",
           "register_op_importer", "ExportContext", "LAYER_EXPORTERS", "OP_EXPORTERS", "MIN_OPSET", "MAX_OPSET"]
