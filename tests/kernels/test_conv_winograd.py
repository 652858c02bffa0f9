"""Winograd F(2×2, 3×3) and F(4×4, 3×3) (csrc/cpu/isa/conv_winograd_isa.cpp) against the float64
reference, on every ISA: forced on (PYENGINE_CONV_WINOGRAD=2 or 4, read per call) over shapes the
per-shape rule would not pick too (few channels), with partial tiles (odd H/W), padding 0/1/2,
batch 1, channel counts that are not a multiple of 16; its error bounded; non-finite and huge
inputs handed to the direct kernels. The shapes the rule routes by itself are registry samples
(pyengine/testing/ops/conv2d.py)."""
import numpy as np
import pytest

from pyengine import reference
from pyengine.kernels import cpu

ENV = "PYENGINE_CONV_WINOGRAD"

# Max |ours − float64| / max |float64| over the output, with unit-variance x and weights scaled by
# 1/sqrt(C·9) (the bench's initialisation). Measured (bench/NOTES.md, "Winograd"), from 64 to 512
# channels: the direct kernels 0.8-2.7e-6 (one chain of 9·C products), F(2,3) 2-5e-7 (chains of C,
# small transforms), F(4,3) 5-10e-6 (transform entries up to 8 and sums of up to 16 terms in Aᵀ·A:
# 2-3 bits). Bounded with room for other data and ISAs.
BOUND = {0: 6e-6, 2: 2e-6, 4: 2.5e-5}

# (N, C, H, W, K, padding, bias)
SHAPES = [
    (1, 3, 7, 9, 5, 1, True),       # few channels, odd sizes
    (2, 17, 10, 11, 19, 0, False),  # padding 0
    (1, 20, 9, 6, 33, 2, True),     # padding 2 (output larger than the input)
    (3, 64, 8, 8, 64, 1, True),     # whole tiles, a multiple of 16
    (1, 67, 13, 5, 70, 1, False),   # C/K not a multiple of 16, one tile column partial
    (2, 8, 1, 3, 4, 1, True),       # a single row
    (1, 5, 2, 2, 7, 2, False),      # padding 2 on a tiny image
]


def _data(rng, n, c, h, w, k, bias):
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    wt = (rng.standard_normal((k, c, 3, 3)) / np.sqrt(9 * c)).astype(np.float32)
    b = rng.standard_normal(k).astype(np.float32) if bias else None
    return x, wt, b


def _rel_err(got, want):
    return float(np.max(np.abs(got.astype(np.float64) - want)) / max(np.max(np.abs(want)), 1e-30))


@pytest.mark.parametrize("m", [2, 4])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s[:5])) + f"p{s[5]}")
def test_forward_matches_reference(monkeypatch, cpu_isa, m, shape):
    n, c, h, w, k, pad, bias = shape
    x, wt, b = _data(np.random.default_rng(17), n, c, h, w, k, bias)
    want = reference.conv2d_forward(x.astype(np.float64), wt.astype(np.float64),
                                    None if b is None else b.astype(np.float64), 1, pad)
    monkeypatch.setenv(ENV, str(m))
    got = cpu.conv2d_forward(x, wt, b, 1, pad)
    assert got.dtype == np.float32 and got.shape == want.shape
    assert _rel_err(got, want) <= BOUND[m], (cpu_isa, _rel_err(got, want))
    relu = cpu.conv2d_relu_forward(x, wt, b, 1, pad)
    assert np.array_equal(relu, np.maximum(got, 0))


@pytest.mark.parametrize("m", [2, 4])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s[:5])) + f"p{s[5]}")
def test_backward_input_matches_reference(monkeypatch, cpu_isa, m, shape):
    # stride 1: grad_x is the forward kernel on grad_output with the flipped, transposed weights
    n, c, h, w, k, pad, _ = shape
    rng = np.random.default_rng(18)
    x, wt, _ = _data(rng, n, c, h, w, k, False)
    oh, ow = h + 2 * pad - 2, w + 2 * pad - 2
    gy = rng.standard_normal((n, k, oh, ow)).astype(np.float32)
    want = reference.conv2d_backward_input(gy.astype(np.float64), wt.astype(np.float64), x.shape, 1, pad)
    monkeypatch.setenv(ENV, str(m))
    got = cpu.conv2d_backward_input(gy, wt, x.shape, 1, pad)
    assert _rel_err(got, want) <= BOUND[m] * np.sqrt(k / c if k > c else 1.0), (cpu_isa, _rel_err(got, want))


def test_forced_tile_is_the_one_that_runs(monkeypatch):
    # The three paths round differently: if the switch did nothing, the outputs would be the same bits.
    x, wt, b = _data(np.random.default_rng(19), 2, 32, 12, 12, 32, True)
    outs = {}
    for m in (0, 2, 4):
        monkeypatch.setenv(ENV, str(m))
        outs[m] = cpu.conv2d_forward(x, wt, b, 1, 1)
    assert not np.array_equal(outs[0], outs[2]) and not np.array_equal(outs[0], outs[4])
    assert not np.array_equal(outs[2], outs[4])


@pytest.mark.parametrize("m", [2, 4])
@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan, 3e30])
def test_non_finite_or_huge_input_takes_the_direct_kernels(monkeypatch, m, bad):
    # The transforms would turn an inf into NaN (inf − inf) and overflow huge values: such inputs
    # (or weights) give exactly the direct kernels' result.
    rng = np.random.default_rng(20)
    x, wt, b = _data(rng, 2, 16, 9, 9, 16, True)
    x[1, 3, 4, 5] = bad
    wt2 = wt.copy()
    wt2[2, 1, 0, 0] = bad
    for xx, ww in ((x, wt), (_data(rng, 2, 16, 9, 9, 16, True)[0], wt2)):
        monkeypatch.setenv(ENV, "0")
        want = cpu.conv2d_forward(xx, ww, b, 1, 1)
        monkeypatch.setenv(ENV, str(m))
        got = cpu.conv2d_forward(xx, ww, b, 1, 1)
        np.testing.assert_array_equal(got, want)


def test_error_bound_on_a_resnet_layer(monkeypatch):
    # A 256 -> 256 layer on 8x8 (the CIFAR ResNet-18's third stage), batch 2: the measured error of
    # each algorithm against float64 stays inside the float32 parity tolerances of the registry
    # (atol 1e-3, rtol 1e-4 on outputs of unit scale) and inside its bound.
    x, wt, b = _data(np.random.default_rng(21), 2, 256, 8, 8, 256, True)
    want = reference.conv2d_forward(x.astype(np.float64), wt.astype(np.float64), b.astype(np.float64), 1, 1)
    for m in (0, 2, 4):
        monkeypatch.setenv(ENV, str(m))
        got = cpu.conv2d_forward(x, wt, b, 1, 1)
        err = _rel_err(got, want)
        assert err <= BOUND[m], (m, err)
        assert np.allclose(got, want, atol=1e-3, rtol=1e-4), m
