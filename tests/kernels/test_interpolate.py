"""Resampling kernels beyond the registry: direct pyengine._C calls with bad input raise (never read
out of bounds), and float32 results against torch's upsample kernels on every ISA."""
import numpy as np
import pytest

from pyengine import _C
from pyengine.kernels import cpu


def test_direct_extension_calls_with_bad_input_raise():
    x = np.zeros((1, 2, 3, 4), np.float32)
    with pytest.raises(ValueError, match="interpolate_forward: x must be C-contiguous|contiguous"):
        _C.interpolate_forward(x[:, :, :, ::2], [4, 4], "nearest", False, 0.0, 0.0)
    with pytest.raises(ValueError, match="interpolate_forward: mode must be one of"):
        _C.interpolate_forward(x, [4, 4], "area", False, 0.0, 0.0)
    with pytest.raises(ValueError, match="align_corners=True needs mode='bilinear'"):
        _C.interpolate_forward(x, [4, 4], "nearest", True, 0.0, 0.0)
    with pytest.raises(ValueError, match="scale_factor must be finite"):
        _C.interpolate_forward(x, [4, 4], "bilinear", False, -1.0, 0.0)
    with pytest.raises(ValueError, match="size must be >= 1"):
        _C.interpolate_forward(x, [0, 4], "bilinear", False, 0.0, 0.0)
    with pytest.raises(ValueError, match="sizes above 2\\*\\*31"):
        _C.interpolate_forward(np.zeros((0, 2, 3, 4), np.float32), [2 ** 40, 4], "bilinear", False, 0.0, 0.0)
    with pytest.raises(ValueError, match="height and width >= 1"):
        _C.interpolate_forward(np.zeros((1, 2, 0, 4), np.float32), [4, 4], "bilinear", False, 0.0, 0.0)
    g = np.zeros((1, 2, 6, 8), np.float32)
    with pytest.raises(ValueError, match="must have the batch and channels of input_shape"):
        _C.interpolate_backward(g, [1, 3, 3, 4], "bilinear", False, 0.0, 0.0)
    with pytest.raises(ValueError, match="input_shape must have height and width >= 1"):
        _C.interpolate_backward(g, [1, 2, 0, 4], "bilinear", False, 0.0, 0.0)
    with pytest.raises(TypeError):
        _C.interpolate_forward(x.astype(np.int32), [4, 4], "bilinear", False, 0.0, 0.0)


@pytest.mark.parametrize("mode,kw", [("nearest", dict(scale_factor=1.37)), ("nearest", dict(size=(29, 5))),
                                     ("nearest-exact", dict(scale_factor=(0.45, 2.2))),
                                     ("bilinear", dict(scale_factor=1.37)), ("bilinear", dict(size=(29, 5))),
                                     ("bilinear", dict(size=(29, 5), align_corners=True))])
def test_float32_matches_torch(mode, kw, cpu_isa):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((2, 3, 13, 17)).astype(np.float32)
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.interpolate(tx, mode=mode, **kw)
    sf = kw.get("scale_factor")
    sf = None if sf is None else (sf, sf) if isinstance(sf, float) else sf
    y = cpu.interpolate_forward(x, tuple(ty.shape[2:]), mode, kw.get("align_corners", False), sf)
    np.testing.assert_allclose(y, ty.detach().numpy(), atol=2e-6, rtol=1e-5)
    g = np.random.default_rng(1).standard_normal(y.shape).astype(np.float32)
    ty.backward(torch.tensor(g))
    gx = cpu.interpolate_backward(g, x.shape, mode, kw.get("align_corners", False), sf)
    np.testing.assert_allclose(gx, tx.grad.numpy(), atol=1e-5, rtol=1e-5)
