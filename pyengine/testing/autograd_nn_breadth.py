"""The gradcheck entries of the nn breadth (activations beyond the kernel-backed ones; the layers,
losses and attention added beside them): float64 through autograd, inputs kept off each op's kinks:
Hardswish/Hardsigmoid/Hardtanh samples stay 0.1 from ±3 / the bounds, the shrink and threshold ops
0.1 from ±λ and the threshold, CELU/SELU 0.1 from 0.

``cases()`` is appended to ``autograd_ops.cases()``; the registry's completeness test then holds
every new public name of nn and nn.functional to an entry here.
"""
from __future__ import annotations

import numpy as np

from .autograd_ops import AutogradCase, _T, _away, _rn

__all__ = ["cases"]


def _off(points, gap=0.1):
    """Samples in (-5, 5) at least gap from every kink in points."""
    def gen(rng, *shape):
        x = rng.uniform(-5, 5, shape)
        for p in points:
            near = np.abs(x - p) < gap
            x = np.where(near, p + np.sign(x - p + 1e-12) * gap * 1.5, x)
        return x
    return gen


def _seeded(f, seed=3):
    """f() with the global generator reseeded first: the same random draws on every call (finite differences)."""
    import pyengine as pe
    pe.manual_seed(seed)
    return f()


def cases() -> list[AutogradCase]:
    from .. import nn
    from ..nn import functional as F

    C = AutogradCase
    out: list[AutogradCase] = []
    add = out.append

    def act(name, covers, fn, gen=_rn):
        add(C(name, covers, lambda r, g=gen: [_T(g(r, 3, 5))], fn))

    def layer(name, covers, make, gen=_rn, shape=(2, 3, 4)):
        add(C(name, covers, lambda r, g=gen: [_T(g(r, *shape))], None, module=make, kind="layer"))

    act("gelu exact and tanh", ("gelu",), lambda x: F.gelu(x) + F.gelu(x, approximate="tanh") * 0.5)
    act("silu mish", ("silu", "mish"), lambda x: F.silu(x) + F.mish(x) * 0.7)
    act("hardswish hardsigmoid", ("hardswish", "hardsigmoid"), lambda x: F.hardswish(x) + F.hardsigmoid(x) * 2,
        _off((-3.0, 3.0)))
    act("selu celu", ("selu", "celu"), lambda x: F.selu(x) + F.celu(x, alpha=0.7), _away)
    act("softplus beta threshold", ("softplus",), lambda x: F.softplus(x) + F.softplus(x, beta=2.0, threshold=3.0),
        _off((1.5,)))
    act("softsign logsigmoid tanhshrink", ("softsign", "logsigmoid", "tanhshrink"),
        lambda x: F.softsign(x) + F.logsigmoid(x) + F.tanhshrink(x))
    act("softmin", ("softmin",), lambda x: F.softmin(x, 1))
    act("hardtanh", ("hardtanh",), lambda x: F.hardtanh(x) + F.hardtanh(x, -2.0, 0.5), _off((-2.0, -1.0, 0.5, 1.0)))
    act("softshrink hardshrink", ("softshrink", "hardshrink"), lambda x: F.softshrink(x) + F.hardshrink(x, 1.0),
        _off((-1.0, -0.5, 0.5, 1.0)))
    act("threshold", ("threshold",), lambda x: F.threshold(x, 0.3, -2.0), _off((0.3,)))
    act("rrelu: evaluation slope, training slopes (seeded)", ("rrelu",),
        lambda x: F.rrelu(x, 0.1, 0.3) + _seeded(lambda: F.rrelu(x, 0.2, 0.5, training=True)), _away)
    add(C("glu", ("glu",), lambda r: [_T(_rn(r, 3, 4, 6))], lambda x: F.glu(x) * F.glu(x, 1).sum()))

    layer("GELU", ("GELU",), lambda: nn.GELU(approximate="tanh"))
    layer("SiLU Mish", ("SiLU", "Mish"), lambda: nn.Sequential(nn.SiLU(), nn.Mish()))
    layer("Hardswish Hardsigmoid", ("Hardswish", "Hardsigmoid"),
          lambda: nn.Sequential(nn.Hardswish(), nn.Hardsigmoid()), _off((-3.0, 3.0)))
    layer("SELU CELU", ("SELU", "CELU"), lambda: nn.Sequential(nn.SELU(), nn.CELU(0.5)), _away)
    layer("Softplus Softsign LogSigmoid Tanhshrink", ("Softplus", "Softsign", "LogSigmoid", "Tanhshrink"),
          lambda: nn.Sequential(nn.Softplus(beta=1.5), nn.Softsign(), nn.LogSigmoid(), nn.Tanhshrink()))
    layer("Softmin", ("Softmin",), lambda: nn.Softmin(dim=-1))
    layer("Hardtanh", ("Hardtanh",), lambda: nn.Hardtanh(-0.5, 2.0), _off((-0.5, 2.0)))
    layer("Softshrink Hardshrink Threshold", ("Softshrink", "Hardshrink", "Threshold"),
          lambda: nn.Sequential(nn.Softshrink(0.3), nn.Hardshrink(0.2), nn.Threshold(0.1, 5.0)),
          _off((-0.3, 0.3, 0.5, 0.4, 0.6)))
    layer("GLU", ("GLU",), lambda: nn.GLU(dim=1), shape=(2, 4, 3))
    add(C("RReLU training (seeded) and evaluation", ("RReLU",), lambda r: [_T(_away(r, 2, 3, 4))],
          lambda m, x: _seeded(lambda: m.train()(x)) + m.eval()(x) * 0.5, module=lambda: nn.RReLU(0.05, 0.4),
          kind="layer"))
    layer("Unflatten", ("Unflatten",), lambda: nn.Unflatten(1, (2, 2)), shape=(3, 4, 2))
    out += _norm_embedding_cases()
    out += _loss_cases()
    out += _attention_cases()
    return out


def _norm_embedding_cases() -> list[AutogradCase]:
    import pyengine as pe
    from .. import nn
    from ..nn import functional as F

    C = AutogradCase
    idx = np.array([[0, 3, 3, 1], [4, 0, 2, 3]])
    return [
        C("group_norm with weight and bias", ("group_norm",),
          lambda r: [_T(_rn(r, 2, 6, 3, 2)), _T(r.uniform(0.5, 1.5, 6)), _T(_rn(r, 6))],
          lambda x, w, b: F.group_norm(x, 3, w, b, eps=1e-3)),
        C("instance_norm (input stats, affine)", ("instance_norm",),
          lambda r: [_T(_rn(r, 2, 3, 5)), _T(r.uniform(0.5, 1.5, 3)), _T(_rn(r, 3))],
          lambda x, w, b: F.instance_norm(x, weight=w, bias=b)),
        # the padding row's zero gradient and scale_grad_by_freq's division are by design, not the
        # derivative (both are tested against torch): here no index hits the padding row
        C("embedding padding_idx", ("embedding",), lambda r: [_T(_rn(r, 6, 3))],
          lambda w: F.embedding(pe.tensor(idx), w, padding_idx=5)),
        C("GroupNorm", ("GroupNorm",), lambda r: [_T(_rn(r, 2, 4, 5))], None,
          module=lambda: nn.GroupNorm(2, 4), kind="layer"),
        C("InstanceNorm1d/2d/3d", ("InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d"),
          lambda r: [_T(_rn(r, 2, 3, 2, 2, 3))], lambda m, x: (m[0](x.reshape(2, 3, 12)), m[1](x[:, :, 0]), m[2](x)),
          module=lambda: nn.ModuleList([nn.InstanceNorm1d(3, affine=True), nn.InstanceNorm2d(3, affine=True),
                                        nn.InstanceNorm3d(3, affine=True)]), kind="layer"),
        C("Embedding", ("Embedding",), lambda r: [], lambda m: m(pe.tensor(idx)) * 1.5,
          module=lambda: nn.Embedding(6, 3, padding_idx=5), kind="layer"),
    ]


def _loss_cases() -> list[AutogradCase]:
    import pyengine as pe
    from .. import nn
    from ..nn import functional as F

    C = AutogradCase
    sign = np.array([1.0, -1.0, -1.0, 1.0])
    return [
        C("huber (off the branch switch)", ("huber_loss", "HuberLoss"),
          lambda r: [_T(_away(r, 4, 3) * 2), _T(np.zeros((4, 3)), grad=False)],
          lambda x, t: F.huber_loss(x, t, delta=0.05) + nn.HuberLoss(reduction="sum")(x * 0.3, t), wrt=[0], kind="loss"),
        C("soft margin", ("soft_margin_loss", "SoftMarginLoss"), lambda r: [_T(_rn(r, 4, 3))],
          lambda x: F.soft_margin_loss(x, pe.tensor(np.sign(x._data) * -1.0)) + nn.SoftMarginLoss()(x, pe.ones(4, 3)),
          kind="loss"),
        C("cosine similarity pairwise distance", ("cosine_similarity", "pairwise_distance"),
          lambda r: [_T(_rn(r, 4, 3)), _T(_rn(r, 4, 3))],
          lambda a, b: F.cosine_similarity(a, b) + F.pairwise_distance(a, b, p=3.0)),
        C("cosine embedding (hinge off 0)", ("cosine_embedding_loss", "CosineEmbeddingLoss"),
          lambda r: [_T(_rn(r, 4, 3)), _T(_rn(r, 4, 3))],
          lambda a, b: F.cosine_embedding_loss(a, b, pe.tensor(sign), margin=-2.0)
          + nn.CosineEmbeddingLoss()(a, b, pe.ones(4)), kind="loss"),
        C("margin ranking (hinge active)", ("margin_ranking_loss", "MarginRankingLoss"),
          lambda r: [_T(_rn(r, 4)), _T(_rn(r, 4))],
          lambda a, b: F.margin_ranking_loss(a, b, pe.tensor(sign), margin=10.0) + nn.MarginRankingLoss(margin=9.0)(
              a, b, pe.ones(4)), kind="loss"),
        C("gaussian nll", ("gaussian_nll_loss", "GaussianNLLLoss"),
          lambda r: [_T(_rn(r, 4, 3)), _T(_rn(r, 4, 3)), _T(r.uniform(0.5, 2, (4, 1)))],
          lambda x, t, v: F.gaussian_nll_loss(x, t, v) + nn.GaussianNLLLoss(full=True)(x, t, v.squeeze(1)), kind="loss"),
        C("poisson nll", ("poisson_nll_loss", "PoissonNLLLoss"),
          lambda r: [_T(r.uniform(0.5, 2, (4, 3))), _T(r.uniform(1.5, 3, (4, 3)))],
          lambda x, t: F.poisson_nll_loss(x, t) + nn.PoissonNLLLoss(log_input=False, full=True)(x, t), kind="loss"),
        C("triplet margin (hinge active)", ("triplet_margin_loss", "TripletMarginLoss"),
          lambda r: [_T(_rn(r, 4, 3)), _T(_rn(r, 4, 3)), _T(_rn(r, 4, 3))],
          lambda a, p, n: F.triplet_margin_loss(a, p, n, margin=20.0) + nn.TripletMarginLoss(margin=20.0, p=1.0)(a, p, n),
          kind="loss"),
        C("multilabel soft margin", ("multilabel_soft_margin_loss", "MultiLabelSoftMarginLoss"),
          lambda r: [_T(_rn(r, 4, 3)), _T(r.uniform(0.5, 2, 3))],
          lambda x, w: F.multilabel_soft_margin_loss(x, pe.tensor((x._data > 0) * 1.0), weight=w)
          + nn.MultiLabelSoftMarginLoss()(x, pe.ones(4, 3)), kind="loss"),
        C("multilabel margin (repeated label, -1 ends the labels, 1-D input)",
          ("multilabel_margin_loss", "MultiLabelMarginLoss"), lambda r: [_T(_rn(r, 3, 5)), _T(_rn(r, 4))],
          lambda x, v: F.multilabel_margin_loss(x, pe.tensor(np.array([[3, 0, -1, 1, 1], [2, 2, 4, 1, -1],
                                                                      [-1, 0, 1, 2, 3]])))
          + nn.MultiLabelMarginLoss(reduction="sum")(v, pe.tensor(np.array([1, -1, 0, 0]))), kind="loss"),
        C("ctc (padded and concatenated targets, repeats, empty target, reductions)", ("ctc_loss", "CTCLoss"),
          lambda r: [_T(_rn(r, 7, 3, 4))],
          lambda x: F.ctc_loss(x.log_softmax(2), pe.tensor(np.array([[1, 1, 2], [3, 0, 0], [2, 3, 1]])),
                               [7, 6, 4], [3, 1, 0])
          + nn.CTCLoss(blank=0, reduction="sum")(x.log_softmax(2), pe.tensor(np.array([1, 1, 2, 3, 2, 3])),
                                                 pe.tensor(np.array([7, 6, 4])), pe.tensor(np.array([3, 1, 2])))
          + F.ctc_loss(x, pe.tensor(np.array([[0, 2], [3, 2], [3, 3]])), [7, 7, 5], [2, 2, 1], blank=1,
                       reduction="none").sum() * 0.3, kind="loss"),
    ]


def _attention_cases() -> list[AutogradCase]:
    import pyengine as pe
    from .. import nn
    from ..nn import functional as F

    C = AutogradCase
    keep = np.array([[True, False, True, True], [True, True, False, False], [False, True, True, True]])
    return [
        C("scaled_dot_product_attention (bool mask, causal, scale)", ("scaled_dot_product_attention",),
          lambda r: [_T(_rn(r, 2, 3, 2)), _T(_rn(r, 2, 4, 2)), _T(_rn(r, 2, 4, 3))],
          lambda q, k, v: (F.scaled_dot_product_attention(q, k, v, attn_mask=pe.tensor(keep)),
                           F.scaled_dot_product_attention(q, k[:, :3], v[:, :3], is_causal=True, scale=0.7))),
        C("MultiheadAttention (kdim, key padding, batch_first)", ("MultiheadAttention",),
          lambda r: [_T(_rn(r, 2, 3, 4)), _T(_rn(r, 2, 5, 3))],
          lambda m, q, kv: m(q, kv, kv, key_padding_mask=pe.tensor(np.array([[False] * 4 + [True], [False] * 5])))[0],
          module=lambda: nn.MultiheadAttention(4, 2, kdim=3, vdim=3, batch_first=True), kind="layer"),
    ]
