"""An ``onnx.backend.base.Backend`` over pyengine.onnx.load, so ONNX's own backend node tests
(``onnx.backend.test.BackendTest``) run against pyengine: ``prepare`` imports the model (eval
mode, no grad), ``run`` feeds NumPy inputs and returns NumPy outputs."""
from __future__ import annotations

import numpy as np

from ._onnx import require_onnx

onnx = require_onnx("pyengine.onnx.backend")
from onnx.backend.base import Backend as _Base, BackendRep as _BaseRep  # noqa: E402

__all__ = ["Backend", "BackendRep"]


class BackendRep(_BaseRep):
    def __init__(self, model, device):
        self.model, self.device = model, device

    def run(self, inputs, **kwargs):
        from .. import no_grad
        from ..tensor import Tensor
        if isinstance(inputs, dict):
            inputs = [inputs[n] for n in self.model.input_names]
        elif not isinstance(inputs, (list, tuple)):
            inputs = [inputs]
        dev = "cuda" if self.device.upper().startswith("CUDA") else "cpu"
        xs = [Tensor(np.asarray(x), device=dev) for x in inputs]
        with no_grad():
            out = self.model(*xs)
        outs = out if isinstance(out, tuple) else (out,)
        return [np.asarray(o.cpu()._data) for o in outs]


class Backend(_Base):
    @classmethod
    def is_compatible(cls, model, device="CPU", **kwargs):
        return True

    @classmethod
    def prepare(cls, model, device="CPU", **kwargs):
        from .importer import load
        m = load(model)
        if device.upper().startswith("CUDA"):
            m.to("cuda")
        return BackendRep(m, device)

    @classmethod
    def run_model(cls, model, inputs, device="CPU", **kwargs):
        return cls.prepare(model, device).run(inputs)

    @classmethod
    def supports_device(cls, device):
        if device.upper().startswith("CUDA"):
            from .. import cuda
            return cuda.is_available()
        return device.upper() == "CPU"
