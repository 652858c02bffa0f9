"""ONNX export of a converted (static int8) model in the QDQ form, checked by onnx.checker.

The model runs once on a sample input while every int8 layer is watched; each writes its ONNX
nodes in the QDQ form that onnxruntime fuses into its own int8 kernels (QLinearConv, QGemm…):

    QuantizedConv2d   DequantizeLinear(x) → Conv(·, DequantizeLinear(W int8, per-channel scales,
                      axis 0), DequantizeLinear(bias int32, s_x·s_w)) → [Relu | Clip(0, 6)] →
                      QuantizeLinear(s_y, z_y)
    QuantizedLinear   the same with Gemm (transB = 1)
    QuantizedAdd      DequantizeLinear(a), DequantizeLinear(b) → Add → QuantizeLinear
    max pooling       MaxPool on the uint8 tensor itself; Flatten / reshapes on uint8
    average pooling   DequantizeLinear → GlobalAveragePool → QuantizeLinear (same parameters)
    Quantize / DeQuantize at the edges: QuantizeLinear / DequantizeLinear.
The weights are stored as int8 (4× smaller than float), the biases as int32 in the scale of their
accumulators. The rounding of onnxruntime's requantization may differ from ours by one step.
"""
from __future__ import annotations

import numpy as np

from ..nn.layers import Flatten, Identity
from ..tensor import Tensor
from .modules import (DeQuantize, QuantizedAdaptiveAvgPool2d, QuantizedAdd, QuantizedConv2d, QuantizedLinear,
                      QuantizedMaxPool2d, QuantizedReLU, QuantizedReLU6, Quantize)
from .qtensor import QTensor

__all__ = ["export_onnx"]


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


class _Graph:
    def __init__(self, onnx):
        self.onnx, self.h = onnx, onnx.helper
        self.nodes, self.inits, self.names, self.count = [], [], {}, 0

    def fresh(self, stem):
        self.count += 1
        return f"{stem}_{self.count}"

    def init(self, stem, array):
        name = self.fresh(stem)
        self.inits.append(self.onnx.numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op, inputs, stem, **attrs):
        out = self.fresh(stem)
        self.nodes.append(self.h.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def name_of(self, arr):
        """The ONNX name of an array seen before, or of the array it is a view of (a Reshape then)."""
        if id(arr) in self.names:
            return self.names[id(arr)]
        base = arr.base
        while base is not None:
            if id(base) in self.names:
                shape = self.init("shape", np.array(arr.shape, np.int64))
                out = self.node("Reshape", [self.names[id(base)], shape], "reshape")
                self.names[id(arr)] = out
                return out
            base = base.base
        raise ValueError("export_onnx: a layer received a tensor that no exported layer produced "
                         f"(shape {tuple(arr.shape)}); only int8 layers between Quantize and DeQuantize are exported")

    def q(self, x, scale, zp, stem="q"):
        return self.node("QuantizeLinear", [x, self.init("scale", np.array(scale, np.float32)),
                                            self.init("zp", np.array(zp, np.uint8))], stem)

    def dq(self, xq, scale, zp, stem="dq"):
        return self.node("DequantizeLinear", [xq, self.init("scale", np.array(scale, np.float32)),
                                              self.init("zp", np.array(zp, np.uint8))], stem)

    def dq_weight(self, m, x_scale):
        """(weight, bias) float values: DequantizeLinear of the int8 weight and int32 bias, per channel."""
        K = m.weight.shape[0]
        ws = m.weight_scale._data.astype(np.float32)
        w = self.node("DequantizeLinear", [self.init("weight", m.weight._data), self.init("w_scale", ws),
                                           self.init("w_zp", np.zeros(K, np.int8))], "w", axis=0)
        if m.bias is None:
            return w, None
        bq = m._requant(x_scale)[1]
        bscale = (x_scale * m.weight_scale._data).astype(np.float32)
        b = self.node("DequantizeLinear", [self.init("bias", bq), self.init("b_scale", bscale),
                                           self.init("b_zp", np.zeros(K, np.int32))], "b", axis=0)
        return w, b

    def activation(self, y, max_value):
        if max_value is False:
            return y
        if max_value is None:
            return self.node("Relu", [y], "relu")
        return self.node("Clip", [y, self.init("lo", np.array(0, np.float32)),
                                  self.init("hi", np.array(max_value, np.float32))], "relu6")


def _emit(g, m, args, out):
    x = args[0] if args else None
    if isinstance(m, Quantize):
        return g.q(g.name_of(x._data), float(m.scale._data), int(m.zero_point._data), "input_q")
    if isinstance(m, DeQuantize):
        return g.dq(g.name_of(x.data), x.scale, x.zero_point, "output")
    if isinstance(m, QuantizedConv2d):
        xf = g.dq(g.name_of(x.data), x.scale, x.zero_point)
        w, b = g.dq_weight(m, x.scale)
        (sh, sw), (ph, pw), (dh, dw) = m._geo
        kh, kw = m.weight.shape[2:]
        y = g.node("Conv", [xf, w] + ([b] if b else []), "conv", kernel_shape=[kh, kw], strides=[sh, sw],
                   pads=[ph, pw, ph, pw], dilations=[dh, dw], group=m.groups)
        return g.q(g.activation(y, m.max_value), out.scale, out.zero_point)
    if isinstance(m, QuantizedLinear):
        if x.data.ndim != 2:
            raise ValueError("export_onnx: QuantizedLinear is exported for 2-D inputs (N, I) only")
        xf = g.dq(g.name_of(x.data), x.scale, x.zero_point)
        w, b = g.dq_weight(m, x.scale)
        y = g.node("Gemm", [xf, w] + ([b] if b else []), "gemm", transB=1)
        return g.q(g.activation(y, m.max_value), out.scale, out.zero_point)
    if isinstance(m, QuantizedMaxPool2d):
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = (_pair(m.kernel_size), _pair(m.stride), _pair(m.padding),
                                                  _pair(m.dilation))
        return g.node("MaxPool", [g.name_of(x.data)], "maxpool", kernel_shape=[kh, kw], strides=[sh, sw],
                      pads=[ph, pw, ph, pw], dilations=[dh, dw], ceil_mode=int(bool(m.ceil_mode)))
    if isinstance(m, QuantizedAdaptiveAvgPool2d):
        if _pair(m.output_size) != (1, 1):
            raise ValueError("export_onnx: only the global (1, 1) adaptive average pool is exported")
        y = g.node("GlobalAveragePool", [g.dq(g.name_of(x.data), x.scale, x.zero_point)], "gap")
        return g.q(y, out.scale, out.zero_point)
    if isinstance(m, (QuantizedReLU, QuantizedReLU6)):
        y = g.dq(g.name_of(x.data), x.scale, x.zero_point)
        return g.q(g.activation(y, None if isinstance(m, QuantizedReLU) else 6.0), out.scale, out.zero_point)
    if isinstance(m, QuantizedAdd):
        a, b = args
        y = g.node("Add", [g.dq(g.name_of(a.data), a.scale, a.zero_point), g.dq(g.name_of(b.data), b.scale, b.zero_point)],
                   "add")
        return g.q(y, out.scale, out.zero_point)
    if isinstance(m, Flatten):
        if m.end_dim != -1:
            raise ValueError("export_onnx: Flatten is exported with end_dim=-1 only")
        return g.node("Flatten", [g.name_of(x.data)], "flatten", axis=m.start_dim)
    if isinstance(m, Identity):
        return g.name_of(x.data if isinstance(x, QTensor) else x._data)
    raise ValueError(f"export_onnx: {type(m).__name__} has no ONNX form here; export a model converted by "
                     "pyengine.quantization.convert (int8 layers between Quantize and DeQuantize)")


_EXPORTED = (Quantize, DeQuantize, QuantizedConv2d, QuantizedLinear, QuantizedMaxPool2d, QuantizedAdaptiveAvgPool2d,
             QuantizedReLU, QuantizedReLU6, QuantizedAdd, Flatten, Identity)


def export_onnx(model, sample_input, path, opset_version: int = 17, input_name: str = "input",
                output_name: str = "output", dynamic_batch: bool = True):
    """Writes the converted int8 model to path as a QDQ ONNX graph (float32 in and out); returns
    the onnx ModelProto. The sample input (N, ...) fixes every size but the batch."""
    try:
        import onnx
    except ImportError as e:
        raise ImportError("export_onnx needs the onnx package: pip install 'pyengine[onnx]'") from e
    from ..autograd.grad_mode import no_grad
    from ..io.safetensors_io import _write_atomic
    if not isinstance(sample_input, Tensor):
        raise TypeError(f"export_onnx: sample_input must be a Tensor, got {type(sample_input).__name__}")
    if not 13 <= opset_version <= 21:
        raise ValueError(f"export_onnx: opset_version must be in [13, 21] (per-axis DequantizeLinear), got {opset_version}")
    for m in model.modules():
        if not m._modules and not isinstance(m, _EXPORTED):
            raise ValueError(f"export_onnx: {type(m).__name__} has no ONNX form here; export a model converted by "
                             "pyengine.quantization.convert (int8 layers between Quantize and DeQuantize)")
    g = _Graph(onnx)
    g.names[id(sample_input._data)] = input_name
    calls, handles = [], []
    for m in model.modules():
        if isinstance(m, _EXPORTED):
            handles.append(m.register_forward_hook(lambda mod, args, out: calls.append((mod, args, out))))
    model.eval()
    try:
        with no_grad():
            result = model(sample_input)
    finally:
        for h in handles:
            h.remove()
    if not isinstance(result, Tensor):
        raise ValueError("export_onnx: the model must return a float Tensor (end it with DeQuantize / QuantWrapper)")
    for m, args, out in calls:
        name = _emit(g, m, args, out)
        g.names[id(out.data if isinstance(out, QTensor) else out._data)] = name
    final = g.name_of(result._data)
    g.nodes.append(onnx.helper.make_node("Identity", [final], [output_name], name=output_name))
    batch = "batch" if dynamic_batch else sample_input.shape[0]
    inp = onnx.helper.make_tensor_value_info(input_name, onnx.TensorProto.FLOAT, [batch] + list(sample_input.shape[1:]))
    outp = onnx.helper.make_tensor_value_info(output_name, onnx.TensorProto.FLOAT, [batch] + list(result.shape[1:]))
    graph = onnx.helper.make_graph(g.nodes, "pyengine_int8", [inp], [outp], g.inits)
    proto = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", opset_version)],
                                   producer_name="pyengine.quantization")
    proto.ir_version = min(proto.ir_version, 8)
    onnx.checker.check_model(proto, full_check=True)
    _write_atomic(path, proto.SerializeToString())
    return proto
