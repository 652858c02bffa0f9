"""Padding kernels beyond the registry: float32 and float64 against torch's F.pad (reflect, replicate,
circular on 1, 2 and 3 axes, batched and unbatched, widths up to the limits), forward and backward,
on every ISA; the same bits for any thread count; channel dropout's mask is dropout's draw per channel."""
import numpy as np
import pytest

from pyengine import _C, reference
from pyengine.kernels import cpu

CASES = [((2, 3, 9), (3, 5)), ((4, 7), (2, 6)), ((2, 3, 6, 5), (1, 4, 5, 2)), ((3, 6, 5), (4, 4, 0, 3)),
         ((1, 2, 3, 4, 5), (2, 1, 3, 0, 1, 2)), ((2, 4, 5, 6), (0, 0, 1, 1))]


def _limit(shape, pad, mode):
    """pad clipped to what the mode allows on each axis."""
    out = list(pad)
    for j in range(len(pad) // 2):
        n = shape[len(shape) - 1 - j]
        top = n - 1 if mode == "reflect" else n
        out[2 * j], out[2 * j + 1] = min(pad[2 * j], top), min(pad[2 * j + 1], top)
    return tuple(out)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape,pad", CASES)
def test_matches_torch(shape, pad, mode, dtype, cpu_isa):
    torch = pytest.importorskip("torch")
    pad = _limit(shape, pad, mode)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.pad(tx, pad, mode=mode)
    y = cpu.pad_forward(x, pad, mode)
    assert y.dtype == dtype
    np.testing.assert_array_equal(y, ty.detach().numpy())
    np.testing.assert_array_equal(y, reference.pad_forward(x, pad, mode))
    g = rng.standard_normal(y.shape).astype(dtype)
    ty.backward(torch.tensor(g))
    gx = cpu.pad_backward(g, x.shape, pad, mode)
    tol = dict(atol=1e-5, rtol=1e-5) if dtype == np.float32 else dict(atol=1e-12, rtol=1e-12)
    np.testing.assert_allclose(gx, tx.grad.numpy(), **tol)
    np.testing.assert_allclose(gx, reference.pad_backward(g, x.shape, pad, mode), **tol)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_same_bits_for_any_thread_count(mode):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 9, 33, 29)).astype(np.float32)
    pad = (5, 3, 2, 7)
    g = rng.standard_normal((4, 9, 42, 37)).astype(np.float32)
    before = _C.get_num_threads()
    try:
        out = []
        for t in (1, 2, 3):
            _C.set_num_threads(t)
            out.append((cpu.pad_forward(x, pad, mode), cpu.pad_backward(g, x.shape, pad, mode)))
    finally:
        _C.set_num_threads(before)
    for y, gx in out[1:]:
        assert np.array_equal(y, out[0][0]) and np.array_equal(gx, out[0][1])


def test_channel_dropout_mask_is_the_per_channel_draw():
    x = np.ones((3, 5, 4, 2), np.float32)
    y, mask = cpu.dropout_channels_forward(x, 0.4, 77)
    _, flat = cpu.dropout_forward(np.ones(15, np.float32), 0.4, 77)
    assert mask.shape == (3, 5) and np.array_equal(mask.ravel(), flat)
    np.testing.assert_allclose(y, np.broadcast_to(mask[:, :, None, None] / 0.6, x.shape), rtol=1e-7)
    assert 0.3 < 1 - cpu.dropout_channels_forward(np.ones((200, 50, 1), np.float32), 0.4, 1)[1].mean() < 0.5
