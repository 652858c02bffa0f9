"""Image transforms on NumPy arrays: Compose, ToTensor, Normalize, RandomCrop, RandomHorizontalFlip,
Resize.

Layouts: a uint8 image is (H, W) or (H, W, C), as read from a file; ToTensor turns it into a
float32 (C, H, W) array in [0, 1]. The geometric transforms accept either layout (a float array
is taken as (C, H, W)). Random transforms draw from ``pyengine.data.sample_rng``: inside a
DataLoader that is keyed by the batch being loaded (so the augmented images depend only on the
loader's seed, the epoch and the batch, whatever the number of workers, and a resumed run sees
the same ones); outside, a transform with a ``seed`` uses its own Generator, one without the
process-wide generator seeded by ``pyengine.manual_seed``. They are meant for training data only.
"""
from __future__ import annotations

import numbers

import numpy as np

from ._random import sample_rng

__all__ = ["Compose", "ToTensor", "Normalize", "RandomCrop", "RandomHorizontalFlip", "Resize"]


def _spatial_axes(img: np.ndarray) -> tuple[int, int]:
    """(height axis, width axis): uint8 images are HW/HWC, float ones CHW (or HW)."""
    if img.ndim == 2:
        return 0, 1
    if img.dtype == np.uint8:
        return 0, 1
    return img.ndim - 2, img.ndim - 1


def _size_pair(name, size):
    if isinstance(size, numbers.Integral):
        return int(size), int(size)
    if isinstance(size, (tuple, list)) and len(size) == 2:
        return int(size[0]), int(size[1])
    raise ValueError(f"{name}: size must be an int or (height, width), got {size!r}")


class Compose:
    """Applies transforms in order."""

    def __init__(self, transforms):
        self.transforms = list(transforms)
        self._plan, self._planned_for = None, None

    def __call__(self, x):
        key = tuple(map(id, self.transforms))
        if self._planned_for != key:     # the list is public: re-plan when it changes
            self._plan, self._planned_for = _fuse(self.transforms), key
        for t in self._plan:
            x = t(x)
        return x

    def __repr__(self):
        return "Compose(" + ", ".join(repr(t) for t in self.transforms) + ")"


class ToTensor:
    """uint8 (H, W) or (H, W, C) image → float32 (C, H, W) in [0, 1]; float input is only reshaped
    to have a channel axis."""

    def __call__(self, img):
        img = np.asarray(img)
        if img.dtype == np.uint8:
            out = img.astype(np.float32) * np.float32(1.0 / 255.0)
            return out[None] if out.ndim == 2 else np.ascontiguousarray(out.transpose(2, 0, 1))
        out = img.astype(np.float32, copy=False)
        return out[None] if out.ndim == 2 else out

    def __repr__(self):
        return "ToTensor()"


class Normalize:
    """(x − mean[c]) / std[c] per channel of a float (C, H, W) array."""

    def __init__(self, mean, std):
        self.mean = np.asarray(mean, dtype=np.float32).reshape(-1, 1, 1)
        self.std = np.asarray(std, dtype=np.float32).reshape(-1, 1, 1)
        if np.any(self.std == 0):
            raise ValueError(f"Normalize: std must be non-zero, got {std!r}")

    def __call__(self, x):
        return ((np.asarray(x, dtype=np.float32) - self.mean) / self.std).astype(np.float32)

    def __repr__(self):
        return f"Normalize(mean={self.mean.ravel().tolist()}, std={self.std.ravel().tolist()})"


class RandomCrop:
    """A random size crop, after zero-padding every border by ``padding`` pixels."""

    def __init__(self, size, padding: int = 0, seed=None):
        self.size = _size_pair("RandomCrop", size)
        self.padding = int(padding)
        self.seed = None if seed is None else int(seed)
        self.rng = np.random.default_rng(seed)

    def __call__(self, img):
        img = np.asarray(img)
        ha, wa = _spatial_axes(img)
        if self.padding:
            pad = [(0, 0)] * img.ndim
            pad[ha] = pad[wa] = (self.padding, self.padding)
            img = np.pad(img, pad)
        th, tw = self.size
        top, left = self._window(img.shape[ha], img.shape[wa])
        index = [slice(None)] * img.ndim
        index[ha], index[wa] = slice(top, top + th), slice(left, left + tw)
        return np.ascontiguousarray(img[tuple(index)])

    def _window(self, h: int, w: int) -> tuple[int, int]:
        """The crop's corner (top, left) in the padded h × w image (drawn: top, then left)."""
        th, tw = self.size
        if th > h or tw > w:
            raise ValueError(f"RandomCrop: crop {th}x{tw} is larger than the (padded) image {h}x{w}")
        rng = sample_rng(self.seed) or self.rng
        top = int(rng.integers(0, h - th + 1))
        left = int(rng.integers(0, w - tw + 1))
        return top, left

    def __repr__(self):
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip:
    """Mirrors the image left–right with probability p."""

    def __init__(self, p: float = 0.5, seed=None):
        self.p = float(p)
        self.seed = None if seed is None else int(seed)
        self.rng = np.random.default_rng(seed)

    def __call__(self, img):
        img = np.asarray(img)
        if self._draw():
            return np.ascontiguousarray(np.flip(img, axis=_spatial_axes(img)[1]))
        return img

    def _draw(self) -> bool:
        return bool((sample_rng(self.seed) or self.rng).random() < self.p)

    def __repr__(self):
        return f"RandomHorizontalFlip(p={self.p})"


class Resize:
    """Bilinear resize to (height, width), sampling at pixel centres (half-pixel offsets, as
    PIL and PyTorch with align_corners=False); uint8 stays uint8 (rounded)."""

    def __init__(self, size):
        self.size = _size_pair("Resize", size)

    @staticmethod
    def _coords(out_n, in_n):
        x = (np.arange(out_n) + 0.5) * (in_n / out_n) - 0.5
        x = np.clip(x, 0, in_n - 1)
        lo = np.floor(x).astype(np.int64)
        hi = np.minimum(lo + 1, in_n - 1)
        return lo, hi, (x - lo)

    def __call__(self, img):
        img = np.asarray(img)
        ha, wa = _spatial_axes(img)
        th, tw = self.size
        y0, y1, fy = self._coords(th, img.shape[ha])
        x0, x1, fx = self._coords(tw, img.shape[wa])
        f = img.astype(np.float64)
        shape_y = [1] * img.ndim
        shape_y[ha] = th
        shape_x = [1] * img.ndim
        shape_x[wa] = tw
        top = np.take(f, y0, axis=ha)
        bot = np.take(f, y1, axis=ha)
        rows = top + (bot - top) * fy.reshape(shape_y)
        left = np.take(rows, x0, axis=wa)
        right = np.take(rows, x1, axis=wa)
        out = left + (right - left) * fx.reshape(shape_x)
        if img.dtype == np.uint8:
            return np.clip(np.rint(out), 0, 255).astype(np.uint8)
        return out.astype(img.dtype if img.dtype.kind == "f" else np.float32)

    def __repr__(self):
        return f"Resize(size={self.size})"


# The fused fast path ---------------------------------------------------------------------------------

class _CropFlipToTensor:
    """[RandomCrop] [RandomHorizontalFlip] ToTensor [Normalize] on a uint8 image in one pass of the
    C++ kernel ``_C._crop_flip_to_tensor`` (csrc/include/pyengine/image.h): no padded copy, no flipped
    copy, no float temporaries. The random draws are the transforms' own, in their order (crop's top
    and left, then the flip), and the arithmetic is theirs operation by operation, so the output is
    bit for bit what the steps give one at a time. Any other input (float, a channel count the
    normalisation does not fit, a non-array) goes through the steps themselves."""

    def __init__(self, steps, crop, flip, normalize):
        self.steps, self.crop, self.flip = steps, crop, flip
        self.mean = None if normalize is None else normalize.mean.ravel()
        self.std = None if normalize is None else normalize.std.ravel()

    def _per_channel(self, values, c, default):
        if values is None:
            return np.full(c, default, np.float32)
        if len(values) == c:
            return values
        return np.repeat(values, c) if len(values) == 1 else None

    def __call__(self, img):
        if (not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim not in (2, 3)
                or (img.ndim == 3 and img.shape[2] < 1) or _crop_flip_to_tensor() is None):
            return self._stepwise(img)
        c = 1 if img.ndim == 2 else img.shape[2]
        mean, std = self._per_channel(self.mean, c, 0.0), self._per_channel(self.std, c, 1.0)
        if mean is None or std is None:
            return self._stepwise(img)     # NumPy's broadcasting error, as the steps raise it
        h, w = img.shape[:2]
        top = left = pad = 0
        th, tw = h, w
        if self.crop is not None:
            pad = self.crop.padding
            th, tw = self.crop.size
            top, left = self.crop._window(h + 2 * pad, w + 2 * pad)
        flip = self.flip._draw() if self.flip is not None else False
        return _crop_flip_to_tensor()(img, top - pad, left - pad, th, tw, flip, mean, std)

    def _stepwise(self, x):
        for t in self.steps:
            x = t(x)
        return x


_KERNEL = []


def _crop_flip_to_tensor():
    """The C++ kernel, or None where the extension lacks it (then the steps run one by one)."""
    if not _KERNEL:
        try:
            from .. import _C
            _KERNEL.append(getattr(_C, "_crop_flip_to_tensor", None))
        except ImportError:
            _KERNEL.append(None)
    return _KERNEL[0]


def _fuse(transforms):
    """The transforms with each run [RandomCrop] [RandomHorizontalFlip] ToTensor [Normalize] (exact
    types, not subclasses, whose behaviour may differ) replaced by one _CropFlipToTensor."""
    out, i, n = [], 0, len(transforms)
    while i < n:
        j, crop, flip = i, None, None
        if j < n and type(transforms[j]) is RandomCrop:
            crop, j = transforms[j], j + 1
        if j < n and type(transforms[j]) is RandomHorizontalFlip:
            flip, j = transforms[j], j + 1
        if j < n and type(transforms[j]) is ToTensor:
            j += 1
            norm = transforms[j] if j < n and type(transforms[j]) is Normalize else None
            j += norm is not None
            out.append(_CropFlipToTensor(transforms[i:j], crop, flip, norm))
            i = j
        else:
            out.append(transforms[i])
            i += 1
    return out
