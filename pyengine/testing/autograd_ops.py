"""The autograd registry: one entry per differentiable Tensor op, functional op, layer and loss, with
float64 sample inputs kept away from kinks, checked by ``gradcheck`` through autograd and the device's
C++ kernels (tests/autograd/test_gradcheck.py).

An entry's ``fn`` takes the sample's Tensors (and a Module when ``module`` builds one; its parameters
are then checked too). ``covers`` names what the entry exercises, so the completeness test can require
every public name of ``nn.functional``, ``nn`` (layers and losses) and the Tensor ops in ``TENSOR_OPS``
to be covered.

Kinks are avoided by construction: ReLU-family inputs have |x| ≥ 0.1; max-pool and max/min inputs are
a shuffled grid with spacing 0.05 (no ties within eps); abs/L1/hinge/clamp arguments stay 0.1 away
from their corners; log/sqrt/pow inputs are positive.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

F64 = np.float64

# Tensor methods and operators the registry must cover (the differentiable ones).
TENSOR_OPS = ["add", "sub", "mul", "div", "pow", "neg", "matmul", "radd", "rsub", "rmul", "rtruediv", "rpow",
              "exp", "log", "sqrt", "abs", "clamp", "sum", "mean", "max", "min", "var", "reshape", "view",
              "flatten", "squeeze", "unsqueeze", "transpose", "permute", "T", "getitem", "cat", "stack", "where",
              "expand", "to", "clone"]


@dataclass
class AutogradCase:
    name: str
    covers: tuple
    inputs: Callable                      # rng -> list of float64 Tensors / arrays / other args
    fn: Optional[Callable] = None         # (*inputs) -> Tensor(s); or (module, *inputs) with ``module``
    module: Optional[Callable] = None     # () -> nn.Module (converted to float64; parameters checked)
    kind: str = "op"                      # "op", "layer" or "loss"
    fast: bool = False                    # large input: random projections
    atol: float = 1e-5
    rtol: float = 1e-3
    wrt: Optional[list] = None
    tags: dict = field(default_factory=dict)


def _T(a, grad=True):
    from ..tensor import Tensor
    t = Tensor(np.asarray(a, dtype=F64))
    return t.requires_grad_(True) if grad else t


def _rn(rng, *shape):
    return rng.standard_normal(shape)


def _bands(rng, *shape):
    """Values in (-2, 8) at least 0.1 away from ReLU6's kinks at 0 and 6 (and from 2 and 4)."""
    return rng.uniform(0.1, 1.9, shape) + 2.0 * rng.integers(-1, 4, shape)


def _away(rng, *shape, gap=0.1):
    """Random values with |x| ≥ gap (away from the kink at 0)."""
    v = rng.uniform(gap, 1.5, shape)
    return v * rng.choice([-1.0, 1.0], shape)


def _distinct(rng, *shape):
    """A shuffled grid: every pair of values differs by ≥ 0.05 (no ties within a pooling window)."""
    n = int(np.prod(shape))
    return (rng.permutation(n) * 0.05 - n * 0.025).reshape(shape)


def _pos(rng, *shape):
    return rng.uniform(0.5, 2.0, shape)


def _idx(rng, n, c):
    return rng.integers(0, c, n).astype(np.int64)


def cases() -> list[AutogradCase]:
    import pyengine as pe
    from .. import nn
    from ..nn import functional as F

    C = AutogradCase
    out: list[AutogradCase] = []
    add = out.append

    # ---- Tensor ops -------------------------------------------------------------------------------
    add(C("add broadcast", ("add",), lambda r: [_T(_rn(r, 3, 4)), _T(_rn(r, 4))], lambda a, b: a + b))
    add(C("sub broadcast keepdim", ("sub",), lambda r: [_T(_rn(r, 3, 1)), _T(_rn(r, 2, 3, 4))], lambda a, b: a - b))
    add(C("mul broadcast", ("mul",), lambda r: [_T(_rn(r, 2, 3, 4)), _T(_rn(r, 3, 1))], lambda a, b: a * b))
    add(C("div", ("div",), lambda r: [_T(_rn(r, 3, 4)), _T(_pos(r, 3, 4))], lambda a, b: a / b))
    add(C("pow tensor^scalar", ("pow",), lambda r: [_T(_pos(r, 3, 4))], lambda a: a ** 2.5))
    add(C("pow tensor^tensor", ("pow",), lambda r: [_T(_pos(r, 3, 4)), _T(_rn(r, 4))], lambda a, b: a ** b))
    add(C("neg", ("neg",), lambda r: [_T(_rn(r, 5))], lambda a: -a))
    add(C("scalar reflected ops", ("radd", "rsub", "rmul", "rtruediv", "rpow"), lambda r: [_T(_pos(r, 2, 3))],
          lambda a: (2.0 + a) * (1.5 - a) + 3.0 * a - 2.0 / a + 1.7 ** a))
    add(C("matmul 2-D (gemm)", ("matmul",), lambda r: [_T(_rn(r, 5, 7)), _T(_rn(r, 7, 3))], lambda a, b: a @ b))
    add(C("matmul batched @ 2-D", ("matmul",), lambda r: [_T(_rn(r, 2, 3, 4)), _T(_rn(r, 4, 5))], lambda a, b: a @ b))
    add(C("matmul batched @ batched", ("matmul",), lambda r: [_T(_rn(r, 2, 3, 4)), _T(_rn(r, 2, 4, 2))],
          lambda a, b: a.matmul(b)))
    add(C("matmul vector", ("matmul",), lambda r: [_T(_rn(r, 4)), _T(_rn(r, 4, 3))], lambda a, b: a @ b))
    add(C("exp log sqrt", ("exp", "log", "sqrt"), lambda r: [_T(_pos(r, 3, 4))],
          lambda a: a.exp() + a.log() * a.sqrt()))
    add(C("abs", ("abs",), lambda r: [_T(_away(r, 3, 4))], lambda a: a.abs()))
    add(C("clamp", ("clamp",), lambda r: [_T(np.array([-2.0, -0.7, -0.2, 0.3, 0.8, 1.9]))],
          lambda a: a.clamp(-0.5, 0.5) + a.clamp(min=0.0) * 2))
    add(C("sum axis keepdim", ("sum",), lambda r: [_T(_rn(r, 2, 3, 4))],
          lambda a: (a.sum(1, keepdim=True) * a).sum((0, 2)) + a.sum()))
    add(C("mean", ("mean",), lambda r: [_T(_rn(r, 2, 3, 4))], lambda a: a.mean(-1) + a.mean()))
    add(C("max min axis", ("max", "min"), lambda r: [_T(_distinct(r, 3, 5))],
          lambda a: a.max(1).values * 2 + a.min(0).values.sum() + a.max() + a.max((0, 1))))
    add(C("var", ("var",), lambda r: [_T(_rn(r, 3, 5))],
          lambda a: a.var(1) + a.var(0, unbiased=False, keepdim=True).sum() + a.std()))
    add(C("reshape view flatten", ("reshape", "view", "flatten"), lambda r: [_T(_rn(r, 2, 3, 4))],
          lambda a: a.reshape(6, 4).view(4, 6) * a.flatten(1).reshape(4, 6)))
    add(C("squeeze unsqueeze", ("squeeze", "unsqueeze"), lambda r: [_T(_rn(r, 3, 1, 4))],
          lambda a: a.squeeze(1).unsqueeze(0) * 2))
    add(C("transpose permute T", ("transpose", "permute", "T"), lambda r: [_T(_rn(r, 2, 3, 4))],
          lambda a: a.transpose(0, 2).permute(1, 0, 2) + a.permute(1, 2, 0).T.permute(2, 1, 0)))
    add(C("getitem basic", ("getitem",), lambda r: [_T(_rn(r, 4, 5))], lambda a: a[1:3, ::2] * a[0, 1]))
    add(C("getitem integer arrays (repeats)", ("getitem",), lambda r: [_T(_rn(r, 4, 5))],
          lambda a: a[np.array([0, 2, 2, 3]), np.array([1, 1, 1, 4])]))
    add(C("getitem integer tensor rows", ("getitem",), lambda r: [_T(_rn(r, 4, 3))],
          lambda a: a[pe.tensor([3, 0, 3])]))
    add(C("getitem boolean mask", ("getitem",), lambda r: [_T(_rn(r, 4, 3))], lambda a: a[a > 0] * 2))
    add(C("cat", ("cat",), lambda r: [_T(_rn(r, 2, 3)), _T(_rn(r, 4, 3))], lambda a, b: pe.cat([a, b], 0) * 1.5))
    add(C("stack", ("stack",), lambda r: [_T(_rn(r, 2, 3)), _T(_rn(r, 2, 3))], lambda a, b: pe.stack([a, b], 1)))
    add(C("where", ("where",), lambda r: [_T(_rn(r, 3, 4)), _T(_rn(r, 4))],
          lambda a, b: pe.where(a._data > 0, a, b)))
    add(C("expand", ("expand",), lambda r: [_T(_rn(r, 3, 1))], lambda a: a.expand(3, 4) * 2))
    add(C("to float64 clone", ("to", "clone"), lambda r: [_T(_rn(r, 3))], lambda a: a.to("float64").clone() * a))

    # ---- functional ops ---------------------------------------------------------------------------
    def conv(stride=1, padding=0, dilation=1, groups=1, bias=True):
        return lambda x, w, *b: F.conv2d(x, w, b[0] if b else None, stride, padding, dilation, groups)

    add(C("conv2d 3x3 pad1", ("conv2d",), lambda r: [_T(_rn(r, 2, 3, 5, 5)), _T(_rn(r, 4, 3, 3, 3)), _T(_rn(r, 4))],
          conv(padding=1)))
    add(C("conv2d stride2 dilation2 no bias", ("conv2d",),
          lambda r: [_T(_rn(r, 1, 2, 7, 6)), _T(_rn(r, 3, 2, 2, 3))], conv(stride=2, dilation=2)))
    add(C("conv2d groups 2, 1x1", ("conv2d",), lambda r: [_T(_rn(r, 2, 4, 3, 3)), _T(_rn(r, 6, 2, 1, 1))],
          conv(groups=2)))
    add(C("conv2d padding same (even kernel)", ("conv2d",),
          lambda r: [_T(_rn(r, 1, 2, 4, 5)), _T(_rn(r, 2, 2, 2, 2))], conv(padding="same")))
    add(C("max_pool2d 2x2", ("max_pool2d",), lambda r: [_T(_distinct(r, 2, 2, 4, 6))],
          lambda x: F.max_pool2d(x, 2)))
    add(C("max_pool2d 3x3 s2 pad1 ceil", ("max_pool2d",), lambda r: [_T(_distinct(r, 1, 2, 6, 5))],
          lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True)))
    add(C("avg_pool2d 2x2 and 3x3 pad", ("avg_pool2d",), lambda r: [_T(_rn(r, 2, 2, 5, 6))],
          lambda x: F.avg_pool2d(x, 2).sum() + F.avg_pool2d(x, 3, 2, 1, count_include_pad=False).sum()))
    add(C("adaptive_avg_pool2d", ("adaptive_avg_pool2d", "global_avg_pool2d"), lambda r: [_T(_rn(r, 2, 3, 5, 7))],
          lambda x: F.adaptive_avg_pool2d(x, (2, 3)).sum() + F.adaptive_avg_pool2d(x, 1).sum() * 2
          + (F.global_avg_pool2d(x) * 3).sum()))
    add(C("linear 2-D and 3-D", ("linear",), lambda r: [_T(_rn(r, 2, 3, 5)), _T(_rn(r, 4, 5)), _T(_rn(r, 4))],
          lambda x, w, b: F.linear(x, w, b).sum(1) + F.linear(x[0], w).sum()))
    add(C("relu", ("relu",), lambda r: [_T(_away(r, 4, 5))], F.relu))
    add(C("leaky_relu", ("leaky_relu",), lambda r: [_T(_away(r, 4, 5))], lambda x: F.leaky_relu(x, 0.2)))
    add(C("relu6", ("relu6",), lambda r: [_T(_bands(r, 4, 5))], F.relu6))
    add(C("elu", ("elu",), lambda r: [_T(_away(r, 4, 5))], lambda x: F.elu(x, 1.3)))
    add(C("prelu per channel", ("prelu",), lambda r: [_T(_away(r, 2, 3, 2, 2)), _T(r.uniform(0.1, 0.4, 3))],
          F.prelu))
    add(C("sigmoid tanh", ("sigmoid", "tanh"), lambda r: [_T(_rn(r, 3, 4))], lambda x: F.sigmoid(x) * F.tanh(x)))
    add(C("softmax log_softmax", ("softmax", "log_softmax"), lambda r: [_T(_rn(r, 3, 5))],
          lambda x: F.softmax(x, 1) * 2 + F.log_softmax(x, 0)))
    add(C("dropout", ("dropout",), lambda r: [_T(_rn(r, 4, 6))],
          lambda x: (pe.manual_seed(3), F.dropout(x, 0.4, True))[1]))
    add(C("batch_norm train 4-D", ("batch_norm",),
          lambda r: [_T(_rn(r, 3, 2, 3, 3)), _T(_pos(r, 2)), _T(_rn(r, 2))],
          lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True)))
    add(C("batch_norm eval 2-D", ("batch_norm",), lambda r: [_T(_rn(r, 4, 3)), _T(_pos(r, 3)), _T(_rn(r, 3))],
          lambda x, w, b: F.batch_norm(x, pe.tensor(np.array([0.1, -0.2, 0.3])), pe.tensor(np.array([1.5, 0.7, 2.0])),
                                       w, b, training=False)))
    add(C("lstm sequence", ("lstm",),
          lambda r: [_T(_rn(r, 3, 2, 4)), _T(_rn(r, 2, 3)), _T(_rn(r, 2, 3)), _T(_rn(r, 12, 4) * 0.5),
                     _T(_rn(r, 12, 3) * 0.5), _T(_rn(r, 12) * 0.1), _T(_rn(r, 12) * 0.1)],
          lambda *a: F.lstm(*a)))
    add(C("lstm_cell", ("lstm_cell",),
          lambda r: [_T(_rn(r, 2, 4)), _T(_rn(r, 2, 3)), _T(_rn(r, 2, 3)), _T(_rn(r, 12, 4) * 0.5),
                     _T(_rn(r, 12, 3) * 0.5), _T(_rn(r, 12) * 0.1), _T(_rn(r, 12) * 0.1)],
          lambda x, h, c, wi, wh, bi, bh: F.lstm_cell(x, (h, c), wi, wh, bi, bh)))
    add(C("gru sequence", ("gru",),
          lambda r: [_T(_rn(r, 3, 2, 4)), _T(_rn(r, 2, 3)), _T(_rn(r, 9, 4) * 0.5), _T(_rn(r, 9, 3) * 0.5),
                     _T(_rn(r, 9) * 0.1), _T(_rn(r, 9) * 0.1)],
          lambda *a: F.gru(*a)))
    add(C("gru_cell", ("gru_cell",),
          lambda r: [_T(_rn(r, 2, 4)), _T(_rn(r, 2, 3)), _T(_rn(r, 9, 4) * 0.5), _T(_rn(r, 9, 3) * 0.5),
                     _T(_rn(r, 9) * 0.1), _T(_rn(r, 9) * 0.1)],
          lambda x, h, wi, wh, bi, bh: F.gru_cell(x, h, wi, wh, bi, bh)))
    add(C("rnn_relu_cell", ("rnn_relu_cell",),
          lambda r: [_T(_away(r, 2, 4)), _T(_rn(r, 2, 3) * 0.1), _T(np.eye(3, 4)), _T(_rn(r, 3, 3) * 0.01),
                     _T(_rn(r, 3) * 0.01)],
          lambda x, h, wi, wh, b: F.rnn_relu_cell(x, h, wi, wh, b)))
    add(C("rnn_tanh_cell", ("rnn_tanh_cell",),
          lambda r: [_T(_rn(r, 2, 4)), _T(_rn(r, 2, 3)), _T(_rn(r, 3, 4)), _T(_rn(r, 3, 3)), _T(_rn(r, 3))],
          lambda x, h, wi, wh, b: F.rnn_tanh_cell(x, h, wi, wh, b)))
    add(C("flatten pad", ("flatten", "pad"), lambda r: [_T(_rn(r, 2, 3, 2))],
          lambda x: F.pad(F.flatten(x, 1), (1, 2)) * 2))

    # ---- losses (functional and module) -----------------------------------------------------------
    def loss(name, covers, inputs, fn, **kw):
        add(C(name, covers, inputs, fn, kind="loss", **kw))

    for red in ("mean", "sum", "none"):
        loss(f"cross_entropy index {red}", ("cross_entropy", "CrossEntropyLoss"),
             lambda r: [_T(_rn(r, 5, 4)), _idx(r, 5, 4)],
             lambda x, t, red=red: nn.CrossEntropyLoss(reduction=red)(x, pe.tensor(t)), wrt=[0])
    loss("cross_entropy weight ignore_index smoothing", ("cross_entropy",),
         lambda r: [_T(_rn(r, 6, 4)), np.array([0, 3, -100, 1, 2, 3]), _T(_pos(r, 4), grad=False)],
         lambda x, t, w: F.cross_entropy(x, pe.tensor(t), weight=w, label_smoothing=0.1), wrt=[0])
    loss("cross_entropy probability target 4-D", ("cross_entropy",),
         lambda r: [_T(_rn(r, 2, 3, 2, 2)), _T(np.exp(_rn(r, 2, 3, 2, 2)) / 5)],
         lambda x, t: F.cross_entropy(x, t, label_smoothing=0.2))
    loss("nll_loss weighted", ("nll_loss", "NLLLoss"),
         lambda r: [_T(_rn(r, 5, 3)), _idx(r, 5, 3), _T(_pos(r, 3), grad=False)],
         lambda x, t, w: nn.NLLLoss(weight=w)(F.log_softmax(x, 1), pe.tensor(t)), wrt=[0])
    loss("mse_loss", ("mse_loss", "MSELoss"), lambda r: [_T(_rn(r, 3, 4)), _T(_rn(r, 3, 4))],
         lambda a, b: nn.MSELoss()(a, b) + F.mse_loss(a, b, reduction="sum"))
    loss("l1_loss", ("l1_loss", "L1Loss"), lambda r: [_T(_away(r, 3, 4)), _T(np.zeros((3, 4)), grad=False)],
         lambda a, b: nn.L1Loss(reduction="none")(a, b), wrt=[0])
    loss("smooth_l1_loss", ("smooth_l1_loss", "SmoothL1Loss"),
         lambda r: [_T(np.array([[-2.0, -0.6, -0.2], [0.3, 0.7, 1.8]])), _T(np.zeros((2, 3)), grad=False)],
         lambda a, b: nn.SmoothL1Loss(beta=0.5)(a, b), wrt=[0])
    loss("binary_cross_entropy", ("binary_cross_entropy", "BCELoss"),
         lambda r: [_T(r.uniform(0.1, 0.9, (3, 4))), _T(r.uniform(0, 1, (3, 4)))],
         lambda p, t: nn.BCELoss()(p, t))
    loss("binary_cross_entropy_with_logits pos_weight", ("binary_cross_entropy_with_logits", "BCEWithLogitsLoss"),
         lambda r: [_T(_rn(r, 3, 4) * 3), _T(r.uniform(0, 1, (3, 4))), _T(_pos(r, 4))],
         lambda x, t, pw: F.binary_cross_entropy_with_logits(x, t, pos_weight=pw)
         + nn.BCEWithLogitsLoss(reduction="sum")(x, t))
    loss("multi_margin_loss p1 p2", ("multi_margin_loss", "MultiMarginLoss"),
         lambda r: [_T(_distinct(r, 4, 5) * 3), np.array([0, 2, 4, 1])],
         lambda x, t: nn.MultiMarginLoss()(x, pe.tensor(t)) + F.multi_margin_loss(x, pe.tensor(t), p=2, margin=0.7),
         wrt=[0])
    loss("hinge_embedding_loss", ("hinge_embedding_loss", "HingeEmbeddingLoss"),
         lambda r: [_T(np.array([0.2, 0.5, 1.4, -0.3, 2.0, 0.1])), np.array([1, -1, -1, 1, -1, -1.0])],
         lambda x, t: nn.HingeEmbeddingLoss()(x, pe.tensor(t)), wrt=[0])
    loss("kl_div", ("kl_div", "KLDivLoss"),
         lambda r: [_T(_rn(r, 3, 4)), _T(np.exp(_rn(r, 3, 4)) / 4)],
         lambda x, t: nn.KLDivLoss(reduction="batchmean")(F.log_softmax(x, 1), t)
         + F.kl_div(x, t.log(), reduction="sum", log_target=True))

    # ---- 1-D and transposed convolution, padding modes, pools, resampling (the spatial family) ------
    add(C("conv1d stride 2 dilation 2 groups 2", ("conv1d",),
          lambda r: [_T(_rn(r, 2, 4, 9)), _T(_rn(r, 6, 2, 3)), _T(_rn(r, 6))],
          lambda x, w, b: F.conv1d(x, w, b, 2, 1, 2, 2)))
    add(C("conv1d padding same", ("conv1d",), lambda r: [_T(_rn(r, 1, 2, 7)), _T(_rn(r, 3, 2, 4))],
          lambda x, w: F.conv1d(x, w, padding="same")))
    add(C("conv_transpose2d stride 2 output_padding groups", ("conv_transpose2d",),
          lambda r: [_T(_rn(r, 2, 4, 3, 3)), _T(_rn(r, 4, 1, 3, 2)), _T(_rn(r, 2))],
          lambda x, w, b: F.conv_transpose2d(x, w, b, 2, 1, 1, 2, 1)))
    add(C("conv_transpose2d output_padding >= stride (dilation 2)", ("conv_transpose2d",),
          lambda r: [_T(_rn(r, 1, 2, 3, 3)), _T(_rn(r, 2, 3, 2, 2))],
          lambda x, w: F.conv_transpose2d(x, w, None, 1, 0, 1, 1, 2)))
    add(C("pad reflect replicate circular", ("pad",), lambda r: [_T(_rn(r, 2, 3, 4, 5))],
          lambda x: F.pad(x, (1, 2, 3, 0), "reflect").sum(1) + F.pad(x, (2, 1, 0, 3), "replicate").sum(1)
          + F.pad(x, (1, 2, 3, 0), "circular").sum(1) + F.pad(x, (1, 2, 3, 0), value=0.5).sum(1)))
    add(C("max_pool1d avg_pool1d", ("max_pool1d", "avg_pool1d"), lambda r: [_T(_distinct(r, 2, 3, 9))],
          lambda x: F.max_pool1d(x, 3, 2, 1) * F.avg_pool1d(x, 3, 2, 1, count_include_pad=False)))
    add(C("adaptive pools 1-D", ("adaptive_avg_pool1d", "adaptive_max_pool1d"), lambda r: [_T(_distinct(r, 2, 3, 10))],
          lambda x: F.adaptive_avg_pool1d(x, 4) * F.adaptive_max_pool1d(x, 4)))
    add(C("adaptive_max_pool2d overlapping bins", ("adaptive_max_pool2d",), lambda r: [_T(_distinct(r, 1, 2, 7, 5))],
          lambda x: F.adaptive_max_pool2d(x, (3, 4))))
    add(C("dropout1d dropout2d (seeded masks)", ("dropout1d", "dropout2d"), lambda r: [_T(_rn(r, 4, 5, 3, 2))],
          lambda x: (pe.manual_seed(3), F.dropout2d(x, 0.4).sum(3) + F.dropout1d(x.sum(3), 0.3))[1]))
    add(C("interpolate bilinear, nearest; upsample", ("interpolate", "upsample"), lambda r: [_T(_rn(r, 1, 2, 4, 5))],
          lambda x: F.interpolate(x, scale_factor=1.7, mode="bilinear").sum(1)
          + F.interpolate(x, size=(6, 8), mode="bilinear", align_corners=True).sum(1)
          + F.upsample(x, size=(6, 8), mode="nearest").sum(1)))
    add(C("interpolate linear 1-D", ("interpolate",), lambda r: [_T(_rn(r, 2, 3, 5))],
          lambda x: F.interpolate(x, scale_factor=2.5, mode="linear")))
    add(C("pixel_shuffle pixel_unshuffle", ("pixel_shuffle", "pixel_unshuffle"), lambda r: [_T(_rn(r, 2, 8, 2, 3))],
          lambda x: F.pixel_shuffle(x, 2) * F.pixel_unshuffle(F.pixel_shuffle(x, 2) * 2, 2).sum()))

    # ---- layers (parameters checked too) ----------------------------------------------------------
    def layer(name, covers, make, inputs, fn=None, **kw):
        add(C(name, covers, inputs, fn, module=make, kind="layer", **kw))
    layer("Conv1d reflect", ("Conv1d",), lambda: nn.Conv1d(2, 3, 3, padding=2, padding_mode="reflect"),
          lambda r: [_T(_rn(r, 2, 2, 6))])
    layer("Conv2d circular unbatched", ("Conv2d",), lambda: nn.Conv2d(2, 3, 3, padding=1, padding_mode="circular"),
          lambda r: [_T(_rn(r, 2, 4, 5))])
    layer("ConvTranspose2d", ("ConvTranspose2d",), lambda: nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1,
                                                                               output_padding=1),
          lambda r: [_T(_rn(r, 2, 2, 3, 3))])
    layer("MaxPool1d", ("MaxPool1d",), lambda: nn.MaxPool1d(2), lambda r: [_T(_distinct(r, 1, 2, 6))])
    layer("AvgPool1d", ("AvgPool1d",), lambda: nn.AvgPool1d(3, 2, 1), lambda r: [_T(_rn(r, 2, 7))])
    layer("AdaptiveAvgPool1d", ("AdaptiveAvgPool1d",), lambda: nn.AdaptiveAvgPool1d(3), lambda r: [_T(_rn(r, 1, 2, 7))])
    layer("AdaptiveMaxPool1d", ("AdaptiveMaxPool1d",), lambda: nn.AdaptiveMaxPool1d(3),
          lambda r: [_T(_distinct(r, 1, 2, 7))])
    layer("AdaptiveMaxPool2d", ("AdaptiveMaxPool2d",), lambda: nn.AdaptiveMaxPool2d(2),
          lambda r: [_T(_distinct(r, 2, 5, 4))])
    layer("Dropout1d", ("Dropout1d",), lambda: nn.Dropout1d(0.3), lambda r: [_T(_rn(r, 4, 5, 3))],
          lambda m, x: (pe.manual_seed(1), m(x))[1])
    layer("Dropout2d", ("Dropout2d",), lambda: nn.Dropout2d(0.3), lambda r: [_T(_rn(r, 4, 5, 3, 2))],
          lambda m, x: (pe.manual_seed(1), m(x))[1])
    layer("Upsample nearest, UpsamplingNearest2d", ("Upsample", "UpsamplingNearest2d"),
          lambda: nn.Sequential(nn.Upsample(scale_factor=2), nn.UpsamplingNearest2d(size=(5, 9))),
          lambda r: [_T(_rn(r, 1, 2, 3, 4))])
    layer("UpsamplingBilinear2d", ("UpsamplingBilinear2d",), lambda: nn.UpsamplingBilinear2d(scale_factor=1.5),
          lambda r: [_T(_rn(r, 1, 2, 3, 4))])
    layer("padding layers", ("ZeroPad1d", "ZeroPad2d", "ConstantPad1d", "ConstantPad2d", "ReflectionPad1d",
                             "ReflectionPad2d", "ReplicationPad1d", "ReplicationPad2d", "CircularPad1d",
                             "CircularPad2d"),
          lambda: nn.Sequential(nn.ZeroPad2d((1, 2, 0, 1)), nn.ConstantPad2d(1, 0.5), nn.ReflectionPad2d((2, 1, 1, 2)),
                                nn.ReplicationPad2d(1), nn.CircularPad2d((1, 0, 0, 2)), nn.Flatten(2),
                                nn.ZeroPad1d(1), nn.ConstantPad1d((0, 2), -1.0), nn.ReflectionPad1d(3),
                                nn.ReplicationPad1d((2, 0)), nn.CircularPad1d(1)),
          lambda r: [_T(_rn(r, 1, 2, 3, 4))])
    layer("PixelShuffle PixelUnshuffle", ("PixelShuffle", "PixelUnshuffle"),
          lambda: nn.Sequential(nn.PixelShuffle(2), nn.PixelUnshuffle(3)), lambda r: [_T(_rn(r, 1, 36, 3, 3))])

    layer("Linear", ("Linear",), lambda: nn.Linear(5, 3), lambda r: [_T(_rn(r, 4, 5))])
    layer("Conv2d stride 2 pad 1", ("Conv2d",), lambda: nn.Conv2d(2, 3, 3, stride=2, padding=1),
          lambda r: [_T(_rn(r, 2, 2, 5, 5))])
    layer("MaxPool2d", ("MaxPool2d",), lambda: nn.MaxPool2d(2), lambda r: [_T(_distinct(r, 1, 2, 4, 4))])
    layer("AvgPool2d", ("AvgPool2d",), lambda: nn.AvgPool2d(3, 2, 1), lambda r: [_T(_rn(r, 1, 2, 5, 5))])
    layer("AdaptiveAvgPool2d", ("AdaptiveAvgPool2d",), lambda: nn.AdaptiveAvgPool2d((3, 2)),
          lambda r: [_T(_rn(r, 1, 2, 5, 5))])
    layer("BatchNorm1d train (N, C, L)", ("BatchNorm1d",), lambda: nn.BatchNorm1d(3), lambda r: [_T(_rn(r, 4, 3, 2))])
    layer("BatchNorm2d train", ("BatchNorm2d",), lambda: nn.BatchNorm2d(3), lambda r: [_T(_rn(r, 2, 3, 3, 3))])
    layer("BatchNorm2d eval", ("BatchNorm2d",), lambda: _evaluated(nn.BatchNorm2d(3)), lambda r: [_T(_rn(r, 2, 3, 2, 2))])
    layer("Dropout", ("Dropout",), lambda: nn.Dropout(0.3), lambda r: [_T(_rn(r, 4, 5))],
          lambda m, x: (pe.manual_seed(1), m(x))[1])
    layer("Flatten", ("Flatten",), lambda: nn.Flatten(), lambda r: [_T(_rn(r, 2, 3, 2))])
    layer("ReLU", ("ReLU",), lambda: nn.ReLU(), lambda r: [_T(_away(r, 3, 4))])
    layer("LeakyReLU", ("LeakyReLU",), lambda: nn.LeakyReLU(0.1), lambda r: [_T(_away(r, 3, 4))])
    layer("ReLU6", ("ReLU6",), lambda: nn.ReLU6(), lambda r: [_T(_bands(r, 3, 4))])
    layer("PReLU (slope learned per channel)", ("PReLU",), lambda: nn.PReLU(3), lambda r: [_T(_away(r, 2, 3, 2))])
    layer("ELU", ("ELU",), lambda: nn.ELU(), lambda r: [_T(_away(r, 3, 4))])
    layer("Sigmoid", ("Sigmoid",), lambda: nn.Sigmoid(), lambda r: [_T(_rn(r, 3, 4))])
    layer("Tanh", ("Tanh",), lambda: nn.Tanh(), lambda r: [_T(_rn(r, 3, 4))])
    layer("Softmax", ("Softmax",), lambda: nn.Softmax(1), lambda r: [_T(_rn(r, 3, 4))])
    layer("LogSoftmax", ("LogSoftmax",), lambda: nn.LogSoftmax(-1), lambda r: [_T(_rn(r, 3, 4))])
    layer("Identity", ("Identity",), lambda: nn.Identity(), lambda r: [_T(_rn(r, 3))])
    layer("LSTM 2 layers batch_first with (h0, c0)", ("LSTM",), lambda: nn.LSTM(3, 4, num_layers=2, batch_first=True),
          lambda r: [_T(_rn(r, 2, 3, 3)), _T(_rn(r, 2, 2, 4)), _T(_rn(r, 2, 2, 4))],
          lambda m, x, h, c: m(x, (h, c))[0] * 1 + m(x, (h, c))[1][1].sum())
    layer("LSTMCell", ("LSTMCell",), lambda: nn.LSTMCell(3, 4), lambda r: [_T(_rn(r, 2, 3))])
    layer("RNN tanh 2 layers", ("RNN",), lambda: nn.RNN(3, 4, num_layers=2), lambda r: [_T(_rn(r, 3, 2, 3))],
          lambda m, x: m(x)[0])
    layer("LSTM bidirectional 2 layers", ("LSTM",), lambda: nn.LSTM(3, 2, num_layers=2, bidirectional=True),
          lambda r: [_T(_rn(r, 3, 2, 3))], lambda m, x: m(x)[0] * 1 + m(x)[1][1].sum())
    layer("RNN bidirectional batch_first", ("RNN",), lambda: nn.RNN(3, 2, bidirectional=True, batch_first=True),
          lambda r: [_T(_rn(r, 2, 3, 3))], lambda m, x: m(x)[0] * 1 + m(x)[1].sum())
    layer("RNNCell", ("RNNCell",), lambda: nn.RNNCell(3, 4), lambda r: [_T(_rn(r, 2, 3))])
    layer("GRU bidirectional 2 layers batch_first with h0", ("GRU",),
          lambda: nn.GRU(3, 2, num_layers=2, bidirectional=True, batch_first=True),
          lambda r: [_T(_rn(r, 2, 3, 3)), _T(_rn(r, 4, 2, 2))], lambda m, x, h: m(x, h)[0] * 1 + m(x, h)[1].sum())
    layer("GRUCell", ("GRUCell",), lambda: nn.GRUCell(3, 4), lambda r: [_T(_rn(r, 2, 3))])
    layer("digit CNN (Sequential of Conv2d, BatchNorm2d, ReLU, MaxPool2d, Flatten, Linear)", ("Sequential",),
          lambda: nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(), nn.MaxPool2d(2, 2),
                                nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                                nn.Linear(4 * 3 * 3, 5)),
          lambda r: [_T(_rn(r, 2, 1, 6, 6))], fast=True)
    out += _tensor_op_cases()
    out += _nn_breadth_cases()
    out += _family_cases()
    return out


def _family_cases() -> list[AutogradCase]:
    """The entries an op family declares in its own kernel-registry module (``pyengine/testing/ops/
    <family>.py``, as ``autograd_cases()``), so that adding a family touches only that one registry
    file: its functional op and its layer are gradchecked, and covered, from there."""
    import importlib
    import pkgutil

    from . import ops
    found: list[AutogradCase] = []
    for mod in pkgutil.iter_modules(ops.__path__):
        declared = getattr(importlib.import_module(f"{ops.__name__}.{mod.name}"), "autograd_cases", None)
        if declared is not None:
            found += declared()
    return found


def _evaluated(m):
    m.running_mean._data[...] = [0.1, -0.3, 0.2]
    m.running_var._data[...] = [1.5, 0.6, 2.0]
    return m.eval()


def _bound(module, fn):
    """A Module whose forward is fn(module, *inputs), so gradcheck also checks module's parameters."""
    from ..nn import Module

    class Bound(Module):
        def __init__(self):
            super().__init__()
            self.inner = module

        def forward(self, *xs):
            return fn(self.inner, *xs)
    return Bound()


def run_case(case: AutogradCase, seed: int = 0) -> bool:
    """gradcheck one entry (float64, through autograd and the device's kernels)."""
    from .gradcheck import gradcheck
    rng = np.random.default_rng(seed)
    inputs = case.inputs(rng)
    target = case.fn
    if case.module is not None:
        m = case.module().double()
        target = _bound(m, case.fn) if case.fn is not None else m
    return gradcheck(target, inputs, wrt=case.wrt, atol=case.atol, rtol=case.rtol, fast_mode=case.fast, seed=seed)


# The tensor-op breadth (ops_math, ops_reduce, ops_index, ops_linalg) has its entries in their own module.
from .autograd_tensor_ops import OPS as _TENSOR_OP_NAMES, cases as _tensor_op_cases  # noqa: E402
from .autograd_nn_breadth import cases as _nn_breadth_cases  # noqa: E402

TENSOR_OPS += [n for n in _TENSOR_OP_NAMES if n not in TENSOR_OPS]
