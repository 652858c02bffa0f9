"""Behaviour of kernels.cuda that the registry-driven tests do not reach (GPU only): streams, host
arrays refused, other producers' device arrays, several tiles and chunks, unaligned views, the TF32
switch, and sizes of the performance targets against the C++ kernels."""
import numpy as np
import pytest

from pyengine import reference
from pyengine.kernels import cpu

from cuda_support import requires_gpu
from kernels.helpers import assert_close

pytestmark = [requires_gpu, pytest.mark.cuda]


@pytest.fixture
def cp():
    import cupy
    return cupy


@pytest.fixture
def kc():
    import pyengine.kernels.cuda as kc
    return kc


def _rand(cp, rng, shape, dtype=np.float32):
    return cp.asarray(rng.standard_normal(shape).astype(dtype))


def test_host_arrays_are_refused(kc):
    with pytest.raises(TypeError, match=r"relu_forward: x must be a CUDA device array .*numpy.ndarray"):
        kc.relu_forward(np.ones(3, np.float32))


def test_runs_on_the_current_stream(cp, kc, rng):
    a, b = _rand(cp, rng, (300, 200)), _rand(cp, rng, (200, 100))
    stream = cp.cuda.Stream(non_blocking=True)
    with stream:
        y = kc.gemm(a, b)
        z = kc.relu_forward(y)
    stream.synchronize()
    want = np.maximum(cp.asnumpy(a).astype(np.float64) @ cp.asnumpy(b).astype(np.float64), 0)
    assert_close(cp.asnumpy(z), want, 1e-3, 1e-4, "gemm+relu on a side stream")


@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gemm_many_tiles_and_unaligned_views(cp, kc, rng, ta, tb, dtype):
    m, n, k = 517, 389, 1031  # several tiles in every direction, ragged edges, K not a multiple of 8
    a = _rand(cp, rng, ((k, m) if ta else (m, k)), dtype)
    b = _rand(cp, rng, ((n, k) if tb else (k, n)), dtype)
    want = reference.gemm(cp.asnumpy(a), cp.asnumpy(b), trans_a=ta, trans_b=tb)
    tol = (2e-3, 2e-4) if dtype == np.float32 else (1e-9, 1e-9)
    assert_close(cp.asnumpy(kc.gemm(a, b, trans_a=ta, trans_b=tb)), want, *tol, "aligned")
    # one element in: pointers off 16-byte alignment take the scalar path
    a1 = _rand(cp, rng, (a.size + 1,), dtype)[1:].reshape(a.shape)
    a1[...] = a
    assert_close(cp.asnumpy(kc.gemm(a1, b, trans_a=ta, trans_b=tb)), want, *tol, "unaligned")


def test_gemm_tf32_switch(cp, kc, rng, monkeypatch):
    import pyengine.backends.cuda as backend
    a, b = _rand(cp, rng, (1024, 512)), _rand(cp, rng, (512, 768))
    want = cp.asnumpy(a).astype(np.float64) @ cp.asnumpy(b).astype(np.float64)
    exact = cp.asnumpy(kc.gemm(a, b))
    monkeypatch.setattr(backend, "allow_tf32", True)
    fast = cp.asnumpy(kc.gemm(a, b))
    err = lambda x: np.linalg.norm(x - want) / np.linalg.norm(want)  # noqa: E731
    assert err(exact) < 1e-5
    assert 1e-6 < err(fast) < 3e-3, "TF32 should lose precision visibly but stay near 1e-3"


def test_conv_in_several_chunks(cp, kc, rng, monkeypatch):
    from pyengine.kernels.cuda import _ext
    x, w = _rand(cp, rng, (7, 6, 11, 9), np.float64), _rand(cp, rng, (8, 3, 3, 3), np.float64)
    args = dict(stride=(2, 1), padding=1, dilation=(1, 2), groups=2)
    y_one = cp.asnumpy(kc.conv2d_forward(x, w, **args))
    g = _rand(cp, rng, y_one.shape, np.float64)
    gw_one = cp.asnumpy(kc.conv2d_backward_weight(g, x, w.shape, **args))
    gx_one = cp.asnumpy(kc.conv2d_backward_input(g, w, x.shape, **args))
    monkeypatch.setattr(_ext.RUNTIME, "conv2d_workspace_elements", 1)  # one image per chunk
    assert_close(cp.asnumpy(kc.conv2d_backward_weight(g, x, w.shape, **args)), gw_one, 1e-10, 1e-10, "gw chunks")
    assert_close(cp.asnumpy(kc.conv2d_backward_input(g, w, x.shape, **args)), gx_one, 1e-10, 1e-10, "gx chunks")
    want = reference.conv2d_forward(cp.asnumpy(x), cp.asnumpy(w), **args)
    assert_close(y_one, want, 1e-10, 1e-10, "forward")


def test_conv_gemm_path_equals_direct_path(cp, kc, rng, monkeypatch):
    # C·R·S = 9 takes the direct kernel; the same problem with 4 input channels (36 taps) the GEMM
    x = _rand(cp, rng, (5, 1, 28, 28))
    w = _rand(cp, rng, (8, 1, 3, 3))
    want = reference.conv2d_forward(cp.asnumpy(x), cp.asnumpy(w), padding=1)
    assert_close(cp.asnumpy(kc.conv2d_forward(x, w, padding=1)), want, 1e-4, 1e-4, "direct")
    x4 = cp.concatenate([x] * 4, axis=1)
    w4 = cp.concatenate([w] * 4, axis=1) / 4
    assert_close(cp.asnumpy(kc.conv2d_forward(x4, w4, padding=1)), want, 1e-4, 1e-4, "gemm")


def test_dlpack_and_cuda_array_interface_inputs(cp, kc, rng):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("PyTorch without CUDA")
    t = torch.randn(4, 5, device="cuda")
    y = kc.relu_forward(t)
    assert isinstance(y, cp.ndarray)
    assert_close(cp.asnumpy(y), np.maximum(t.cpu().numpy(), 0), 0, 0, "torch tensor in")


def test_arrays_on_two_devices_are_refused(cp, kc, rng):
    if cp.cuda.runtime.getDeviceCount() < 2:
        pytest.skip("one GPU")
    a = _rand(cp, rng, (4, 4))
    with cp.cuda.Device(1):
        b = _rand(cp, rng, (4, 4))
    with pytest.raises(ValueError, match=r"gemm: a is on cuda:0 but b is on cuda:1"):
        kc.gemm(a, b)


def test_lstm_target_size_matches_cpu(cp, kc, rng):
    t, n, i, h = 50, 64, 128, 256
    host = [rng.standard_normal(s).astype(np.float32) * 0.1 for s in
            [(t, n, i), (n, h), (n, h), (4 * h, i), (4 * h, h), (4 * h,), (4 * h,)]]
    want = cpu.lstm_forward(*host)
    got = kc.lstm_forward(*(cp.asarray(a) for a in host))
    for k, (g, w) in enumerate(zip(got[:3], want[:3])):
        assert_close(cp.asnumpy(g), w, 1e-4, 1e-3, f"lstm output {k}")
    gy = rng.standard_normal((t, n, h)).astype(np.float32)
    want_b = cpu.lstm_backward(gy, None, None, *host[:5], want[3])
    got_b = kc.lstm_backward(cp.asarray(gy), None, None, *(cp.asarray(a) for a in host[:5]), got[3])
    for k, (g, w) in enumerate(zip(got_b, want_b)):
        assert_close(cp.asnumpy(g), w, 1e-3, 1e-3, f"lstm grad {k}")


def test_dropout_mask_matches_cpu(cp, kc, rng):
    if not hasattr(cpu, "dropout_forward"):
        pytest.skip("CPU dropout not built")
    x = rng.standard_normal((33, 65)).astype(np.float32)
    y, mask = kc.dropout_forward(cp.asarray(x), 0.3, 12345)
    y_cpu, mask_cpu = cpu.dropout_forward(x, 0.3, 12345)
    np.testing.assert_array_equal(cp.asnumpy(mask), mask_cpu)
    assert_close(cp.asnumpy(y), y_cpu, 1e-6, 1e-6, "dropout y")


def test_deterministic_max_pool_backward(cp, kc, rng):
    """Overlapping 3×3/1 windows send up to 9 gradients to one input element: with
    use_deterministic_algorithms(True) the scatter avoids atomics, so two runs agree bit for bit."""
    import pyengine
    from pyengine import reference
    x = rng.standard_normal((2, 3, 9, 9)).astype(np.float32)
    y, idx = reference.max_pool2d_forward(x, 3, stride=1)
    g = rng.standard_normal(y.shape).astype(np.float32)
    pyengine.use_deterministic_algorithms(True)
    try:
        a = kc.max_pool2d_backward_input(cp.asarray(g), cp.asarray(idx), x.shape).get()
        b = kc.max_pool2d_backward_input(cp.asarray(g), cp.asarray(idx), x.shape).get()
    finally:
        pyengine.use_deterministic_algorithms(False)
    assert np.array_equal(a, b)
    np.testing.assert_allclose(a, reference.max_pool2d_backward_input(g, idx, x.shape), atol=1e-5)
