"""scaled_dot_product_attention and nn.MultiheadAttention against torch 2.13: outputs, attention
weights, input and parameter gradients (float64 and float32), odd sizes, batch 1, cross attention
with kdim/vdim, boolean and float masks, causal masks, key padding, batch_first, unbatched input,
state-dict keys and shapes, initialisation, and the bad-input errors."""
import numpy as np
import pytest

import pyengine as pe
from pyengine import nn

from ops_parity import IndexArg, check, torch


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("mask", [None, "bool", "float", "causal", "scale"])
def test_sdpa_matches_torch(dtype, mask, rng):
    q, k, v = (rng.standard_normal(s).astype(dtype) for s in [(2, 3, 5, 4), (2, 3, 7, 4), (2, 3, 7, 6)])
    F = lambda M: M.nn.functional  # noqa: E731
    if mask is None:
        check(lambda M, q, k, v: F(M).scaled_dot_product_attention(q, k, v), q, k, v)
    elif mask == "bool":
        m = rng.random((5, 7)) > 0.3
        m[:, 0] = True                               # every row keeps a key
        check(lambda M, q, k, v, m: F(M).scaled_dot_product_attention(q, k, v, attn_mask=m), q, k, v, IndexArg(m))
    elif mask == "float":
        m = rng.standard_normal((3, 1, 7)).astype(dtype)
        check(lambda M, q, k, v, m: F(M).scaled_dot_product_attention(q, k, v, attn_mask=m), q, k, v, m)
    elif mask == "causal":
        check(lambda M, q, k, v: F(M).scaled_dot_product_attention(q, k[:, :, :5], v[:, :, :5], is_causal=True), q, k, v)
    else:
        check(lambda M, q, k, v: F(M).scaled_dot_product_attention(q[0], k[0], v[0], scale=0.3), q, k, v)


def test_sdpa_gqa_and_errors(rng):
    q, k, v = rng.standard_normal((1, 4, 3, 2)), rng.standard_normal((1, 2, 5, 2)), rng.standard_normal((1, 2, 5, 3))
    check(lambda M, q, k, v: M.nn.functional.scaled_dot_product_attention(q, k, v, enable_gqa=True), q, k, v)
    F = nn.functional
    a = pe.randn(2, 3, 4)
    with pytest.raises(ValueError, match=r"query's last dimension \(4\) and key's \(5\) must agree"):
        F.scaled_dot_product_attention(a, pe.randn(2, 3, 5), a)
    with pytest.raises(ValueError, match="pass either attn_mask or is_causal=True, not both"):
        F.scaled_dot_product_attention(a, a, a, attn_mask=pe.ones(3, 3) > 0, is_causal=True)
    with pytest.raises(ValueError, match=r"attn_mask \(2, 2\) cannot be broadcast to the scores \(2, 3, 3\)"):
        F.scaled_dot_product_attention(a, a, a, attn_mask=pe.ones(2, 2) > 0)
    with pytest.raises(TypeError, match="attn_mask must be a bool or floating-point tensor, got dtype int64"):
        F.scaled_dot_product_attention(a, a, a, attn_mask=pe.tensor(np.ones((3, 3), np.int64)))
    with pytest.raises(TypeError, match="scaled_dot_product_attention: key must be a pyengine.Tensor, got list"):
        F.scaled_dot_product_attention(a, [1.0], a)


def _pair(E, H, **kw):
    pe.manual_seed(0)
    ours, theirs = nn.MultiheadAttention(E, H, **kw), torch.nn.MultiheadAttention(E, H, **kw)
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    rng = np.random.default_rng(1)
    sd = {k: torch.from_numpy(rng.standard_normal(tuple(v.shape)) * 0.4) for k, v in theirs.state_dict().items()}
    theirs.load_state_dict(sd)
    ours.load_state_dict({k: pe.tensor(v.numpy(), dtype=pe.float64) for k, v in sd.items()})
    return ours.double(), theirs.double()


def _run(ours, theirs, inputs, **kw):
    """Both modules on the same inputs (arrays: float ones require grad); compare outputs, weights,
    input gradients and every parameter's gradient."""
    def to(M, x):
        if isinstance(x, np.ndarray):
            t = pe.tensor(x.copy(), dtype=x.dtype) if M is pe else torch.from_numpy(x.copy())
            return t.requires_grad_(True) if x.dtype.kind == "f" else t
        return x
    pin = [to(pe, x) for x in inputs]
    tin = [to(torch, x) for x in inputs]
    pkw = {k: to(pe, v) for k, v in kw.items()}
    tkw = {k: to(torch, v) for k, v in kw.items()}
    po, pw = ours(*pin, **pkw)
    to_, tw = theirs(*tin, **tkw)
    np.testing.assert_allclose(po.numpy(), to_.detach().numpy(), rtol=1e-9, atol=1e-11)
    if tw is None:
        assert pw is None
    else:
        np.testing.assert_allclose(pw.numpy(), tw.detach().numpy(), rtol=1e-9, atol=1e-11)
    g = np.random.default_rng(2).standard_normal(to_.shape)
    loss_p = (po * pe.tensor(g, dtype=pe.float64)).sum() + (pw.sum() * 0.5 if pw is not None else 0)
    loss_t = (to_ * torch.from_numpy(g)).sum() + (tw.sum() * 0.5 if tw is not None else 0)
    loss_p.backward()
    loss_t.backward()
    for i, (p, t) in enumerate(zip(pin, tin)):
        if isinstance(t, torch.Tensor) and t.requires_grad:
            np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), rtol=1e-8, atol=1e-10, err_msg=f"input {i}")
    for (n, p), (_, t) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), rtol=1e-8, atol=1e-10, err_msg=n)


@pytest.mark.parametrize("batch_first", [False, True])
def test_mha_self_attention(batch_first, rng):
    ours, theirs = _pair(6, 3, batch_first=batch_first)
    x = rng.standard_normal((2, 5, 6) if batch_first else (5, 2, 6))
    _run(ours, theirs, [x, x.copy(), x.copy()])


def test_mha_cross_attention_kdim_vdim_masks(rng):
    ours, theirs = _pair(4, 2, kdim=3, vdim=5, bias=False)
    q, k, v = rng.standard_normal((3, 1, 4)), rng.standard_normal((6, 1, 3)), rng.standard_normal((6, 1, 5))
    kpm = np.array([[False, False, True, False, True, False]])
    am = rng.random((3, 6)) > 0.8
    am[:, 0] = False
    _run(ours, theirs, [q, k, v], key_padding_mask=kpm, attn_mask=am, average_attn_weights=False)


def test_mha_float_masks_causal_unbatched_no_weights(rng):
    ours, theirs = _pair(8, 4)
    x = rng.standard_normal((2, 5, 8))
    _run(ours, theirs, [x.transpose(1, 0, 2).copy()] * 3, attn_mask=rng.standard_normal((8, 5, 5)),
         key_padding_mask=rng.standard_normal((2, 5)))
    causal = ~np.tril(np.ones((5, 5), bool))
    _run(ours, theirs, [x[0], x[1], x[1]], attn_mask=causal, need_weights=False)
    _run(ours, theirs, [x[0], x[1], x[1]], attn_mask=causal, is_causal=True)


def test_mha_init_and_errors():
    pe.manual_seed(0)
    m = nn.MultiheadAttention(16, 4)
    w = m.in_proj_weight.numpy()
    bound = np.sqrt(6 / (16 + 48))                 # xavier_uniform over (3E, E)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert np.all(m.in_proj_bias.numpy() == 0) and np.all(m.out_proj.bias.numpy() == 0)
    assert list(m.state_dict()) == list(torch.nn.MultiheadAttention(16, 4).state_dict())
    with pytest.raises(ValueError, match=r"embed_dim \(6\) must be divisible by num_heads \(4\)"):
        nn.MultiheadAttention(6, 4)
    with pytest.raises(TypeError, match="MultiheadAttention: add_zero_attn must be a bool, got str 'yes'"):
        nn.MultiheadAttention(4, 2, add_zero_attn="yes")
    x = pe.randn(3, 2, 16)
    with pytest.raises(ValueError, match=r"key_padding_mask must have shape \(2, 3\) \(batch, source length\), got \(3, 2\)"):
        m(x, x, x, key_padding_mask=pe.ones(3, 2) > 0)
    with pytest.raises(ValueError, match=r"attn_mask must have shape \(3, 3\) or \(8, 3, 3\), got \(2, 3\)"):
        m(x, x, x, attn_mask=pe.ones(2, 3) > 0)
    with pytest.raises(ValueError, match="expected the last dimensions of query, key and value to be 16, 16 and 16"):
        m(x, x, pe.randn(3, 2, 5))
    with pytest.raises(ValueError, match="must all be 3-D"):
        m(x, pe.randn(3, 16), x)


@pytest.mark.parametrize("bias_kv,zero_attn", [(True, False), (False, True), (True, True)])
@pytest.mark.parametrize("batch_first", [False, True])
def test_mha_add_bias_kv_and_zero_attn(bias_kv, zero_attn, batch_first, rng):
    """torch's appended keys: state-dict keys and shapes (bias_k, bias_v (1, 1, E)), outputs, weights
    (S + 1 or S + 2 columns), input and parameter gradients, with and without masks, batch 1."""
    kw = dict(add_bias_kv=bias_kv, add_zero_attn=zero_attn, batch_first=batch_first)
    ours, theirs = _pair(6, 3, **kw)
    x = rng.standard_normal((1, 5, 6) if batch_first else (5, 1, 6))
    _run(ours, theirs, [x, x.copy(), x.copy()])
    ours, theirs = _pair(4, 2, kdim=3, vdim=5, **kw)
    N = 2
    shp = (lambda n, e: (N, n, e)) if batch_first else (lambda n, e: (n, N, e))
    q, k, v = rng.standard_normal(shp(3, 4)), rng.standard_normal(shp(7, 3)), rng.standard_normal(shp(7, 5))
    kpm = np.zeros((N, 7), bool)
    kpm[0, [1, 4]] = True
    am = rng.random((3, 7)) > 0.7
    am[:, 0] = False
    _run(ours, theirs, [q, k, v], key_padding_mask=kpm, attn_mask=am, average_attn_weights=False)
    _run(ours, theirs, [q, k, v], attn_mask=rng.standard_normal((N * 2, 3, 7)))


def test_mha_bias_kv_init_and_unbatched(rng):
    pe.manual_seed(0)
    m = nn.MultiheadAttention(8, 2, add_bias_kv=True, add_zero_attn=True)
    assert tuple(m.bias_k.shape) == (1, 1, 8) and tuple(m.bias_v.shape) == (1, 1, 8)
    assert list(m.state_dict()) == list(torch.nn.MultiheadAttention(8, 2, add_bias_kv=True).state_dict())
    std = np.sqrt(2.0 / (1 * 8 + 1 * 8))          # xavier_normal over (1, 1, 8): fan_in 8, fan_out 8
    b = np.concatenate([m.bias_k.numpy().ravel(), m.bias_v.numpy().ravel()])
    assert 0 < np.abs(b).max() < 6 * std and b.std() > 0.2 * std
    ours, theirs = _pair(8, 2, add_bias_kv=True, add_zero_attn=True)
    x = rng.standard_normal((4, 8))
    _run(ours, theirs, [x, x.copy(), x.copy()], attn_mask=~np.tril(np.ones((4, 4), bool)))
