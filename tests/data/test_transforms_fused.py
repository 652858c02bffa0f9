"""The fused image path of Compose ([RandomCrop] [RandomHorizontalFlip] ToTensor [Normalize] on uint8
images, one pass of _C._crop_flip_to_tensor) against the same transforms run one at a time: the same
random draws and the same float32 bits, on odd sizes, 1/3/4 channels, padding wider than the
image, strided and reversed views, a flip and none; and its argument checks."""
import numpy as np
import pytest

from pyengine import _C
from pyengine.data import DataLoader
from pyengine.data import transforms as T
from pyengine.data._random import batch_scope


def _steps(th, tw, pad, mean, std, seed, flip_p=0.5, normalize=True, crop=True, flip=True):
    out = []
    if crop:
        out.append(T.RandomCrop((th, tw), padding=pad, seed=seed))
    if flip:
        out.append(T.RandomHorizontalFlip(p=flip_p, seed=seed + 1))
    out.append(T.ToTensor())
    if normalize:
        out.append(T.Normalize(mean, std))
    return out


def _stepwise(steps, img):
    for s in steps:
        img = s(img)
    return img


def _same_bits(a, b):
    assert a.dtype == b.dtype == np.float32 and a.shape == b.shape
    assert np.array_equal(a.view(np.uint32), b.view(np.uint32))


@pytest.mark.parametrize("trial", range(60))
def test_fused_equals_the_steps_bit_for_bit(trial):
    rng = np.random.default_rng(trial)
    h, w = (int(v) for v in rng.integers(1, 37, 2))
    c = [None, 1, 3, 4][trial % 4]
    img = rng.integers(0, 256, (h, w) if c is None else (h, w, c), dtype=np.uint8)
    if trial % 5 == 0:
        img = img[::-1]                           # negative row stride
    if trial % 7 == 0 and img.ndim == 3 and w > 1:
        img = img[:, ::2]                         # a column stride of 2 pixels
    ch = 1 if img.ndim == 2 else img.shape[2]
    pad = int(rng.integers(0, 6))
    th = int(rng.integers(1, img.shape[0] + 2 * pad + 1))
    tw = int(rng.integers(1, img.shape[1] + 2 * pad + 1))
    mean = list(rng.random(ch)) if trial % 3 else [0.5]          # one value for every channel
    std = list(rng.random(ch) + 0.1) if trial % 3 else [0.3]
    kw = dict(flip_p=[0.0, 1.0, 0.5][trial % 3], normalize=trial % 4 != 1, crop=trial % 6 != 2,
              flip=trial % 5 != 3)
    if not kw["crop"]:
        th, tw = img.shape[:2]
    fused = T.Compose(_steps(th, tw, pad, mean, std, trial, **kw))
    steps = _steps(th, tw, pad, mean, std, trial, **kw)      # the same seeds: the same draws
    assert [type(s).__name__ for s in T._fuse(fused.transforms)] == ["_CropFlipToTensor"]
    for _ in range(3):                            # successive draws stay in step too
        _same_bits(fused(img), _stepwise(steps, img))


def test_fused_uses_the_loader_keyed_draws_in_the_steps_order():
    """Inside a DataLoader batch both transforms draw from one batch-keyed generator: the fused path
    must take crop's two integers and then the flip's number, as the steps do."""
    img = np.random.default_rng(1).integers(0, 256, (40, 30, 3), dtype=np.uint8)
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    steps = [T.RandomCrop(24, padding=5), T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize(mean, std)]
    fused = T.Compose(steps)
    for b in range(20):
        with batch_scope((0, 3, b)):
            a = [fused(img) for _ in range(4)]
        with batch_scope((0, 3, b)):
            s = [_stepwise(steps, img) for _ in range(4)]
        for x, y in zip(a, s):
            _same_bits(x, y)


def test_loader_batches_are_the_same_fused_or_not():
    images = np.random.default_rng(2).integers(0, 256, (37, 33, 29, 3), dtype=np.uint8)
    steps = [T.RandomCrop(29, padding=4), T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize([0.5] * 3, [0.25] * 3)]

    class Images:
        def __init__(self, t):
            self.t = t

        def __len__(self):
            return len(images)

        def __getitem__(self, i):
            return self.t(images[i])

    fused = [b.numpy() if hasattr(b, "numpy") else b
             for b in DataLoader(Images(T.Compose(steps)), batch_size=8, shuffle=True, seed=5)]
    plain = [b.numpy() if hasattr(b, "numpy") else b
             for b in DataLoader(Images(lambda x: _stepwise(steps, x)), batch_size=8, shuffle=True, seed=5)]
    assert len(fused) == len(plain) == 5
    for a, b in zip(fused, plain):
        _same_bits(np.asarray(a), np.asarray(b))


def test_other_inputs_go_through_the_steps():
    steps = [T.RandomCrop(4, seed=0), T.RandomHorizontalFlip(seed=1), T.ToTensor(), T.Normalize([0.5, 0.5], [0.2, 0.2])]
    f = np.random.default_rng(0).random((2, 6, 6)).astype(np.float32)     # float (C, H, W): no fusion
    np.testing.assert_array_equal(T.Compose(steps)(f), _stepwise(
        [T.RandomCrop(4, seed=0), T.RandomHorizontalFlip(seed=1), T.ToTensor(), T.Normalize([0.5, 0.5], [0.2, 0.2])], f))
    rgb = np.zeros((6, 6, 3), np.uint8)           # two means for three channels: NumPy's broadcasting error
    with pytest.raises(ValueError):
        T.Compose(steps)(rgb)
    with pytest.raises(ValueError, match="RandomCrop: crop 9x9 is larger than the \\(padded\\) image 6x6"):
        T.Compose([T.RandomCrop(9), T.ToTensor()])(rgb)


def test_compose_replans_when_its_list_changes():
    c = T.Compose([T.ToTensor()])
    img = np.full((3, 3), 255, np.uint8)
    np.testing.assert_array_equal(c(img), np.ones((1, 3, 3), np.float32))
    c.transforms.append(T.Normalize([1.0], [0.5]))
    np.testing.assert_array_equal(c(img), np.zeros((1, 3, 3), np.float32))
    c.transforms[0] = lambda x: np.zeros((1, 3, 3), np.float32)     # not fusable any more
    np.testing.assert_array_equal(c(img), np.full((1, 3, 3), -2.0, np.float32))


def test_the_kernel_checks_its_arguments():
    k = _C._crop_flip_to_tensor
    m3, s3 = np.zeros(3, np.float32), np.ones(3, np.float32)
    img = np.zeros((4, 5, 3), np.uint8)
    with pytest.raises(TypeError, match="image must be uint8, got float32"):
        k(img.astype(np.float32), 0, 0, 2, 2, False, m3, s3)
    with pytest.raises(ValueError, match=r"image must be \(H, W\) or \(H, W, C\), got shape \(4,\)"):
        k(np.zeros(4, np.uint8), 0, 0, 2, 2, False, m3, s3)
    with pytest.raises(ValueError, match="at least one channel"):
        k(np.zeros((4, 5, 0), np.uint8), 0, 0, 2, 2, False, m3, s3)
    with pytest.raises(ValueError, match="height and width must be >= 1, got 0 and 2"):
        k(img, 0, 0, 0, 2, False, m3, s3)
    with pytest.raises(ValueError, match=r"mean must be contiguous of shape \(3,\)"):
        k(img, 0, 0, 2, 2, False, np.zeros(2, np.float32), s3)
    with pytest.raises(TypeError, match="std must be float32, got float64"):
        k(img, 0, 0, 2, 2, False, m3, np.ones(3))
    with pytest.raises(ValueError, match="more than 2\\*\\*63-1"):
        k(img, 0, 0, 2**40, 2**40, False, m3, s3)
    # a window entirely outside the image is all padding: (0 − mean) / std
    out = k(img + 7, 100, -100, 2, 3, True, np.full(3, 0.5, np.float32), np.full(3, 0.25, np.float32))
    np.testing.assert_array_equal(out, np.full((3, 2, 3), -2.0, np.float32))
