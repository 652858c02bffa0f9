"""Embedding kernels beyond the registry: float32 and float64 against torch's embedding and
embedding_dense_backward on every ISA (repeated indices, padding_idx, scale_grad_by_freq), and the
backward's sums do not depend on the thread count."""
import numpy as np
import pytest

from pyengine import _C
from pyengine.kernels import cpu


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("pad,freq", [(None, False), (3, False), (None, True), (0, True)])
def test_matches_torch(pad, freq, dtype, cpu_isa):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    V, D = 23, 37
    w = rng.standard_normal((V, D)).astype(dtype)
    idx = rng.integers(0, 8, size=(5, 9)).astype(np.int64)   # rows 0..7: many repeats
    tw = torch.tensor(w, requires_grad=True)
    ty = torch.nn.functional.embedding(torch.tensor(idx), tw, padding_idx=pad, scale_grad_by_freq=freq)
    np.testing.assert_array_equal(cpu.embedding_forward(w, idx), ty.detach().numpy())
    g = rng.standard_normal(idx.shape + (D,)).astype(dtype)
    ty.backward(torch.tensor(g))
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(cpu.embedding_backward(g, idx, V, pad, freq), tw.grad.numpy(), **tol)


def test_same_bits_for_any_thread_count():
    rng = np.random.default_rng(3)
    idx = rng.integers(0, 300, size=(64, 50)).astype(np.int64)
    g = rng.standard_normal((64, 50, 40)).astype(np.float32)
    before = _C.get_num_threads()
    try:
        out = []
        for t in (1, 2, 3):
            _C.set_num_threads(t)
            out.append(cpu.embedding_backward(g, idx, 1000))
    finally:
        _C.set_num_threads(before)
    for got in out[1:]:
        assert np.array_equal(got, out[0])
