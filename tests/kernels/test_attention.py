"""Attention kernels beyond the registry: F.scaled_dot_product_attention and nn.MultiheadAttention on them
against torch 2.13, forward and the gradients of query, key and value (bool and float masks broadcast over
batch and heads, is_causal with L != S, scale, enable_gqa, 3-D inputs), float32 and float64 on every ISA;
the composed path still serves what the kernels leave out (dropout, a float mask that needs its gradient);
and the result does not depend on the thread count."""
import numpy as np
import pytest

import pyengine as pe
from pyengine import _C, nn
from pyengine.kernels import cpu
from pyengine.nn import functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

# (q shape, k shape, v shape, mask: None | (shape, "bool"|"float") | "causal", scale, gqa, desc)
CASES = [
    ((2, 4, 7, 8), (2, 4, 9, 8), (2, 4, 9, 5), None, None, False, "plain"),
    ((2, 4, 7, 8), (2, 4, 9, 8), (2, 4, 9, 8), ((7, 9), "bool"), None, False, "bool mask (L, S)"),
    ((2, 4, 7, 8), (2, 4, 9, 8), (2, 4, 9, 8), ((2, 1, 7, 9), "float"), 0.25, False, "float mask per batch, scale"),
    ((1, 3, 80, 16), (1, 3, 80, 16), (1, 3, 80, 16), "causal", None, False, "causal, two row blocks"),
    ((2, 2, 5, 4), (2, 2, 11, 4), (2, 2, 11, 6), "causal", None, False, "causal L < S"),
    ((2, 2, 11, 4), (2, 2, 5, 4), (2, 2, 5, 6), "causal", None, False, "causal L > S (rows past S see all)"),
    ((2, 8, 6, 4), (2, 2, 6, 4), (2, 2, 6, 4), None, None, True, "GQA 8 on 2"),
    ((2, 8, 6, 4), (2, 2, 6, 4), (2, 2, 6, 4), "causal", 0.5, True, "GQA, causal, scale"),
    ((3, 6, 4), (3, 5, 4), (3, 5, 2), ((3, 6, 5), "bool"), None, False, "3-D inputs"),
]


def _mask(rng, spec, dtype):
    shape, kind = spec
    if kind == "bool":
        m = rng.random(shape) > 0.3
        m[..., 0] = True
        return m
    return rng.standard_normal(shape).astype(dtype)


def _count_kernel_calls(monkeypatch):
    calls = []
    real = cpu.attention_forward
    monkeypatch.setattr(cpu, "attention_forward", lambda *a: calls.append(1) or real(*a))
    return calls


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("i", range(len(CASES)))
def test_sdpa_matches_torch(i, dtype, cpu_isa, monkeypatch):
    qs, ks, vs, mask, scale, gqa, desc = CASES[i]
    rng = np.random.default_rng(i)
    q, k, v = (rng.standard_normal(s).astype(dtype) for s in (qs, ks, vs))
    m = _mask(rng, mask, dtype) if isinstance(mask, tuple) else None
    causal = mask == "causal"
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    ty = TF.scaled_dot_product_attention(tq, tk, tv, attn_mask=None if m is None else torch.tensor(m),
                                         is_causal=causal, scale=scale, enable_gqa=gqa)
    calls = _count_kernel_calls(monkeypatch)
    pq, pk, pv = (pe.tensor(a, requires_grad=True) for a in (q, k, v))
    py = F.scaled_dot_product_attention(pq, pk, pv, attn_mask=None if m is None else pe.tensor(m),
                                        is_causal=causal, scale=scale, enable_gqa=gqa)
    assert calls, desc   # the kernel path
    tol = dict(rtol=1e-4, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(py.numpy(), ty.detach().numpy(), **tol, err_msg=desc)
    g = rng.standard_normal(ty.shape).astype(dtype)
    ty.backward(torch.tensor(g))
    py.backward(pe.tensor(g))
    for ours, theirs, what in ((pq, tq, "query"), (pk, tk, "key"), (pv, tv, "value")):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), **tol, err_msg=f"{desc}: grad {what}")


def test_composed_path_keeps_float_mask_gradient_and_dropout(monkeypatch):
    calls = _count_kernel_calls(monkeypatch)
    rng = np.random.default_rng(1)
    q, k, v = (pe.tensor(rng.standard_normal((2, 3, 4)), requires_grad=True) for _ in range(3))
    m = pe.tensor(rng.standard_normal((3, 3)), requires_grad=True)
    y = F.scaled_dot_product_attention(q, k, v, attn_mask=m)
    assert not calls
    y.sum().backward()
    assert m.grad is not None and np.abs(m.grad.numpy()).sum() > 0
    pe.manual_seed(0)
    F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    assert not calls


@pytest.mark.parametrize("kpm", [False, True])
def test_multihead_attention_need_weights_false_matches_torch(kpm):
    rng = np.random.default_rng(4)
    E, H, L, S, N = 16, 4, 5, 7, 3
    theirs = torch.nn.MultiheadAttention(E, H, batch_first=True).double()
    ours = nn.MultiheadAttention(E, H, batch_first=True, dtype=np.float64)
    ours.load_state_dict({k: pe.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    q, kv = rng.standard_normal((N, L, E)), rng.standard_normal((N, S, E))
    mask = rng.random((N, S)) < 0.3 if kpm else None
    if mask is not None:
        mask[:, 0] = False
    tq, tkv = torch.tensor(q, requires_grad=True), torch.tensor(kv, requires_grad=True)
    ty, _ = theirs(tq, tkv, tkv, key_padding_mask=None if mask is None else torch.tensor(mask), need_weights=False)
    pq, pkv = pe.tensor(q, requires_grad=True), pe.tensor(kv, requires_grad=True)
    py, w = ours(pq, pkv, pkv, key_padding_mask=None if mask is None else pe.tensor(mask), need_weights=False)
    assert w is None
    np.testing.assert_allclose(py.numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-10)
    ty.sum().backward()
    py.sum().backward()
    np.testing.assert_allclose(pq.grad.numpy(), tq.grad.numpy(), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(pkv.grad.numpy(), tkv.grad.numpy(), rtol=1e-9, atol=1e-10)
    tw = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tw[name].grad.numpy(), rtol=1e-9, atol=1e-10, err_msg=name)


def test_same_bits_for_any_thread_count():
    rng = np.random.default_rng(3)
    q = rng.standard_normal((2, 4, 130, 32)).astype(np.float32)
    k = rng.standard_normal((2, 2, 90, 32)).astype(np.float32)
    v = rng.standard_normal((2, 2, 90, 16)).astype(np.float32)
    g = rng.standard_normal((2, 4, 130, 16)).astype(np.float32)
    before = _C.get_num_threads()
    try:
        outs = []
        for t in (1, 2, 3):
            _C.set_num_threads(t)
            o, lse = cpu.attention_forward(q, k, v, None, True)
            outs.append((o, lse) + cpu.attention_backward(g, q, k, v, o, lse, None, True))
    finally:
        _C.set_num_threads(before)
    for got in outs[1:]:
        for a, b in zip(got, outs[0]):
            assert np.array_equal(a, b)
