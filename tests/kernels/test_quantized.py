"""The int8 kernels beyond the registry's parity: the vpmaddubsw saturation pitfall, the kernel
picked per instruction set, thread-count independence, and larger shapes than the registry's."""
import numpy as np
import pytest

import pyengine
from pyengine import _C, reference
from pyengine.kernels import cpu


def _naive_maddubs_dot(x_row, w_row):
    """What a GEMM that feeds raw uint8 x and int8 w to vpmaddubsw computes: adjacent pairs summed
    into int16 with saturation, then widened — the pitfall the AVX2 kernel must avoid."""
    x = x_row.astype(np.int32)
    w = w_row.astype(np.int32)
    n = len(x) // 2 * 2
    pairs = np.clip(x[:n:2] * w[:n:2] + x[1:n:2] * w[1:n:2], -32768, 32767)
    return int(pairs.sum()) + (int(x[-1] * w[-1]) if len(x) % 2 else 0)


@pytest.mark.parametrize("sign", [1, -1])
def test_worst_case_products_do_not_saturate(cpu_isa, sign):
    x = np.full((2, 64), 255, np.uint8)
    w = np.full((3, 64), 127 * sign, np.int8)
    exact = 255 * 127 * 64 * sign
    assert _naive_maddubs_dot(x[0], w[0]) != exact, "the test input must be one that a naive kernel gets wrong"
    got = cpu.quantized_linear(x, 0, w, None, np.ones(3, np.float32), out_dtype=np.float32)
    np.testing.assert_array_equal(got, np.full((2, 3), exact, np.float32))
    # The same through the convolution (9 taps of 255 under ±127 per channel).
    xc = np.full((1, 8, 5, 5), 255, np.uint8)
    wc = np.full((4, 8, 3, 3), 127 * sign, np.int8)
    y = cpu.quantized_conv2d(xc, 0, wc, None, np.ones(4, np.float32), out_dtype=np.float32)
    np.testing.assert_array_equal(y, np.full((1, 4, 3, 3), 255 * 127 * 72 * sign, np.float32))


def test_kernel_per_instruction_set(cpu_isa):
    name = _C.quantized_kernel()
    if cpu_isa == "generic":
        assert name == "generic"
    elif cpu_isa == "avx2":
        assert name == "avx2"
    else:
        assert name in ("avx512_vnni", "avx2")   # AVX-512 without VNNI takes the AVX2 kernel
        with open("/proc/cpuinfo") as f:
            has_vnni = "avx512_vnni" in f.read()
        assert (name == "avx512_vnni") == has_vnni


@pytest.mark.parametrize("shape", [(4, 32, 17, 19, 40, 3, 2, 1), (1, 96, 12, 12, 160, 1, 1, 0), (3, 24, 28, 28, 24, 3, 1, 1)])
def test_conv_larger_shapes_match_reference(cpu_isa, rng, shape):
    N, C, H, W, K, R, stride, pad = shape
    x = rng.integers(0, 256, (N, C, H, W), dtype=np.uint8)
    w = rng.integers(-127, 128, (K, C, R, R), dtype=np.int8)
    b = rng.integers(-50000, 50000, K, dtype=np.int32)
    # The sum of J products w·(x − zp) has a spread of about 7600·√J: scale it to about ±60.
    m = (rng.uniform(0.5, 2, K) * 60 / (7600 * np.sqrt(C * R * R))).astype(np.float32)
    for od in (np.uint8, np.float32):
        got = cpu.quantized_conv2d(x, 77, w, b, m, 130, 0, 255, stride, pad, out_dtype=od)
        want = reference.quantized_conv2d(x, 77, w, b, m, 130, 0, 255, stride, pad, out_dtype=od)
        np.testing.assert_array_equal(got, want)
        if od == np.uint8:
            assert 20 < len(np.unique(got)) and got.min() < 64 and got.max() > 192, "outputs must spread over uint8"


def test_results_do_not_depend_on_thread_count(rng):
    x = rng.integers(0, 256, (5, 16, 14, 14), dtype=np.uint8)
    w = rng.integers(-127, 128, (32, 16, 3, 3), dtype=np.int8)
    m = np.full(32, 2e-4, np.float32)
    xl = rng.integers(0, 256, (70, 300), dtype=np.uint8)
    wl = rng.integers(-127, 128, (90, 300), dtype=np.int8)
    ml = np.full(90, 1e-4, np.float32)
    before = pyengine.get_num_threads()
    try:
        outs = []
        for t in (1, 2):
            pyengine.set_num_threads(t)
            outs.append((cpu.quantized_conv2d(x, 3, w, None, m, 128, padding=1),
                         cpu.quantized_conv2d(x[:1], 3, w, None, m, 128, padding=1),
                         cpu.quantized_linear(xl, 3, wl, None, ml, 128)))
    finally:
        pyengine.set_num_threads(before)
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("isa", ["avx2", "generic"])
def test_environment_variable_picks_the_int8_kernel(isa):
    from support import run_python
    if isa not in _C.supported_cpu_isas():
        pytest.skip(f"{isa} is not built or not supported here")
    r = run_python(code="from pyengine import _C; print(_C.quantized_kernel())", env={"PYENGINE_CPU_ISA": isa})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == isa
