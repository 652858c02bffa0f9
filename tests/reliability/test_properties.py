"""Property-based tests: random shapes and parameters, kernels.cpu against the NumPy reference on
every instruction set this machine has. Shapes stay small (the reference is plain NumPy) but cover
odd and prime sizes, batch 1, channels 1–70, stride, padding, dilation, groups and ceil_mode.

A failure hypothesis finds is fixed and its example pinned with @example, so it stays a regular
test. Examples are derandomised so CI runs the same cases every time.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from pyengine import _C, reference
from pyengine.kernels import cpu
from pyengine.testing.registry import to_float64

ISAS = list(_C.supported_cpu_isas())
PROFILE = settings(max_examples=25, deadline=None, derandomize=True,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

F32_TOL = dict(atol=2e-4, rtol=2e-4)


def _on_every_isa(fn, *args, **kwargs):
    """fn(*args) under each ISA; returns the list of results."""
    before = _C.cpu_isa()
    try:
        out = []
        for isa in ISAS:
            _C.set_cpu_isa(isa)
            out.append((isa, fn(*args, **kwargs)))
        return out
    finally:
        _C.set_cpu_isa(before)


def _check(name, args, kwargs=None, scale=1.0, pick=None):
    """cpu.<name> on float32 args (every ISA) against reference.<name> on float64 copies."""
    kwargs = kwargs or {}
    f64 = to_float64(tuple(args))
    want = getattr(reference, name)(*f64, **kwargs)
    for isa, got in _on_every_isa(getattr(cpu, name), *args, **kwargs):
        g = pick(got) if pick else got
        w = pick(want) if pick else want
        g = g if isinstance(g, tuple) else (g,)
        w = w if isinstance(w, tuple) else (w,)
        for k, (a, b) in enumerate(zip(g, w)):
            if a is None and b is None:
                continue
            assert a.shape == b.shape, f"{name} ({isa}) output {k}: {a.shape} vs {b.shape}"
            np.testing.assert_allclose(a, b, atol=F32_TOL["atol"] * scale, rtol=F32_TOL["rtol"],
                                       err_msg=f"{name} ({isa}) output {k}")


def _randn(rng, shape):
    return rng.standard_normal(shape).astype(np.float32)


sizes = st.integers(1, 70)
small = st.integers(1, 13)


@PROFILE
@given(m=sizes, n=sizes, k=sizes, ta=st.booleans(), tb=st.booleans(),
       alpha=st.sampled_from([1.0, -0.5, 2.0]), beta=st.sampled_from([0.0, 1.0, -2.0]), seed=st.integers(0, 2**16))
def test_gemm(m, n, k, ta, tb, alpha, beta, seed):
    rng = np.random.default_rng(seed)
    a = _randn(rng, (k, m) if ta else (m, k))
    b = _randn(rng, (n, k) if tb else (k, n))
    c = _randn(rng, (m, n))
    _check("gemm", (a, b, c), dict(trans_a=ta, trans_b=tb, alpha=alpha, beta=beta), scale=np.sqrt(k))


@st.composite
def conv_configs(draw):
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    cin = groups * draw(st.integers(1, max(1, 70 // groups // 3)))
    cout = groups * draw(st.integers(1, 8))
    if draw(st.booleans()) and groups == 1:       # depthwise
        groups, cout = cin, cin * draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    dh, dw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    n, h, w = draw(st.integers(1, 3)), draw(small), draw(small)
    assume(h + 2 * ph >= dh * (kh - 1) + 1 and w + 2 * pw >= dw * (kw - 1) + 1)
    return dict(n=n, cin=cin, cout=cout, groups=groups, k=(kh, kw), s=(sh, sw), p=(ph, pw), d=(dh, dw), hw=(h, w),
                bias=draw(st.booleans()), seed=draw(st.integers(0, 2**16)))


@PROFILE
@given(cfg=conv_configs())
def test_conv2d_forward_and_backward(cfg):
    rng = np.random.default_rng(cfg["seed"])
    x = _randn(rng, (cfg["n"], cfg["cin"]) + cfg["hw"])
    w = _randn(rng, (cfg["cout"], cfg["cin"] // cfg["groups"]) + cfg["k"])
    b = _randn(rng, (cfg["cout"],)) if cfg["bias"] else None
    kw = dict(stride=cfg["s"], padding=cfg["p"], dilation=cfg["d"], groups=cfg["groups"])
    scale = np.sqrt(w[0].size)
    _check("conv2d_forward", (x, w, b), kw, scale=scale)
    y = reference.conv2d_forward(x, w, b, **kw)
    g = _randn(rng, y.shape)
    _check("conv2d_backward_input", (g, w, x.shape), kw, scale=scale)
    _check("conv2d_backward_weight", (g, x, w.shape), kw, scale=np.sqrt(g[:, 0].size) * 2)
    _check("conv2d_backward_bias", (g,), {}, scale=np.sqrt(g[:, 0].size))


@st.composite
def pool_configs(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    return dict(n=draw(st.integers(1, 3)), c=draw(sizes), hw=(draw(small), draw(small)), k=(kh, kw),
                s=(draw(st.integers(1, 3)), draw(st.integers(1, 3))),
                p=(draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))),
                d=(draw(st.integers(1, 2)), draw(st.integers(1, 2))), ceil=draw(st.booleans()),
                cip=draw(st.booleans()), seed=draw(st.integers(0, 2**16)))


def _pool_fits(cfg, dilation=(1, 1)):
    return all(cfg["hw"][i] + 2 * cfg["p"][i] >= dilation[i] * (cfg["k"][i] - 1) + 1 for i in range(2))


@PROFILE
@given(cfg=pool_configs())
def test_max_pool2d(cfg):
    assume(_pool_fits(cfg, cfg["d"]))
    rng = np.random.default_rng(cfg["seed"])
    x = _randn(rng, (cfg["n"], cfg["c"]) + cfg["hw"])
    kw = dict(stride=cfg["s"], padding=cfg["p"], dilation=cfg["d"], ceil_mode=cfg["ceil"])
    _check("max_pool2d_forward", (x, cfg["k"]), kw)
    y, idx = reference.max_pool2d_forward(x, cfg["k"], **kw)
    g = _randn(rng, y.shape)
    _check("max_pool2d_backward_input", (g, idx, x.shape))


@PROFILE
@given(cfg=pool_configs())
def test_avg_pool2d(cfg):
    assume(_pool_fits(cfg))
    rng = np.random.default_rng(cfg["seed"])
    x = _randn(rng, (cfg["n"], cfg["c"]) + cfg["hw"])
    kw = dict(stride=cfg["s"], padding=cfg["p"], ceil_mode=cfg["ceil"], count_include_pad=cfg["cip"])
    _check("avg_pool2d_forward", (x, cfg["k"]), kw)
    y = reference.avg_pool2d_forward(x, cfg["k"], **kw)
    g = _randn(rng, y.shape)
    _check("avg_pool2d_backward_input", (g, x.shape, cfg["k"]), kw)


@PROFILE
@given(n=st.integers(1, 5), i=st.integers(1, 23), h=st.integers(1, 19), bias=st.booleans(), seed=st.integers(0, 2**16))
def test_lstm_cell(n, i, h, bias, seed):
    rng = np.random.default_rng(seed)
    x, h0, c0 = _randn(rng, (n, i)), _randn(rng, (n, h)), _randn(rng, (n, h))
    w_ih, w_hh = _randn(rng, (4 * h, i)) * 0.3, _randn(rng, (4 * h, h)) * 0.3
    b_ih, b_hh = (_randn(rng, (4 * h,)), _randn(rng, (4 * h,))) if bias else (None, None)
    _check("lstm_cell_forward", (x, h0, c0, w_ih, w_hh, b_ih, b_hh), pick=lambda r: (r[0], r[1]))
    gh, gc = _randn(rng, (n, h)), _randn(rng, (n, h))
    _, _, saved = reference.lstm_cell_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh)
    saved32 = tuple(s.astype(np.float32) if isinstance(s, np.ndarray) and s.dtype.kind == "f" else s for s in saved)
    _check("lstm_cell_backward", (gh, gc, x, h0, c0, w_ih, w_hh, saved32),
           pick=lambda r: tuple(v for v in r if v is not None), scale=np.sqrt(i + h) * 4)


@PROFILE
@given(t=st.integers(1, 5), n=st.integers(1, 4), i=st.integers(1, 17), h=st.integers(1, 13), seed=st.integers(0, 2**16))
def test_lstm_sequence(t, n, i, h, seed):
    rng = np.random.default_rng(seed)
    x, h0, c0 = _randn(rng, (t, n, i)), _randn(rng, (n, h)), _randn(rng, (n, h))
    w_ih, w_hh = _randn(rng, (4 * h, i)) * 0.3, _randn(rng, (4 * h, h)) * 0.3
    b_ih, b_hh = _randn(rng, (4 * h,)), _randn(rng, (4 * h,))
    _check("lstm_forward", (x, h0, c0, w_ih, w_hh, b_ih, b_hh), pick=lambda r: (r[0], r[1], r[2]))
    gy = _randn(rng, (t, n, h))
    _, _, _, saved = reference.lstm_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh)
    saved32 = tuple(s.astype(np.float32) if isinstance(s, np.ndarray) and s.dtype.kind == "f" else s for s in saved)
    _check("lstm_backward", (gy, None, None, x, h0, c0, w_ih, w_hh, saved32),
           pick=lambda r: tuple(v for v in r if v is not None), scale=np.sqrt(t * n * (i + h)) * 4)


@PROFILE
@given(shape=st.lists(st.integers(1, 11), min_size=1, max_size=4), data=st.data(), big=st.booleans(),
       seed=st.integers(0, 2**16))
def test_softmax_and_log_softmax(shape, data, big, seed):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    rng = np.random.default_rng(seed)
    x = _randn(rng, tuple(shape)) * (1e4 if big else 3)
    for name in ("softmax", "log_softmax"):
        _check(f"{name}_forward", (x,), dict(axis=axis), scale=1e4 if (big and name == "log_softmax") else 1)
        y = getattr(reference, f"{name}_forward")(x.astype(np.float64), axis=axis).astype(np.float32)
        g = _randn(rng, x.shape)
        _check(f"{name}_backward", (g, y), dict(axis=axis), scale=10)


@PROFILE
@given(n=st.integers(1, 40), c=st.integers(1, 70), reduction=st.sampled_from(["mean", "sum", "none"]),
       seed=st.integers(0, 2**16))
def test_cross_entropy(n, c, reduction, seed):
    rng = np.random.default_rng(seed)
    logits = _randn(rng, (n, c)) * 4
    target = rng.integers(0, c, size=n).astype(np.int64)
    _check("cross_entropy_forward", (logits, target), dict(reduction=reduction), scale=n)
    g = np.asarray(_randn(rng, (n,) if reduction == "none" else ()))
    _check("cross_entropy_backward", (g, logits, target), dict(reduction=reduction))


@PROFILE
@given(n=st.integers(1, 6), c=st.integers(1, 70), spatial=st.booleans(), training=st.booleans(),
       seed=st.integers(0, 2**16))
def test_batch_norm(n, c, spatial, training, seed):
    rng = np.random.default_rng(seed)
    shape = (n, c, 3, 5) if spatial else (n, c)
    assume(not training or np.prod(shape) // c >= 2)
    x = _randn(rng, shape)
    w, b = _randn(rng, (c,)), _randn(rng, (c,))
    rm, rv = _randn(rng, (c,)), rng.uniform(0.5, 2, c).astype(np.float32)
    rm_ref, rv_ref = rm.astype(np.float64), rv.astype(np.float64)
    want = reference.batch_norm_forward(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64),
                                        rm_ref, rv_ref, training)
    for isa, got in _on_every_isa(lambda: cpu.batch_norm_forward(x, w, b, rm.copy(), rv.copy(), training)):
        np.testing.assert_allclose(got[0], want[0], atol=1e-3, rtol=1e-3, err_msg=f"batch_norm_forward ({isa})")
    g = _randn(rng, shape)
    _check("batch_norm_backward", (g, x, w, want[1].astype(np.float32), want[2].astype(np.float32)),
           dict(training=training), pick=lambda r: tuple(v for v in r if v is not None), scale=np.sqrt(x.size / c) * 4)
